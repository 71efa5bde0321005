//! An instance in its own wasmtime store.

use std::{collections::HashMap, sync::Arc, time::Duration};

use plugin_system_core::{
    Caller as CoreCaller, Extern as CoreExtern, ExternType, Func as CoreFunc, HostError, HostFunc,
    Imports, InstanceGuard, InstanceHandle, InstanceId, InstanceStats, Result, ValType, WasmError,
    WasmInstance, WasmMemory, WasmModule, WasmStore, WasmValue,
};
use wasmtime::{
    Caller, Extern, Func, Global, InstancePre, Linker, Memory, RootScope, SharedMemory, Store,
    StoreLimits, StoreLimitsBuilder, Table, Val, ValRaw,
};

use super::{
    Shared, WasmtimeModule,
    convert::{self, HostCallFailed, call_error, from_val, to_val},
};
use crate::{
    deadline::{self, Deadlines},
    shared::{self, EPOCH_TICK, StoreLimitValues},
};

/// wasmtime's limiter for these values.
fn store_limits(values: StoreLimitValues) -> StoreLimits {
    let mut limits = StoreLimitsBuilder::new();
    if let Some(bytes) = values.memory_bytes {
        limits = limits.memory_size(bytes);
    }
    if let Some(elements) = values.table_elements {
        limits = limits.table_elements(elements);
    }
    limits.build()
}

/// Epoch ticks that stand for "no deadline": far away, and safe to add to the
/// engine's current epoch without overflow.
const NO_DEADLINE: u64 = u64::MAX / 2;

/// What each store holds besides the instance.
pub(crate) struct StoreData {
    limits: StoreLimits,
    /// The runtime's limits, which a store's own memory cap tightens.
    runtime_limits: StoreLimitValues,
    /// What `limits` enforces.
    limit_values: StoreLimitValues,
    /// Functions handed to the host as `funcref`s; a core `FuncRef` indexes here.
    pub(super) funcs: Vec<Func>,
    /// The deadline of the call running now, for the host functions it calls.
    pub(super) deadline: Option<plugin_system_core::Deadline>,
    /// The WASI world of the store, made by the first instance that imports WASI.
    #[cfg(feature = "wasi")]
    wasi: Option<crate::wasi::WasiWorld>,
}

#[cfg(feature = "wasi")]
impl StoreData {
    /// The store's WASI world.
    pub(super) fn wasi_world(&mut self) -> &mut crate::wasi::WasiWorld {
        crate::wasi::world(&mut self.wasi)
    }
}

/// A function export resolved once.
#[derive(Clone, Copy)]
struct Resolved {
    func: Func,
    /// Only numbers in and out: safe for the unchecked raw call path.
    numeric: bool,
}

/// One instance of a store.
struct Member {
    id: InstanceId,
    module: Arc<dyn WasmModule>,
    instance: wasmtime::Instance,
    resolved: Vec<Resolved>,
    by_name: HashMap<String, usize>,
    default_memory: Option<Memory>,
    _guard: InstanceGuard,
}

/// A wasmtime store with its instances: usually one (what
/// [`WasmRuntime::instantiate`](plugin_system_core::WasmRuntime::instantiate) gives),
/// several for a [`WasmStore`]. As a [`WasmInstance`] it acts on the instance
/// selected last (`current`); the store-wide state (fuel, deadline, buffers,
/// counters) is kept once.
pub(crate) struct WasmtimeInstance {
    shared: Arc<Shared>,
    store: Store<StoreData>,
    members: Vec<Member>,
    current: usize,
    /// The memory [`WasmMemory`] methods act on: the one last asked for.
    selected_memory: Option<Memory>,
    deadlines: Deadlines,
    /// The deadline the store's epoch deadline stands for: a call under the
    /// same one (the next call of an exchange) leaves it as it is.
    armed: Option<plugin_system_core::Deadline>,
    metered: bool,
    /// Fuel given so far: consumed = budget - left.
    fuel_budget: u64,
    raw: Vec<ValRaw>,
    args: Vec<Val>,
    results: Vec<Val>,
    calls: u64,
    failed_calls: u64,
}

