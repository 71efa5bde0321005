//! Values across the JS API, and what a throw from the browser means.
//!
//! Numbers cross as the JS API defines: `i32`, `f32` and `f64` as Numbers,
//! `i64` as BigInts. An `externref` the host makes is a BigInt of its number;
//! a `funcref` the guest hands out is kept by the store, which gives the host
//! its index. A `v128` cannot cross into JS at all, and the GC and exception
//! references are not carried: both are [`WasmError::Unsupported`].

use js_sys::{Reflect, WebAssembly};
use plugin_system_core::{ExternRef, HeapType, Result, TrapCode, ValType, WasmError, WasmValue};
use wasm_bindgen::{JsCast, JsValue};

use super::{state::HostState, unsupported};

/// `value` as the JS API passes it to wasm. An `externref` the host made is
/// a BigInt of its number; a `funcref` is the function `state` handed out.
///
/// # Errors
/// [`WasmError::TypeMismatch`] for a `funcref` this store did not hand out;
/// [`WasmError::Unsupported`] for a `v128` and the references the web engine
/// does not carry (GC, exceptions).
pub(crate) fn to_js(value: &WasmValue, state: &HostState) -> Result<JsValue> {
    Ok(match *value {
        WasmValue::I32(n) => JsValue::from(n),
        WasmValue::I64(n) => JsValue::from(n),
        WasmValue::F32(n) => JsValue::from(n),
        WasmValue::F64(n) => JsValue::from(n),
        WasmValue::FuncRef(None) | WasmValue::ExternRef(None) => JsValue::NULL,
        WasmValue::ExternRef(Some(host)) => JsValue::from(host.0),
        WasmValue::FuncRef(Some(handle)) => state.funcref(handle).ok_or_else(|| {
            WasmError::type_mismatch(format!(
                "funcref {} was not handed out by this store",
                handle.raw()
            ))
        })?,
        WasmValue::V128(_) => return Err(unsupported("v128 values across the JS API")),
        _ => return Err(unsupported("GC and exception references on the web engine")),
    })
}

/// A JS value that wasm passed out as a `ty`.
///
/// # Errors
/// [`WasmError::TypeMismatch`] when the value is not of the JS type `ty` maps to
/// (only a host's own JS could do that: wasm's results are always well typed),
/// or is an `externref` the host did not make.
pub(crate) fn from_js(value: &JsValue, ty: ValType, state: &HostState) -> Result<WasmValue> {
    let mismatch =
        || WasmError::type_mismatch(format!("expected {ty}, got the JS value {value:?}"));
    Ok(match ty {
        // The JS API hands out `ToInt32` of the wasm value: always integral.
        ValType::I32 => WasmValue::I32(value.as_f64().ok_or_else(mismatch)? as i32),
        ValType::I64 => WasmValue::I64(i64::try_from(value.clone()).map_err(|_| mismatch())?),
        ValType::F32 => WasmValue::F32(value.as_f64().ok_or_else(mismatch)? as f32),
        ValType::F64 => WasmValue::F64(value.as_f64().ok_or_else(mismatch)?),
        ValType::Ref(r) if r.heap == HeapType::Func => match value.is_null() {
            true => WasmValue::FuncRef(None),
            false if value.is_function() => WasmValue::FuncRef(Some(state.keep_funcref(value))),
            false => return Err(mismatch()),
        },
        ValType::Ref(r) if r.heap == HeapType::Extern => match value.is_null() {
            true => WasmValue::ExternRef(None),
            // Only the host makes externrefs (wasm has no way to), as BigInts.
            false => WasmValue::ExternRef(Some(ExternRef(
                u64::try_from(value.clone())
                    .map_err(|_| WasmError::type_mismatch("an externref the host did not make"))?,
            ))),
        },
        ValType::V128 => return Err(unsupported("v128 values across the JS API")),
        ValType::Ref(_) => {
            return Err(unsupported("GC and exception references on the web engine"));
        }
    })
}

/// The JS API's name of a value type, for `Global` and `Table` descriptors.
pub(crate) fn js_type_name(ty: ValType) -> Result<&'static str> {
    Ok(match ty {
        ValType::I32 => "i32",
        ValType::I64 => "i64",
        ValType::F32 => "f32",
        ValType::F64 => "f64",
        ValType::Ref(r) if r.nullable && r.heap == HeapType::Func => "anyfunc",
        ValType::Ref(r) if r.nullable && r.heap == HeapType::Extern => "externref",
        ValType::V128 => return Err(unsupported("v128 values across the JS API")),
        ValType::Ref(_) => return Err(unsupported("typed function references on the web engine")),
    })
}

/// A JS object with the given properties, for the JS API's descriptors.
pub(crate) fn descriptor(properties: &[(&str, JsValue)]) -> js_sys::Object {
    let object = js_sys::Object::new();
    for (key, value) in properties {
        // Setting a property of a fresh plain object cannot throw.
        let _ = Reflect::set(&object, &JsValue::from_str(key), value);
    }
    object
}

