//! A wasmi store of one or more instances: instantiation, and [`WasmStore`].
//!
//! [`WasmiStore`] is both the store and, through its `current` member, the
//! instance the [`WasmInstance`] methods act on (see [`instance`](super::instance)):
//! handing out an instance of the store is an index write, never an allocation.

use std::{
    panic::{AssertUnwindSafe, catch_unwind},
    sync::Arc,
};

use plugin_system_core::{
    FuncType, Imports, InstanceGuard, InstanceHandle, InstanceId, Result, RuntimeCounters,
    WasmError, WasmInstance, WasmModule, WasmRuntimeConfig, WasmStore,
};
use wasmi::{Memory, Val};

use super::{
    ENGINE, WasmiModule, call, call::Typed, convert::map_error, linking, memory::StoreMemory, state,
};
use crate::{deadline::Deadlines, shared, start_export::START_EXPORT};

/// A wasmi store with its instances.
///
/// What belongs to one instance is in its [`Member`]; the rest (fuel, deadline,
/// buffers, call counters, the memory view) is shared by every instance of the store,
/// as wasmi shares fuel and limits store-wide anyway.
pub(crate) struct WasmiStore {
    engine: wasmi::Engine,
    config: Arc<WasmRuntimeConfig>,
    counters: Arc<RuntimeCounters>,
    /// The store, with the memory that [`WasmInstance::memory`] last selected.
    pub(super) memory: StoreMemory,
    /// The instances, by [`InstanceHandle`] index.
    pub(super) members: Vec<Member>,
    /// The member the [`WasmInstance`] methods act on. Always a valid index once
    /// the store is seen as an instance: an empty store never is.
    pub(super) current: usize,
    /// Argument buffer, reused by every call.
    pub(super) args: Vec<Val>,
    /// Result buffer, reused by every call.
    pub(super) results: Vec<Val>,
    pub(super) fuel: FuelBook,
    pub(super) deadlines: Deadlines,
    pub(super) calls: u64,
    pub(super) failed_calls: u64,
}

/// One instance of a store.
pub(super) struct Member {
    pub(super) id: InstanceId,
    pub(super) module: Arc<dyn WasmModule>,
    pub(super) instance: wasmi::Instance,
    /// Its default memory, which host functions see as the caller's memory.
    pub(super) default_memory: Option<Memory>,
    /// Functions resolved by [`WasmInstance::func`]; a core `Func` indexes this.
    pub(super) funcs: Vec<Resolved>,
    _counted: InstanceGuard,
}

/// An exported function resolved once.
pub(super) struct Resolved {
    pub(super) name: Box<str>,
    pub(super) func: wasmi::Func,
    pub(super) ty: FuncType,
    /// The typed form, for the signatures that have one.
    pub(super) typed: Option<Typed>,
}

/// Fuel burnt so far, kept without any work per call: the store's fuel only goes
/// down between two [`WasmInstance::set_fuel`]s, so the burn since the last one is
/// what it was set to minus what is left.
pub(super) struct FuelBook {
    pub(super) metered: bool,
    pub(super) last_set: u64,
    pub(super) burnt_before: u64,
}

/// Whether an instantiation may import exports of the store's other instances.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Linking {
    /// A store made for this one instance ([`WasmRuntime::instantiate`]).
    ///
    /// [`WasmRuntime::instantiate`]: plugin_system_core::WasmRuntime::instantiate
    Alone,
    /// A store made by [`WasmRuntime::new_store`].
    ///
    /// [`WasmRuntime::new_store`]: plugin_system_core::WasmRuntime::new_store
    Shared,
}

impl WasmiStore {
    /// A store without instances, with the configured limits and fuel.
    pub(crate) fn new(
        engine: &wasmi::Engine,
        config: &Arc<WasmRuntimeConfig>,
        counters: &Arc<RuntimeCounters>,
    ) -> Self {
        let store = state::new_store(engine, config);
        let initial_fuel = config.fuel_limit.unwrap_or(state::UNMETERED_FUEL);
        WasmiStore {
            engine: engine.clone(),
            config: Arc::clone(config),
            counters: Arc::clone(counters),
            memory: StoreMemory {
                store,
                selected: None,
            },
            members: Vec::new(),
            current: 0,
            args: Vec::new(),
            results: Vec::new(),
            fuel: FuelBook {
                metered: config.fuel_limit.is_some(),
                last_set: initial_fuel,
                burnt_before: 0,
            },
            deadlines: Deadlines::new(config.timeout),
            calls: 0,
            failed_calls: 0,
        }
    }

