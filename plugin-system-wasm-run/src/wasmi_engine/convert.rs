//! Values and types between the core's terms and wasmi's, and wasmi errors as
//! [`WasmError`]s.

use plugin_system_core::{
    ExternRef, FuncRef, FuncType, HeapType, TrapCode, ValType, WasmError, WasmValue,
};
use wasmi::{
    AsContext, AsContextMut, F32, F64, Nullable, V128, Val,
    errors::{ErrorKind, InstantiationError},
};

use super::state::StoreData;

/// A core number as a wasmi value; `None` for references, which need the store.
///
/// Kept apart from [`to_val`] and always inlined so that the call path writes
/// numbers straight into its buffer.
#[inline(always)]
pub(crate) fn num_to_val(value: &WasmValue) -> Option<Val> {
    Some(match *value {
        WasmValue::I32(v) => Val::I32(v),
        WasmValue::I64(v) => Val::I64(v),
        WasmValue::F32(v) => Val::F32(F32::from_bits(v.to_bits())),
        WasmValue::F64(v) => Val::F64(F64::from_bits(v.to_bits())),
        WasmValue::V128(v) => Val::V128(V128::from(v)),
        WasmValue::FuncRef(_)
        | WasmValue::ExternRef(_)
        | WasmValue::AnyRef(_)
        | WasmValue::ExnRef(_) => return None,
    })
}

/// A core value as a wasmi value. A `FuncRef` must be one this store handed out;
/// an `ExternRef` becomes the store's wasmi `externref` holding that `u64`.
///
/// # Errors
/// [`WasmError::TypeMismatch`] for a `FuncRef` this store does not know;
/// [`WasmError::Unsupported`] for a GC or exception reference, which wasmi lacks.
pub(crate) fn to_val<C: AsContextMut<Data = StoreData>>(
    ctx: &mut C,
    value: &WasmValue,
) -> Result<Val, WasmError> {
    if let Some(number) = num_to_val(value) {
        return Ok(number);
    }
    Ok(match *value {
        WasmValue::FuncRef(Some(handle)) => {
            let index = usize::try_from(handle.raw()).unwrap_or(usize::MAX);
            match ctx.as_context().data().funcrefs.get(index).copied() {
                Some(func) => Val::FuncRef(Nullable::Val(func)),
                None => {
                    return Err(WasmError::type_mismatch(format!(
                        "funcref {} does not belong to this instance",
                        handle.raw()
                    )));
                }
            }
        }
        WasmValue::ExternRef(Some(host)) => {
            // wasmi never frees an `externref` object before its store, so one object
            // per host value keeps a long-lived instance from growing with each call.
            let known = ctx.as_context().data().externrefs.get(&host.0).copied();
            let object = match known {
                Some(object) => object,
                None => {
                    let object = wasmi::ExternRef::new(&mut *ctx, host.0);
                    ctx.as_context_mut()
                        .data_mut()
                        .externrefs
                        .insert(host.0, object);
                    object
                }
            };
            Val::ExternRef(Nullable::Val(object))
        }
        WasmValue::FuncRef(None) => Val::FuncRef(Nullable::Null),
        WasmValue::ExternRef(None) => Val::ExternRef(Nullable::Null),
        WasmValue::ExnRef(_) => return Err(unsupported("exceptions")),
        // A GC reference (numbers were converted above).
        _ => return Err(unsupported("gc")),
    })
}

/// A wasmi number as a core value; `None` for references. Always inlined, as
/// [`num_to_val`].
#[inline(always)]
pub(crate) fn num_from_val(value: &Val) -> Option<WasmValue> {
    Some(match value {
        Val::I32(v) => WasmValue::I32(*v),
        Val::I64(v) => WasmValue::I64(*v),
        Val::F32(v) => WasmValue::F32(f32::from_bits(v.to_bits())),
        Val::F64(v) => WasmValue::F64(f64::from_bits(v.to_bits())),
        Val::V128(v) => WasmValue::V128(v.as_u128()),
        Val::FuncRef(_) | Val::ExternRef(_) => return None,
    })
}

/// A wasmi value as a core value. A function reference is registered with the store
/// so that it can come back.
///
/// # Errors
/// [`WasmError::TypeMismatch`] for an `externref` that holds no `u64` (one this
/// runtime did not make), or when the registry of function references is full.
pub(crate) fn from_val<C: AsContextMut<Data = StoreData>>(
    ctx: &mut C,
    value: &Val,
) -> Result<WasmValue, WasmError> {
    if let Some(number) = num_from_val(value) {
        return Ok(number);
    }
    Ok(match value {
        Val::FuncRef(Nullable::Val(func)) => {
            let mut ctx = ctx.as_context_mut();
            let funcs = &mut ctx.data_mut().funcrefs;
            let handle = u32::try_from(funcs.len())
                .map_err(|_| WasmError::type_mismatch("too many function references"))?;
            funcs.push(*func);
            WasmValue::FuncRef(Some(FuncRef::from_raw(handle)))
        }
        Val::ExternRef(Nullable::Val(object)) => {
            match object.data(ctx.as_context()).downcast_ref::<u64>() {
                Some(host) => WasmValue::ExternRef(Some(ExternRef(*host))),
                None => {
                    return Err(WasmError::type_mismatch(
                        "externref that holds no host value of this runtime",
                    ));
                }
            }
        }
        Val::FuncRef(Nullable::Null) => WasmValue::FuncRef(None),
        _ => WasmValue::ExternRef(None),
    })
}

