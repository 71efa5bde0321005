//! A wasmtime store with its instances: instantiation, linking, calls, and the
//! [`WasmInstance`] and [`WasmStore`] methods.

use std::{collections::HashMap, sync::Arc, time::Duration};

use plugin_system_core::{
    ExternType, Func as CoreFunc, Imports, InstanceGuard, InstanceHandle, InstanceId,
    InstanceStats, Result, ValType, WasmError, WasmInstance, WasmMemory, WasmModule, WasmStore,
    WasmValue,
};
use wasmtime::{Func, Global, Memory, RootScope, Store, Val, ValRaw};

use super::{
    Shared, WasmtimeModule,
    convert::{from_val, map_error, to_val},
    linking::{link, prelinked},
    state::{StoreData, store_limits},
};
use crate::{
    deadline::Deadlines,
    shared::{self, EPOCH_TICK, StoreLimitValues},
};

/// Epoch ticks that stand for "no deadline": far away, and safe to add to the
/// engine's current epoch without overflow.
const NO_DEADLINE: u64 = u64::MAX / 2;

/// A function export resolved once.
#[derive(Clone, Copy)]
struct Resolved {
    func: Func,
    /// Only numbers in and out: safe for the unchecked raw call path.
    numeric: bool,
}

/// One instance of a store.
pub(super) struct Member {
    id: InstanceId,
    module: Arc<dyn WasmModule>,
    pub(super) instance: wasmtime::Instance,
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
pub(crate) struct WasmtimeStore {
    shared: Arc<Shared>,
    pub(super) store: Store<StoreData>,
    members: Vec<Member>,
    current: usize,
    /// The memory [`WasmMemory`] methods act on: the one last asked for.
    pub(super) selected_memory: Option<Memory>,
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

impl WasmtimeStore {
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
        Ok(WasmtimeStore {
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
        // Every import was checked in `link` (or `prelinked`), so what fails
        // here is the engine's own: a trap of the start function, a limit.
        .map_err(|e| map_error(e, self.store.data().deadline))?;
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
        map_error(e, self.store.data().deadline)
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
            .map_err(|e| map_error(e, deadline))?;
        for (slot, v) in results.iter_mut().zip(&self.results) {
            *slot = from_val(&mut scope, v)?;
        }
        Ok(())
    }
}

fn engine_error(e: wasmtime::Error) -> WasmError {
    WasmError::engine(e)
}

impl WasmtimeStore {
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
                kind: plugin_system_core::ExportKind::Global,
                name: name.to_string(),
            })
    }
}

impl WasmStore for WasmtimeStore {
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

impl WasmInstance for WasmtimeStore {
    fn module(&self) -> &Arc<dyn WasmModule> {
        &self.member().module
    }

    fn func(&mut self, name: &str) -> Result<CoreFunc> {
        let not_found = || WasmError::ExportNotFound {
            kind: plugin_system_core::ExportKind::Function,
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
        from_val(&mut self.store, &v)
    }

    fn set_global(&mut self, name: &str, value: WasmValue) -> Result<()> {
        let ty = match self.member().module.export(name) {
            Some(ExternType::Global(ty)) => *ty,
            _ => {
                return Err(WasmError::ExportNotFound {
                    kind: plugin_system_core::ExportKind::Global,
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
                kind: plugin_system_core::ExportKind::Memory,
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
