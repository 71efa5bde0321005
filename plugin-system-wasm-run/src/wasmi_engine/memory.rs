//! Linear memories as [`WasmMemory`]: the instance's, and the caller's inside a host
//! function.
//!
//! A wasmi [`Memory`] is a handle that needs its store for every access, so each
//! view pairs the store (or the caller, which borrows it) with the selected handle.
//! Handing one out is a field write, never an allocation.

use plugin_system_core::{Caller, Result, WasmError, WasmMemory};
use wasmi::{AsContextMut, Memory, Store};

use super::{ENGINE, state::StoreData};

/// An instance's store with one of its memories selected.
pub(crate) struct StoreMemory {
    /// The instance's store: it owns every wasm object of the instance.
    pub(crate) store: Store<StoreData>,
    /// The memory the view reads, set just before the view is handed out.
    pub(crate) selected: Option<Memory>,
}

impl WasmMemory for StoreMemory {
    fn data(&self) -> &[u8] {
        match self.selected {
            Some(memory) => memory.data(&self.store),
            None => &[],
        }
    }

    fn data_mut(&mut self) -> &mut [u8] {
        match self.selected {
            Some(memory) => memory.data_mut(&mut self.store),
            None => &mut [],
        }
    }

    fn grow(&mut self, pages: u64) -> Result<u64> {
        grow(&mut self.store, self.selected, pages)
    }
}

/// What a host function sees of the guest that called it.
pub(crate) struct CallerMemory<'c, 'a> {
    caller: &'c mut wasmi::Caller<'a, StoreData>,
    memory: Option<Memory>,
}

impl<'c, 'a> CallerMemory<'c, 'a> {
    /// The caller, with its default memory.
    pub(crate) fn new(caller: &'c mut wasmi::Caller<'a, StoreData>) -> Self {
        let memory = caller.data().default_memory;
        CallerMemory { caller, memory }
    }
}

impl Caller for CallerMemory<'_, '_> {
    fn memory(&mut self) -> Option<&mut dyn WasmMemory> {
        match self.memory {
            Some(_) => Some(self),
            None => None,
        }
    }

    fn engine(&self) -> &'static str {
        ENGINE
    }

    fn consume_fuel(&mut self, fuel: u64) {
        if !self.caller.data().metered {
            return;
        }
        let left = self.caller.get_fuel().unwrap_or(0);
        let _always_metered = self.caller.set_fuel(left.saturating_sub(fuel));
        // Under a deadline the store holds one slice of the budget: what the
        // slice cannot pay comes out of the rest when the call resumes.
        let state = self.caller.data_mut();
        state.fuel_debt = state.fuel_debt.saturating_add(fuel.saturating_sub(left));
    }
}

impl WasmMemory for CallerMemory<'_, '_> {
    fn data(&self) -> &[u8] {
        match self.memory {
            Some(memory) => memory.data(&*self.caller),
            None => &[],
        }
    }

    fn data_mut(&mut self) -> &mut [u8] {
        match self.memory {
            Some(memory) => memory.data_mut(&mut *self.caller),
            None => &mut [],
        }
    }

    fn grow(&mut self, pages: u64) -> Result<u64> {
        grow(&mut *self.caller, self.memory, pages)
    }
}

/// Grows `memory` by `pages` and returns its previous size in pages.
fn grow(
    mut ctx: impl AsContextMut<Data = StoreData>,
    memory: Option<Memory>,
    pages: u64,
) -> Result<u64> {
    let Some(memory) = memory else {
        return Err(crate::shared::no_memory());
    };
    let before = memory.size(&ctx);
    memory.grow(&mut ctx, pages).map_err(|_| {
        let maximum = memory.ty(&ctx).maximum();
        let limit = ctx.as_context_mut().data().limit_values.memory_pages();
        let bound = match (maximum, limit) {
            (Some(max), Some(limit)) => format!("maximum {max}, limit {limit} pages"),
            (Some(max), None) => format!("maximum {max} pages"),
            (None, Some(limit)) => format!("limit {limit} pages"),
            (None, None) => "address space".into(),
        };
        WasmError::MemoryLimit {
            message: format!("cannot grow a memory of {before} pages by {pages} ({bound})"),
        }
    })
}
