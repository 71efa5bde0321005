//! Satisfying a module's imports from [`Imports`]: host functions, memories,
//! globals and tables created fresh in the store, exports of the store's other
//! instances, and WASI.

use std::sync::Arc;

use plugin_system_core::{
    Extern as CoreExtern, ExternType, HostError, HostFunc, Imports, Result, WasmError, WasmValue,
};
use wasmtime::{
    Caller, Extern, Func, Global, InstancePre, Linker, Memory, SharedMemory, Store, Table, Val,
};

use super::{
    Shared, WasmtimeModule,
    convert::{self, HostFailure, from_val, to_val},
    memory::CallerMemory,
    state::StoreData,
    store::Member,
};
use crate::{deadline, shared};

/// Resolves every import of the module from `imports`, in the module's order.
pub(super) fn link(
    shared: &Shared,
    store: &mut Store<StoreData>,
    members: &[Member],
    module: &WasmtimeModule,
    imports: &Imports,
) -> Result<Vec<Extern>> {
    let info = plugin_system_core::WasmModule::info(module);
    let mut externs = Vec::with_capacity(info.imports.len());
    for import in &info.imports {
        let (m, n) = (import.module.as_str(), import.name.as_str());
        // Only errors name the import: no string is made on the way through.
        let qualified = || format!("{m}::{n}");
        let link_error = |why: String| shared::link_error(&qualified(), why);
        #[cfg(feature = "wasi")]
        if imports.get(m, n).is_none()
            && m == plugin_system_core::wasi::WASI_MODULE
            && let Some(wasi) = shared.wasi_linker(imports)
            && let Ok(ext) = wasi.get(&mut *store, m, n)
        {
            // wasmtime would check the type when instantiating, in words of its own.
            if let Extern::Func(f) = &ext {
                let given = core_func_type(&f.ty(&*store)).map(ExternType::Func);
                if given.as_ref() != Some(&import.ty) {
                    let given =
                        given.map_or_else(|| "another function".to_owned(), |g| g.to_string());
                    return Err(shared::mismatched_import(&qualified(), &import.ty, given));
                }
            }
            externs.push(ext);
            continue;
        }
        let Some(provided) = imports.get(m, n) else {
            return Err(shared::missing_import(&qualified(), &import.ty));
        };
        if let CoreExtern::Export { instance, name } = provided {
            let exporter = members.get(instance.index()).ok_or_else(|| {
                link_error(format!(
                    "no instance {} in this store (imports of other instances need a \
                         WasmStore from WasmRuntime::new_store)",
                    instance.index()
                ))
            })?;
            let ext = exporter
                .instance
                .get_export(&mut *store, name)
                .ok_or_else(|| {
                    link_error(format!(
                        "instance {} has no export `{name}`",
                        instance.index()
                    ))
                })?;
            let given = convert::extern_type(&*store, &ext);
            if !given
                .as_ref()
                .is_some_and(|given| shared::extern_fits(given, &import.ty))
            {
                let given = given.map_or_else(|| "another type".to_owned(), |g| g.to_string());
                return Err(shared::mismatched_import(
                    &qualified(),
                    &import.ty,
                    format_args!("{given} (export `{name}` of instance {})", instance.index()),
                ));
            }
            externs.push(ext);
            continue;
        }
        // Checked here, as wasmi's linking checks it, so that a mismatch is told in
        // the same words on both engines instead of wasmtime's own.
        let fits = match (provided, &import.ty) {
            (CoreExtern::Memory(ty), ExternType::Memory(want)) => shared::memory_fits(ty, want),
            (CoreExtern::Table(ty, _), ExternType::Table(want)) => shared::table_fits(ty, want),
            (CoreExtern::Global(ty, _), ExternType::Global(want)) => ty == want,
            _ => true,
        };
        if !fits {
            return Err(shared::mismatched_import(
                &qualified(),
                &import.ty,
                shared::given_type(provided),
            ));
        }
        let ext = match (provided, &import.ty) {
            (CoreExtern::Func(f), ExternType::Func(want)) => {
                if f.ty() != want {
                    return Err(shared::mismatched_import(
                        &qualified(),
                        &import.ty,
                        shared::given_type(provided),
                    ));
                }
                Extern::Func(host_func(
                    shared,
                    store,
                    f,
                    format!("{m}::{n}").into(),
                    module.default_memory.clone(),
                )?)
            }
            (CoreExtern::Memory(ty), ExternType::Memory(_)) => {
                let wt_ty = convert::memory_type(ty);
                if ty.shared {
                    let mem = SharedMemory::new(&shared.engine, wt_ty)
                        .map_err(|e| shared::import_over_limit(&qualified(), e))?;
                    Extern::SharedMemory(mem)
                } else {
                    let mem = Memory::new(&mut *store, wt_ty)
                        .map_err(|e| shared::import_over_limit(&qualified(), e))?;
                    Extern::Memory(mem)
                }
            }
            (CoreExtern::Global(ty, value), ExternType::Global(_)) => {
                if !value.matches(ty.content) {
                    return Err(shared::global_value_mismatch(
                        &qualified(),
                        value.ty(),
                        ty.content,
                    ));
                }
                let v = to_val(store, value)?;
                let g = Global::new(&mut *store, convert::global_type(ty)?, v)
                    .map_err(|e| WasmError::engine_in(format!("import `{}`", qualified()), e))?;
                Extern::Global(g)
            }
            (CoreExtern::Table(ty, init), ExternType::Table(_)) => {
                let r = convert::to_ref(store, init)?;
                let t = Table::new(&mut *store, convert::table_type(ty)?, r)
                    .map_err(|e| shared::import_over_limit(&qualified(), e))?;
                Extern::Table(t)
            }
            (_, want) => {
                return Err(shared::mismatched_import(
                    &qualified(),
                    want,
                    shared::given_type(provided),
                ));
            }
        };
        externs.push(ext);
    }
    Ok(externs)
}

