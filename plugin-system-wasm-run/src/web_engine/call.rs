//! Calling a JS function (a wasm export) and reading what it returns or throws.

use js_sys::{Array, Function};
use plugin_system_core::{FuncType, Result, ValType, WasmError, WasmValue};
use wasm_bindgen::JsValue;

use super::{
    convert::{from_js, map_error, to_js},
    state::HostState,
    unsupported,
};

/// What a throw out of guest code means: the error a host function left in
/// `state`, running out of fuel (a trap with the counter below zero), or the
/// browser's error, mapped.
pub(crate) fn error(thrown: &JsValue, state: &HostState) -> WasmError {
    if let Some(failure) = state.take_failure() {
        return failure;
    }
    match map_error(thrown) {
        WasmError::Trap { .. } if state.out_of_fuel() => WasmError::FuelExhausted,
        other => other,
    }
}

/// Calls `function` of type `ty` with `args` (checked by the caller) and writes
/// its results. A throw is reported as [`error`] says.
pub(crate) fn run(
    function: &Function,
    ty: &FuncType,
    args: &[WasmValue],
    results: &mut [WasmValue],
    state: &HostState,
) -> Result<()> {
    // The JS API throws a TypeError for a v128 either way; say why instead.
    if ty
        .params()
        .iter()
        .chain(ty.results())
        .any(|t| *t == ValType::V128)
    {
        return Err(unsupported("v128 values across the JS API"));
    }
    // Up to three arguments go without an array: each JS call saved is a
    // crossing out of this module and back (about a third of a small call).
    let this = &JsValue::UNDEFINED;
    let returned = match args {
        [] => function.call0(this),
        [a] => function.call1(this, &to_js(a, state)?),
        [a, b] => function.call2(this, &to_js(a, state)?, &to_js(b, state)?),
        [a, b, c] => function.call3(
            this,
            &to_js(a, state)?,
            &to_js(b, state)?,
            &to_js(c, state)?,
        ),
        more => {
            let js_args = Array::new();
            for arg in more {
                js_args.push(&to_js(arg, state)?);
            }
            function.apply(this, &js_args)
        }
    }
    .map_err(|thrown| error(&thrown, state))?;
    match (ty.results(), &mut *results) {
        ([], _) => {}
        ([one], [slot]) => *slot = from_js(&returned, *one, state)?,
        // Several results come back as an array, in order.
        (types, slots) => {
            let values = Array::from(&returned);
            for (i, (slot, ty)) in slots.iter_mut().zip(types).enumerate() {
                *slot = from_js(&values.get(i as u32), *ty, state)?;
            }
        }
    }
    Ok(())
}
