//! What only the wasmtime engine offers: the pooling allocator, and linking
//! host functions once per set of imports.

use std::sync::{
    Arc,
    atomic::{AtomicU32, Ordering},
};

use plugin_system_core::{
    FuncType, HostFunc, Imports, ValType, WasmError, WasmRuntime, WasmRuntimeConfig, WasmValue,
};
use plugin_system_wasm_run::WasmtimeRuntime;

const GUEST: &[u8] = br#"(module
    (import "env" "next" (func $next (result i32)))
    (memory (export "memory") 1)
    (func (export "run") (result i32) call $next))"#;

fn counter(start: u32) -> (Imports, Arc<AtomicU32>) {
    let count = Arc::new(AtomicU32::new(start));
    let seen = Arc::clone(&count);
    let mut imports = Imports::new();
    imports.func(
        "env",
        "next",
        HostFunc::new(FuncType::new([], [ValType::I32]), move |_, _, r| {
            r[0] = WasmValue::I32(seen.fetch_add(1, Ordering::SeqCst) as i32);
            Ok(())
        }),
    );
    (imports, count)
}

#[test]
fn a_pool_serves_instances_and_refuses_past_its_size() {
    let rt =
        WasmtimeRuntime::with_pooling(WasmRuntimeConfig::default().max_memory_pages(4), 2).unwrap();
    let module = rt.load_module(GUEST).unwrap();
    let (imports, _) = counter(0);
    let a = rt.instantiate(&module, &imports).unwrap();
    let mut b = rt.instantiate(&module, &imports).unwrap();
    let full = rt.instantiate(&module, &imports);
    assert!(full.is_err(), "a third instance does not fit a pool of two");
    assert_eq!(b.call("run", &[]).unwrap(), [WasmValue::I32(0)]);
    drop(a);
    let mut c = rt.instantiate(&module, &imports).unwrap();
    assert_eq!(c.call("run", &[]).unwrap(), [WasmValue::I32(1)]);
    assert_eq!(
        c.memory().unwrap().grow(4).err().map(|e| e.kind()),
        Some("memory limit")
    );
}

#[test]
fn linking_follows_the_imports_given() {
    let rt = WasmtimeRuntime::new(WasmRuntimeConfig::default()).unwrap();
    let module = rt.load_module(GUEST).unwrap();
    let (first, _) = counter(10);
    let (second, _) = counter(20);
    for _ in 0..2 {
        let mut a = rt.instantiate(&module, &first).unwrap();
        let mut b = rt.instantiate(&module, &second).unwrap();
        let x = a.call("run", &[]).unwrap()[0].as_i32().unwrap();
        let y = b.call("run", &[]).unwrap()[0].as_i32().unwrap();
        assert!((10..12).contains(&x) && (20..22).contains(&y), "{x} {y}");
    }
    let mut changed = first.clone();
    changed.func(
        "env",
        "next",
        HostFunc::new(FuncType::new([], [ValType::I32]), |_, _, r| {
            r[0] = WasmValue::I32(-1);
            Ok(())
        }),
    );
    let mut c = rt.instantiate(&module, &changed).unwrap();
    assert_eq!(
        c.call("run", &[]).unwrap(),
        [WasmValue::I32(-1)],
        "a redefinition is seen"
    );
    let r = rt.instantiate(&module, &Imports::new());
    assert!(matches!(r, Err(WasmError::Link { .. })), "{:?}", r.err());
}