/// Epoch ticks from now until `timeout` has gone by, one more for the tick
/// that is under way.
fn deadline_ticks(timeout: Duration) -> u64 {
    let ticks = timeout.as_nanos().div_ceil(EPOCH_TICK.as_nanos().max(1));
    u64::try_from(ticks)
        .unwrap_or(NO_DEADLINE)
        .saturating_add(1)
        .min(NO_DEADLINE)
}

impl WasmtimeInstance {
    /// An empty store with the configured limits, fuel and deadline.
    pub(super) fn empty(shared: Arc<Shared>) -> Result<Self> {
        let config = &shared.config;
        let runtime_limits = StoreLimitValues::new(config);
        let mut store = Store::new(
            &shared.engine,
            StoreData {
                limits: store_limits(runtime_limits),
                runtime_limits,
                limit_values: runtime_limits,
                funcs: Vec::new(),
                deadline: None,
                #[cfg(feature = "wasi")]
                wasi: None,
            },
        );
        store.limiter(|data| &mut data.limits);
        let metered = config.fuel_limit.is_some();
        let fuel_budget = config.fuel_limit.unwrap_or(0);
        if metered {
            store.set_fuel(fuel_budget).map_err(engine_error)?;
        }
        store.epoch_deadline_trap();
        store.set_epoch_deadline(NO_DEADLINE);
        Ok(WasmtimeInstance {
            store,
            members: Vec::new(),
            current: 0,
            selected_memory: None,
            deadlines: Deadlines::new(config.timeout),
            armed: None,
            metered,
            fuel_budget,
            raw: Vec::new(),
            args: Vec::new(),
            results: Vec::new(),
            calls: 0,
            failed_calls: 0,
            shared,
        })
    }

    /// Instantiates `module` in this store and selects it.
    fn add(
        &mut self,
        module: Arc<dyn WasmModule>,
        wt_module: &WasmtimeModule,
        imports: &Imports,
    ) -> Result<InstanceHandle> {
        // The start function runs under the deadline of a call.
        if plugin_system_core::WasmModule::info(wt_module).has_start {
            self.begin_call()?;
        }
        #[cfg(feature = "wasi")]
        {
            let info = plugin_system_core::WasmModule::info(wt_module);
            let world = &mut self.store.data_mut().wasi;
            crate::wasi::prepare(world, &self.shared.config, imports, info)?;
        }
        let instance = match prelinked(&self.shared, wt_module, imports) {
            Some(pre) => pre.instantiate(&mut self.store),
            None => {
                let externs = link(
                    &self.shared,
                    &mut self.store,
                    &self.members,
                    wt_module,
                    imports,
                )?;
                wasmtime::Instance::new(&mut self.store, &wt_module.module, &externs)
            }
        }
        .map_err(|e| match call_error(e, self.store.data().deadline) {
            // wasmtime's own import checks (types of linked exports) say "import";
            // anything else (an exhausted pool) stays an engine error.
            WasmError::Engine { message } if message.contains("import") => {
                WasmError::Link { message }
            }
            other => other,
        })?;
        let default_memory = wt_module
            .default_memory
            .as_deref()
            .and_then(|name| instance.get_memory(&mut self.store, name));
        // A reactor's set-up, under the same fuel and deadline as any call but
        // no call of the user's; an instance whose set-up fails is never made.
        if let Some(init) = shared::initializer(plugin_system_core::WasmModule::info(wt_module))
            .and_then(|name| instance.get_func(&mut self.store, name))
        {
            self.begin_call()?;
            let outcome = init
                .call(&mut self.store, &[], &mut [])
                .map_err(|e| self.call_failed(e));
            shared::initialized(outcome)?;
        }
        self.members.push(Member {
            id: InstanceId::next(),
            module,
            instance,
            resolved: Vec::new(),
            by_name: HashMap::new(),
            default_memory,
            _guard: self.shared.counters.instance_created(),
        });
        self.current = self.members.len() - 1;
        self.selected_memory = default_memory;
        Ok(InstanceHandle::from_index(self.current))
    }

