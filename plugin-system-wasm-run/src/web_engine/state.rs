//! What an instance shares with its host functions, and why JS objects may be
//! held by `Send` types here.

use std::cell::RefCell;

use js_sys::WebAssembly;
use plugin_system_core::WasmError;

/// A value holding JS objects (which wasm-bindgen marks `!Send`), in a type that
/// the core traits require to be `Send + Sync`.
pub(crate) struct SingleThread<T>(pub(crate) T);

// SAFETY: JS objects are tied to the thread that created them. This engine is
// compiled only for wasm32 without the `atomics` target feature (`mod.rs`
// refuses to build otherwise), where a program has exactly one thread: no
// value can be sent to, or shared with, another thread, since there is none.
unsafe impl<T> Send for SingleThread<T> {}
// SAFETY: as for `Send` above: with one thread, no two threads share a value.
unsafe impl<T> Sync for SingleThread<T> {}

/// What an instance's host functions share with it: its memory, for the
/// callers' views, and the error a host function ends the call with.
///
/// A host function ends a guest call by throwing to JS; the error itself waits
/// here, so that the call that catches the throw reports the host's error as
/// [`WasmError::Host`] rather than as a JS exception.
#[derive(Default)]
pub(crate) struct HostState {
    /// The instance's default memory, once it exists.
    pub(crate) memory: RefCell<Option<WebAssembly::Memory>>,
    /// The error of the host function that threw, taken by the call.
    pub(crate) failure: RefCell<Option<WasmError>>,
}

impl HostState {
    /// Keeps a host function's error for the call to take.
    pub(crate) fn fail(&self, error: WasmError) {
        *self.failure.borrow_mut() = Some(error);
    }

    /// The error a host function left, if one did.
    pub(crate) fn take_failure(&self) -> Option<WasmError> {
        self.failure.borrow_mut().take()
    }
}
