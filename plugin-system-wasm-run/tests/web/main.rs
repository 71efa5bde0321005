//! The web engine in a real browser: `cargo xtask test-web` runs this suite in
//! headless Chromium through wasm-bindgen-test.

#![cfg(all(target_family = "wasm", target_os = "unknown"))]

use std::sync::Arc;

use plugin_system_core::{
    FuncType, HostError, HostFunc, Imports, TrapCode, ValType, WasmError, WasmInstance, WasmModule,
    WasmRuntime, WasmRuntimeConfig, WasmValue,
};
use plugin_system_wasm_run::WebRuntime;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

mod calls;
mod limits;
mod loading;
mod memory;
mod spec;

/// A runtime with `config`.
fn runtime(config: WasmRuntimeConfig) -> WebRuntime {
    WebRuntime::new(config).expect("a web runtime")
}

/// `wat` loaded on a default runtime and instantiated with `imports`.
fn instance_with(wat: &str, imports: &Imports) -> Box<dyn WasmInstance> {
    let runtime = runtime(WasmRuntimeConfig::default());
    let module = load(&runtime, wat);
    runtime.instantiate(&module, imports).expect("instantiate")
}

/// `wat` loaded and instantiated without imports.
fn instance(wat: &str) -> Box<dyn WasmInstance> {
    instance_with(wat, &Imports::new())
}

/// `wat` compiled by `runtime`.
fn load(runtime: &WebRuntime, wat: &str) -> Arc<dyn WasmModule> {
    let bytes = wat::parse_str(wat).expect("valid WAT");
    runtime.load_module(&bytes).expect("load")
}
