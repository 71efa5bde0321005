//! The memory cap: `max_memory_pages` holds inside the browser.

use super::*;

const GROWS: &str = r#"(module
    (memory (export "memory") 1)
    (func (export "grow") (param i32) (result i32) local.get 0 memory.grow))"#;

#[wasm_bindgen_test]
fn memory_grow_past_the_cap_returns_minus_one() {
    let runtime = runtime(WasmRuntimeConfig::default().max_memory_pages(3));
    let module = load(&runtime, GROWS);
    let mut instance = runtime.instantiate(&module, &Imports::new()).unwrap();
    assert_eq!(
        instance.call("grow", &[WasmValue::I32(2)]).unwrap(),
        [WasmValue::I32(1)]
    );
    assert_eq!(
        instance.call("grow", &[WasmValue::I32(1)]).unwrap(),
        [WasmValue::I32(-1)]
    );
    // A memory bomb gets -1 too, and the memory stays as it was.
    assert_eq!(
        instance.call("grow", &[WasmValue::I32(60_000)]).unwrap(),
        [WasmValue::I32(-1)]
    );
    let memory = instance.memory().unwrap();
    assert_eq!(memory.pages(), 3);
    assert!(matches!(
        memory.grow(1).unwrap_err(),
        WasmError::MemoryLimit { .. }
    ));
}

#[wasm_bindgen_test]
fn a_memory_that_starts_past_the_cap_is_refused() {
    let runtime = runtime(WasmRuntimeConfig::default().max_memory_pages(2));
    let module = load(&runtime, r#"(module (memory 5))"#);
    let error = runtime
        .instantiate(&module, &Imports::new())
        .map(drop)
        .unwrap_err();
    assert!(matches!(error, WasmError::MemoryLimit { .. }), "{error}");
}

#[wasm_bindgen_test]
fn an_imported_memory_is_capped_too() {
    let runtime = runtime(WasmRuntimeConfig::default().max_memory_pages(2));
    let module = load(
        &runtime,
        r#"(module
            (import "env" "memory" (memory 1))
            (func (export "grow") (param i32) (result i32) local.get 0 memory.grow))"#,
    );
    let mut imports = Imports::new();
    imports.memory(
        "env",
        "memory",
        plugin_system_core::MemoryType::new(1, None),
    );
    let mut instance = runtime.instantiate(&module, &imports).unwrap();
    assert_eq!(
        instance.call("grow", &[WasmValue::I32(1)]).unwrap(),
        [WasmValue::I32(1)]
    );
    assert_eq!(
        instance.call("grow", &[WasmValue::I32(1)]).unwrap(),
        [WasmValue::I32(-1)]
    );
}
