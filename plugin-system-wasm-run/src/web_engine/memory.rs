//! Linear memories as [`WasmMemory`]: the instance's, and the caller's inside a
//! host function.
//!
//! A browser's memory is an `ArrayBuffer` outside this program's own memory,
//! so no `&[u8]` can point into it. Reads, writes, C strings and the size go
//! to the browser directly, copying only the bytes asked for (`bytes_at` too,
//! unless a copy exists). `data` and
//! `data_mut` need a slice: the view then copies the whole memory once
//! (`mirror`), which stays true while the view is borrowed, since no guest
//! code runs meanwhile; writes go to both, and a copy handed out by `data_mut`
//! is written back before guest code runs again.

use js_sys::{Uint8Array, WebAssembly};
use std::{borrow::Cow, cell::OnceCell};

use plugin_system_core::{Caller, GuestPtr, Result, WasmError, WasmMemory, checked_range};
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
    /// A copy of the whole memory, taken the first time `data` or `data_mut`
    /// asks for a slice; reads, writes and `size` go to the browser without it.
    mirror: OnceCell<Vec<u8>>,
    /// Whether `data_mut` handed out the copy, which must then be written back.
    dirty: bool,
}

impl WebMemory {
    /// A view of `js`. Nothing is copied yet.
    pub(crate) fn new(js: WebAssembly::Memory) -> Self {
        WebMemory {
            js,
            mirror: OnceCell::new(),
            dirty: false,
        }
    }

    /// The memory's current bytes (a new `Uint8Array` each time: growing
    /// detaches the old buffer). Making one copies nothing.
    fn bytes(&self) -> Uint8Array {
        Uint8Array::new(&self.js.buffer())
    }

    /// The copy, taken now if it was not yet.
    fn mirror(&self) -> &Vec<u8> {
        self.mirror.get_or_init(|| {
            let bytes = self.bytes();
            let mut copy = vec![0; bytes.length() as usize];
            bytes.copy_to(&mut copy);
            copy
        })
    }

    /// Writes the copy back when `data_mut` may have changed it.
    pub(crate) fn flush(&mut self) {
        if self.dirty
            && let Some(mirror) = self.mirror.get()
        {
            self.bytes().copy_from(mirror);
            self.dirty = false;
        }
    }

    /// The bytes of `range` (within the memory), from the copy if there is
    /// one (it is as current), else straight from the browser.
    fn read_range(&self, range: std::ops::Range<usize>, buf: &mut [u8]) {
        match self.mirror.get() {
            Some(mirror) => buf.copy_from_slice(&mirror[range]),
            // The range is within the memory, whose length is a `u32` here.
            None => self
                .bytes()
                .subarray(range.start as u32, range.end as u32)
                .copy_to(buf),
        }
    }
}

impl WasmMemory for WebMemory {
    fn data(&self) -> &[u8] {
        self.mirror()
    }

    fn data_mut(&mut self) -> &mut [u8] {
        self.mirror();
        self.dirty = true;
        self.mirror
            .get_mut()
            .map_or(&mut [], |mirror| mirror.as_mut_slice())
    }

    fn size(&self) -> u64 {
        match self.mirror.get() {
            Some(mirror) => mirror.len() as u64,
            None => u64::from(self.bytes().length()),
        }
    }

    fn read(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        let range = checked_range(offset, buf.len(), self.size() as usize)?;
        self.read_range(range, buf);
        Ok(())
    }

    fn read_vec(&self, offset: u64, len: usize) -> Result<Vec<u8>> {
        let range = checked_range(offset, len, self.size() as usize)?;
        let mut buf = vec![0; len];
        self.read_range(range, &mut buf);
        Ok(buf)
    }

    fn bytes_at(&self, offset: u64, len: usize) -> Result<Cow<'_, [u8]>> {
        match self.mirror.get() {
            Some(mirror) => {
                let range = checked_range(offset, len, mirror.len())?;
                Ok(Cow::Borrowed(&mirror[range]))
            }
            None => self.read_vec(offset, len).map(Cow::Owned),
        }
    }

    fn read_cstr_bytes(&self, ptr: GuestPtr, max_len: usize) -> Result<Vec<u8>> {
        // As the default, without copying the whole memory for one string.
        let size = self.size() as usize;
        let start = checked_range(ptr.offset(), 1, size)?.start;
        let end = size.min(start.saturating_add(max_len));
        let window = self.read_vec(start as u64, end - start)?;
        match window.iter().position(|&b| b == 0) {
            Some(nul) => Ok(window[..nul].to_vec()),
            None => Err(WasmError::GuestData {
                message: format!(
                    "no NUL ends the string at {ptr} within {} bytes",
                    window.len()
                ),
            }),
        }
    }

    fn write(&mut self, offset: u64, bytes: &[u8]) -> Result<()> {
        let range = checked_range(offset, bytes.len(), self.size() as usize)?;
        if let Some(mirror) = self.mirror.get_mut() {
            mirror[range.clone()].copy_from_slice(bytes);
        }
        // The range is within the memory, whose length is a `u32` here.
        self.bytes()
            .subarray(range.start as u32, range.end as u32)
            .copy_from(bytes);
        Ok(())
    }

    fn grow(&mut self, pages: u64) -> Result<u64> {
        self.flush();
        let before = self.size() / plugin_system_core::PAGE_SIZE;
        let refused = |why: String| WasmError::MemoryLimit {
            message: format!("cannot grow a memory of {before} pages by {pages} ({why})"),
        };
        let asked = u32::try_from(pages).map_err(|_| refused("past the address space".into()))?;
        let previous = try_grow(&self.js, asked).map_err(|thrown| refused(js_message(&thrown)))?;
        // New pages are zeros: a copy grows to match without copying.
        let size = self.bytes().length() as usize;
        if let Some(mirror) = self.mirror.get_mut() {
            mirror.resize(size, 0);
        }
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
