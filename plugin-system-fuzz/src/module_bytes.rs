//! `module_bytes`: any bytes into `validate_bytes`, `load_module`, `validate`
//! and the module's introspection, on both engines.
//!
//! The input is a module as a host would receive it, binary or text (both
//! engines accept WAT). Errors are the expected answer to most inputs; what
//! must hold:
//!
//! - nothing panics (neither ours nor an engine's, caught or not);
//! - a module that loads also passes `validate_bytes` on the same engine;
//! - every export the module lists is found again by its name, with the same
//!   type, and the module's own validation report can be built.

use plugin_system_core::{WasmModule, WasmRuntime};

use crate::engines;

/// Runs the target on one input.
///
/// # Panics
/// On a finding: see the module's documentation.
pub fn run(data: &[u8]) {
    for runtime in engines::plain() {
        check(runtime.as_ref(), data);
    }
}

fn check(runtime: &dyn WasmRuntime, data: &[u8]) {
    let validated = runtime.validate_bytes(data);
    let Ok(module) = runtime.load_module(data) else {
        return;
    };
    if let Err(e) = validated {
        panic!(
            "{}: the module loads but validate_bytes refuses it: {e}",
            runtime.name()
        );
    }
    introspect(module.as_ref());
}

/// Reads everything a host may read of a loaded module.
fn introspect(module: &dyn WasmModule) {
    let _ = module.validate();
    let info = module.info();
    assert_eq!(module.size(), info.size);
    let _ = module.hash_hex();
    let _ = module.binary_version();
    let _ = module.imports().len();
    for export in module.exports() {
        assert_eq!(
            module.export(&export.name),
            Some(&export.ty),
            "export `{}` is listed but not found by its name",
            export.name
        );
        let _ = export.ty.to_string();
    }
    for name in module.custom_section_names() {
        assert!(module.custom_section(name).is_some());
    }
    let _ = (&info.memories, &info.tables, info.has_start);
}
