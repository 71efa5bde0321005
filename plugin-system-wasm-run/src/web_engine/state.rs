//! What an instance shares with its host functions, and why JS objects may be
//! held by `Send` types here.

use std::{cell::RefCell, rc::Rc};

use js_sys::WebAssembly;
use plugin_system_core::{FuncRef, WasmError};
use wasm_bindgen::JsValue;

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

/// What an instance's host functions and value conversions share with it: its
/// memory, for the callers' views; the error a host function ends the call
/// with; and, shared by the store's instances, the fuel counter and the
/// `funcref`s handed out.
///
/// A host function ends a guest call by throwing to JS; the error itself waits
/// here, so that the call that catches the throw reports the host's error as
/// [`WasmError::Host`] rather than as a JS exception.
pub(crate) struct HostState {
    /// The instance's default memory, once it exists.
    pub(crate) memory: RefCell<Option<WebAssembly::Memory>>,
    /// The error of the host function that threw, taken by the call.
    pub(crate) failure: RefCell<Option<WasmError>>,
    /// The metered module's fuel counter (`fuel.rs`), when fuel is on.
    pub(crate) fuel: Option<WebAssembly::Global>,
    /// The functions the store's guests handed out as `funcref`s, by the
    /// index a `FuncRef` carries (shared by the store's instances).
    pub(crate) funcrefs: Rc<RefCell<Vec<JsValue>>>,
}

impl HostState {
    /// Keeps a host function's error for the call to take.
    pub(crate) fn fail(&self, error: WasmError) {
        *self.failure.borrow_mut() = Some(error);
    }

    /// Fuel left: the counter, which a charge may have taken below zero.
    pub(crate) fn fuel_left(&self) -> Option<i64> {
        let counter = self.fuel.as_ref()?;
        Some(i64::try_from(counter.value()).unwrap_or(0))
    }

    /// Sets the counter.
    pub(crate) fn set_fuel_left(&self, fuel: i64) {
        if let Some(counter) = &self.fuel {
            counter.set_value(&JsValue::from(fuel));
        }
    }

    /// Whether fuel is on and used up: what tells a fuel trap from the guest's
    /// own `unreachable`.
    pub(crate) fn out_of_fuel(&self) -> bool {
        self.fuel_left().is_some_and(|left| left < 0)
    }

    /// The `FuncRef` of `function`, kept the first time it is seen.
    pub(crate) fn keep_funcref(&self, function: &JsValue) -> FuncRef {
        let mut kept = self.funcrefs.borrow_mut();
        let index = match kept.iter().position(|f| f == function) {
            Some(index) => index,
            None => {
                kept.push(function.clone());
                kept.len() - 1
            }
        };
        FuncRef::from_raw(u32::try_from(index).unwrap_or(u32::MAX))
    }

    /// The function behind a `FuncRef` this store handed out.
    pub(crate) fn funcref(&self, handle: FuncRef) -> Option<JsValue> {
        self.funcrefs.borrow().get(handle.raw() as usize).cloned()
    }

    /// The error a host function left, if one did.
    pub(crate) fn take_failure(&self) -> Option<WasmError> {
        self.failure.borrow_mut().take()
    }
}