/// A wasmtime function type in the core's terms; `None` if it holds a type
/// the core does not name (WASI's functions hold numbers only).
#[cfg(feature = "wasi")]
fn core_func_type(ty: &wasmtime::FuncType) -> Option<plugin_system_core::FuncType> {
    let params: Option<Vec<_>> = ty.params().map(|t| convert::core_val_type(&t)).collect();
    let results: Option<Vec<_>> = ty.results().map(|t| convert::core_val_type(&t)).collect();
    Some(plugin_system_core::FuncType::new(params?, results?))
}

/// Wraps a core host function as a wasmtime function in `store`.
fn host_func(
    shared: &Shared,
    store: &mut Store<StoreData>,
    f: &HostFunc,
    name: Arc<str>,
    memory_name: Option<String>,
) -> Result<Func> {
    let ty = convert::func_type(&shared.engine, f.ty())?;
    Ok(Func::new(
        &mut *store,
        ty,
        host_closure(f, name, memory_name),
    ))
}

/// The wasmtime callback of a core host function: converts the values, gives the
/// function its caller's memory, and carries its error out as [`HostFailure`].
fn host_closure(
    f: &HostFunc,
    name: Arc<str>,
    memory_name: Option<String>,
) -> impl Fn(Caller<'_, StoreData>, &[Val], &mut [Val]) -> wasmtime::Result<()> + Send + Sync + 'static
{
    let f = f.clone();
    move |mut caller: Caller<'_, StoreData>, params, results| {
        let fail = |error: HostError| {
            wasmtime::Error::new(HostFailure {
                function: Arc::clone(&name),
                error,
            })
        };
        let args = params
            .iter()
            .map(|v| from_val(&mut caller, v))
            .collect::<Result<Vec<WasmValue>, _>>()
            .map_err(|e| fail(HostError::from_error(e)))?;
        let mut out: Vec<WasmValue> = f.ty().results().iter().map(|t| t.default_value()).collect();
        let memory = memory_name
            .as_deref()
            .and_then(|n| caller.get_export(n))
            .and_then(Extern::into_memory);
        {
            let mut ctx = CallerMemory {
                caller: &mut caller,
                memory,
            };
            f.call(&mut ctx, &args, &mut out).map_err(fail)?;
        }
        for (slot, v) in results.iter_mut().zip(&out) {
            *slot = to_val(&mut caller, v).map_err(|e| fail(HostError::from_error(e)))?;
        }
        // Time in the host counts against the call's deadline.
        deadline::check_returned(caller.data().deadline).map_err(wasmtime::Error::new)
    }
}

/// The module linked once against `imports`, when every import is a host function
/// of the right type: later instances with the same imports skip linking. `None`
/// when an import is a memory, global or table (those belong to one store) or
/// does not fit, in which case [`link`] resolves it per store and names the error.
pub(super) fn prelinked(
    shared: &Shared,
    module: &WasmtimeModule,
    imports: &Imports,
) -> Option<InstancePre<StoreData>> {
    let mut cache = module.prelinked.lock().ok()?;
    if let Some((generation, pre)) = cache.as_ref()
        && *generation == imports.generation()
    {
        return Some(pre.clone());
    }
    let info = plugin_system_core::WasmModule::info(module);
    #[cfg(feature = "wasi")]
    let mut linker = match shared.wasi_linker(imports) {
        Some(wasi) if crate::wasi::imports_wasi(info) => wasi.clone(),
        _ => Linker::new(&shared.engine),
    };
    #[cfg(not(feature = "wasi"))]
    let mut linker = Linker::new(&shared.engine);
    // The caller's definitions win over WASI's.
    linker.allow_shadowing(true);
    for import in &info.imports {
        let (m, n) = (import.module.as_str(), import.name.as_str());
        match (imports.get(m, n), &import.ty) {
            (Some(CoreExtern::Func(f)), ExternType::Func(want)) if f.ty() == want => {
                let ty = convert::func_type(&shared.engine, f.ty()).ok()?;
                let closure =
                    host_closure(f, format!("{m}::{n}").into(), module.default_memory.clone());
                linker.func_new(m, n, ty, closure).ok()?;
            }
            // Served by WASI, or missing: `instantiate_pre` tells.
            (None, ExternType::Func(_)) if m == plugin_system_core::wasi::WASI_MODULE => {}
            _ => return None,
        }
    }
    let pre = linker.instantiate_pre(&module.module).ok()?;
    *cache = Some((imports.generation(), pre.clone()));
    Some(pre)
}
