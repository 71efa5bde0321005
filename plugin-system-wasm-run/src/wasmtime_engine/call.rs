//! Running a guest function: the epoch deadline armed for the call, the
//! unchecked path for all-numeric signatures, and the checked path for the rest.
//!
//! wasmtime stops guest code at an epoch deadline; a ticker thread per engine
//! advances the epoch every [`EPOCH_TICK`], so a call's deadline is a count of
//! ticks from now.

use std::time::Duration;

use plugin_system_core::{Result, ValType, WasmError, WasmValue};
use wasmtime::{Func, RootScope, Val, ValRaw};

use super::{
    WasmtimeStore,
    convert::{from_val, map_error, to_val},
};
use crate::shared::EPOCH_TICK;

/// Epoch ticks that stand for "no deadline": far away, and safe to add to the
/// engine's current epoch without overflow.
pub(super) const NO_DEADLINE: u64 = u64::MAX / 2;

/// Epoch ticks from now until `timeout` has gone by, one more for the tick
/// that is under way.
fn deadline_ticks(timeout: Duration) -> u64 {
    let ticks = timeout.as_nanos().div_ceil(EPOCH_TICK.as_nanos().max(1));
    u64::try_from(ticks)
        .unwrap_or(NO_DEADLINE)
        .saturating_add(1)
        .min(NO_DEADLINE)
}

impl WasmtimeStore {
    /// Arms the deadline of a call that starts now: the epoch deadline that
    /// stops guest code, and the instant that host and WASI calls see.
    ///
    /// # Errors
    /// [`WasmError::Timeout`] when the deadline has passed already.
    pub(super) fn begin_call(&mut self) -> Result<()> {
        let deadline = self.deadlines.start_call()?;
        match deadline {
            // The epoch deadline is absolute: it still stands for this one.
            Some(d) if self.armed == Some(d) => {}
            Some(d) => {
                self.shared.start_ticker()?;
                self.store.set_epoch_deadline(deadline_ticks(d.remaining()));
                self.armed = Some(d);
            }
            None => {
                if self.armed.take().is_some() {
                    self.store.set_epoch_deadline(NO_DEADLINE);
                }
            }
        }
        self.store.data_mut().deadline = deadline;
        Ok(())
    }

    /// The unchecked call: only for all-numeric signatures, whose values need no
    /// store-bound validity.
    pub(super) fn call_raw(
        &mut self,
        func: Func,
        ty: &plugin_system_core::FuncType,
        args: &[WasmValue],
        results: &mut [WasmValue],
    ) -> Result<()> {
        let len = args.len().max(results.len());
        self.raw.clear();
        self.raw.resize(len, ValRaw::i32(0));
        for (slot, arg) in self.raw.iter_mut().zip(args) {
            *slot = match *arg {
                WasmValue::I32(x) => ValRaw::i32(x),
                WasmValue::I64(x) => ValRaw::i64(x),
                WasmValue::F32(x) => ValRaw::f32(x.to_bits()),
                WasmValue::F64(x) => ValRaw::f64(x.to_bits()),
                WasmValue::V128(x) => ValRaw::v128(x),
                WasmValue::FuncRef(_)
                | WasmValue::ExternRef(_)
                | WasmValue::AnyRef(_)
                | WasmValue::ExnRef(_) => {
                    return Err(WasmError::type_mismatch(
                        "reference passed to a numeric function",
                    ));
                }
            };
        }
        let raw: *mut [ValRaw] = self.raw.as_mut_slice();
        // SAFETY: `func` belongs to `self.store`; `Resolved::numeric` says its
        // signature holds only numbers, and `check_call` matched `args` to the
        // parameter types, so every slot holds a value of the right type; the
        // buffer holds max(params, results) slots; nothing here runs async.
        unsafe { func.call_unchecked(&mut self.store, raw) }.map_err(|e| self.call_failed(e))?;
        for ((slot, ty), raw) in results.iter_mut().zip(ty.results()).zip(&self.raw) {
            *slot = match ty {
                ValType::I32 => WasmValue::I32(raw.get_i32()),
                ValType::I64 => WasmValue::I64(raw.get_i64()),
                ValType::F32 => WasmValue::F32(f32::from_bits(raw.get_f32())),
                ValType::F64 => WasmValue::F64(f64::from_bits(raw.get_f64())),
                ValType::V128 => WasmValue::V128(raw.get_v128()),
                ValType::Ref(_) => ty.default_value(),
            };
        }
        Ok(())
    }

    /// The error of a failed call.
    pub(super) fn call_failed(&self, e: wasmtime::Error) -> WasmError {
        map_error(e, self.store.data().deadline)
    }

    pub(super) fn call_checked(
        &mut self,
        func: Func,
        args: &[WasmValue],
        results: &mut [WasmValue],
    ) -> Result<()> {
        let deadline = self.store.data().deadline;
        // GC references made or returned here are rooted in this scope alone, so a
        // long-lived instance does not keep a root per call.
        let mut scope = RootScope::new(&mut self.store);
        // A null takes its type from the parameter: the core cannot tell which
        // hierarchy a module-defined type belongs to.
        let params = args.iter().any(WasmValue::is_null).then(|| func.ty(&scope));
        self.args.clear();
        for (i, arg) in args.iter().enumerate() {
            let v = match params.as_ref().and_then(|p| p.param(i)) {
                Some(wasmtime::ValType::Ref(r)) if arg.is_null() => Val::null_ref(r.heap_type()),
                _ => to_val(&mut scope, arg)?,
            };
            self.args.push(v);
        }
        self.results.clear();
        self.results.resize(results.len(), Val::I32(0));
        func.call(&mut scope, &self.args, &mut self.results)
            .map_err(|e| map_error(e, deadline))?;
        for (slot, v) in results.iter_mut().zip(&self.results) {
            *slot = from_val(&mut scope, v)?;
        }
        Ok(())
    }
}
