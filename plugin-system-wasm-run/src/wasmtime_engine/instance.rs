//! The current instance of a store: calls, globals, memories, fuel and deadlines.
//!
//! Every method acts on `members[current]` of the [`WasmtimeStore`]; fuel, deadline
//! and call counters are the store's.

use std::{sync::Arc, time::Duration};

use plugin_system_core::{
    ExternType, Func as CoreFunc, InstanceStats, Result, WasmError, WasmInstance, WasmMemory,
    WasmModule, WasmValue,
};
use wasmtime::Global;

use super::{
    WasmtimeStore,
    convert::{from_val, to_val},
    state::store_limits,
    store::{Member, Resolved},
};
use crate::shared;

pub(super) fn engine_error(e: wasmtime::Error) -> WasmError {
    WasmError::engine(e)
}

impl WasmtimeStore {
    /// The selected instance. A store handed out as an instance always has one.
    fn member(&self) -> &Member {
        &self.members[self.current]
    }

    fn check_metered(&self) -> Result<()> {
        shared::check_metered(self.metered)
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
        shared::check_not_initializer(member.module.info(), name)?;
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
        self.check_metered()?;
        self.store.get_fuel().map_err(engine_error)
    }

    fn set_fuel(&mut self, fuel: u64) -> Result<()> {
        self.check_metered()?;
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
