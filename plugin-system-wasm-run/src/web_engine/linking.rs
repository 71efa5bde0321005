//! The import object: host functions as JS functions, and the memories,
//! globals and tables the host gives, created with the JS API.

use std::{collections::HashSet, rc::Rc};

use js_sys::{Array, Function, Object, Reflect, Uint8Array, WebAssembly};
use plugin_system_core::{
    Extern, ExternType, HostError, HostFunc, Imports, InstanceHandle, MemoryType, ModuleInfo,
    Result, TableType, WasmError, WasmValue,
};
use wasm_bindgen::{JsCast, JsValue, closure::Closure, prelude::wasm_bindgen};

use super::{
    convert::{descriptor, from_js, js_message, js_type_name, to_js},
    memory::CallerMemory,
    state::HostState,
    store::Member,
    unsupported,
};
use crate::shared::{self, StoreLimitValues};

#[wasm_bindgen(inline_js = "export function variadic(f) { return (...args) => f(args); }")]
extern "C" {
    // A JS function of any arity that hands its arguments to `f` as one array:
    // a wasm import is called with as many arguments as it has parameters.
    fn variadic(f: &JsValue) -> Function;
}

/// A host function as the browser calls it: its arguments in one array.
pub(crate) type HostClosure = Closure<dyn Fn(Array) -> Result<JsValue, JsValue>>;

/// The import object for `info`'s imports, and the closures it calls, which
/// must live as long as the instance.
pub(crate) struct Linked {
    pub(crate) object: Object,
    pub(crate) closures: Vec<HostClosure>,
}

/// Builds the import object, checking every import against what `imports`
/// give, in the other engines' words.
///
/// # Errors
/// [`WasmError::Link`] for a missing or mismatched import,
/// [`WasmError::MemoryLimit`] for a memory or table past the limits,
/// [`WasmError::Unsupported`] for values the web engine does not carry.
/// `exporters` are the store's instances, `None` for an instance alone in
/// its store.
pub(crate) fn link(
    info: &ModuleInfo,
    imports: &Imports,
    state: &Rc<HostState>,
    limits: StoreLimitValues,
    exporters: Option<&[Member]>,
) -> Result<Linked> {
    let object = Object::new();
    let mut closures = Vec::new();
    let mut seen = HashSet::with_capacity(info.imports.len());
    for import in &info.imports {
        if !seen.insert((import.module.as_str(), import.name.as_str())) {
            continue;
        }
        let qualified = format!("{}::{}", import.module, import.name);
        let Some(given) = imports.get(&import.module, &import.name) else {
            return Err(shared::missing_import(&qualified, &import.ty));
        };
        let item = match given {
            Extern::Export { instance, name } => {
                exported(&qualified, &import.ty, exporters, *instance, name)?
            }
            _ => define(&qualified, &import.ty, given, state, limits, &mut closures)?,
        };
        let namespace = namespace(&object, &import.module);
        // Setting a property of a plain object cannot throw.
        let _ = Reflect::set(&namespace, &JsValue::from_str(&import.name), &item);
    }
    Ok(Linked { object, closures })
}

/// The export `name` of the store's instance at `handle`, after checking it
/// against `expected` with the spec's import-matching rules (memories and
/// tables at their current sizes), in the other engines' words.
fn exported(
    qualified: &str,
    expected: &ExternType,
    exporters: Option<&[Member]>,
    handle: InstanceHandle,
    name: &str,
) -> Result<JsValue> {
    let link_error = |why: String| shared::link_error(qualified, why);
    let Some(exporters) = exporters else {
        return Err(link_error(
            "imports of other instances need a store (WasmRuntime::new_store)".into(),
        ));
    };
    let index = handle.index();
    let exporter = exporters
        .get(index)
        .ok_or_else(|| link_error(format!("no instance {index} in this store")))?;
    let missing = || link_error(format!("instance {index} has no export `{name}`"));
    let declared = exporter.module.export(name).ok_or_else(missing)?;
    let item = Reflect::get(&exporter.exports, &JsValue::from_str(name)).map_err(|_| missing())?;
    let given = current_type(declared, &item);
    if !shared::extern_fits(&given, expected) {
        return Err(shared::mismatched_import(
            qualified,
            expected,
            format_args!("{given} (export `{name}` of instance {index})"),
        ));
    }
    Ok(item)
}

