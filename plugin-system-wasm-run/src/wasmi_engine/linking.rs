//! Satisfying a module's imports from [`Imports`]: host functions, memories,
//! globals and tables created fresh in the instance's store, and exports of the
//! store's other instances.

use std::{mem, sync::Arc};

use plugin_system_core::{
    Extern, ExternType, FuncType, GlobalType, HostError, HostFunc, Imports, InstanceHandle,
    MemoryType, ModuleInfo, TableType, ValType, WasmError, WasmValue,
};
use wasmi::{Global, Linker, Memory, Mutability, Ref, RefType, Store, Table, Val};

use crate::{shared, start_export::START_EXPORT};

use super::{
    convert::{HostFailure, core_val_type, from_val, to_val, wasmi_func_type},
    memory::CallerMemory,
    state::StoreData,
};

/// A linker that holds a definition for every import of the module, each created in
/// `store` or taken from one of `exporters`, the store's instances by handle index
/// (`None` when the store is the new instance's alone).
///
/// # Errors
/// [`WasmError::Link`] naming `module::name` and the expected type when an import
/// is missing or has another type, or names an instance or export that is not
/// there; [`WasmError::MemoryLimit`] when a memory or table to create is over the
/// limits.
pub(crate) fn link(
    store: &mut Store<StoreData>,
    info: &ModuleInfo,
    imports: &Imports,
    exporters: Option<&[wasmi::Instance]>,
    wasi_enabled: bool,
) -> Result<Linker<StoreData>, WasmError> {
    #[cfg(not(feature = "wasi"))]
    let _ = wasi_enabled;
    let mut linker = Linker::new(store.engine());
    // A module may import one name twice (or 100,000 times); one definition
    // serves them all, found in a set rather than by comparing every pair.
    let mut seen = std::collections::HashSet::with_capacity(info.imports.len());
    for import in &info.imports {
        if !seen.insert((import.module.as_str(), import.name.as_str())) {
            continue;
        }
        let qualified = format!("{}::{}", import.module, import.name);
        #[cfg(feature = "wasi")]
        if wasi_enabled
            && import.module == plugin_system_core::wasi::WASI_MODULE
            && imports.get(&import.module, &import.name).is_none()
            && let Some(ty) = super::wasi::define(&mut linker, &import.name)
                .map_err(|e| shared::link_error(&qualified, e))?
        {
            // wasmi would check the type when instantiating, in words of its own.
            let given = ExternType::Func(ty);
            if given != import.ty {
                return Err(shared::mismatched_import(&qualified, &import.ty, given));
            }
            continue;
        }
        let Some(given) = imports.get(&import.module, &import.name) else {
            return Err(shared::missing_import(&qualified, &import.ty));
        };
        let item = match given {
            Extern::Export { instance, name } => {
                exported(store, &qualified, &import.ty, exporters, *instance, name)?
            }
            _ => define(store, &qualified, &import.ty, given)?,
        };
        linker
            .define(&import.module, &import.name, item)
            .map_err(|e| shared::link_error(&qualified, e))?;
    }
    Ok(linker)
}

/// The export `name` of the instance at `handle`, after checking it against
/// `expected` with the spec's import-matching rules (on its current sizes).
fn exported(
    store: &Store<StoreData>,
    qualified: &str,
    expected: &ExternType,
    exporters: Option<&[wasmi::Instance]>,
    handle: InstanceHandle,
    name: &str,
) -> Result<wasmi::Extern, WasmError> {
    let link_error = |why: String| shared::link_error(qualified, why);
    let Some(exporters) = exporters else {
        return Err(link_error(
            "imports of other instances need a store (WasmRuntime::new_store)".into(),
        ));
    };
    let index = handle.index();
    let exporter = exporters
        .get(index)
        .ok_or_else(|| link_error(format!("no instance {index} in this store")))?;
    // The moved start function is no export, for linking either.
    let item = (name != START_EXPORT)
        .then(|| exporter.get_export(store, name))
        .flatten()
        .ok_or_else(|| link_error(format!("instance {index} has no export `{name}`")))?;
    let given = extern_type(store, &item);
    if !shared::extern_fits(&given, expected) {
        return Err(shared::mismatched_import(
            qualified,
            expected,
            format_args!("{given} (export `{name}` of instance {index})"),
        ));
    }
    Ok(item)
}

/// The type of a wasm object of `store`, memories and tables at their current size.
fn extern_type(store: &Store<StoreData>, item: &wasmi::Extern) -> ExternType {
    match item {
        wasmi::Extern::Func(func) => {
            let ty = func.ty(store);
            ExternType::Func(FuncType::new(
                ty.params().iter().map(|t| core_val_type(*t)),
                ty.results().iter().map(|t| core_val_type(*t)),
            ))
        }
        wasmi::Extern::Memory(memory) => {
            let ty = memory.ty(store);
            ExternType::Memory(MemoryType {
                minimum: memory.size(store),
                maximum: ty.maximum(),
                memory64: ty.is_64(),
                // wasmi has no shared memories.
                shared: false,
            })
        }
        wasmi::Extern::Table(table) => {
            let ty = table.ty(store);
            ExternType::Table(TableType {
                element: match ty.element() {
                    RefType::Func => ValType::FuncRef,
                    RefType::Extern => ValType::ExternRef,
                },
                minimum: table.size(store),
                maximum: ty.maximum(),
            })
        }
        wasmi::Extern::Global(global) => {
            let ty = global.ty(store);
            ExternType::Global(GlobalType {
                content: core_val_type(ty.content()),
                mutable: ty.mutability().is_mut(),
            })
        }
    }
}

