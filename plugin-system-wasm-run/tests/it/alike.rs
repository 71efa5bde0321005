//! Behaviours that differed between the engines, found by reading them side
//! by side: each checked here to be the same on both.

use plugin_system_core::{Imports, TrapCode, WasmError, WasmRuntimeConfig};
use plugin_system_wasm_run::EngineKind;

use crate::{instance, runtime};

const TRAPS: &str = r#"(module
    (func (export "unreachable") unreachable)
    (func (export "div") (result i32) (i32.div_s (i32.const 1) (i32.const 0)))
    (func $deep (export "deep") (call $deep)))"#;

/// The message of a trap, as each engine reports it.
fn trap_message(kind: EngineKind, export: &str) -> (TrapCode, String) {
    let mut i = instance(kind, WasmRuntimeConfig::default(), TRAPS);
    match i.call(export, &[]) {
        Err(WasmError::Trap { code, message }) => (code, message),
        other => panic!("{kind:?} {export}: {other:?}"),
    }
}

#[test]
fn trap_messages_read_alike_without_a_backtrace() {
    for export in ["unreachable", "div"] {
        let wasmtime = trap_message(EngineKind::Wasmtime, export);
        let wasmi = trap_message(EngineKind::Wasmi, export);
        assert_eq!(wasmtime, wasmi, "{export}");
        assert!(!wasmtime.1.contains('\n'), "one line: {:?}", wasmtime.1);
    }
}

#[test]
fn growing_a_missing_memory_is_the_same_error() {
    let errors: Vec<String> = [EngineKind::Wasmtime, EngineKind::Wasmi]
        .into_iter()
        .map(|kind| {
            let mut i = instance(kind, WasmRuntimeConfig::default(), TRAPS);
            assert!(i.memory().is_none());
            let e = i.memory_named("memory").map(drop).unwrap_err();
            assert!(
                matches!(
                    e,
                    WasmError::ExportNotFound {
                        kind: plugin_system_core::ExportKind::Memory,
                        ..
                    }
                ),
                "{e:?}"
            );
            e.to_string()
        })
        .collect();
    assert_eq!(errors[0], errors[1]);
}

#[test]
fn a_reactor_initializer_is_no_call_and_a_failed_one_makes_no_instance() {
    let reactor = r#"(module
        (global $ready (mut i32) (i32.const 0))
        (func (export "_initialize") (global.set $ready (i32.const 1)))
        (func (export "ready") (result i32) (global.get $ready)))"#;
    let failing = r#"(module (func (export "_initialize") unreachable))"#;
    for kind in [EngineKind::Wasmtime, EngineKind::Wasmi] {
        let rt = runtime(kind, WasmRuntimeConfig::default());
        let module = rt.load_module(reactor.as_bytes()).unwrap();
        let mut i = rt.instantiate(&module, &Imports::new()).unwrap();
        assert_eq!(i.stats().calls, 0, "{kind:?}: the initializer is no call");
        assert_eq!(i.call("ready", &[]).unwrap()[0].as_i32(), Some(1));
        assert_eq!(i.stats().calls, 1, "{kind:?}");
        // Its set-up runs once: a second `_initialize` is refused, plainly,
        // and the instance is as it was.
        match i.call("_initialize", &[]) {
            Err(WasmError::Unsupported { feature }) => {
                assert!(
                    feature.contains("`_initialize` again"),
                    "{kind:?}: {feature}"
                );
            }
            other => panic!("{kind:?}: refused, not {other:?}"),
        }
        assert_eq!(i.call("ready", &[]).unwrap()[0].as_i32(), Some(1));
        // A command's `_initialize` is no initializer: it may be called.
        let command = r#"(module (func (export "_start")) (func (export "_initialize")))"#;
        let module = rt.load_module(command.as_bytes()).unwrap();
        let mut c = rt.instantiate(&module, &Imports::new()).unwrap();
        assert!(c.call("_initialize", &[]).is_ok(), "{kind:?}");
        let created = rt.stats().instances_created;
        let module = rt.load_module(failing.as_bytes()).unwrap();
        assert!(rt.instantiate(&module, &Imports::new()).is_err());
        assert_eq!(
            rt.stats().instances_created,
            created,
            "{kind:?}: a failed initializer makes no instance"
        );
    }
}

