//! The instance of a [`WebStore`]: calls, globals, memories, fuel; deadlines
//! refused plainly.

use std::{sync::Arc, time::Duration};

use js_sys::{Function, WebAssembly};
use plugin_system_core::{
    ExportKind, ExternType, Func, InstanceStats, Result, WasmError, WasmInstance, WasmMemory,
    WasmModule, WasmValue,
};

use super::{
    call,
    convert::{from_js, to_js},
    memory::WebMemory,
    store::{Resolved, WebStore},
    unsupported,
};
use crate::shared;

/// The error of asking for fuel on a runtime without a fuel limit.
fn not_metered() -> WasmError {
    shared::check_metered(false).unwrap_err()
}

/// The error of a call under a deadline.
fn no_deadlines() -> WasmError {
    unsupported("deadlines on the web engine (a call on the page's thread cannot be interrupted)")
}

impl WebStore {
    /// The exported global `name` and its type.
    fn global_export(
        &self,
        name: &str,
    ) -> Result<(WebAssembly::Global, plugin_system_core::GlobalType)> {
        let not_found = || WasmError::ExportNotFound {
            kind: ExportKind::Global,
            name: name.to_string(),
        };
        let member = self.member();
        let Some(ExternType::Global(ty)) = member.module.export(name) else {
            return Err(not_found());
        };
        let ty = *ty;
        let global = member
            .export::<WebAssembly::Global>(name)
            .ok_or_else(not_found)?;
        Ok((global, ty))
    }

    /// Hands out a fresh view of `memory` (writing back the last view's changes
    /// first: the old view may be dirty).
    fn view(&mut self, memory: WebAssembly::Memory) -> &mut dyn WasmMemory {
        if let Some(old) = &mut self.view {
            old.flush();
        }
        self.view.insert(WebMemory::new(memory))
    }
}

impl WasmInstance for WebStore {
    fn module(&self) -> &Arc<dyn WasmModule> {
        &self.member().module
    }

    fn func(&mut self, name: &str) -> Result<Func> {
        let member = self.member_mut();
        shared::check_not_initializer(member.module.info(), name)?;
        if let Some(index) = member.funcs.iter().position(|f| &*f.name == name) {
            return Ok(Func::new(member.id, index, member.funcs[index].ty.clone()));
        }
        let not_found = || WasmError::ExportNotFound {
            kind: ExportKind::Function,
            name: name.to_string(),
        };
        let Some(ExternType::Func(ty)) = member.module.export(name) else {
            return Err(not_found());
        };
        let ty = ty.clone();
        let function = member.export::<Function>(name).ok_or_else(not_found)?;
        member.funcs.push(Resolved {
            name: name.into(),
            function,
            ty: ty.clone(),
        });
        Ok(Func::new(member.id, member.funcs.len() - 1, ty))
    }

    fn call_func(
        &mut self,
        func: &Func,
        args: &[WasmValue],
        results: &mut [WasmValue],
    ) -> Result<()> {
        func.check_call(self.member().id, args, results)?;
        if self.timeout.is_some() {
            return Err(no_deadlines());
        }
        // What a host wrote through a view's `data_mut` reaches the guest now.
        if let Some(view) = &mut self.view {
            view.flush();
        }
        let member = &self.members[self.current];
        let Some(resolved) = member.funcs.get(func.index()) else {
            return Err(WasmError::type_mismatch(
                "function handle of another instance",
            ));
        };
        self.calls += 1;
        let outcome = call::run(
            &resolved.function,
            &resolved.ty,
            args,
            results,
            &member.state,
        );
        if outcome.is_err() {
            self.failed_calls += 1;
        }
        outcome
    }

    fn global(&mut self, name: &str) -> Result<WasmValue> {
        let (global, ty) = self.global_export(name)?;
        from_js(&global.value(), ty.content, &self.member().state)
    }

    fn set_global(&mut self, name: &str, value: WasmValue) -> Result<()> {
        let (global, ty) = self.global_export(name)?;
        if !ty.mutable {
            return Err(WasmError::ImmutableGlobal {
                name: name.to_string(),
            });
        }
        if !value.matches(ty.content) {
            return Err(WasmError::type_mismatch(format!(
                "global `{name}` holds {}, given {}",
                ty.content,
                value.ty()
            )));
        }
        global.set_value(&to_js(&value, &self.member().state)?);
        Ok(())
    }

    fn memory(&mut self) -> Option<&mut dyn WasmMemory> {
        let memory = self.member().state.memory.borrow().clone()?;
        Some(self.view(memory))
    }

    fn memory_named(&mut self, name: &str) -> Result<&mut dyn WasmMemory> {
        let not_found = || WasmError::ExportNotFound {
            kind: ExportKind::Memory,
            name: name.to_string(),
        };
        if !matches!(
            self.member().module.export(name),
            Some(ExternType::Memory(_))
        ) {
            return Err(not_found());
        }
        let memory = self
            .member()
            .export::<WebAssembly::Memory>(name)
            .ok_or_else(not_found)?;
        Ok(self.view(memory))
    }

    fn fuel(&self) -> Result<u64> {
        // Every member's state holds the store's one counter.
        let left = self.member().state.fuel_left().ok_or_else(not_metered)?;
        Ok(u64::try_from(left).unwrap_or(0))
    }

    fn set_fuel(&mut self, fuel: u64) -> Result<()> {
        let left = self.fuel()?;
        let burnt = self.fuel_last_set.saturating_sub(left);
        self.fuel_burnt_before = self.fuel_burnt_before.saturating_add(burnt);
        self.fuel_last_set = fuel;
        self.member()
            .state
            .set_fuel_left(i64::try_from(fuel).unwrap_or(i64::MAX));
        Ok(())
    }

    /// Keeps the timeout, and every call under it fails with
    /// [`WasmError::Unsupported`]: this method cannot fail itself, and a
    /// timeout silently ignored would let a host believe a plugin is bounded.
    fn set_timeout(&mut self, timeout: Option<Duration>) {
        self.timeout = timeout;
    }

    fn set_deadline(&mut self, deadline: Option<plugin_system_core::Deadline>) -> Result<()> {
        match deadline {
            None => Ok(()),
            Some(_) => Err(no_deadlines()),
        }
    }

    /// Succeeds only when the limits stay those the store's modules were
    /// compiled with: a JS memory's maximum can be neither lowered nor raised.
    fn set_memory_limit(&mut self, max_bytes: Option<u64>) -> Result<()> {
        if self.runtime_limits.capped(max_bytes) == self.limits {
            return Ok(());
        }
        Err(unsupported(
            "changing a memory cap after instantiation on the web engine \
             (give it to instantiate_with_limits)",
        ))
    }

    fn stats(&mut self) -> InstanceStats {
        let mut stats = InstanceStats::default();
        stats.calls = self.calls;
        stats.failed_calls = self.failed_calls;
        let state = &self.members[self.current].state;
        stats.fuel_consumed = state.fuel_left().map(|left| {
            let left = u64::try_from(left).unwrap_or(0);
            let since_last_set = self.fuel_last_set.saturating_sub(left);
            self.fuel_burnt_before.saturating_add(since_last_set)
        });
        stats.memory_pages = state.memory.borrow().as_ref().map(|memory| {
            let bytes = js_sys::Uint8Array::new(&memory.buffer()).length();
            u64::from(bytes) / plugin_system_core::PAGE_SIZE
        });
        stats
    }
}
