//! Conversions between the core's values, types and errors and wasmtime's.

use plugin_system_core::{
    ExternRef, FuncRef, FuncType, GlobalType, HostError, MemoryType, TableType, TrapCode, ValType,
    WasmError, WasmValue,
};
use wasmtime::{AsContext, AsContextMut, Func, Mutability, Ref, RefType, Trap, Val};

use super::instance::StoreData;

/// A host function's error on its way through wasmtime.
#[derive(Debug, thiserror::Error)]
#[error("host function {function} failed: {error}")]
pub(super) struct HostCallFailed {
    pub(super) function: String,
    pub(super) error: HostError,
}

/// Maps an error out of a call (or a start function) to the core's.
pub(super) fn call_error(
    err: wasmtime::Error,
    deadline: Option<plugin_system_core::Deadline>,
) -> WasmError {
    if let Some(passed) = err.downcast_ref::<crate::deadline::DeadlinePassed>() {
        return (*passed).into();
    }
    let err = match err.downcast::<HostCallFailed>() {
        Ok(h) => {
            return WasmError::Host {
                function: h.function,
                source: h.error,
            };
        }
        Err(e) => e,
    };
    #[cfg(feature = "wasi")]
    if let Some(code) = crate::wasi::exit_code(&err) {
        return WasmError::Exit { code };
    }
    if let Some(trap) = err.downcast_ref::<Trap>() {
        let code = match trap {
            Trap::OutOfFuel => return WasmError::FuelExhausted,
            Trap::StackOverflow => return WasmError::StackOverflow,
            Trap::Interrupt => {
                return WasmError::Timeout {
                    limit: deadline.map(|d| d.limit()).unwrap_or_default(),
                };
            }
            Trap::UnreachableCodeReached => TrapCode::Unreachable,
            Trap::MemoryOutOfBounds => TrapCode::MemoryOutOfBounds,
            Trap::TableOutOfBounds => TrapCode::TableOutOfBounds,
            Trap::IndirectCallToNull => TrapCode::IndirectCallToNull,
            Trap::BadSignature => TrapCode::BadSignature,
            Trap::IntegerOverflow => TrapCode::IntegerOverflow,
            Trap::IntegerDivisionByZero => TrapCode::IntegerDivisionByZero,
            Trap::BadConversionToInteger => TrapCode::BadConversionToInteger,
            Trap::NullReference => TrapCode::NullReference,
            Trap::HeapMisaligned => TrapCode::UnalignedAtomic,
            Trap::UnhandledTag => TrapCode::UncaughtException,
            _ => TrapCode::Other,
        };
        return WasmError::Trap {
            code,
            message: trap_message(trap),
        };
    }
    if err.downcast_ref::<wasmtime::ThrownException>().is_some() {
        return WasmError::Trap {
            code: TrapCode::UncaughtException,
            message: "uncaught wasm exception".into(),
        };
    }
    WasmError::Engine {
        message: format!("{err:#}"),
    }
}

/// A trap's message as wasmi words it (both take it from the same table), on
/// one line and without the backtrace wasmtime keeps beside it.
fn trap_message(trap: &Trap) -> String {
    let text = trap.to_string();
    match text.strip_prefix("wasm trap: ") {
        Some(rest) => rest.to_owned(),
        None => text,
    }
}

pub(super) fn val_type(t: ValType) -> wasmtime::ValType {
    match t {
        ValType::I32 => wasmtime::ValType::I32,
        ValType::I64 => wasmtime::ValType::I64,
        ValType::F32 => wasmtime::ValType::F32,
        ValType::F64 => wasmtime::ValType::F64,
        ValType::V128 => wasmtime::ValType::V128,
        ValType::FuncRef => wasmtime::ValType::FUNCREF,
        ValType::ExternRef => wasmtime::ValType::EXTERNREF,
    }
}

fn ref_type(t: ValType) -> RefType {
    match t {
        ValType::ExternRef => RefType::EXTERNREF,
        _ => RefType::FUNCREF,
    }
}

pub(super) fn func_type(engine: &wasmtime::Engine, t: &FuncType) -> wasmtime::FuncType {
    wasmtime::FuncType::new(
        engine,
        t.params().iter().map(|p| val_type(*p)),
        t.results().iter().map(|r| val_type(*r)),
    )
}

pub(super) fn memory_type(m: &MemoryType) -> wasmtime::MemoryType {
    let mut b = wasmtime::MemoryTypeBuilder::new();
    b.min(m.minimum)
        .max(m.maximum)
        .memory64(m.memory64)
        .shared(m.shared);
    match b.build() {
        Ok(t) => t,
        Err(_) => wasmtime::MemoryType::new(0, Some(0)),
    }
}