#[test]
fn an_externref_the_host_did_not_make_is_a_type_mismatch() {
    // Only a guest with GC can make one (wasmi has no GC: it refuses the
    // module); wasmi reports a foreign externref as this same error.
    let wat = r#"(module
        (func (export "foreign") (result externref)
            (extern.convert_any (ref.i31 (i32.const 5)))))"#;
    let mut i = instance(EngineKind::Wasmtime, WasmRuntimeConfig::default(), wat);
    let r = i.call("foreign", &[]);
    assert!(matches!(r, Err(WasmError::TypeMismatch { .. })), "{r:?}");
    let rt = runtime(EngineKind::Wasmi, WasmRuntimeConfig::default());
    assert!(matches!(
        rt.load_module(wat.as_bytes()),
        Err(WasmError::Unsupported { .. })
    ));
}

#[test]
fn a_host_function_error_keeps_its_cause_on_both_engines() {
    use plugin_system_core::{ErrorChain, FuncType, HostError, HostFunc};
    use std::error::Error as _;
    let wat = r#"(module
        (import "env" "open" (func $open))
        (func (export "run") (call $open)))"#;
    let lines: Vec<String> = [EngineKind::Wasmtime, EngineKind::Wasmi]
        .into_iter()
        .map(|kind| {
            let rt = runtime(kind, WasmRuntimeConfig::default());
            let module = rt.load_module(wat.as_bytes()).unwrap();
            let mut imports = Imports::new();
            imports.func(
                "env",
                "open",
                HostFunc::new(FuncType::new([], []), |_, _, _| {
                    let missing = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
                    Err(HostError::with_source("cannot open the theme", missing))
                }),
            );
            let mut i = rt.instantiate(&module, &imports).unwrap();
            let e = i.call("run", &[]).unwrap_err();
            // The chain goes down to the host's own io::Error, typed.
            let host = e.source().expect("the host function's error");
            assert_eq!(host.to_string(), "cannot open the theme", "{kind:?}");
            let io = host
                .source()
                .and_then(|cause| cause.downcast_ref::<std::io::Error>())
                .expect("the io::Error under it");
            assert_eq!(io.kind(), std::io::ErrorKind::NotFound, "{kind:?}");
            ErrorChain(&e).to_string()
        })
        .collect();
    assert_eq!(
        lines[0],
        "host function env::open failed: cannot open the theme: no such file"
    );
    assert_eq!(lines[0], lines[1]);
}

#[test]
fn an_import_of_the_wrong_size_is_a_link_error_in_the_same_words() {
    use plugin_system_core::{GlobalType, MemoryType, TableType, ValType, WasmValue};
    let wat = r#"(module
        (import "env" "memory" (memory 2 4))
        (import "env" "table" (table 3 funcref))
        (import "env" "g" (global (mut i32))))"#;
    type Setup = fn(&mut Imports);
    let cases: [(&str, Setup); 4] = [
        ("too small a memory", |i| {
            i.memory("env", "memory", MemoryType::new(1, Some(4)));
        }),
        ("a memory without the maximum", |i| {
            i.memory("env", "memory", MemoryType::new(2, None));
        }),
        ("too small a table", |i| {
            i.table(
                "env",
                "table",
                TableType {
                    element: ValType::FuncRef,
                    minimum: 1,
                    maximum: None,
                },
                WasmValue::FuncRef(None),
            );
        }),
        ("an immutable global", |i| {
            let ty = GlobalType {
                content: ValType::I32,
                mutable: false,
            };
            i.global("env", "g", ty, WasmValue::I32(0));
        }),
    ];
    for (case, setup) in cases {
        let errors: Vec<String> = [EngineKind::Wasmtime, EngineKind::Wasmi]
            .into_iter()
            .map(|kind| {
                let rt = runtime(kind, WasmRuntimeConfig::default());
                let module = rt.load_module(wat.as_bytes()).unwrap();
                let mut imports = Imports::new();
                imports.memory("env", "memory", MemoryType::new(2, Some(4)));
                imports.table(
                    "env",
                    "table",
                    TableType {
                        element: ValType::FuncRef,
                        minimum: 3,
                        maximum: None,
                    },
                    WasmValue::FuncRef(None),
                );
                let g = GlobalType {
                    content: ValType::I32,
                    mutable: true,
                };
                imports.global("env", "g", g, WasmValue::I32(0));
                assert!(rt.instantiate(&module, &imports).is_ok(), "{kind:?}");
                setup(&mut imports);
                match rt.instantiate(&module, &imports).map(drop) {
                    Err(e @ WasmError::Link { .. }) => e.to_string(),
                    other => panic!("{kind:?}, {case}: expected a link error, got {other:?}"),
                }
            })
            .collect();
        assert_eq!(errors[0], errors[1], "{case}");
    }
}
