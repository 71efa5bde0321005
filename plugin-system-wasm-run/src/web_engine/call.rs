//! Calling a JS function (a wasm export) and reading what it returns or throws.

use js_sys::{Array, Function};
use plugin_system_core::{FuncType, Result, ValType, WasmValue};
use wasm_bindgen::JsValue;

use super::{
    convert::{from_js, map_error, to_js},
    state::HostState,
    unsupported,
};

/// Calls `function` of type `ty` with `args` (checked by the caller) and writes
/// its results. A throw is the host function's error left in `state` when one
/// threw, else the browser's, mapped (`convert::map_error`).
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
    let js_args = Array::new();
    for arg in args {
        js_args.push(&to_js(arg)?);
    }
    let returned = function
        .apply(&JsValue::UNDEFINED, &js_args)
        .map_err(|thrown| state.take_failure().unwrap_or_else(|| map_error(&thrown)))?;
    match (ty.results(), &mut *results) {
        ([], _) => {}
        ([one], [slot]) => *slot = from_js(&returned, *one)?,
        // Several results come back as an array, in order.
        (types, slots) => {
            let values = Array::from(&returned);
            for (i, (slot, ty)) in slots.iter_mut().zip(types).enumerate() {
                *slot = from_js(&values.get(i as u32), *ty)?;
            }
        }
    }
    Ok(())
}
