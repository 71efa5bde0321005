//! Host functions, imported memories, globals and tables, and link errors.

use std::sync::{
    Arc,
    atomic::{AtomicI64, Ordering},
};

use plugin_system_core::{
    FuncType, GlobalType, HostError, HostFunc, Imports, MemoryType, TableType, ValType, WasmError,
    WasmRuntimeConfig, WasmValue,
};
use plugin_system_wasm_run::EngineKind;

use crate::{on_every_engine, runtime};

const GUEST: &str = r#"(module
    (import "env" "add" (func $add (param i64 i64) (result i64)))
    (import "env" "log" (func $log (param i32 i32)))
    (memory (export "memory") 1)
    (data (i32.const 16) "hello host")
    (func (export "sum") (param i64 i64) (result i64) local.get 0 local.get 1 call $add)
    (func (export "say") i32.const 16 i32.const 10 call $log))"#;

fn env(log: Arc<std::sync::Mutex<String>>) -> Imports {
    let mut imports = Imports::new();
    imports.func(
        "env",
        "add",
        HostFunc::new(
            FuncType::new([ValType::I64, ValType::I64], [ValType::I64]),
            |_, args, results| {
                let (a, b) = (args[0].as_i64().unwrap_or(0), args[1].as_i64().unwrap_or(0));
                results[0] = WasmValue::I64(a.wrapping_add(b));
                Ok(())
            },
        ),
    );
    imports.func(
        "env",
        "log",
        HostFunc::new(
            FuncType::new([ValType::I32, ValType::I32], []),
            move |caller, args, _| {
                let ptr = args[0].as_i32().unwrap_or(0) as u32 as u64;
                let len = args[1].as_i32().unwrap_or(0) as u32 as usize;
                let memory = caller.memory().ok_or_else(|| HostError::new("no memory"))?;
                let bytes = memory.read_vec(ptr, len).map_err(HostError::from_error)?;
                *log.lock().unwrap() = String::from_utf8_lossy(&bytes).into_owned();
                Ok(())
            },
        ),
    );
    imports
}

fn host_functions_get_arguments_and_memory(kind: EngineKind) {
    let rt = runtime(kind, WasmRuntimeConfig::default());
    let module = rt.load_module(GUEST.as_bytes()).unwrap();
    let log = Arc::default();
    let mut i = rt.instantiate(&module, &env(Arc::clone(&log))).unwrap();
    assert_eq!(
        i.call("sum", &[WasmValue::I64(40), WasmValue::I64(2)])
            .unwrap(),
        [WasmValue::I64(42)]
    );
    i.call("say", &[]).unwrap();
    assert_eq!(*log.lock().unwrap(), "hello host");
}

fn host_errors_and_panics_stop_the_guest_only(kind: EngineKind) {
    let rt = runtime(kind, WasmRuntimeConfig::default());
    let module = rt
        .load_module(
            br#"(module (import "env" "f" (func $f (result i32)))
                (func (export "run") (result i32) call $f))"#,
        )
        .unwrap();
    let calls = Arc::new(AtomicI64::new(0));
    let counter = Arc::clone(&calls);
    let mut imports = Imports::new();
    imports.func(
        "env",
        "f",
        HostFunc::new(
            FuncType::new([], [ValType::I32]),
            move |_, _, results| match counter.fetch_add(1, Ordering::SeqCst) {
                0 => Err(HostError::new("denied")),
                1 => panic!("host bug"),
                2 => {
                    results[0] = WasmValue::I64(1);
                    Ok(())
                }
                _ => {
                    results[0] = WasmValue::I32(5);
                    Ok(())
                }
            },
        ),
    );
    let mut i = rt.instantiate(&module, &imports).unwrap();
    let e = i.call("run", &[]).unwrap_err();
    assert!(
        matches!(&e, WasmError::Host { function, source } if function == "env::f" && source.message() == "denied"),
        "{e:?}"
    );
    assert!(e.is_guest_failure());
    let e = i.call("run", &[]).unwrap_err();
    assert!(
        matches!(&e, WasmError::Host { source, .. } if source.message().contains("host bug")),
        "{e:?}"
    );
    let e = i.call("run", &[]).unwrap_err();
    assert!(
        matches!(&e, WasmError::Host { source, .. } if source.message().contains("declared i32")),
        "{e:?}"
    );
    assert_eq!(
        i.call("run", &[]).unwrap(),
        [WasmValue::I32(5)],
        "the instance goes on"
    );
}

fn link_errors_name_the_import(kind: EngineKind) {
    let rt = runtime(kind, WasmRuntimeConfig::default());
    let module = rt.load_module(GUEST.as_bytes()).unwrap();
    let r = rt.instantiate(&module, &Imports::new());
    assert!(
        matches!(&r, Err(WasmError::Link { message }) if message.contains("env::add")),
        "{:?}",
        r.err()
    );
    let mut wrong = env(Arc::default());
    wrong.func(
        "env",
        "add",
        HostFunc::new(FuncType::new([ValType::I32], []), |_, _, _| Ok(())),
    );
    let r = rt.instantiate(&module, &wrong);
    assert!(
        matches!(&r, Err(WasmError::Link { message }) if message.contains("env::add")),
        "{:?}",
        r.err()
    );
    let mut kind_wrong = env(Arc::default());
    kind_wrong.memory("env", "add", MemoryType::new(1, None));
    assert!(matches!(
        rt.instantiate(&module, &kind_wrong),
        Err(WasmError::Link { .. })
    ));
    assert_eq!(rt.stats().instances_active, 0);
    assert!(
        rt.instantiate(&module, &env(Arc::default())).is_ok(),
        "the runtime goes on"
    );
}