pub(super) fn table_type(t: &TableType) -> wasmtime::TableType {
    let max = t.maximum.map(|m| u32::try_from(m).unwrap_or(u32::MAX));
    wasmtime::TableType::new(
        ref_type(t.element),
        u32::try_from(t.minimum).unwrap_or(u32::MAX),
        max,
    )
}

pub(super) fn global_type(g: &GlobalType) -> wasmtime::GlobalType {
    wasmtime::GlobalType::new(
        val_type(g.content),
        if g.mutable {
            Mutability::Var
        } else {
            Mutability::Const
        },
    )
}

/// Converts a value into wasmtime's. `FuncRef`s are looked up in the instance's
/// registry; an unknown handle is a type error, never a panic.
pub(super) fn to_val(
    store: &mut impl AsContextMut<Data = StoreData>,
    v: &WasmValue,
) -> Result<Val, WasmError> {
    Ok(match *v {
        WasmValue::I32(x) => Val::I32(x),
        WasmValue::I64(x) => Val::I64(x),
        WasmValue::F32(x) => Val::F32(x.to_bits()),
        WasmValue::F64(x) => Val::F64(x.to_bits()),
        WasmValue::V128(x) => Val::V128(x.into()),
        WasmValue::FuncRef(None) => Val::FuncRef(None),
        WasmValue::FuncRef(Some(r)) => {
            let f = store
                .as_context()
                .data()
                .funcs
                .get(r.raw() as usize)
                .copied()
                .ok_or_else(|| WasmError::type_mismatch("funcref of another instance"))?;
            Val::FuncRef(Some(f))
        }
        WasmValue::ExternRef(None) => Val::ExternRef(None),
        WasmValue::ExternRef(Some(ExternRef(x))) => {
            let r = wasmtime::ExternRef::new(store.as_context_mut(), x).map_err(|e| {
                WasmError::Engine {
                    message: format!("{e:#}"),
                }
            })?;
            Val::ExternRef(Some(r))
        }
    })
}

/// Converts wasmtime's value into the core's.
pub(super) fn from_val(store: &mut impl AsContextMut<Data = StoreData>, v: &Val) -> WasmValue {
    match v {
        Val::I32(x) => WasmValue::I32(*x),
        Val::I64(x) => WasmValue::I64(*x),
        Val::F32(x) => WasmValue::F32(f32::from_bits(*x)),
        Val::F64(x) => WasmValue::F64(f64::from_bits(*x)),
        Val::V128(x) => WasmValue::V128(x.as_u128()),
        Val::FuncRef(None) => WasmValue::FuncRef(None),
        Val::FuncRef(Some(f)) => WasmValue::FuncRef(Some(register_func(store, *f))),
        Val::ExternRef(None) => WasmValue::ExternRef(None),
        Val::ExternRef(Some(r)) => {
            let data = r
                .data(store.as_context())
                .ok()
                .flatten()
                .and_then(|d| d.downcast_ref::<u64>().copied());
            WasmValue::ExternRef(data.map(ExternRef))
        }
        // GC references have no host-side representation in the core: a non-null
        // one shows as an opaque extern reference, a null one as null.
        Val::AnyRef(None) | Val::ExnRef(None) | Val::ContRef(None) => WasmValue::ExternRef(None),
        Val::AnyRef(Some(_)) | Val::ExnRef(Some(_)) | Val::ContRef(Some(_)) => {
            WasmValue::ExternRef(Some(ExternRef(u64::MAX)))
        }
    }
}

/// The reference a table is filled with.
pub(super) fn to_ref(
    store: &mut impl AsContextMut<Data = StoreData>,
    v: &WasmValue,
) -> Result<Ref, WasmError> {
    match to_val(store, v)? {
        Val::FuncRef(f) => Ok(Ref::Func(f)),
        Val::ExternRef(r) => Ok(Ref::Extern(r)),
        other => Err(WasmError::type_mismatch(format!(
            "table element must be a reference, got {:?}",
            other.ty(store.as_context())
        ))),
    }
}

/// Gives a function a handle in the instance's registry of function references.
pub(super) fn register_func(store: &mut impl AsContextMut<Data = StoreData>, f: Func) -> FuncRef {
    let mut ctx = store.as_context_mut();
    let funcs = &mut ctx.data_mut().funcs;
    let index = funcs.len();
    funcs.push(f);
    FuncRef::from_raw(u32::try_from(index).unwrap_or(u32::MAX))
}
