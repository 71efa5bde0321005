//! `differential`: the same wasm-smith module and the same calls on wasmtime
//! and wasmi, through our API, compared.
//!
//! Both engines instantiate the module, then run the same sequence of calls of
//! its exported functions with the same arguments. After instantiation and
//! after every call, these must agree:
//!
//! - the outcome: the same results, or errors of the same
//!   [`kind`](plugin_system_core::WasmError::kind), and for a trap the same
//!   [`TrapCode`](plugin_system_core::TrapCode);
//! - at the end, every exported global and every exported memory (its size and
//!   its bytes).
//!
//! # Exceptions
//!
//! What the two engines may rightly do differently is not compared:
//!
//! - **Proposal gaps.** wasmi has no threads, memory64, GC, typed function
//!   references, exceptions, wide arithmetic or custom page sizes: the modules
//!   use none of them.
//! - **Instructions an engine refuses by name.** An engine may refuse a
//!   module with [`WasmError::Unsupported`] for an instruction it is known to
//!   run wrongly (wasmi 2.0.0: `v128.store8_lane` and `v128.store16_lane` past
//!   a 16-bit offset or on a memory other than the first, found by this
//!   target): such a module is not run on either.
//! - **Relaxed SIMD.** Its results are implementation-defined (they may differ
//!   by engine and by CPU): the modules do not use it.
//! - **NaN bit patterns.** A float operation that makes a NaN may give any NaN.
//!   The modules canonicalize NaNs (wasm-smith's `canonicalize_nans`), and a
//!   float result that is NaN on both engines counts as equal whatever its
//!   bits (the same for each lane of a `v128` would need the lanes' shapes: a
//!   `v128` is compared bit for bit, which canonicalization makes safe).
//! - **Fuel, deadlines and stack depth.** Each engine counts fuel its own way
//!   and lays out its stack its own way: when either engine runs out of fuel,
//!   reaches its deadline or overflows its stack, the run stops there and the
//!   two states are no longer compared (they may differ by a partial
//!   execution).
//! - **Reference identity.** A non-null `funcref` result names a function by
//!   an index that each engine assigns: only null versus non-null is compared.
//! - **Messages.** Error messages (and so trap backtraces) are the engines'
//!   own: only the error's kind and trap code are compared.

use arbitrary::Unstructured;
use plugin_system_core::{
    ExternType, Imports, PAGE_SIZE, TrapCode, WasmError, WasmInstance, WasmValue,
};

use crate::engines;

