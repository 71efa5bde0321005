//! The current instance of a store: calls, globals, memories, fuel and deadlines.
//!
//! Every method acts on `members[current]` of the [`WasmiStore`]; fuel, deadline
//! and call counters are the store's.

use std::{sync::Arc, time::Duration};

use plugin_system_core::{
    ExternType, Func, InstanceStats, Result, WasmError, WasmInstance, WasmMemory, WasmModule,
    WasmValue,
};
use wasmi::Val;

use super::{
    call,
    call::Typed,
    convert::{core_val_type, from_val, num_from_val, num_to_val, to_val},
    state::{self, fuel_left},
    store::{Resolved, WasmiStore},
};
use crate::{shared, start_export::START_EXPORT};

impl WasmiStore {
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
        call::run(store, func, &self.args, &mut self.results, &self.deadlines)?;
        for (slot, value) in results.iter_mut().zip(&self.results) {
            *slot = match num_from_val(value) {
                Some(number) => number,
                None => from_val(store, value)?,
            };
        }
        Ok(())
    }

    /// The exported global `name` of the selected instance.
    fn global_export(&self, name: &str) -> Result<wasmi::Global> {
        self.members[self.current]
            .instance
            .get_global(&self.memory.store, name)
            .ok_or_else(|| WasmError::ExportNotFound {
                kind: plugin_system_core::ExportKind::Global,
                name: name.to_string(),
            })
    }

    fn check_metered(&self) -> Result<()> {
        shared::check_metered(self.fuel.metered)
    }
}

impl WasmInstance for WasmiStore {
    fn module(&self) -> &Arc<dyn WasmModule> {
        &self.members[self.current].module
    }

    fn func(&mut self, name: &str) -> Result<Func> {
        let member = &mut self.members[self.current];
        shared::check_not_initializer(member.module.info(), name)?;
        if let Some(index) = member.funcs.iter().position(|f| &*f.name == name) {
            return Ok(Func::new(member.id, index, member.funcs[index].ty.clone()));
        }
        let not_found = || WasmError::ExportNotFound {
            kind: plugin_system_core::ExportKind::Function,
            name: name.to_string(),
        };
        if name == START_EXPORT {
            return Err(not_found());
        }
        let func = member
            .instance
            .get_func(&self.memory.store, name)
            .ok_or_else(not_found)?;
        let Some(ExternType::Func(ty)) = member.module.export(name) else {
            return Err(not_found());
        };
        let ty = ty.clone();
        let typed = Typed::new(&self.memory.store, func, &ty);
        member.funcs.push(Resolved {
            name: name.into(),
            func,
            ty: ty.clone(),
            typed,
        });
        Ok(Func::new(member.id, member.funcs.len() - 1, ty))
    }

    fn call_func(
        &mut self,
        func: &Func,
        args: &[WasmValue],
        results: &mut [WasmValue],
    ) -> Result<()> {
        let member = &self.members[self.current];
        func.check_call(member.id, args, results)?;
        let Some(resolved) = member.funcs.get(func.index()) else {
            return Err(WasmError::type_mismatch(
                "function handle of another instance",
            ));
        };
        let (wasm_func, typed) = (resolved.func, resolved.typed);
        // wasmi's `Caller` does not say which instance calls a host function: the
        // one called from outside is taken as the caller. A field write per call.
        self.memory.store.data_mut().default_memory = member.default_memory;
        self.calls += 1;
        let outcome = match typed {
            Some(typed) if !self.deadlines.is_set() => {
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
        let global = self.global_export(name)?;
        let store = &mut self.memory.store;
        let value = global.get(&*store);
        from_val(store, &value)
    }

    fn set_global(&mut self, name: &str, value: WasmValue) -> Result<()> {
        let global = self.global_export(name)?;
        let store = &mut self.memory.store;
        let ty = global.ty(&*store);
        if !ty.mutability().is_mut() {
            return Err(WasmError::ImmutableGlobal {
                name: name.to_string(),
            });
        }
        if !value.matches(core_val_type(ty.content())) {
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
        self.memory.selected = Some(self.members[self.current].default_memory?);
        Some(&mut self.memory)
    }

    fn memory_named(&mut self, name: &str) -> Result<&mut dyn WasmMemory> {
        let memory = self.members[self.current]
            .instance
            .get_memory(&self.memory.store, name)
            .ok_or_else(|| WasmError::ExportNotFound {
                kind: plugin_system_core::ExportKind::Memory,
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
        self.deadlines.timeout = timeout;
    }

    fn set_deadline(&mut self, deadline: Option<plugin_system_core::Deadline>) -> Result<()> {
        self.deadlines.until = deadline;
        Ok(())
    }

    fn set_memory_limit(&mut self, max_bytes: Option<u64>) -> Result<()> {
        self.memory.store.data_mut().set_memory_cap(max_bytes);
        Ok(())
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
        stats.memory_pages = self.members[self.current]
            .default_memory
            .map(|memory| memory.size(store));
        stats
    }
}
