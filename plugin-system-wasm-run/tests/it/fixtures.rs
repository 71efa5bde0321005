//! Runtimes and instances for the conformance suite's tests, shared by its
//! native run (`tests/it`) and its web run (`tests/web`, which reads the
//! suite's modules unchanged).

use std::sync::Arc;

use plugin_system_core::{Imports, WasmInstance, WasmRuntime, WasmRuntimeConfig};
use plugin_system_wasm_run::{EngineKind, new_runtime};

/// A runtime of `kind` with `config`.
pub(crate) fn runtime(kind: EngineKind, config: WasmRuntimeConfig) -> Arc<dyn WasmRuntime> {
    new_runtime(kind, config).expect("engine is built in")
}

/// An instance of `wat` with no imports, on a runtime of `kind` with `config`.
pub(crate) fn instance(
    kind: EngineKind,
    config: WasmRuntimeConfig,
    wat: &str,
) -> Box<dyn WasmInstance> {
    let rt = runtime(kind, config);
    let module = rt.load_module(wat.as_bytes()).expect("fixture compiles");
    rt.instantiate(&module, &Imports::new())
        .expect("fixture instantiates")
}
