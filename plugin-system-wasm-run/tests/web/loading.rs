//! Loading: what a module declares, and bytes that are no module.

use super::*;

#[wasm_bindgen_test]
fn a_module_reports_its_imports_exports_and_custom_sections() {
    let runtime = web_runtime(WasmRuntimeConfig::default());
    let module = load(
        &runtime,
        r#"(module
            (import "env" "log" (func (param i32)))
            (memory (export "memory") 1)
            (func (export "add") (param i32 i32) (result i32)
                local.get 0 local.get 1 i32.add)
            (@custom "plugin-meta" "hello"))"#,
    );
    assert_eq!(module.engine(), "web");
    assert_eq!(module.imports()[0].module, "env");
    assert_eq!(module.imports()[0].name, "log");
    assert!(module.has_export("add"));
    assert!(module.has_export("memory"));
    assert_eq!(module.custom_section("plugin-meta"), Some(&b"hello"[..]));
    assert_eq!(runtime.stats().modules_loaded, 1);
}

#[wasm_bindgen_test]
fn bytes_that_are_no_module_are_an_invalid_module() {
    let runtime = web_runtime(WasmRuntimeConfig::default());
    for bytes in [&b"\0asm\x01\0\0\0\x01\xff"[..], b"not wasm at all", b""] {
        let error = runtime.load_module(bytes).map(drop).unwrap_err();
        assert!(matches!(error, WasmError::InvalidModule { .. }), "{error}");
        assert!(matches!(
            runtime.validate_bytes(bytes).unwrap_err(),
            WasmError::InvalidModule { .. }
        ));
    }
}

#[wasm_bindgen_test]
fn a_proposal_the_engine_lacks_is_named() {
    let runtime = web_runtime(WasmRuntimeConfig::default());
    let bytes = wat::parse_str(r#"(module (memory 1) (memory 1))"#).unwrap();
    match runtime.load_module(&bytes).map(drop).unwrap_err() {
        WasmError::Unsupported { feature } => assert_eq!(feature, "multi-memory"),
        other => panic!("expected unsupported, got {other}"),
    }
}

#[wasm_bindgen_test]
fn simd_runs_inside_but_a_v128_does_not_cross_into_js() {
    let mut instance = web_instance(
        r#"(module
            (func (export "lanes") (result i32)
                (i32x4.extract_lane 2 (i32x4.add (v128.const i32x4 1 2 3 4) (v128.const i32x4 1 1 1 1))))
            (func (export "v") (param v128))
            (func (export "r") (result v128) (v128.const i64x2 0 0)))"#,
    );
    assert_eq!(instance.call("lanes", &[]).unwrap(), [WasmValue::I32(4)]);
    let error = instance.call("v", &[WasmValue::V128(0)]).unwrap_err();
    assert!(matches!(error, WasmError::Unsupported { .. }), "{error}");
    let error = instance.call("r", &[]).unwrap_err();
    assert!(matches!(error, WasmError::Unsupported { .. }), "{error}");
}

#[wasm_bindgen_test]
fn settings_the_browser_cannot_honour_are_refused() {
    let refused = [
        WasmRuntimeConfig::default().timeout(std::time::Duration::from_millis(10)),
        WasmRuntimeConfig::default().max_stack_depth(512),
        WasmRuntimeConfig::default().enable_wasi(true),
    ];
    for config in refused {
        let error = WebRuntime::new(config).map(drop).unwrap_err();
        assert!(matches!(error, WasmError::Unsupported { .. }), "{error}");
    }
}

#[wasm_bindgen_test]
fn a_missing_import_is_a_link_error() {
    let runtime = web_runtime(WasmRuntimeConfig::default());
    let module = load(&runtime, r#"(module (import "env" "f" (func)))"#);
    let error = runtime
        .instantiate(&module, &Imports::new())
        .map(drop)
        .unwrap_err();
    assert!(matches!(error, WasmError::Link { .. }), "{error}");
}

#[wasm_bindgen_test]
fn auto_picks_the_web_engine_in_a_page() {
    use plugin_system_wasm_run::{EngineKind, new_runtime};

    assert_eq!(EngineKind::Auto.resolve(), EngineKind::Web);
    assert_eq!("web".parse::<EngineKind>().unwrap(), EngineKind::Web);
    assert!(EngineKind::available().contains(&EngineKind::Web));
    let runtime = new_runtime(EngineKind::Auto, WasmRuntimeConfig::default()).unwrap();
    assert_eq!(runtime.name(), "web");
    let error = new_runtime(EngineKind::Wasmtime, WasmRuntimeConfig::default()).map(drop);
    assert!(matches!(error.unwrap_err(), WasmError::Unsupported { .. }));
}
