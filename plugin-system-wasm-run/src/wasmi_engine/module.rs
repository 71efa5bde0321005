//! A module compiled by wasmi, and what is done to its bytes first.
//!
//! Two things happen before wasmi compiles a module. Its start function, if any,
//! is moved to a hidden export ([`crate::start_export`]), because wasmi runs a
//! start function with a plain call that no deadline could stop. And a module
//! holding an instruction that wasmi 2.0.0 runs wrongly is refused: found by the
//! differential fuzz target, `v128.store8_lane` and `v128.store16_lane` in
//! wasmi's general encoding (a static offset past 65,535, or a memory other than
//! the first) store nothing and trap as out of bounds, or, when the stored value
//! comes from another SIMD instruction, make the interpreter read out of its own
//! frame and crash the host process. The 32- and 64-bit lane stores and every
//! offset up to 65,535 on the first memory are correct. Such a module gets a
//! typed [`WasmError::Unsupported`] on wasmi instead of a host crash; wasmtime
//! runs it.

use std::{any::Any, sync::Arc};

use plugin_system_core::{
    ErrorChain, ModuleInfo, Result, ValidationReport, WasmError, WasmModule, WasmRuntimeConfig,
};
use wasmparser::{MemArg, Operator, Parser, Payload, TypeRef};

use super::{ENGINE, PROPOSALS, features, guarded};
use crate::{module_info::compile_error, shared, start_export::hoist_start};

/// A module compiled by wasmi.
pub(crate) struct WasmiModule {
    /// The compiled module; bound to the engine that compiled it.
    pub(crate) module: wasmi::Module,
    /// What the original bytes declare (the hidden start export is not in it).
    pub(crate) info: ModuleInfo,
    /// Whether the start function was moved to the export [`START_EXPORT`].
    pub(crate) start_hoisted: bool,
    pub(super) config: Arc<WasmRuntimeConfig>,
}

impl WasmModule for WasmiModule {
    fn info(&self) -> &ModuleInfo {
        &self.info
    }

    fn engine(&self) -> &'static str {
        ENGINE
    }

    fn validate(&self) -> ValidationReport {
        shared::validation_report(&self.info, &self.config, &features())
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// Compiles a binary, with its start function moved out of instantiation when it
/// has one (see [`crate::start_export`]). Returns the module and whether the start was moved.
pub(super) fn compile(engine: &wasmi::Engine, binary: &[u8]) -> Result<(wasmi::Module, bool)> {
    refuse_defects(binary)?;
    if let Some(hoisted) = hoist_start(binary) {
        // The rewrite can make an invalid start function look valid (a start
        // function with parameters becomes a plain export), so the original
        // must validate as it stands first.
        guarded(|| wasmi::Module::validate(engine, binary))
            .map_err(|error| compile_error(binary, PROPOSALS, error))?;
        // A start function must run under the deadline, so a rewrite that fails
        // (a module exporting the reserved name) refuses the module rather than
        // falling back to a start function nothing could stop.
        return guarded(|| wasmi::Module::new(engine, &hoisted[..]))
            .map(|module| (module, true))
            .map_err(|error| WasmError::InvalidModule {
                message: format!(
                    "start function cannot be put under the deadline: {}",
                    ErrorChain(error.as_ref())
                ),
            });
    }
    // No start function: compile the module as it is.
    guarded(|| wasmi::Module::new(engine, binary))
        .map(|module| (module, false))
        .map_err(|error| compile_error(binary, PROPOSALS, error))
}

/// The two bytes that begin `v128.store8_lane` (0xFD 88) and `v128.store16_lane`
/// (0xFD 89): a module without either pair holds neither instruction, and is
/// passed without reading its code.
const PREFIXES: [[u8; 2]; 2] = [[0xFD, 88], [0xFD, 89]];

/// Refuses a module that uses a lane store in the form wasmi mistranslates.
///
/// # Errors
/// [`WasmError::Unsupported`] naming the instruction and the function. An
/// unreadable module passes: the engine reports it in its own words.
pub(super) fn refuse_defects(binary: &[u8]) -> Result<(), WasmError> {
    if !binary
        .windows(2)
        .any(|pair| PREFIXES.iter().any(|p| p == pair))
    {
        return Ok(());
    }
    match first_faulty(binary) {
        Some((function, name, memarg)) => Err(WasmError::Unsupported {
            feature: format!(
                "{name} with offset {} on memory {} (function {function}): wasmi {} \
                 runs it wrongly; use wasmtime for this module",
                memarg.offset,
                memarg.memory,
                super::VERSION
            ),
        }),
        None => Ok(()),
    }
}

/// The defined function (in the function index space), instruction and memory
/// argument of the first faulty lane store.
fn first_faulty(binary: &[u8]) -> Option<(u32, &'static str, MemArg)> {
    let mut imported_functions = 0;
    let mut defined = 0;
    for payload in Parser::new(0).parse_all(binary) {
        match payload.ok()? {
            Payload::ImportSection(reader) => {
                for import in reader.into_imports() {
                    if let TypeRef::Func(_) | TypeRef::FuncExact(_) = import.ok()?.ty {
                        imported_functions += 1;
                    }
                }
            }
            Payload::CodeSectionEntry(body) => {
                let mut reader = body.get_operators_reader().ok()?;
                while !reader.eof() {
                    let (name, memarg) = match reader.read().ok()? {
                        Operator::V128Store8Lane { memarg, .. } => ("v128.store8_lane", memarg),
                        Operator::V128Store16Lane { memarg, .. } => ("v128.store16_lane", memarg),
                        _ => continue,
                    };
                    if memarg.memory != 0 || memarg.offset > u64::from(u16::MAX) {
                        return Some((imported_functions + defined, name, memarg));
                    }
                }
                defined += 1;
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(op: &str, memory: &str, offset: u32) -> Vec<u8> {
        wat::parse_str(format!(
            r#"(module (memory 1) (memory $m 1)
                (func (param v128) (i32.const 0) (local.get 0) ({op} {memory} offset={offset} 1)))"#
        ))
        .unwrap()
    }

    #[test]
    fn only_the_faulty_forms_are_refused() {
        for op in ["v128.store8_lane", "v128.store16_lane"] {
            assert!(refuse_defects(&store(op, "0", 65_535)).is_ok(), "{op}");
            let refused = refuse_defects(&store(op, "0", 65_536))
                .unwrap_err()
                .to_string();
            assert!(
                refused.contains(op) && refused.contains("65536"),
                "{refused}"
            );
            assert!(
                refuse_defects(&store(op, "$m", 0)).is_err(),
                "{op} on memory 1"
            );
        }
        for op in ["v128.store32_lane", "v128.store64_lane"] {
            assert!(refuse_defects(&store(op, "0", 1 << 20)).is_ok(), "{op}");
            assert!(refuse_defects(&store(op, "$m", 0)).is_ok(), "{op}");
        }
    }
}