/// The error for what wasmi lacks, named by its proposal.
fn unsupported(proposal: &str) -> WasmError {
    WasmError::Unsupported {
        feature: proposal.to_owned(),
    }
}

/// A core value type in wasmi's terms.
///
/// # Errors
/// [`WasmError::Unsupported`] for a reference type other than `funcref` and
/// `externref`: wasmi has neither GC nor typed function references.
pub(crate) fn wasmi_val_type(ty: ValType) -> Result<wasmi::ValType, WasmError> {
    Ok(match ty {
        ValType::I32 => wasmi::ValType::I32,
        ValType::I64 => wasmi::ValType::I64,
        ValType::F32 => wasmi::ValType::F32,
        ValType::F64 => wasmi::ValType::F64,
        ValType::V128 => wasmi::ValType::V128,
        ValType::FuncRef => wasmi::ValType::FuncRef,
        ValType::ExternRef => wasmi::ValType::ExternRef,
        ValType::Ref(r) => {
            return Err(unsupported(match r.heap {
                HeapType::Exn | HeapType::NoExn => "exceptions",
                HeapType::Func | HeapType::Extern | HeapType::Concrete(_) => "function references",
                _ => "gc",
            }));
        }
    })
}

/// A wasmi value type in the core's terms.
pub(crate) fn core_val_type(ty: wasmi::ValType) -> ValType {
    match ty {
        wasmi::ValType::I32 => ValType::I32,
        wasmi::ValType::I64 => ValType::I64,
        wasmi::ValType::F32 => ValType::F32,
        wasmi::ValType::F64 => ValType::F64,
        wasmi::ValType::V128 => ValType::V128,
        wasmi::ValType::FuncRef => ValType::FuncRef,
        wasmi::ValType::ExternRef => ValType::ExternRef,
    }
}

/// A core signature in wasmi's terms.
///
/// Only call this with a signature the module itself declares: wasmi panics on more
/// than 1000 parameters or results, and a module it accepted has none such.
///
/// # Errors
/// [`WasmError::Unsupported`] as [`wasmi_val_type`].
pub(crate) fn wasmi_func_type(ty: &FuncType) -> Result<wasmi::FuncType, WasmError> {
    let params: Vec<_> = ty
        .params()
        .iter()
        .map(|t| wasmi_val_type(*t))
        .collect::<Result<_, _>>()?;
    let results: Vec<_> = ty
        .results()
        .iter()
        .map(|t| wasmi_val_type(*t))
        .collect::<Result<_, _>>()?;
    Ok(wasmi::FuncType::new(params, results))
}

pub(crate) use crate::shared::HostFailure;

impl wasmi::errors::HostError for HostFailure {}

impl wasmi::errors::HostError for crate::deadline::DeadlinePassed {}

/// A wasmi error of a call, an instantiation or a start function.
pub(crate) fn map_error(error: wasmi::Error) -> WasmError {
    if let Some(code) = error.as_trap_code() {
        return trap(code, &error);
    }
    if let Some(code) = error.i32_exit_status() {
        return WasmError::Exit { code };
    }
    if let Some(passed) = error.downcast_ref::<crate::deadline::DeadlinePassed>() {
        return (*passed).into();
    }
    if error.downcast_ref::<HostFailure>().is_some() {
        return match error.downcast::<HostFailure>() {
            Some(failure) => failure.into(),
            None => WasmError::engine("a host function failed"),
        };
    }
    let message = error.to_string();
    match error.kind() {
        ErrorKind::Linker(_) => WasmError::Link { message },
        ErrorKind::Instantiation(InstantiationError::ElementSegmentDoesNotFit { .. }) => {
            WasmError::Trap {
                code: TrapCode::TableOutOfBounds,
                message,
            }
        }
        ErrorKind::Instantiation(
            InstantiationError::FailedToInstantiateMemory(_)
            | InstantiationError::FailedToInstantiateTable(_),
        ) => WasmError::MemoryLimit { message },
        ErrorKind::Instantiation(_) => WasmError::Link { message },
        _ => WasmError::engine(error),
    }
}

/// A wasmi trap: running out of fuel and of stack have variants of their own.
fn trap(code: wasmi::TrapCode, error: &wasmi::Error) -> WasmError {
    use wasmi::TrapCode as W;
    let code = match code {
        W::OutOfFuel => return WasmError::FuelExhausted,
        W::StackOverflow => return WasmError::StackOverflow,
        W::UnreachableCodeReached => TrapCode::Unreachable,
        W::MemoryOutOfBounds => TrapCode::MemoryOutOfBounds,
        W::TableOutOfBounds => TrapCode::TableOutOfBounds,
        W::IndirectCallToNull => TrapCode::IndirectCallToNull,
        W::IntegerDivisionByZero => TrapCode::IntegerDivisionByZero,
        W::IntegerOverflow => TrapCode::IntegerOverflow,
        W::BadConversionToInteger => TrapCode::BadConversionToInteger,
        W::BadSignature => TrapCode::BadSignature,
        W::GrowthOperationLimited | W::OutOfSystemMemory => TrapCode::Other,
    };
    WasmError::Trap {
        code,
        message: error.to_string(),
    }
}