fn imported_memory_global_and_table(kind: EngineKind) {
    let rt = runtime(kind, WasmRuntimeConfig::default());
    let module = rt
        .load_module(
            br#"(module
                (import "env" "mem" (memory 1 2))
                (import "env" "base" (global $base i32))
                (import "env" "tab" (table 4 funcref))
                (export "mem" (memory 0))
                (func (export "grow") (result i32) i32.const 1 memory.grow)
                (func (export "base") (result i32) global.get $base)
                (func (export "tsize") (result i32) table.size 0))"#,
        )
        .unwrap();
    let mut imports = Imports::new();
    imports
        .memory("env", "mem", MemoryType::new(1, Some(2)))
        .global(
            "env",
            "base",
            GlobalType {
                content: ValType::I32,
                mutable: false,
            },
            WasmValue::I32(1024),
        )
        .table(
            "env",
            "tab",
            TableType {
                element: ValType::FuncRef,
                minimum: 4,
                maximum: None,
            },
            WasmValue::FuncRef(None),
        );
    let mut i = rt.instantiate(&module, &imports).unwrap();
    assert_eq!(i.call("base", &[]).unwrap(), [WasmValue::I32(1024)]);
    assert_eq!(i.call("tsize", &[]).unwrap(), [WasmValue::I32(4)]);
    assert_eq!(i.call("grow", &[]).unwrap(), [WasmValue::I32(1)]);
    assert_eq!(
        i.call("grow", &[]).unwrap(),
        [WasmValue::I32(-1)],
        "past the maximum"
    );
    assert_eq!(i.memory().unwrap().pages(), 2);

    let mut bad = imports.clone();
    bad.global(
        "env",
        "base",
        GlobalType {
            content: ValType::I32,
            mutable: false,
        },
        WasmValue::I64(1),
    );
    assert!(matches!(
        rt.instantiate(&module, &bad),
        Err(WasmError::Link { .. } | WasmError::TypeMismatch { .. })
    ));
}

on_every_engine!(
    host_functions_get_arguments_and_memory,
    host_errors_and_panics_stop_the_guest_only,
    link_errors_name_the_import,
    imported_memory_global_and_table,
);

/// The link errors of `imports` for `wat`, on each engine.
fn link_messages(wat: &str, config: WasmRuntimeConfig, imports: &Imports) -> Vec<String> {
    [EngineKind::Wasmtime, EngineKind::Wasmi]
        .into_iter()
        .map(|kind| {
            let rt = runtime(kind, config.clone());
            let module = rt.load_module(wat.as_bytes()).unwrap();
            match rt.instantiate(&module, imports).map(drop) {
                Err(WasmError::Link { message }) => message,
                other => panic!("{kind:?}: {other:?}"),
            }
        })
        .collect()
}

#[test]
fn link_errors_read_the_same_on_every_engine() {
    let missing = link_messages(GUEST, WasmRuntimeConfig::default(), &Imports::new());
    assert_eq!(
        missing[0],
        "import `env::add`: missing, the module expects func (i64, i64) -> (i64)"
    );
    let mut wrong = env(Arc::default());
    wrong.func(
        "env",
        "add",
        HostFunc::new(FuncType::new([ValType::I32], []), |_, _, _| Ok(())),
    );
    let mistyped = link_messages(GUEST, WasmRuntimeConfig::default(), &wrong);
    assert_eq!(
        mistyped[0],
        "import `env::add`: the host gives func (i32) -> (), the module expects func (i64, i64) -> (i64)"
    );
    let mut kind_wrong = env(Arc::default());
    kind_wrong.memory("env", "add", MemoryType::new(1, None));
    let other_kind = link_messages(GUEST, WasmRuntimeConfig::default(), &kind_wrong);
    assert!(
        other_kind[0].starts_with("import `env::add`: the host gives memory"),
        "{other_kind:?}"
    );
    // A WASI function imported with another signature than WASI's.
    let wasi =
        r#"(module (import "wasi_snapshot_preview1" "fd_write" (func (param i32) (result i32))))"#;
    let mut with_wasi = Imports::new();
    with_wasi.wasi(plugin_system_core::WasiConfig::new());
    let wasi_mistyped = link_messages(
        wasi,
        WasmRuntimeConfig::default().enable_wasi(true),
        &with_wasi,
    );
    assert_eq!(
        wasi_mistyped[0],
        "import `wasi_snapshot_preview1::fd_write`: the host gives func (i32, i32, i32, i32) -> (i32), the module expects func (i32) -> (i32)"
    );
    // A WASI function imported as something else.
    let wasi_memory = r#"(module (import "wasi_snapshot_preview1" "fd_write" (memory 1)))"#;
    let wasi_other_kind = link_messages(
        wasi_memory,
        WasmRuntimeConfig::default().enable_wasi(true),
        &with_wasi,
    );
    assert!(
        wasi_other_kind[0].starts_with(
            "import `wasi_snapshot_preview1::fd_write`: the host gives func (i32, i32, i32, i32)"
        ),
        "{wasi_other_kind:?}"
    );
    for messages in [
        missing,
        mistyped,
        other_kind,
        wasi_mistyped,
        wasi_other_kind,
    ] {
        assert_eq!(messages[0], messages[1], "wasmtime, then wasmi");
    }
}
