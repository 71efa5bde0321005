//! Typed calls for the signatures a plugin host calls most (the guest ABI's
//! `alloc`, `dealloc`, `plugin_handle_event`, entry points): wasmi's `TypedFunc`
//! skips the per-call type check and value boxing of `Func::call`.

use plugin_system_core::{FuncType, ValType, WasmValue};
use wasmi::{Store, TypedFunc};

use super::state::StoreData;

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
