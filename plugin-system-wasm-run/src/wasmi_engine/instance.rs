//! An instance in its own store: calls, globals, memories, fuel and deadlines.

use std::{
    panic::{AssertUnwindSafe, catch_unwind},
    sync::Arc,
    time::Duration,
};

use plugin_system_core::{
    ExternType, Func, FuncType, Imports, InstanceGuard, InstanceId, InstanceStats, Result,
    RuntimeCounters, WasmError, WasmInstance, WasmMemory, WasmModule, WasmRuntimeConfig, WasmValue,
};
use wasmi::{Memory, Val};

use super::{
    ENGINE, WasmiModule, call,
    convert::{
        core_val_type, from_val, map_error, num_from_val, num_to_val, to_val, wasmi_val_type,
    },
    linking,
    memory::StoreMemory,
    start::START_EXPORT,
    state::{self, fuel_left},
    typed::Typed,
};
use crate::shared;

/// An instance of a [`WasmiModule`], owning its store.
pub(crate) struct WasmiInstance {
    id: InstanceId,
    module: Arc<dyn WasmModule>,
    /// The store, with the memory that [`WasmInstance::memory`] last selected.
    memory: StoreMemory,
    instance: wasmi::Instance,
    default_memory: Option<Memory>,
    /// Functions resolved by [`WasmInstance::func`]; a core `Func` indexes this.
    funcs: Vec<Resolved>,
    /// Argument buffer, reused by every call.
    args: Vec<Val>,
    /// Result buffer, reused by every call.
    results: Vec<Val>,
    fuel: FuelBook,
    timeout: Option<Duration>,
    calls: u64,
    failed_calls: u64,
    _counted: InstanceGuard,
}

/// An exported function resolved once.
struct Resolved {
    name: Box<str>,
    func: wasmi::Func,
    ty: FuncType,
    /// The typed form, for the signatures that have one.
    typed: Option<Typed>,
}

/// Fuel burnt so far, kept without any work per call: the store's fuel only goes
/// down between two [`WasmInstance::set_fuel`]s, so the burn since the last one is
/// what it was set to minus what is left.
struct FuelBook {
    metered: bool,
    last_set: u64,
    burnt_before: u64,
}

impl WasmiInstance {
    /// Links `module` against `imports` in a new store, instantiates it and runs its
    /// start function.
    pub(crate) fn new(
        engine: &wasmi::Engine,
        config: &WasmRuntimeConfig,
        counters: &Arc<RuntimeCounters>,
        module: &Arc<dyn WasmModule>,
        imports: &Imports,
    ) -> Result<Self> {
        let Some(compiled) = module.as_any().downcast_ref::<WasmiModule>() else {
            return Err(WasmError::ForeignModule {
                engine: ENGINE,
                module_engine: module.engine().to_string(),
            });
        };
        if !wasmi::Engine::same(compiled.module.engine(), engine) {
            return Err(WasmError::ForeignModule {
                engine: ENGINE,
                module_engine: format!("{ENGINE} (another runtime)"),
            });
        }
        shared::check_limits(&compiled.info, imports, config)?;

        let mut store = state::new_store(engine, config);
        let linker = linking::link(&mut store, &compiled.info, imports)?;
        let instance = catch_unwind(AssertUnwindSafe(|| {
            linker.instantiate_and_start(&mut store, &compiled.module)
        }))
        .map_err(|_| WasmError::Engine {
            message: "wasmi panicked while instantiating".into(),
        })?
        .map_err(map_error)?;
        let default_memory = shared::default_memory(&compiled.info)
            .and_then(|name| instance.get_memory(&store, &name));
        store.data_mut().default_memory = default_memory;
        if compiled.start_hoisted
            && let Some(start) = instance.get_func(&store, START_EXPORT)
        {
            call::run(&mut store, start, &[], &mut [], config.timeout)?;
        }

        let initial_fuel = config.fuel_limit.unwrap_or(state::UNMETERED_FUEL);
        Ok(WasmiInstance {
            id: InstanceId::next(),
            module: Arc::clone(module),
            memory: StoreMemory {
                store,
                selected: default_memory,
            },
            instance,
            default_memory,
            funcs: Vec::new(),
            args: Vec::new(),
            results: Vec::new(),
            fuel: FuelBook {
                metered: config.fuel_limit.is_some(),
                last_set: initial_fuel,
                burnt_before: 0,
            },
            timeout: config.timeout,
            calls: 0,
            failed_calls: 0,
            _counted: counters.instance_created(),
        })
    }

    /// Converts the arguments, calls, and converts the results, through the reusable
    /// buffers.
    fn call_checked(
        &mut self,
        func: wasmi::Func,
        args: &[WasmValue],
        results: &mut [WasmValue],
    ) -> Result<()> {
        let store = &mut self.memory.store;
        // Numbers are written straight into the buffers; references take the slow
        // path, which needs the store.
        self.args.clear();
        for arg in args {
            let value = match num_to_val(arg) {
                Some(number) => number,
                None => to_val(store, arg)?,
            };
            self.args.push(value);
        }
        self.results.clear();
        self.results.resize(results.len(), Val::I32(0));
        call::run(store, func, &self.args, &mut self.results, self.timeout)?;
        for (slot, value) in results.iter_mut().zip(&self.results) {
            *slot = match num_from_val(value) {
                Some(number) => number,
                None => from_val(store, value)?,
            };
        }
        Ok(())
    }

