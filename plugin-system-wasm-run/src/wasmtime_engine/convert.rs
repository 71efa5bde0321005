//! Conversions between the core's values, types and errors and wasmtime's.

use plugin_system_core::{
    AnyRef, ExternRef, FuncRef, FuncType, GlobalType, HeapType, MemoryType, OpaqueRef, RefType,
    TableType, TrapCode, ValType, WasmError, WasmValue,
};
use wasmtime::{AsContext, AsContextMut, Func, I31, Mutability, Ref, Trap, Val};

use super::state::StoreData;

pub(super) use crate::shared::HostFailure;

/// Maps an error out of a call (or a start function) to the core's.
pub(super) fn map_error(
    err: wasmtime::Error,
    deadline: Option<plugin_system_core::Deadline>,
) -> WasmError {
    if let Some(passed) = err.downcast_ref::<crate::deadline::DeadlinePassed>() {
        return (*passed).into();
    }
    let err = match err.downcast::<HostFailure>() {
        Ok(failure) => return failure.into(),
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
    WasmError::engine(err)
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

/// A core heap type in wasmtime's terms; a module-defined type has no meaning
/// outside its module, so a host cannot name one.
fn heap_type(h: HeapType) -> Result<wasmtime::HeapType, WasmError> {
    use wasmtime::HeapType as W;
    Ok(match h {
        HeapType::Func => W::Func,
        HeapType::Extern => W::Extern,
        HeapType::Any => W::Any,
        HeapType::Eq => W::Eq,
        HeapType::I31 => W::I31,
        HeapType::Struct => W::Struct,
        HeapType::Array => W::Array,
        HeapType::Exn => W::Exn,
        HeapType::Cont => W::Cont,
        HeapType::None => W::None,
        HeapType::NoFunc => W::NoFunc,
        HeapType::NoExtern => W::NoExtern,
        HeapType::NoExn => W::NoExn,
        HeapType::NoCont => W::NoCont,
        HeapType::Concrete(_) => {
            return Err(WasmError::Unsupported {
                feature: format!(
                    "host definitions of a module's own types ({})",
                    ValType::Ref(RefType::nullable(h))
                ),
            });
        }
    })
}

fn ref_type(r: RefType) -> Result<wasmtime::RefType, WasmError> {
    Ok(wasmtime::RefType::new(r.nullable, heap_type(r.heap)?))
}

/// A core value type in wasmtime's terms.
///
/// # Errors
/// [`WasmError::Unsupported`] for a reference to a module-defined type.
pub(super) fn val_type(t: ValType) -> Result<wasmtime::ValType, WasmError> {
    Ok(match t {
        ValType::I32 => wasmtime::ValType::I32,
        ValType::I64 => wasmtime::ValType::I64,
        ValType::F32 => wasmtime::ValType::F32,
        ValType::F64 => wasmtime::ValType::F64,
        ValType::V128 => wasmtime::ValType::V128,
        ValType::Ref(r) => wasmtime::ValType::Ref(ref_type(r)?),
    })
}

/// A core signature in wasmtime's terms, as [`val_type`] converts each type.
pub(super) fn func_type(
    engine: &wasmtime::Engine,
    t: &FuncType,
) -> Result<wasmtime::FuncType, WasmError> {
    let params: Vec<_> = t
        .params()
        .iter()
        .map(|p| val_type(*p))
        .collect::<Result<_, _>>()?;
    let results: Vec<_> = t
        .results()
        .iter()
        .map(|r| val_type(*r))
        .collect::<Result<_, _>>()?;
    Ok(wasmtime::FuncType::new(engine, params, results))
}

/// A wasmtime value type in the core's terms; `None` for a module-defined type,
/// which wasmtime names by its structure, not by an index.
pub(super) fn core_val_type(t: &wasmtime::ValType) -> Option<ValType> {
    use wasmtime::HeapType as W;
    Some(match t {
        wasmtime::ValType::I32 => ValType::I32,
        wasmtime::ValType::I64 => ValType::I64,
        wasmtime::ValType::F32 => ValType::F32,
        wasmtime::ValType::F64 => ValType::F64,
        wasmtime::ValType::V128 => ValType::V128,
        wasmtime::ValType::Ref(r) => {
            let heap = match r.heap_type() {
                W::Func => HeapType::Func,
                W::Extern => HeapType::Extern,
                W::Any => HeapType::Any,
                W::Eq => HeapType::Eq,
                W::I31 => HeapType::I31,
                W::Struct => HeapType::Struct,
                W::Array => HeapType::Array,
                W::Exn => HeapType::Exn,
                W::Cont => HeapType::Cont,
                W::None => HeapType::None,
                W::NoFunc => HeapType::NoFunc,
                W::NoExtern => HeapType::NoExtern,
                W::NoExn => HeapType::NoExn,
                W::NoCont => HeapType::NoCont,
                W::ConcreteFunc(_)
                | W::ConcreteArray(_)
                | W::ConcreteStruct(_)
                | W::ConcreteExn(_)
                | W::ConcreteCont(_) => return None,
            };
            ValType::Ref(RefType {
                nullable: r.is_nullable(),
                heap,
            })
        }
    })
}

/// The type of a wasm object of `store` in the core's terms, memories and
/// tables at their current size; `None` when it holds a type the core does not
/// name (a module-defined reference type).
pub(super) fn extern_type(
    store: &impl AsContext<Data = StoreData>,
    item: &wasmtime::Extern,
) -> Option<plugin_system_core::ExternType> {
    use plugin_system_core::ExternType;
    let store = store.as_context();
    Some(match item {
        wasmtime::Extern::Func(f) => {
            let ty = f.ty(&store);
            let params: Option<Vec<_>> = ty.params().map(|t| core_val_type(&t)).collect();
            let results: Option<Vec<_>> = ty.results().map(|t| core_val_type(&t)).collect();
            ExternType::Func(plugin_system_core::FuncType::new(params?, results?))
        }
        wasmtime::Extern::Memory(m) => {
            let ty = m.ty(&store);
            ExternType::Memory(MemoryType {
                minimum: m.size(&store),
                maximum: ty.maximum(),
                memory64: ty.is_64(),
                shared: false,
            })
        }
        wasmtime::Extern::SharedMemory(m) => {
            let ty = m.ty();
            ExternType::Memory(MemoryType {
                minimum: m.size(),
                maximum: ty.maximum(),
                memory64: ty.is_64(),
                shared: true,
            })
        }
        wasmtime::Extern::Table(t) => {
            let ty = t.ty(&store);
            ExternType::Table(TableType {
                element: core_val_type(&wasmtime::ValType::Ref(ty.element().clone()))?,
                minimum: t.size(&store),
                maximum: ty.maximum(),
            })
        }
        wasmtime::Extern::Global(g) => {
            let ty = g.ty(&store);
            ExternType::Global(GlobalType {
                content: core_val_type(ty.content())?,
                mutable: ty.mutability() == Mutability::Var,
            })
        }
        wasmtime::Extern::Tag(_) => return None,
    })
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

/// A core table type in wasmtime's terms.
///
/// # Errors
/// [`WasmError::TypeMismatch`] for an element type that is not a reference;
/// [`WasmError::Unsupported`] for a reference to a module-defined type.
pub(super) fn table_type(t: &TableType) -> Result<wasmtime::TableType, WasmError> {
    let element = match t.element {
        ValType::Ref(r) => ref_type(r)?,
        other => {
            return Err(WasmError::type_mismatch(format!(
                "table element type {other} is not a reference"
            )));
        }
    };
    let max = t.maximum.map(|m| u32::try_from(m).unwrap_or(u32::MAX));
    Ok(wasmtime::TableType::new(
        element,
        u32::try_from(t.minimum).unwrap_or(u32::MAX),
        max,
    ))
}

/// A core global type in wasmtime's terms.
///
/// # Errors
/// [`WasmError::Unsupported`] for a reference to a module-defined type.
pub(super) fn global_type(g: &GlobalType) -> Result<wasmtime::GlobalType, WasmError> {
    Ok(wasmtime::GlobalType::new(
        val_type(g.content)?,
        if g.mutable {
            Mutability::Var
        } else {
            Mutability::Const
        },
    ))
}

/// Converts a value into wasmtime's. `FuncRef`s are looked up in the instance's
/// registry; an unknown handle is a type error, never a panic, as is an opaque
/// reference (the host holds no handle to give back) or an i31 past 31 bits.
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
            let r =
                wasmtime::ExternRef::new(store.as_context_mut(), x).map_err(WasmError::engine)?;
            Val::ExternRef(Some(r))
        }
        WasmValue::AnyRef(None) => Val::AnyRef(None),
        WasmValue::AnyRef(Some(AnyRef::I31(x))) => {
            let i31 = I31::new_u32(x).ok_or_else(|| {
                WasmError::type_mismatch(format!("i31 value {x} does not fit in 31 bits"))
            })?;
            Val::AnyRef(Some(wasmtime::AnyRef::from_i31(
                store.as_context_mut(),
                i31,
            )))
        }
        WasmValue::ExnRef(None) => Val::ExnRef(None),
        WasmValue::AnyRef(Some(AnyRef::Opaque(_))) | WasmValue::ExnRef(Some(_)) => {
            return Err(WasmError::type_mismatch(
                "an opaque reference cannot be given back to the guest",
            ));
        }
    })
}

