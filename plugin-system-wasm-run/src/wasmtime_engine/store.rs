//! A wasmtime store of one or more instances: instantiation, and [`WasmStore`].
//!
//! [`WasmtimeStore`] is both the store and, through its `current` member, the
//! instance the [`WasmInstance`] methods act on (see [`instance`](super::instance)):
//! handing out an instance of the store is an index write, never an allocation.

use std::{collections::HashMap, sync::Arc};

use plugin_system_core::{
    Imports, InstanceGuard, InstanceHandle, InstanceId, Result, WasmInstance, WasmModule, WasmStore,
};
use wasmtime::{Func, Memory, Store, Val, ValRaw};

use super::{
    Shared, WasmtimeModule,
    call::NO_DEADLINE,
    convert::map_error,
    instance::engine_error,
    linking::{link, prelinked},
    state::{StoreData, store_limits},
};
use crate::{
    deadline::Deadlines,
    shared::{self, StoreLimitValues},
};

/// A function export resolved once.
#[derive(Clone, Copy)]
pub(super) struct Resolved {
    pub(super) func: Func,
    /// Only numbers in and out: safe for the unchecked raw call path.
    pub(super) numeric: bool,
}

/// One instance of a store.
pub(super) struct Member {
    pub(super) id: InstanceId,
    pub(super) module: Arc<dyn WasmModule>,
    pub(super) instance: wasmtime::Instance,
    pub(super) resolved: Vec<Resolved>,
    pub(super) by_name: HashMap<String, usize>,
    pub(super) default_memory: Option<Memory>,
    pub(super) _guard: InstanceGuard,
}

/// A wasmtime store with its instances: usually one (what
/// [`WasmRuntime::instantiate`](plugin_system_core::WasmRuntime::instantiate) gives),
/// several for a [`WasmStore`]. As a [`WasmInstance`] it acts on the instance
/// selected last (`current`); the store-wide state (fuel, deadline, buffers,
/// counters) is kept once.
pub(crate) struct WasmtimeStore {
    pub(super) shared: Arc<Shared>,
    pub(super) store: Store<StoreData>,
    pub(super) members: Vec<Member>,
    pub(super) current: usize,
    /// The memory [`WasmMemory`] methods act on: the one last asked for.
    pub(super) selected_memory: Option<Memory>,
    pub(super) deadlines: Deadlines,
    /// The deadline the store's epoch deadline stands for: a call under the
    /// same one (the next call of an exchange) leaves it as it is.
    pub(super) armed: Option<plugin_system_core::Deadline>,
    pub(super) metered: bool,
    /// Fuel given so far: consumed = budget - left.
    pub(super) fuel_budget: u64,
    pub(super) raw: Vec<ValRaw>,
    pub(super) args: Vec<Val>,
    pub(super) results: Vec<Val>,
    pub(super) calls: u64,
    pub(super) failed_calls: u64,
}

impl WasmtimeStore {
    /// An empty store with the configured limits, fuel and deadline.
    pub(super) fn new(shared: Arc<Shared>) -> Result<Self> {
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
    pub(super) fn add(
        &mut self,
        module: Arc<dyn WasmModule>,
        wt_module: &WasmtimeModule,
        imports: &Imports,
    ) -> Result<InstanceHandle> {
        shared::check_wasi_built(imports)?;
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
