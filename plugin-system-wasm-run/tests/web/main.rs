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
mod conformance;
mod limits;
mod loading;
mod memory;
mod spec;

/// A runtime with `config`.
fn web_runtime(config: WasmRuntimeConfig) -> WebRuntime {
    WebRuntime::new(config).expect("a web runtime")
}

/// `wat` loaded on a default runtime and instantiated with `imports`.
fn instance_with(wat: &str, imports: &Imports) -> Box<dyn WasmInstance> {
    let runtime = web_runtime(WasmRuntimeConfig::default());
    let module = load(&runtime, wat);
    runtime.instantiate(&module, imports).expect("instantiate")
}

/// `wat` loaded and instantiated without imports.
fn web_instance(wat: &str) -> Box<dyn WasmInstance> {
    instance_with(wat, &Imports::new())
}

/// `wat` compiled by `runtime`.
fn load(runtime: &WebRuntime, wat: &str) -> Arc<dyn WasmModule> {
    let bytes = wat::parse_str(wat).expect("valid WAT");
    runtime.load_module(&bytes).expect("load")
}

/// The conformance suite's helpers, for its modules read here unchanged
/// (`conformance.rs`).
#[path = "../it/fixtures.rs"]
mod fixtures;
pub(crate) use fixtures::{instance, runtime};

/// The conformance suite's `on_every_engine!`, for the engines a page can
/// run: each named test runs on the web engine, but for the ones `web_case!`
/// lists as differing, and with feature `wasmi` on wasmi compiled into the
/// page, but for the ones `wasmi_case!` lists.
#[macro_export]
macro_rules! on_every_engine {
    ($($name:ident),* $(,)?) => {
        mod web {
            $($crate::web_case!($name);)*
        }
        #[cfg(feature = "wasmi")]
        mod wasmi {
            $($crate::wasmi_case!($name);)*
        }
    };
}

/// A fresh path in the temp directory (the suite's helper; a page has no
/// files, so the tests that use it are listed as differing).
pub(crate) fn temp_path(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("plugin-system-web-{name}"))
}