/// Converts wasmtime's value into the core's.
///
/// # Errors
/// [`WasmError::TypeMismatch`] for an `externref` that holds no `u64` (one
/// this runtime did not make: a guest's `extern.convert_any`), as on wasmi.
pub(super) fn from_val(
    store: &mut impl AsContextMut<Data = StoreData>,
    v: &Val,
) -> Result<WasmValue, WasmError> {
    Ok(match v {
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
            match data {
                Some(host) => WasmValue::ExternRef(Some(ExternRef(host))),
                None => {
                    return Err(WasmError::type_mismatch(
                        "externref that holds no host value of this runtime",
                    ));
                }
            }
        }
        Val::AnyRef(None) => WasmValue::AnyRef(None),
        Val::AnyRef(Some(r)) => WasmValue::AnyRef(Some(match r.as_i31(store.as_context()) {
            Ok(Some(i31)) => AnyRef::I31(i31.get_u32()),
            // A struct, an array, an internalized host value, or a reference whose
            // store is gone: the host cannot look into any of them.
            _ => AnyRef::Opaque(OpaqueRef::new()),
        })),
        Val::ExnRef(None) => WasmValue::ExnRef(None),
        Val::ExnRef(Some(_)) => WasmValue::ExnRef(Some(OpaqueRef::new())),
        // Stack switching is off in this engine (see `features`), so no continuation
        // reaches the host; were one to, it would show as an opaque reference.
        Val::ContRef(None) => WasmValue::AnyRef(None),
        Val::ContRef(Some(_)) => WasmValue::AnyRef(Some(AnyRef::Opaque(OpaqueRef::new()))),
    })
}

/// The reference a table is filled with.
pub(super) fn to_ref(
    store: &mut impl AsContextMut<Data = StoreData>,
    v: &WasmValue,
) -> Result<Ref, WasmError> {
    match to_val(store, v)? {
        Val::FuncRef(f) => Ok(Ref::Func(f)),
        Val::ExternRef(r) => Ok(Ref::Extern(r)),
        Val::AnyRef(r) => Ok(Ref::Any(r)),
        Val::ExnRef(r) => Ok(Ref::Exn(r)),
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