    /// Links `module` against `imports`, instantiates it in this store and runs its
    /// start function under the store's fuel and deadline. The new instance becomes
    /// the current one.
    ///
    /// When the start function fails, the instance is not added, but what it did to
    /// imported memories, tables and globals stays done, as the spec wants.
    pub(crate) fn add(
        &mut self,
        module: &Arc<dyn WasmModule>,
        imports: &Imports,
        linking: Linking,
    ) -> Result<InstanceHandle> {
        let Some(compiled) = module.as_any().downcast_ref::<WasmiModule>() else {
            return Err(WasmError::ForeignModule {
                engine: ENGINE,
                module_engine: module.engine().to_string(),
            });
        };
        if !wasmi::Engine::same(compiled.module.engine(), &self.engine) {
            return Err(WasmError::ForeignModule {
                engine: ENGINE,
                module_engine: format!("{ENGINE} (another runtime)"),
            });
        }
        let limits = self.memory.store.data().limit_values;
        shared::check_limits(&compiled.info, imports, limits)?;
        shared::check_wasi_built(imports)?;

        // A handful of handles, once per instantiation: not a hot path.
        let exporters: Option<Vec<wasmi::Instance>> = (linking == Linking::Shared)
            .then(|| self.members.iter().map(|member| member.instance).collect());
        let store = &mut self.memory.store;
        #[cfg(feature = "wasi")]
        {
            let world = &mut store.data_mut().wasi;
            crate::wasi::prepare(world, &self.config, imports, &compiled.info)?;
        }
        let linker = linking::link(
            store,
            &compiled.info,
            imports,
            exporters.as_deref(),
            shared::wasi_served(&self.config, imports),
        )?;
        // A start function wasmi runs itself (one the rewrite left in place) has no
        // instance memory to show host functions yet.
        store.data_mut().default_memory = None;
        let instance = catch_unwind(AssertUnwindSafe(|| {
            linker.instantiate_and_start(&mut *store, &compiled.module)
        }))
        .map_err(|_| WasmError::engine("wasmi panicked while instantiating"))?
        .map_err(map_error)?;
        let default_memory = shared::default_memory(&compiled.info)
            .and_then(|name| instance.get_memory(&*store, &name));
        if compiled.start_hoisted
            && let Some(start) = instance.get_func(&*store, START_EXPORT)
        {
            // The start function is the caller of any host function it calls.
            store.data_mut().default_memory = default_memory;
            call::run(store, start, &[], &mut [], &self.deadlines)?;
        }
        // A reactor's set-up, under the same fuel and deadline as any call.
        if let Some(init) =
            shared::initializer(&compiled.info).and_then(|name| instance.get_func(&*store, name))
        {
            store.data_mut().default_memory = default_memory;
            let outcome = call::run(store, init, &[], &mut [], &self.deadlines);
            shared::initialized(outcome)?;
        }

        self.members.push(Member {
            id: InstanceId::next(),
            module: Arc::clone(module),
            instance,
            default_memory,
            funcs: Vec::new(),
            _counted: self.counters.instance_created(),
        });
        self.current = self.members.len() - 1;
        Ok(InstanceHandle::from_index(self.current))
    }
}

impl WasmStore for WasmiStore {
    fn instantiate(
        &mut self,
        module: &Arc<dyn WasmModule>,
        imports: &Imports,
    ) -> Result<InstanceHandle> {
        self.add(module, imports, Linking::Shared)
    }

    fn instance(&mut self, handle: InstanceHandle) -> Result<&mut dyn WasmInstance> {
        self.current = handle.checked_index(self.members.len())?;
        Ok(self)
    }
}
