//! Linear memories as [`WasmMemory`]: the instance's, and the caller's inside a
//! host function.
//!
//! A browser's memory is an `ArrayBuffer` outside this program's own memory,
//! so no `&[u8]` can point into it. A view keeps a copy (`mirror`), taken when
//! the view is handed out: no guest code runs while the view is borrowed, so
//! the copy stays true. Writes through [`WasmMemory::write`] go to both; the
//! ones through [`WasmMemory::data_mut`] mark the copy dirty, and it is written
//! back before guest code runs again. The cost is a copy of the whole memory
//! per view handed out.

use js_sys::{Uint8Array, WebAssembly};
use plugin_system_core::{Caller, Result, WasmError, WasmMemory, checked_range};
use wasm_bindgen::{JsValue, prelude::wasm_bindgen};

use super::{ENGINE, convert::js_message, state::HostState};

#[wasm_bindgen(
    inline_js = "export function try_grow(memory, pages) { return memory.grow(pages); }"
)]
extern "C" {
    // `Memory.prototype.grow` throws a `RangeError` past the maximum; js-sys's
    // binding does not catch, and an uncaught throw would abort the host.
    #[wasm_bindgen(catch)]
    fn try_grow(memory: &WebAssembly::Memory, pages: u32) -> Result<u32, JsValue>;
}

/// A view of a browser memory (see the module docs).
pub(crate) struct WebMemory {
    js: WebAssembly::Memory,
    mirror: Vec<u8>,
    dirty: bool,
}

impl WebMemory {
    /// A view of `js`, with its contents copied now.
    pub(crate) fn new(js: WebAssembly::Memory) -> Self {
        let mut view = WebMemory {
            js,
            mirror: Vec::new(),
            dirty: false,
        };
        view.refresh();
        view
    }

    /// The memory's current bytes (a new `Uint8Array` each time: growing
    /// detaches the old buffer).
    fn bytes(&self) -> Uint8Array {
        Uint8Array::new(&self.js.buffer())
    }

    /// Copies the memory into the mirror, after writing back what is dirty.
    pub(crate) fn refresh(&mut self) {
        self.flush();
        let bytes = self.bytes();
        self.mirror.resize(bytes.length() as usize, 0);
        bytes.copy_to(&mut self.mirror);
    }

    /// Writes the mirror back when `data_mut` may have changed it.
    pub(crate) fn flush(&mut self) {
        if self.dirty {
            self.bytes().copy_from(&self.mirror);
            self.dirty = false;
        }
    }
}

impl WasmMemory for WebMemory {
    fn data(&self) -> &[u8] {
        &self.mirror
    }

    fn data_mut(&mut self) -> &mut [u8] {
        self.dirty = true;
        &mut self.mirror
    }

    fn write(&mut self, offset: u64, bytes: &[u8]) -> Result<()> {
        let range = checked_range(offset, bytes.len(), self.mirror.len())?;
        self.mirror[range.clone()].copy_from_slice(bytes);
        // The range is within the memory, which is as long as the mirror.
        self.bytes()
            .subarray(range.start as u32, range.end as u32)
            .copy_from(bytes);
        Ok(())
    }

    fn grow(&mut self, pages: u64) -> Result<u64> {
        self.flush();
        let before = self.mirror.len() as u64 / plugin_system_core::PAGE_SIZE;
        let refused = |why: String| WasmError::MemoryLimit {
            message: format!("cannot grow a memory of {before} pages by {pages} ({why})"),
        };
        let asked = u32::try_from(pages).map_err(|_| refused("past the address space".into()))?;
        let previous = try_grow(&self.js, asked).map_err(|thrown| refused(js_message(&thrown)))?;
        // New pages are zeros: the mirror grows to match without a copy.
        let size = self.bytes().length() as usize;
        self.mirror.resize(size, 0);
        Ok(u64::from(previous))
    }
}

/// What a host function sees of the guest that called it: the instance's
/// memory, copied when first asked for.
pub(crate) struct CallerMemory<'s> {
    state: &'s HostState,
    view: Option<WebMemory>,
}

impl<'s> CallerMemory<'s> {
    pub(crate) fn new(state: &'s HostState) -> Self {
        CallerMemory { state, view: None }
    }

    /// Writes back what the host function changed through `data_mut`.
    pub(crate) fn finish(mut self) {
        if let Some(view) = &mut self.view {
            view.flush();
        }
    }
}

impl Caller for CallerMemory<'_> {
    fn memory(&mut self) -> Option<&mut dyn WasmMemory> {
        if self.view.is_none() {
            let memory = self.state.memory.borrow().clone()?;
            self.view = Some(WebMemory::new(memory));
        }
        self.view.as_mut().map(|view| view as &mut dyn WasmMemory)
    }

    fn engine(&self) -> &'static str {
        ENGINE
    }

    fn consume_fuel(&mut self, fuel: u64) {
        if let Some(left) = self.state.fuel_left() {
            // Below zero the guest traps at its next charge, as documented.
            let fuel = i64::try_from(fuel).unwrap_or(i64::MAX);
            self.state.set_fuel_left(left.saturating_sub(fuel));
        }
    }
}
