//! The ABI is wasm32: a plugin whose memory is 64-bit is refused at load, on
//! every engine, before anything of it runs.

use plugin_system_core::{PluginError, PluginSource, WasmError, WasmRuntimeConfig};
use plugin_system_wasm::{LoadOptions, WasmPluginRuntime};
use plugin_system_wasm_run::{EngineKind, new_runtime};

/// A plugin with every export the ABI requires, over a 64-bit memory, whose
/// start function would trap if it ran.
const MEMORY64_PLUGIN: &str = r#"(module
    (memory (export "memory") i64 1)
    (func (export "alloc") (param i32) (result i32) i32.const 0)
    (func (export "dealloc") (param i32 i32))
    (func (export "plugin_handle_event") (param i32 i32) (result i64) i64.const 0)
    (func $start unreachable)
    (start $start))"#;

#[test]
fn a_memory64_plugin_is_refused_at_load() {
    for kind in [EngineKind::Wasmtime, EngineKind::Wasmi] {
        let engine = new_runtime(kind, WasmRuntimeConfig::default()).expect("engine built in");
        let supports_memory64 = engine.supported_features().memory64;
        let runtime = WasmPluginRuntime::new(engine);
        let loaded = runtime.load(&PluginSource::bytes(MEMORY64_PLUGIN), LoadOptions::new());
        match loaded {
            // wasmtime compiles it; the ABI check refuses it before instantiation
            // (the start function never runs: no trap).
            Err(PluginError::InvalidPlugin { message }) if supports_memory64 => {
                assert!(message.contains("64-bit memory"), "{message}");
                assert!(message.contains("wasm32"), "{message}");
            }
            // wasmi has no memory64 at all: the engine refuses it.
            Err(PluginError::Wasm(WasmError::Unsupported { feature })) if !supports_memory64 => {
                assert_eq!(feature, "memory64");
            }
            Err(other) => panic!("{kind}: unexpected error {other:?}"),
            Ok(_) => panic!("{kind}: a memory64 plugin loaded"),
        }
    }
}