/// The outcome of one step on one engine, in comparable form.
#[derive(Debug, PartialEq)]
enum Outcome {
    /// The results.
    Values(Vec<Comparable>),
    /// An error: its kind, and the trap code of a trap.
    Error(&'static str, Option<TrapCode>),
}

/// A value as compared: NaNs equal whatever their bits, references by
/// null-ness (funcref) or by value (externref).
#[derive(Debug, PartialEq)]
enum Comparable {
    Bits(u128),
    Nan,
    Null,
    NonNull,
    Extern(u64),
}

fn comparable(value: &WasmValue) -> Comparable {
    match *value {
        WasmValue::I32(v) => Comparable::Bits(u128::from(v as u32)),
        WasmValue::I64(v) => Comparable::Bits(u128::from(v as u64)),
        WasmValue::F32(v) if v.is_nan() => Comparable::Nan,
        WasmValue::F32(v) => Comparable::Bits(u128::from(v.to_bits())),
        WasmValue::F64(v) if v.is_nan() => Comparable::Nan,
        WasmValue::F64(v) => Comparable::Bits(u128::from(v.to_bits())),
        WasmValue::V128(v) => Comparable::Bits(v),
        WasmValue::FuncRef(None)
        | WasmValue::ExternRef(None)
        | WasmValue::AnyRef(None)
        | WasmValue::ExnRef(None) => Comparable::Null,
        WasmValue::FuncRef(Some(_)) | WasmValue::AnyRef(Some(_)) | WasmValue::ExnRef(Some(_)) => {
            Comparable::NonNull
        }
        WasmValue::ExternRef(Some(r)) => Comparable::Extern(r.0),
    }
}

/// Whether an outcome ends the comparison: the engines may rightly differ in
/// where they stop (fuel, deadline, stack).
fn ends_comparison(error: &WasmError) -> bool {
    matches!(
        error,
        WasmError::FuelExhausted | WasmError::Timeout { .. } | WasmError::StackOverflow
    )
}

/// The outcome of an instantiation that failed on at least one engine.
fn instantiated(error: Option<&WasmError>) -> Result<&[WasmValue], &WasmError> {
    error.map_or(Ok(&[]), Err)
}

fn outcome(result: Result<&[WasmValue], &WasmError>) -> Outcome {
    match result {
        Ok(values) => Outcome::Values(values.iter().map(comparable).collect()),
        Err(WasmError::Trap { code, .. }) => Outcome::Error("trap", Some(*code)),
        Err(e) => Outcome::Error(e.kind(), None),
    }
}

/// Runs the target on one input.
///
/// # Panics
/// When the engines disagree (see the module's documentation), or on a panic
/// of either.
pub fn run(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let mut config = engines::smith_config();
    config.relaxed_simd_enabled = false;
    config.canonicalize_nans = true;
    let Some(bytes) = engines::smith_module(&mut u, config) else {
        return;
    };
    let args = u.take_rest();
    let [wasmtime, wasmi] = engines::differential();
    let loaded = [wasmtime, wasmi].map(|runtime| match runtime.load_module(&bytes) {
        Ok(module) => Some(module),
        Err(WasmError::Unsupported { .. }) => None,
        Err(e) => panic!("{} refuses a wasm-smith module: {e}", runtime.name()),
    });
    let [Some(a), Some(b)] = loaded else {
        return;
    };
    let modules = [a, b];
    let [a, b] = [(wasmtime, &modules[0]), (wasmi, &modules[1])]
        .map(|(runtime, module)| runtime.instantiate(module, &Imports::new()));
    let (mut a, mut b) = match (a, b) {
        (Ok(a), Ok(b)) => (a, b),
        (a, b) => {
            let (a, b) = (a.err(), b.err());
            if !a.as_ref().is_some_and(ends_comparison) && !b.as_ref().is_some_and(ends_comparison)
            {
                assert_eq!(
                    outcome(instantiated(a.as_ref())),
                    outcome(instantiated(b.as_ref())),
                    "instantiation differs: wasmtime {a:?}, wasmi {b:?}"
                );
            }
            return;
        }
    };
    for (call, (name, args)) in engines::call_plan(&a.functions(), args).iter().enumerate() {
        let ra = a.call(name, args);
        let rb = b.call(name, args);
        if ra.as_ref().is_err_and(ends_comparison) || rb.as_ref().is_err_and(ends_comparison) {
            return;
        }
        assert_eq!(
            outcome(ra.as_deref()),
            outcome(rb.as_deref()),
            "call {call} of `{name}` {args:?} differs: wasmtime {ra:?}, wasmi {rb:?}"
        );
    }
    compare_state(a.as_mut(), b.as_mut());
}

/// Compares every exported global and memory.
fn compare_state(a: &mut dyn WasmInstance, b: &mut dyn WasmInstance) {
    let exports = a.module().exports().to_vec();
    for export in exports {
        let name = &export.name;
        match export.ty {
            ExternType::Global(_) => {
                let (ga, gb) = (a.global(name), b.global(name));
                assert_eq!(
                    outcome(ga.as_ref().map(std::slice::from_ref)),
                    outcome(gb.as_ref().map(std::slice::from_ref)),
                    "global `{name}` differs: wasmtime {ga:?}, wasmi {gb:?}"
                );
            }
            ExternType::Memory(_) => {
                let ma = a.memory_named(name).map(|m| m.data().to_vec());
                let mb = b.memory_named(name).map(|m| m.data().to_vec());
                match (ma, mb) {
                    (Ok(ma), Ok(mb)) => {
                        assert_eq!(
                            ma.len(),
                            mb.len(),
                            "memory `{name}` differs in size: wasmtime {} pages, wasmi {}",
                            ma.len() as u64 / PAGE_SIZE,
                            mb.len() as u64 / PAGE_SIZE
                        );
                        if let Some(at) = ma.iter().zip(&mb).position(|(x, y)| x != y) {
                            panic!(
                                "memory `{name}` differs at byte {at}: wasmtime {:?}, wasmi {:?}",
                                &ma[at..ma.len().min(at + 16)],
                                &mb[at..mb.len().min(at + 16)]
                            );
                        }
                    }
                    (ma, mb) => panic!(
                        "memory `{name}`: wasmtime {:?}, wasmi {:?}",
                        ma.map(|m| m.len()),
                        mb.map(|m| m.len())
                    ),
                }
            }
            _ => {}
        }
    }
}