/// The message of something JS threw: an `Error`'s `message`, else its text.
pub(crate) fn js_message(thrown: &JsValue) -> String {
    if let Some(error) = thrown.dyn_ref::<js_sys::Error>() {
        return String::from(error.message());
    }
    thrown.as_string().unwrap_or_else(|| format!("{thrown:?}"))
}

/// What a call's throw means, in the other engines' terms.
///
/// Browsers word their traps differently (V8: "divide by zero", SpiderMonkey:
/// "integer divide by zero"); each code is recognised by the words both use.
/// A `RangeError` about the call stack (V8) or an `InternalError` "too much
/// recursion" (SpiderMonkey) is a stack overflow. A trap the words do not
/// tell apart is [`TrapCode::Other`]; anything else the browser threw is
/// [`WasmError::Engine`] with its message.
pub(crate) fn map_error(thrown: &JsValue) -> WasmError {
    let message = js_message(thrown);
    if thrown.is_instance_of::<WebAssembly::RuntimeError>() {
        let code = trap_code(&message);
        return WasmError::Trap {
            code,
            message: trap_message(code).map_or(message, str::to_owned),
        };
    }
    if is_stack_overflow(thrown, &message) {
        return WasmError::StackOverflow;
    }
    if thrown.is_instance_of::<WebAssembly::LinkError>() {
        return WasmError::Link { message };
    }
    WasmError::engine(message)
}

/// The trap a browser's `RuntimeError` message names.
fn trap_code(message: &str) -> TrapCode {
    let m = message.to_ascii_lowercase();
    let has = |words: &str| m.contains(words);
    if has("unreachable") {
        TrapCode::Unreachable
    } else if has("divide by zero") || has("remainder by zero") || has("division by zero") {
        TrapCode::IntegerDivisionByZero
    } else if (has("unrepresentable") && has("float")) || has("invalid conversion to integer") {
        TrapCode::BadConversionToInteger
    } else if has("unrepresentable") || has("integer overflow") {
        TrapCode::IntegerOverflow
    } else if has("signature mismatch") {
        TrapCode::BadSignature
    } else if has("null function") || has("indirect call to null") {
        TrapCode::IndirectCallToNull
    } else if has("table") {
        TrapCode::TableOutOfBounds
    } else if has("memory access out of bounds") || has("index out of bounds") {
        TrapCode::MemoryOutOfBounds
    } else if has("null") {
        TrapCode::NullReference
    } else if has("unaligned") {
        TrapCode::UnalignedAtomic
    } else {
        TrapCode::Other
    }
}

/// A trap's message as wasmtime and wasmi word it (one table for both), so
/// that the message is alike on every engine; `None` for a trap the browser's
/// words did not tell apart, which keeps the browser's own.
fn trap_message(code: TrapCode) -> Option<&'static str> {
    Some(match code {
        TrapCode::Unreachable => "wasm `unreachable` instruction executed",
        TrapCode::MemoryOutOfBounds => "out of bounds memory access",
        TrapCode::TableOutOfBounds => "undefined element: out of bounds table access",
        TrapCode::IndirectCallToNull => "uninitialized element",
        TrapCode::BadSignature => "indirect call type mismatch",
        TrapCode::IntegerOverflow => "integer overflow",
        TrapCode::IntegerDivisionByZero => "integer divide by zero",
        TrapCode::BadConversionToInteger => "invalid conversion to integer",
        TrapCode::NullReference => "null reference",
        TrapCode::UnalignedAtomic => "unaligned atomic",
        _ => return None,
    })
}

/// Whether a throw is the browser running out of stack.
fn is_stack_overflow(thrown: &JsValue, message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    (thrown.is_instance_of::<js_sys::RangeError>() && m.contains("call stack"))
        || m.contains("too much recursion")
}

#[cfg(test)]
mod tests {
    use wasm_bindgen_test::wasm_bindgen_test;

    use super::*;

    #[wasm_bindgen_test]
    fn the_words_of_v8_and_spidermonkey_name_the_same_traps() {
        for (message, code) in [
            ("unreachable", TrapCode::Unreachable),
            ("unreachable executed", TrapCode::Unreachable),
            ("divide by zero", TrapCode::IntegerDivisionByZero),
            ("integer divide by zero", TrapCode::IntegerDivisionByZero),
            ("remainder by zero", TrapCode::IntegerDivisionByZero),
            ("divide result unrepresentable", TrapCode::IntegerOverflow),
            ("integer overflow", TrapCode::IntegerOverflow),
            (
                "float unrepresentable in integer range",
                TrapCode::BadConversionToInteger,
            ),
            (
                "invalid conversion to integer",
                TrapCode::BadConversionToInteger,
            ),
            ("memory access out of bounds", TrapCode::MemoryOutOfBounds),
            ("index out of bounds", TrapCode::MemoryOutOfBounds),
            ("table index is out of bounds", TrapCode::TableOutOfBounds),
            (
                "null function or function signature mismatch",
                TrapCode::BadSignature,
            ),
            ("indirect call to null", TrapCode::IndirectCallToNull),
            ("something new", TrapCode::Other),
        ] {
            assert_eq!(trap_code(message), code, "{message}");
        }
    }
}