    /// Arms the deadline of a call that starts now: the epoch deadline that
    /// stops guest code, and the instant that host and WASI calls see.
    ///
    /// # Errors
    /// [`WasmError::Timeout`] when the deadline has passed already.
    fn begin_call(&mut self) -> Result<()> {
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

    /// The selected instance. A store handed out as an instance always has one.
    fn member(&self) -> &Member {
        &self.members[self.current]
    }

    /// The unchecked call: only for all-numeric signatures, whose values need no
    /// store-bound validity.
    fn call_raw(
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
    fn call_failed(&self, e: wasmtime::Error) -> WasmError {
        call_error(e, self.store.data().deadline)
    }

    fn call_checked(
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
            .map_err(|e| call_error(e, deadline))?;
        for (slot, v) in results.iter_mut().zip(&self.results) {
            *slot = from_val(&mut scope, v);
        }
        Ok(())
    }
}

fn engine_error(e: wasmtime::Error) -> WasmError {
    WasmError::Engine {
        message: format!("{e:#}"),
    }
}

/// Resolves every import of the module from `imports`, in the module's order.
fn link(
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
            && let Some(wasi) = &shared.wasi
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
                    link_error(format!("instance {} exports no `{name}`", instance.index()))
                })?;
            externs.push(ext);
            continue;
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
                    format!("{m}::{n}"),
                    module.default_memory.clone(),
                )?)
            }
            (CoreExtern::Memory(ty), ExternType::Memory(_)) => {
                let wt_ty = convert::memory_type(ty);
                if ty.shared {
                    let mem = SharedMemory::new(&shared.engine, wt_ty)
                        .map_err(|e| link_error(format!("{e:#}")))?;
                    Extern::SharedMemory(mem)
                } else {
                    let mem = Memory::new(&mut *store, wt_ty)
                        .map_err(|e| link_error(format!("{e:#}")))?;
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
                    .map_err(|e| link_error(format!("{e:#}")))?;
                Extern::Global(g)
            }
            (CoreExtern::Table(ty, init), ExternType::Table(_)) => {
                let r = convert::to_ref(store, init)?;
                let t = Table::new(&mut *store, convert::table_type(ty)?, r)
                    .map_err(|e| link_error(format!("{e:#}")))?;
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
    name: String,
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
/// function its caller's memory, and carries its error out as [`HostCallFailed`].
fn host_closure(
    f: &HostFunc,
    name: String,
    memory_name: Option<String>,
) -> impl Fn(Caller<'_, StoreData>, &[Val], &mut [Val]) -> wasmtime::Result<()> + Send + Sync + 'static
{
    let f = f.clone();
    move |mut caller: Caller<'_, StoreData>, params, results| {
        let fail = |error: HostError| {
            wasmtime::Error::new(HostCallFailed {
                function: name.clone(),
                error,
            })
        };
        let args: Vec<WasmValue> = params.iter().map(|v| from_val(&mut caller, v)).collect();
        let mut out: Vec<WasmValue> = f.ty().results().iter().map(|t| t.default_value()).collect();
        let memory = memory_name
            .as_deref()
            .and_then(|n| caller.get_export(n))
            .and_then(Extern::into_memory);
        {
            let mut ctx = CallerCtx {
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
fn prelinked(
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
    let mut linker = match &shared.wasi {
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
                let closure = host_closure(f, format!("{m}::{n}"), module.default_memory.clone());
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

/// What a host function sees of its caller.
struct CallerCtx<'a, 'b> {
    caller: &'a mut Caller<'b, StoreData>,
    memory: Option<Memory>,
}

impl CoreCaller for CallerCtx<'_, '_> {
    fn memory(&mut self) -> Option<&mut dyn WasmMemory> {
        if self.memory.is_some() {
            Some(self)
        } else {
            None
        }
    }

    fn engine(&self) -> &'static str {
        "wasmtime"
    }

    fn consume_fuel(&mut self, fuel: u64) {
        // Err: metering is off, and nothing is charged.
        if let Ok(left) = self.caller.get_fuel() {
            let _metered = self.caller.set_fuel(left.saturating_sub(fuel));
        }
    }
}

impl WasmMemory for CallerCtx<'_, '_> {
    fn data(&self) -> &[u8] {
        match self.memory {
            Some(m) => m.data(&*self.caller),
            None => &[],
        }
    }

    fn data_mut(&mut self) -> &mut [u8] {
        match self.memory {
            Some(m) => m.data_mut(&mut *self.caller),
            None => &mut [],
        }
    }

    fn grow(&mut self, pages: u64) -> Result<u64> {
        let m = self.memory.ok_or_else(shared::no_memory)?;
        m.grow(&mut *self.caller, pages).map_err(grow_error)
    }
}

fn grow_error(e: wasmtime::Error) -> WasmError {
    WasmError::MemoryLimit {
        message: format!("memory.grow refused: {e:#}"),
    }
}

impl WasmMemory for WasmtimeInstance {
    fn data(&self) -> &[u8] {
        match self.selected_memory {
            Some(m) => m.data(&self.store),
            None => &[],
        }
    }

    fn data_mut(&mut self) -> &mut [u8] {
        match self.selected_memory {
            Some(m) => m.data_mut(&mut self.store),
            None => &mut [],
        }
    }

    fn grow(&mut self, pages: u64) -> Result<u64> {
        let m = self.selected_memory.ok_or_else(shared::no_memory)?;
        m.grow(&mut self.store, pages).map_err(grow_error)
    }
}

impl WasmtimeInstance {
    fn no_metering() -> WasmError {
        WasmError::Unsupported {
            feature: "fuel metering (set fuel_limit in the config)".into(),
        }
    }

    /// The exported global `name` of the selected instance.
    fn global_export(&mut self, name: &str) -> Result<Global> {
        let member = &self.members[self.current];
        member
            .instance
            .get_global(&mut self.store, name)
            .ok_or_else(|| WasmError::ExportNotFound {
                kind: "global",
                name: name.to_string(),
            })
    }
}

impl WasmStore for WasmtimeInstance {
    fn instantiate(
        &mut self,
        module: &Arc<dyn WasmModule>,
        imports: &Imports,
    ) -> Result<InstanceHandle> {
        let wt_module = super::module_of(module, &self.shared.engine)?;
        shared::check_limits(module.info(), imports, self.store.data().limit_values)?;
        self.add(Arc::clone(module), wt_module, imports)
    }

    fn instance(&mut self, handle: InstanceHandle) -> Result<&mut dyn WasmInstance> {
        self.current = handle.checked_index(self.members.len())?;
        self.selected_memory = self.members[self.current].default_memory;
        Ok(self)
    }
}

impl WasmInstance for WasmtimeInstance {
    fn module(&self) -> &Arc<dyn WasmModule> {
        &self.member().module
    }

    fn func(&mut self, name: &str) -> Result<CoreFunc> {
        let not_found = || WasmError::ExportNotFound {
            kind: "function",
            name: name.to_string(),
        };
        let member = &mut self.members[self.current];
        let ty = match member.module.export(name) {
            Some(ExternType::Func(ty)) => ty.clone(),
            _ => return Err(not_found()),
        };
        if let Some(&index) = member.by_name.get(name) {
            return Ok(CoreFunc::new(member.id, index, ty));
        }
        let func = member
            .instance
            .get_func(&mut self.store, name)
            .ok_or_else(not_found)?;
        let numeric = ty.params().iter().chain(ty.results()).all(|t| !t.is_ref());
        let index = member.resolved.len();
        member.resolved.push(Resolved { func, numeric });
        member.by_name.insert(name.to_string(), index);
        Ok(CoreFunc::new(member.id, index, ty))
    }

    fn call_func(
        &mut self,
        func: &CoreFunc,
        args: &[WasmValue],
        results: &mut [WasmValue],
    ) -> Result<()> {
        let member = &self.members[self.current];
        func.check_call(member.id, args, results)?;
        let resolved = *member
            .resolved
            .get(func.index())
            .ok_or_else(|| WasmError::type_mismatch("unknown function handle"))?;
        self.calls += 1;
        if let Err(late) = self.begin_call() {
            self.failed_calls += 1;
            return Err(late);
        }
        let outcome = if resolved.numeric {
            self.call_raw(resolved.func, func.ty(), args, results)
        } else {
            self.call_checked(resolved.func, args, results)
        };
        if outcome.is_err() {
            self.failed_calls += 1;
        }
        outcome
    }

    fn global(&mut self, name: &str) -> Result<WasmValue> {
        let g = self.global_export(name)?;
        let v = g.get(&mut self.store);
        Ok(from_val(&mut self.store, &v))
    }

    fn set_global(&mut self, name: &str, value: WasmValue) -> Result<()> {
        let ty = match self.member().module.export(name) {
            Some(ExternType::Global(ty)) => *ty,
            _ => {
                return Err(WasmError::ExportNotFound {
                    kind: "global",
                    name: name.to_string(),
                });
            }
        };
        if !ty.mutable {
            return Err(WasmError::ImmutableGlobal {
                name: name.to_string(),
            });
        }
        if !value.matches(ty.content) {
            return Err(WasmError::type_mismatch(format!(
                "global `{name}` holds {}, not {}",
                ty.content,
                value.ty()
            )));
        }
        let g = self.global_export(name)?;
        let v = to_val(&mut self.store, &value)?;
        g.set(&mut self.store, v)
            .map_err(|e| WasmError::type_mismatch(format!("{e:#}")))
    }

    fn memory(&mut self) -> Option<&mut dyn WasmMemory> {
        self.selected_memory = Some(self.member().default_memory?);
        Some(self)
    }

    fn memory_named(&mut self, name: &str) -> Result<&mut dyn WasmMemory> {
        let member = &self.members[self.current];
        let m = member
            .instance
            .get_memory(&mut self.store, name)
            .ok_or_else(|| WasmError::ExportNotFound {
                kind: "memory",
                name: name.to_string(),
            })?;
        self.selected_memory = Some(m);
        Ok(self)
    }

    fn fuel(&self) -> Result<u64> {
        if !self.metered {
            return Err(Self::no_metering());
        }
        self.store.get_fuel().map_err(engine_error)
    }

    fn set_fuel(&mut self, fuel: u64) -> Result<()> {
        if !self.metered {
            return Err(Self::no_metering());
        }
        let consumed = self.fuel_budget.saturating_sub(self.fuel()?);
        self.fuel_budget = consumed.saturating_add(fuel);
        self.store.set_fuel(fuel).map_err(engine_error)
    }

    fn set_memory_limit(&mut self, max_bytes: Option<u64>) -> Result<()> {
        let data = self.store.data_mut();
        data.limit_values = data.runtime_limits.capped(max_bytes);
        data.limits = store_limits(data.limit_values);
        Ok(())
    }

    fn set_timeout(&mut self, timeout: Option<Duration>) {
        // The ticker starts with the first call under a deadline.
        self.deadlines.timeout = timeout;
    }

    fn set_deadline(&mut self, deadline: Option<plugin_system_core::Deadline>) -> Result<()> {
        self.deadlines.until = deadline;
        Ok(())
    }

    fn stats(&mut self) -> InstanceStats {
        let mut stats = InstanceStats::default();
        stats.calls = self.calls;
        stats.failed_calls = self.failed_calls;
        stats.fuel_consumed = self
            .fuel()
            .ok()
            .map(|left| self.fuel_budget.saturating_sub(left));
        stats.memory_pages = self.member().default_memory.map(|m| m.size(&self.store));
        stats
    }
}