/// An export's type as the spec's matching sees it: a memory's or a table's
/// minimum is its current size.
fn current_type(declared: &ExternType, item: &JsValue) -> ExternType {
    match declared {
        ExternType::Memory(ty) => {
            let pages = item.dyn_ref::<WebAssembly::Memory>().map(|memory| {
                u64::from(Uint8Array::new(&memory.buffer()).length())
                    / plugin_system_core::PAGE_SIZE
            });
            ExternType::Memory(MemoryType {
                minimum: pages.unwrap_or(ty.minimum),
                ..*ty
            })
        }
        ExternType::Table(ty) => {
            let length = item
                .dyn_ref::<WebAssembly::Table>()
                .map(WebAssembly::Table::length);
            ExternType::Table(TableType {
                minimum: length.map_or(ty.minimum, u64::from),
                ..*ty
            })
        }
        other => other.clone(),
    }
}

/// Sets `module::name` of the import object to `item`, for what the runtime
/// itself imports into a module it rewrote (the fuel counter).
pub(crate) fn define_raw(object: &Object, module: &str, name: &str, item: &JsValue) {
    let _ = Reflect::set(&namespace(object, module), &JsValue::from_str(name), item);
}

/// The object of `module`'s imports inside the import object, made on first use.
fn namespace(object: &Object, module: &str) -> Object {
    let key = JsValue::from_str(module);
    match Reflect::get(object, &key) {
        Ok(existing) if existing.is_object() => Object::from(existing),
        _ => {
            let fresh = Object::new();
            let _ = Reflect::set(object, &key, &fresh);
            fresh
        }
    }
}

/// What the browser gets for one import, after the import-matching rules.
fn define(
    qualified: &str,
    expected: &ExternType,
    given: &Extern,
    state: &Rc<HostState>,
    limits: StoreLimitValues,
    closures: &mut Vec<HostClosure>,
) -> Result<JsValue> {
    let mismatch = || shared::mismatched_import(qualified, expected, shared::given_type(given));
    let link_error = |thrown: JsValue| shared::link_error(qualified, js_message(&thrown));
    match (expected, given) {
        (ExternType::Func(want), Extern::Func(host)) => {
            if host.ty() != want {
                return Err(mismatch());
            }
            let closure = host_func(host.clone(), qualified.into(), Rc::clone(state));
            let function = variadic(closure.as_ref());
            closures.push(closure);
            Ok(function.into())
        }
        (ExternType::Memory(want), Extern::Memory(ty)) => {
            if !shared::memory_fits(ty, want) {
                return Err(mismatch());
            }
            Ok(memory(qualified, ty, limits.memory_pages())?.into())
        }
        (ExternType::Global(want), Extern::Global(ty, value)) => {
            if ty != want {
                return Err(mismatch());
            }
            if !value.matches(ty.content) {
                return Err(shared::global_value_mismatch(
                    qualified,
                    value.ty(),
                    ty.content,
                ));
            }
            let desc = descriptor(&[
                ("value", JsValue::from_str(js_type_name(ty.content)?)),
                ("mutable", JsValue::from(ty.mutable)),
            ]);
            let global =
                WebAssembly::Global::new(&desc, &to_js(value, state)?).map_err(link_error)?;
            Ok(global.into())
        }
        (ExternType::Table(want), Extern::Table(ty, init)) => {
            if !shared::table_fits(ty, want) {
                return Err(mismatch());
            }
            let cap = limits.table_elements.map(|n| n as u64);
            Ok(table(qualified, ty, init, cap, state)?.into())
        }
        _ => Err(mismatch()),
    }
}

