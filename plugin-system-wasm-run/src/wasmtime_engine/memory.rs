//! Memory views: the selected memory of a store, and the caller's memory that
//! host functions see.

use plugin_system_core::{Caller as CoreCaller, Result, WasmError, WasmMemory};
use wasmtime::{Caller, Memory};

use super::{WasmtimeStore, state::StoreData};
use crate::shared;

/// What a host function sees of its caller.
pub(super) struct CallerMemory<'a, 'b> {
    pub(super) caller: &'a mut Caller<'b, StoreData>,
    pub(super) memory: Option<Memory>,
}

impl CoreCaller for CallerMemory<'_, '_> {
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

impl WasmMemory for CallerMemory<'_, '_> {
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

impl WasmMemory for WasmtimeStore {
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
