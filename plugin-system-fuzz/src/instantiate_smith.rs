//! `instantiate_smith`: wasm-smith modules instantiated on both engines under
//! fuel, memory and table limits, with every exported function called with
//! arbitrary arguments.
//!
//! The modules use only proposals both engines support (see the configuration
//! in this crate's `engines` module) and export everything. Each engine runs
//! with 1 MiB of memory, 10,000 table elements, a stack of 1,000 frames, fuel
//! per call and a deadline. What must hold:
//!
//! - both engines load every generated module (it is valid and uses only
//!   supported proposals), or refuse it with [`WasmError::Unsupported`] for an
//!   instruction the engine is known to run wrongly (wasmi 2.0.0's faulty lane
//!   stores, which this target found as a host crash);
//! - instantiation and calls end in a value or a typed error, never a panic
//!   and never the catch-all [`WasmError::Engine`];
//! - every exported memory stays within the limit after every call.

use arbitrary::Unstructured;
use plugin_system_core::{
    ExternType, Imports, InstanceLimits, PAGE_SIZE, WasmError, WasmInstance, WasmRuntime,
};

use crate::engines;

/// Runs the target on one input.
///
/// # Panics
/// On a finding: see the module's documentation.
pub fn run(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let Some(bytes) = engines::smith_module(&mut u, engines::smith_config()) else {
        return;
    };
    // The calls' arguments come from what the module left of the input; both
    // engines get the same ones.
    let rest = u.take_rest();
    for runtime in engines::limited() {
        exercise(runtime.as_ref(), &bytes, rest);
    }
}

fn exercise(runtime: &dyn WasmRuntime, bytes: &[u8], args: &[u8]) {
    let engine = runtime.name();
    let module = match runtime.load_module(bytes) {
        Ok(module) => module,
        Err(WasmError::Unsupported { .. }) => return,
        Err(e) => panic!("{engine} refuses a wasm-smith module: {e}"),
    };
    let limits = InstanceLimits::new().max_memory_bytes(engines::MAX_MEMORY_PAGES * PAGE_SIZE);
    let mut instance = match runtime.instantiate_with_limits(&module, &Imports::new(), limits) {
        Ok(instance) => instance,
        Err(e) => return typed(engine, "instantiation", &e),
    };
    check_memories(engine, instance.as_mut());
    for (name, args) in engines::call_plan(&instance.functions(), args) {
        if let Err(e) = instance.call(&name, &args) {
            typed(engine, &name, &e);
        }
        check_memories(engine, instance.as_mut());
    }
    let _ = instance.stats();
}

/// A typed error is fine; the catch-all `Engine` is a finding.
fn typed(engine: &str, what: &str, error: &WasmError) {
    if let WasmError::Engine { .. } = error {
        panic!("{engine}: {what} failed with an untyped error: {error}");
    }
}

fn check_memories(engine: &str, instance: &mut dyn WasmInstance) {
    let memories: Vec<String> = instance
        .module()
        .exports()
        .iter()
        .filter(|e| matches!(e.ty, ExternType::Memory(_)))
        .map(|e| e.name.clone())
        .collect();
    for name in memories {
        let memory = instance
            .memory_named(&name)
            .unwrap_or_else(|e| panic!("{engine}: exported memory `{name}` not found: {e}"));
        assert!(
            memory.pages() <= engines::MAX_MEMORY_PAGES,
            "{engine}: memory `{name}` holds {} pages, past the limit of {}",
            memory.pages(),
            engines::MAX_MEMORY_PAGES
        );
    }
}