/// A new memory of type `ty`, its maximum at most `max_pages`.
fn memory(qualified: &str, ty: &MemoryType, max_pages: Option<u64>) -> Result<WebAssembly::Memory> {
    if ty.memory64 || ty.shared {
        return Err(unsupported(
            "memory64 and shared memories on the web engine",
        ));
    }
    if let Some(cap) = max_pages
        && ty.minimum > cap
    {
        return Err(shared::import_over_limit(
            qualified,
            format_args!(
                "memory needs {} pages at start, the limit is {cap}",
                ty.minimum
            ),
        ));
    }
    let maximum = match (ty.maximum, max_pages) {
        (Some(max), Some(cap)) => Some(max.min(cap)),
        (max, cap) => max.or(cap),
    };
    let mut properties = vec![("initial", JsValue::from_f64(ty.minimum as f64))];
    if let Some(max) = maximum {
        properties.push(("maximum", JsValue::from_f64(max as f64)));
    }
    WebAssembly::Memory::new(&descriptor(&properties))
        .map_err(|thrown| shared::import_over_limit(qualified, js_message(&thrown)))
}

/// A new table of type `ty`, every element `init`, its maximum at most `cap`.
fn table(
    qualified: &str,
    ty: &TableType,
    init: &WasmValue,
    cap: Option<u64>,
    state: &HostState,
) -> Result<WebAssembly::Table> {
    if !init.matches(ty.element) {
        return Err(WasmError::type_mismatch(format!(
            "table {}: initial element of another type",
            ExternType::Table(*ty)
        )));
    }
    let init = to_js(init, state)?;
    if let Some(cap) = cap
        && ty.minimum > cap
    {
        return Err(shared::import_over_limit(
            qualified,
            format_args!(
                "table needs {} elements at start, the limit is {cap}",
                ty.minimum
            ),
        ));
    }
    let maximum = match (ty.maximum, cap) {
        (Some(max), Some(cap)) => Some(max.min(cap)),
        (max, cap) => max.or(cap),
    };
    let mut properties = vec![
        ("element", JsValue::from_str(js_type_name(ty.element)?)),
        ("initial", JsValue::from_f64(ty.minimum as f64)),
    ];
    if let Some(max) = maximum {
        properties.push(("maximum", JsValue::from_f64(max as f64)));
    }
    WebAssembly::Table::new_with_value(&descriptor(&properties), init)
        .map_err(|thrown| shared::import_over_limit(qualified, js_message(&thrown)))
}

/// A JS-callable closure that runs `host`. Its error waits in `state` (see
/// [`HostState`]) and the closure throws, which unwinds the guest.
fn host_func(host: HostFunc, function: Rc<str>, state: Rc<HostState>) -> HostClosure {
    Closure::new(move |args: Array| -> Result<JsValue, JsValue> {
        match call_host(&host, &args, &state) {
            Ok(results) => Ok(results),
            Err(error) => {
                state.fail(WasmError::Host {
                    function: function.to_string(),
                    source: error,
                });
                Err(JsValue::from_str("host function failed"))
            }
        }
    })
}

/// Converts the arguments, runs `host`, converts its results: one value, or
/// an array for several (the JS API takes any iterable).
fn call_host(host: &HostFunc, args: &Array, state: &HostState) -> Result<JsValue, HostError> {
    let engine_error = |e: WasmError| HostError::new(e.to_string());
    let params = host
        .ty()
        .params()
        .iter()
        .enumerate()
        .map(|(i, ty)| from_js(&args.get(i as u32), *ty, state))
        .collect::<Result<Vec<_>>>()
        .map_err(engine_error)?;
    let mut results = vec![WasmValue::I32(0); host.ty().results().len()];
    let mut caller = CallerMemory::new(state);
    let outcome = host.call(&mut caller, &params, &mut results);
    caller.finish();
    outcome?;
    match results.as_slice() {
        [] => Ok(JsValue::UNDEFINED),
        [one] => to_js(one, state).map_err(engine_error),
        many => {
            let array = Array::new();
            for value in many {
                array.push(&to_js(value, state).map_err(engine_error)?);
            }
            Ok(array.into())
        }
    }
}
