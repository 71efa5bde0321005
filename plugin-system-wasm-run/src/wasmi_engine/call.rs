//! Running a guest function: directly, or in slices of fuel under a deadline.
//!
//! wasmi cannot be interrupted from outside, so a deadline is kept by handing the
//! store [`DEADLINE_FUEL_SLICE`] fuel at a time through a resumable call and looking
//! at the clock each time a slice runs out. The fuel the user sees is the store's
//! fuel plus a reserve held back from the slices, so accounting stays exact.

use plugin_system_core::{Deadline, FuncType, ValType, WasmError, WasmValue};
use wasmi::{ResumableCall, Store, TypedFunc, Val};

use super::{
    convert::map_error,
    state::{StoreData, fuel_left, set_fuel},
};
use crate::{
    deadline::{self, Deadlines},
    shared::DEADLINE_FUEL_SLICE,
};

/// Calls `func`: directly without a deadline (the fast path), in slices with one.
/// The call's deadline is in the store while it runs, for its host functions.
///
/// # Errors
/// The call's; [`WasmError::Timeout`] without running when the deadline has
/// passed already.
#[inline]
pub(crate) fn run(
    store: &mut Store<StoreData>,
    func: wasmi::Func,
    args: &[Val],
    results: &mut [Val],
    deadlines: &Deadlines,
) -> Result<(), WasmError> {
    let outcome = match deadlines.start_call()? {
        None => func.call(&mut *store, args, results).map_err(map_error),
        Some(deadline) if deadline.has_passed() => Err(deadline::timeout(deadline)),
        Some(deadline) => {
            store.data_mut().deadline = Some(deadline);
            let outcome = run_sliced(store, func, args, results, deadline);
            store.data_mut().deadline = None;
            outcome
        }
    };
    settle(store, outcome)
}

/// Calls a typed function directly (callers take this path only without a
/// deadline, which needs slicing).
#[inline]
pub(crate) fn run_typed(
    store: &mut Store<StoreData>,
    func: Typed,
    args: &[WasmValue],
    results: &mut [WasmValue],
) -> Result<(), WasmError> {
    let outcome = func.call(store, args, results).map_err(map_error);
    settle(store, outcome)
}

/// What every call does with its outcome.
#[inline]
fn settle(store: &mut Store<StoreData>, outcome: Result<(), WasmError>) -> Result<(), WasmError> {
    // A debt past the budget left is forgiven: the budget is spent.
    store.data_mut().fuel_debt = 0;
    if matches!(outcome, Err(WasmError::FuelExhausted)) {
        // wasmi stops when the rest cannot pay for the next step and leaves that
        // rest; the budget is spent all the same, and wasmtime reports 0 here.
        set_fuel(store, 0);
    }
    outcome
}

/// Calls `func` in slices of fuel, checking the clock between slices.
fn run_sliced(
    store: &mut Store<StoreData>,
    func: wasmi::Func,
    args: &[Val],
    results: &mut [Val],
    deadline: Deadline,
) -> Result<(), WasmError> {
    // The budget is the store's fuel: the user's, or practically unlimited when
    // metering is off. What the current slice does not hold waits in `reserve`.
    let budget = fuel_left(store);
    let slice = budget.min(DEADLINE_FUEL_SLICE);
    let mut reserve = budget - slice;
    set_fuel(store, slice);
    let mut step = func.call_resumable(&mut *store, args, results);
    let outcome = loop {
        let paused = match step {
            // A call that outlived its deadline in a host function (a blocking WASI
            // call) is late all the same, as on wasmtime, whose next check traps.
            Ok(ResumableCall::Finished) if deadline.has_passed() => {
                break Err(deadline::timeout(deadline));
            }
            Ok(ResumableCall::Finished) => break Ok(()),
            Ok(ResumableCall::HostTrap(trap)) => break Err(map_error(trap.into_host_error())),
            Ok(ResumableCall::OutOfFuel(paused)) => paused,
            Err(error) => break Err(map_error(error)),
        };
        let debt = std::mem::take(&mut store.data_mut().fuel_debt);
        let left = reserve
            .saturating_add(fuel_left(store))
            .saturating_sub(debt);
        let required = paused.required_fuel();
        if required > left {
            // As without a deadline: the budget cannot pay for the next step.
            break Err(WasmError::FuelExhausted);
        }
        if deadline.has_passed() {
            break Err(deadline::timeout(deadline));
        }
        // A step may cost more than a slice (a large `memory.copy`): give it enough.
        let slice = left.min(DEADLINE_FUEL_SLICE.max(required));
        reserve = left - slice;
        set_fuel(store, slice);
        step = paused.resume(&mut *store, results);
    };
    // Whatever happened, the store holds the whole budget left again, as if the call
    // had not been sliced.
    let debt = std::mem::take(&mut store.data_mut().fuel_debt);
    let left = reserve
        .saturating_add(fuel_left(store))
        .saturating_sub(debt);
    set_fuel(store, left);
    outcome
}

