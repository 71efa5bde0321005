//! Integration tests of the plugin runtime (`plugin`: both engines, WAT plugins to
//! the Dart ABI) and of the serializers: round trips for every format,
//! compatibility with the Dart JSON and MessagePack, the hybrid's detection, and
//! garbage that must give errors, never panics.

mod dart_compat;
mod deadlines;
mod examples;
mod garbage;
mod hybrid;
mod last_words;
mod memory64;
mod messages;
mod msgpack;
mod plugin;
mod roundtrip;
mod strategies;
mod tiered;

use std::{
    path::{Path, PathBuf},
    sync::Arc,
};

use plugin_system_core::{PluginSource, WasmRuntime, WasmRuntimeConfig};
use plugin_system_wasm_run::{EngineKind, new_runtime};

/// Runs each named test function (taking an [`EngineKind`]) once per native
/// engine, as `<module>::wasmtime::<name>` and `<module>::wasmi::<name>`;
/// `tests/web` runs the modules that use it on the web engine.
#[macro_export]
macro_rules! on_every_engine {
    ($($name:ident),* $(,)?) => {
        mod wasmtime {
            $(#[test] fn $name() { super::$name(plugin_system_wasm_run::EngineKind::Wasmtime) })*
        }
        mod wasmi {
            $(#[test] fn $name() { super::$name(plugin_system_wasm_run::EngineKind::Wasmi) })*
        }
    };
}

/// The engine of `kind` with the default configuration.
pub(crate) fn engine(kind: EngineKind) -> Arc<dyn WasmRuntime> {
    new_runtime(kind, WasmRuntimeConfig::default()).expect("engine is built in")
}

/// A guest module built by `cargo xtask guests`, by its path under
/// `guests/target/`; missing is a loud failure.
pub(crate) fn guest(relative: &str) -> PluginSource {
    let path: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../guests/target")
        .join(relative);
    assert!(
        path.exists(),
        "guest {} is not built: run `cargo xtask guests` (scripts/setup.sh installs what it needs)",
        path.display()
    );
    PluginSource::file(path)
}
