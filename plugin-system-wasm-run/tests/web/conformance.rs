//! The engine conformance suite (`tests/it`) on the web engine: its modules
//! are read from there unchanged, and each test they name runs here as
//! `conformance::<module>::web::<name>`, but for those `web_case!` lists with
//! the reason the web engine differs.

#[path = "../it/instance.rs"]
mod instance;

/// One test of the suite on the web engine. The arms before the last name
/// the tests whose expectations do not hold in a browser, and why; they are
/// compiled (so they stay in step with the suite) but not run.
#[macro_export]
macro_rules! web_case {
    // A `v128` and non-null references cannot cross the JS API.
    (every_value_type_round_trips) => {
        $crate::web_case!(@differs every_value_type_round_trips);
    };
    (@differs $name:ident) => {
        #[allow(dead_code, reason = "differs on the web engine: see web_case!")]
        const _: fn(plugin_system_wasm_run::EngineKind) = super::$name;
    };
    ($name:ident) => {
        #[wasm_bindgen_test::wasm_bindgen_test]
        fn $name() {
            super::$name(plugin_system_wasm_run::EngineKind::Web)
        }
    };
}
