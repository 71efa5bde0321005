//! The plugin layer on the web engine in a real browser: `cargo xtask test-web`
//! runs this suite in headless Chromium through wasm-bindgen-test, after
//! building the guests it embeds.
//!
//! `examples` is `tests/it/examples.rs` read unchanged: the example plugins
//! with the expectations they have on wasmtime and wasmi, here on the web
//! engine and on wasmi compiled into the page. `limits` is what differs in a
//! browser: no deadlines, so fuel alone stops a plugin; `in_place`, the async
//! methods without a blocking pool; `bench`, the browser benchmark, ignored
//! here (`cargo xtask bench web` runs it).

#![cfg(all(target_family = "wasm", target_os = "unknown"))]

use std::sync::Arc;

use plugin_system_core::{PluginSource, WasmRuntime, WasmRuntimeConfig};
use plugin_system_wasm_run::{EngineKind, new_runtime};
use wasm_bindgen_test::wasm_bindgen_test_configure;

wasm_bindgen_test_configure!(run_in_browser);

mod bench;
#[path = "../it/examples.rs"]
mod examples;
mod in_place;
mod limits;

/// Fuel for each exchange of the example plugins, far more than any of their
/// events burns: the web engine has no deadlines, so `WasmPluginRuntime`
/// loads a plugin on it only when it meters fuel (wasmi gets it too, beside
/// its deadlines).
const FUEL: u64 = 1_000_000_000;

/// `tests/it`'s `on_every_engine!`, for the engines a page can run: each named
/// test runs as `<module>::web::<name>` on the web engine and as
/// `<module>::wasmi::<name>` on wasmi compiled into the page (deadlines on
/// `performance.now()`).
#[macro_export]
macro_rules! on_every_engine {
    ($($name:ident),* $(,)?) => {
        $crate::on_every_engine!(@engine web, Web, $($name),*);
        $crate::on_every_engine!(@engine wasmi, Wasmi, $($name),*);
    };
    (@engine $module:ident, $kind:ident, $($name:ident),*) => {
        mod $module {
            $(
                #[wasm_bindgen_test::wasm_bindgen_test]
                fn $name() {
                    super::$name(plugin_system_wasm_run::EngineKind::$kind)
                }
            )*
        }
    };
}

/// The engine of `kind` (the web engine here), metering fuel.
pub(crate) fn engine(kind: EngineKind) -> Arc<dyn WasmRuntime> {
    new_runtime(kind, WasmRuntimeConfig::default().fuel_limit(FUEL)).expect("engine is built in")
}

/// A guest module built by `cargo xtask guests`, by its path under
/// `guests/target/`, embedded in the test (a page has no files): a missing
/// one fails the build.
pub(crate) fn guest(relative: &str) -> PluginSource {
    macro_rules! embedded {
        ($($path:literal),* $(,)?) => {
            match relative {
                $($path => &include_bytes!(concat!(
                    env!("CARGO_MANIFEST_DIR"),
                    "/../guests/target/",
                    $path
                ))[..],)*
                other => panic!("guest {other} is not embedded: add it to tests/web/main.rs"),
            }
        };
    }
    let bytes: &[u8] = embedded!(
        "wasm32-unknown-unknown/release/file_icons.wasm",
        "wasm32-unknown-unknown/release/word_count.wasm",
        "wasm32-unknown-unknown/release/echo.wasm",
        "wasm32-unknown-unknown/release/echo_msgpack.wasm",
        "c/line_count.wasm",
    );
    PluginSource::bytes(bytes)
}