/// Creates in `store` what `given` describes, after checking it against `expected`
/// with the import-matching rules of the spec.
fn define(
    store: &mut Store<StoreData>,
    qualified: &str,
    expected: &ExternType,
    given: &Extern,
) -> Result<wasmi::Extern, WasmError> {
    let link_error = |why: String| shared::link_error(qualified, why);
    let mismatch = || shared::mismatched_import(qualified, expected, shared::given_type(given));
    match (expected, given) {
        (ExternType::Func(want), Extern::Func(host)) => {
            if host.ty() != want {
                return Err(mismatch());
            }
            Ok(host_func(store, host.clone(), qualified.into())?.into())
        }
        (ExternType::Memory(want), Extern::Memory(ty)) => {
            if !shared::memory_fits(ty, want) {
                return Err(mismatch());
            }
            let mut builder = wasmi::MemoryType::builder();
            builder
                .memory64(ty.memory64)
                .min(ty.minimum)
                .max(ty.maximum);
            let wasmi_ty = builder.build().map_err(|e| link_error(e.to_string()))?;
            let memory = Memory::new(&mut *store, wasmi_ty)
                .map_err(|e| shared::import_over_limit(qualified, e))?;
            Ok(memory.into())
        }
        (ExternType::Global(want), Extern::Global(ty, value)) => {
            if ty != want {
                return Err(mismatch());
            }
            if !value.matches(ty.content) {
                return Err(shared::global_value_mismatch(
                    qualified,
                    value.ty(),
                    ty.content,
                ));
            }
            let value = to_val(store, value)?;
            let mutability = if ty.mutable {
                Mutability::Var
            } else {
                Mutability::Const
            };
            Ok(Global::new(&mut *store, value, mutability).into())
        }
        (ExternType::Table(want), Extern::Table(ty, init)) => {
            if !shared::table_fits(ty, want) {
                return Err(mismatch());
            }
            table(store, ty, init).map(Into::into).map_err(|e| match e {
                WasmError::MemoryLimit { message } => shared::import_over_limit(qualified, message),
                other => link_error(other.to_string()),
            })
        }
        _ => Err(mismatch()),
    }
}

/// A new table of type `ty`, every element `init`.
fn table(
    store: &mut Store<StoreData>,
    ty: &TableType,
    init: &WasmValue,
) -> Result<Table, WasmError> {
    let invalid =
        |why: &str| WasmError::type_mismatch(format!("table {}: {why}", ExternType::Table(*ty)));
    if !init.matches(ty.element) {
        return Err(invalid("initial element of another type"));
    }
    let minimum = u32::try_from(ty.minimum).map_err(|_| invalid("too large"))?;
    let maximum = match ty.maximum.map(u32::try_from) {
        None => None,
        Some(Ok(max)) if max >= minimum => Some(max),
        Some(_) => return Err(invalid("maximum below minimum or too large")),
    };
    let (element, init) = match to_val(store, init)? {
        Val::FuncRef(func) => (RefType::Func, Ref::Func(func)),
        Val::ExternRef(object) => (RefType::Extern, Ref::Extern(object)),
        _ => return Err(invalid("element type is not a reference")),
    };
    let wasmi_ty = wasmi::TableType::new(element, minimum, maximum);
    Table::new(&mut *store, wasmi_ty, init).map_err(|e| WasmError::MemoryLimit {
        message: e.to_string(),
    })
}

/// A wasmi function that runs `host`; `function` is its `module::name`, for errors.
fn host_func(
    store: &mut Store<StoreData>,
    host: HostFunc,
    function: Arc<str>,
) -> Result<wasmi::Func, WasmError> {
    // The type equals the module's import type, which wasmi accepted: no panic here.
    let ty = wasmi_func_type(host.ty())?;
    Ok(wasmi::Func::new(
        store,
        ty,
        move |mut caller: wasmi::Caller<'_, StoreData>, params: &[Val], results: &mut [Val]| {
            call_host(&mut caller, &host, params, results).map_err(|error| {
                wasmi::Error::host(HostFailure {
                    function: Arc::clone(&function),
                    error,
                })
            })?;
            // Time in the host counts against the call's deadline.
            crate::deadline::check_returned(caller.data().deadline).map_err(wasmi::Error::host)
        },
    ))
}

/// Converts the arguments, runs `host` and converts its results back, with the
/// store's reusable buffers: no allocation per call once they have grown.
fn call_host(
    caller: &mut wasmi::Caller<'_, StoreData>,
    host: &HostFunc,
    params: &[Val],
    results: &mut [Val],
) -> Result<(), HostError> {
    let mut args = mem::take(&mut caller.data_mut().host_args);
    let mut outs = mem::take(&mut caller.data_mut().host_results);
    let outcome = call_host_with(caller, host, params, results, &mut args, &mut outs);
    let state = caller.data_mut();
    state.host_args = args;
    state.host_results = outs;
    outcome
}

fn call_host_with(
    caller: &mut wasmi::Caller<'_, StoreData>,
    host: &HostFunc,
    params: &[Val],
    results: &mut [Val],
    args: &mut Vec<WasmValue>,
    outs: &mut Vec<WasmValue>,
) -> Result<(), HostError> {
    let engine_error = |e: WasmError| HostError::new(e.to_string());
    args.clear();
    for param in params {
        args.push(from_val(caller, param).map_err(engine_error)?);
    }
    outs.clear();
    outs.resize(results.len(), WasmValue::I32(0));
    host.call(&mut CallerMemory::new(caller), args, outs)?;
    for (slot, value) in results.iter_mut().zip(outs.iter()) {
        *slot = to_val(caller, value).map_err(engine_error)?;
    }
    Ok(())
}
