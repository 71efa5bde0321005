//! Instructions that wasmi 2.0.0 runs wrongly, refused before it compiles them.
//!
//! Found by the differential fuzz target: `v128.store8_lane` and
//! `v128.store16_lane` in wasmi's general encoding (a static offset past
//! 65,535, or a memory other than the first) store nothing and trap as out of
//! bounds, or, when the stored value comes from another SIMD instruction, make
//! the interpreter read out of its own frame and crash the host process. The
//! 32- and 64-bit lane stores and every offset up to 65,535 on the first memory
//! are correct. A module that holds one of the faulty forms gets a typed
//! [`WasmError::Unsupported`] on wasmi instead of a host crash; wasmtime runs it.

use plugin_system_core::WasmError;
use wasmparser::{MemArg, Operator, Parser, Payload, TypeRef};

/// The two bytes that begin `v128.store8_lane` (0xFD 88) and `v128.store16_lane`
/// (0xFD 89): a module without either pair holds neither instruction, and is
/// passed without reading its code.
const PREFIXES: [[u8; 2]; 2] = [[0xFD, 88], [0xFD, 89]];

/// Refuses a module that uses a lane store in the form wasmi mistranslates.
///
/// # Errors
/// [`WasmError::Unsupported`] naming the instruction and the function. An
/// unreadable module passes: the engine reports it in its own words.
pub(crate) fn check(binary: &[u8]) -> Result<(), WasmError> {
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
            assert!(check(&store(op, "0", 65_535)).is_ok(), "{op}");
            let refused = check(&store(op, "0", 65_536)).unwrap_err().to_string();
            assert!(
                refused.contains(op) && refused.contains("65536"),
                "{refused}"
            );
            assert!(check(&store(op, "$m", 0)).is_err(), "{op} on memory 1");
        }
        for op in ["v128.store32_lane", "v128.store64_lane"] {
            assert!(check(&store(op, "0", 1 << 20)).is_ok(), "{op}");
            assert!(check(&store(op, "$m", 0)).is_ok(), "{op}");
        }
    }
}