    fn check_metered(&self) -> Result<()> {
        if self.fuel.metered {
            Ok(())
        } else {
            Err(WasmError::Unsupported {
                feature: "fuel metering (set fuel_limit in the config)".into(),
            })
        }
    }
}

impl WasmInstance for WasmiInstance {
    fn module(&self) -> &Arc<dyn WasmModule> {
        &self.module
    }

    fn func(&mut self, name: &str) -> Result<Func> {
        if let Some(index) = self.funcs.iter().position(|f| &*f.name == name) {
            return Ok(Func::new(self.id, index, self.funcs[index].ty.clone()));
        }
        let not_found = || WasmError::ExportNotFound {
            kind: "function",
            name: name.to_string(),
        };
        if name == START_EXPORT {
            return Err(not_found());
        }
        let func = self
            .instance
            .get_func(&self.memory.store, name)
            .ok_or_else(not_found)?;
        let Some(ExternType::Func(ty)) = self.module.export(name) else {
            return Err(not_found());
        };
        let ty = ty.clone();
        let typed = Typed::new(&self.memory.store, func, &ty);
        self.funcs.push(Resolved {
            name: name.into(),
            func,
            ty: ty.clone(),
            typed,
        });
        Ok(Func::new(self.id, self.funcs.len() - 1, ty))
    }

    fn call_func(
        &mut self,
        func: &Func,
        args: &[WasmValue],
        results: &mut [WasmValue],
    ) -> Result<()> {
        func.check_call(self.id, args, results)?;
        let Some(resolved) = self.funcs.get(func.index()) else {
            return Err(WasmError::type_mismatch(
                "function handle of another instance",
            ));
        };
        let (wasm_func, typed) = (resolved.func, resolved.typed);
        self.calls += 1;
        let outcome = match typed {
            Some(typed) if self.timeout.is_none() => {
                call::run_typed(&mut self.memory.store, typed, args, results)
            }
            _ => self.call_checked(wasm_func, args, results),
        };
        if outcome.is_err() {
            self.failed_calls += 1;
        }
        outcome
    }

    fn global(&mut self, name: &str) -> Result<WasmValue> {
        let store = &mut self.memory.store;
        let global =
            self.instance
                .get_global(&*store, name)
                .ok_or_else(|| WasmError::ExportNotFound {
                    kind: "global",
                    name: name.to_string(),
                })?;
        let value = global.get(&*store);
        from_val(store, &value)
    }

    fn set_global(&mut self, name: &str, value: WasmValue) -> Result<()> {
        let store = &mut self.memory.store;
        let global =
            self.instance
                .get_global(&*store, name)
                .ok_or_else(|| WasmError::ExportNotFound {
                    kind: "global",
                    name: name.to_string(),
                })?;
        let ty = global.ty(&*store);
        if !ty.mutability().is_mut() {
            return Err(WasmError::ImmutableGlobal {
                name: name.to_string(),
            });
        }
        if wasmi_val_type(value.ty()) != ty.content() {
            return Err(WasmError::type_mismatch(format!(
                "global `{name}` holds {}, given {}",
                core_val_type(ty.content()),
                value.ty()
            )));
        }
        let value = to_val(store, &value)?;
        global
            .set(store, value)
            .map_err(|e| WasmError::type_mismatch(format!("global `{name}`: {e}")))
    }

    fn memory(&mut self) -> Option<&mut dyn WasmMemory> {
        self.memory.selected = Some(self.default_memory?);
        Some(&mut self.memory)
    }

    fn memory_named(&mut self, name: &str) -> Result<&mut dyn WasmMemory> {
        let memory = self
            .instance
            .get_memory(&self.memory.store, name)
            .ok_or_else(|| WasmError::ExportNotFound {
                kind: "memory",
                name: name.to_string(),
            })?;
        self.memory.selected = Some(memory);
        Ok(&mut self.memory)
    }

    fn fuel(&self) -> Result<u64> {
        self.check_metered()?;
        Ok(fuel_left(&self.memory.store))
    }

    fn set_fuel(&mut self, fuel: u64) -> Result<()> {
        self.check_metered()?;
        let store = &mut self.memory.store;
        let burnt = self.fuel.last_set.saturating_sub(fuel_left(store));
        self.fuel.burnt_before = self.fuel.burnt_before.saturating_add(burnt);
        self.fuel.last_set = fuel;
        state::set_fuel(store, fuel);
        Ok(())
    }

    fn set_timeout(&mut self, timeout: Option<Duration>) {
        self.timeout = timeout;
    }

    fn stats(&mut self) -> InstanceStats {
        let store = &self.memory.store;
        let mut stats = InstanceStats::default();
        stats.calls = self.calls;
        stats.failed_calls = self.failed_calls;
        stats.fuel_consumed = self.fuel.metered.then(|| {
            let since_last_set = self.fuel.last_set.saturating_sub(fuel_left(store));
            self.fuel.burnt_before.saturating_add(since_last_set)
        });
        stats.memory_pages = self.default_memory.map(|memory| memory.size(store));
        stats
    }
}
