//! The engine conformance suite: written once against the `WasmRuntime` API and run
//! on every engine built in. Each test module covers one part of the API.

mod alike;
mod bounds;
mod cache;
mod calls;
mod fixtures;
mod hostile;
mod imports;
mod instance;
mod limits;
mod memory;
mod module;
mod precompile;
mod reftypes;
mod store;
mod wasi;
mod wasmtime_only;

/// Runs each named test function (taking an [`EngineKind`]) once per engine, as
/// `<module>::wasmtime::<name>` and `<module>::wasmi::<name>`.
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

pub(crate) use fixtures::{instance, runtime};

/// A fresh path in the temp directory, unique to this process and `name`.
pub(crate) fn temp_path(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("plugin-system-it-{}-{name}", std::process::id()))
}