// Typed calls for the signatures a plugin host calls most (the guest ABI's
// `alloc`, `dealloc`, `plugin_handle_event`, entry points): wasmi's `TypedFunc`
// skips the per-call type check and value boxing of `Func::call`.

/// A function whose signature is one of the fast ones.
#[derive(Clone, Copy)]
pub(crate) enum Typed {
    /// `() -> ()`
    V2V(TypedFunc<(), ()>),
    /// `() -> i32`
    V2I(TypedFunc<(), i32>),
    /// `() -> i64`
    V2L(TypedFunc<(), i64>),
    /// `(i32) -> i32`
    I2I(TypedFunc<i32, i32>),
    /// `(i32, i32) -> ()`
    II2V(TypedFunc<(i32, i32), ()>),
    /// `(i32, i32) -> i32`
    II2I(TypedFunc<(i32, i32), i32>),
    /// `(i32, i32) -> i64`
    II2L(TypedFunc<(i32, i32), i64>),
}

impl Typed {
    /// The typed form of `func`, when its signature `ty` is a fast one.
    pub(crate) fn new(store: &Store<StoreData>, func: wasmi::Func, ty: &FuncType) -> Option<Self> {
        use ValType::{I32, I64};
        Some(match (ty.params(), ty.results()) {
            ([], []) => Typed::V2V(func.typed(store).ok()?),
            ([], [I32]) => Typed::V2I(func.typed(store).ok()?),
            ([], [I64]) => Typed::V2L(func.typed(store).ok()?),
            ([I32], [I32]) => Typed::I2I(func.typed(store).ok()?),
            ([I32, I32], []) => Typed::II2V(func.typed(store).ok()?),
            ([I32, I32], [I32]) => Typed::II2I(func.typed(store).ok()?),
            ([I32, I32], [I64]) => Typed::II2L(func.typed(store).ok()?),
            _ => return None,
        })
    }

    /// Calls with `args` already checked against the signature.
    pub(crate) fn call(
        self,
        store: &mut Store<StoreData>,
        args: &[WasmValue],
        results: &mut [WasmValue],
    ) -> Result<(), wasmi::Error> {
        let i32_at = |i: usize| args.get(i).and_then(WasmValue::as_i32).unwrap_or(0);
        let mut put = |v: WasmValue| {
            if let Some(slot) = results.first_mut() {
                *slot = v;
            }
        };
        match self {
            Typed::V2V(f) => f.call(store, ())?,
            Typed::V2I(f) => put(WasmValue::I32(f.call(store, ())?)),
            Typed::V2L(f) => put(WasmValue::I64(f.call(store, ())?)),
            Typed::I2I(f) => put(WasmValue::I32(f.call(store, i32_at(0))?)),
            Typed::II2V(f) => f.call(store, (i32_at(0), i32_at(1)))?,
            Typed::II2I(f) => put(WasmValue::I32(f.call(store, (i32_at(0), i32_at(1)))?)),
            Typed::II2L(f) => put(WasmValue::I64(f.call(store, (i32_at(0), i32_at(1)))?)),
        }
        Ok(())
    }
}
