//! [`WebStore`]: one browser instance with what it needs to stay alive, and
//! instantiation.
//!
//! The other engines' stores hold several instances linked together; the web
//! engine has no stores yet (`new_store` is unsupported), so a store is one
//! instance.

use std::{rc::Rc, sync::Arc, time::Duration};

use js_sys::{Function, Object, WebAssembly};
use plugin_system_core::{
    FuncType, Imports, InstanceGuard, InstanceId, Result, RuntimeCounters, WasmError, WasmModule,
    WasmRuntimeConfig,
};
use wasm_bindgen::JsCast;

use super::{
    ENGINE, call,
    convert::{descriptor, js_message},
    fuel::{FUEL_MODULE, FUEL_NAME},
    linking::{self, HostClosure},
    memory::WebMemory,
    module::WebModule,
    state::HostState,
    unsupported,
};
use crate::shared::{self, StoreLimitValues};

/// A function resolved by name once, for calls through a `Func` handle.
pub(super) struct Resolved {
    pub(super) name: Box<str>,
    pub(super) function: Function,
    pub(super) ty: FuncType,
}

/// One browser instance and what it needs to stay alive.
pub(crate) struct WebStore {
    pub(super) module: Arc<dyn WasmModule>,
    pub(super) id: InstanceId,
    /// The instance's `exports` object.
    pub(super) exports: Object,
    /// Shared with the host functions.
    pub(super) state: Rc<HostState>,
    /// The host functions the import object calls: dropped with the instance.
    _closures: Vec<HostClosure>,
    pub(super) funcs: Vec<Resolved>,
    /// The memory view last handed out.
    pub(super) view: Option<WebMemory>,
    /// The limits the instance's module was compiled with, and the runtime's.
    pub(super) limits: StoreLimitValues,
    pub(super) runtime_limits: StoreLimitValues,
    /// A timeout asked for with `set_timeout`: calls refuse to run under it.
    pub(super) timeout: Option<Duration>,
    /// Fuel as last set (the limit at first), and what was burnt before.
    pub(super) fuel_last_set: u64,
    pub(super) fuel_burnt_before: u64,
    pub(super) calls: u64,
    pub(super) failed_calls: u64,
    _guard: InstanceGuard,
}

// SAFETY: see `SingleThread` in `state.rs`: this engine builds only where a
// program has one thread, so the JS objects and `Rc`s here never meet a second.
unsafe impl Send for WebStore {}

impl WebStore {
    /// Instantiates `module` (compiled by a `WebRuntime`) with `imports`.
    ///
    /// # Errors
    /// [`WasmError::ForeignModule`] for another engine's module;
    /// [`WasmError::MemoryLimit`] when a memory starts past the cap; link errors;
    /// a trap of the start function; [`WasmError::Unsupported`] for WASI.
    pub(super) fn instantiate(
        module: &Arc<dyn WasmModule>,
        imports: &Imports,
        config: &Arc<WasmRuntimeConfig>,
        limits: StoreLimitValues,
        counters: &Arc<RuntimeCounters>,
    ) -> Result<Self> {
        let foreign = || WasmError::ForeignModule {
            engine: ENGINE,
            module_engine: module.engine().to_string(),
        };
        let compiled = module
            .as_any()
            .downcast_ref::<WebModule>()
            .ok_or_else(foreign)?;
        if !compiled.belongs_to(config) {
            return Err(foreign());
        }
        if imports.wasi_config().is_some() {
            return Err(unsupported("WASI on the web engine"));
        }
        let info = module.info();
        shared::check_limits(info, imports, limits)?;
        let compiled_module = compiled.compiled_for(limits)?;
        let fuel = config.fuel_limit.map(fuel_counter).transpose()?;
        let state = Rc::new(HostState {
            memory: Default::default(),
            failure: Default::default(),
            fuel: fuel.clone(),
        });
        let linked = linking::link(info, imports, &state, limits)?;
        if let Some(counter) = &fuel {
            linking::define_raw(&linked.object, FUEL_MODULE, FUEL_NAME, counter);
        }
        let instance = WebAssembly::Instance::new(&compiled_module, &linked.object)
            .map_err(|thrown| call::error(&thrown, &state))?;
        let exports = instance.exports();
        if let Some(name) = shared::default_memory(info) {
            let memory = js_sys::Reflect::get(&exports, &name.into()).ok();
            *state.memory.borrow_mut() = memory.and_then(|m| m.dyn_into().ok());
        }
        // A reactor's set-up runs once, now, as on the other engines (under
        // the same fuel), before any other export can be called.
        if let Some(name) = shared::initializer(info) {
            let function: Option<Function> = js_sys::Reflect::get(&exports, &name.into())
                .ok()
                .and_then(|f| f.dyn_into().ok());
            if let Some(function) = function {
                let outcome = call::run(&function, &FuncType::default(), &[], &mut [], &state);
                shared::initialized(outcome)?;
            }
        }
        Ok(WebStore {
            module: Arc::clone(module),
            id: InstanceId::next(),
            exports,
            state,
            _closures: linked.closures,
            funcs: Vec::new(),
            view: None,
            limits,
            runtime_limits: StoreLimitValues::new(config),
            timeout: None,
            fuel_last_set: config.fuel_limit.unwrap_or(0),
            fuel_burnt_before: 0,
            calls: 0,
            failed_calls: 0,
            _guard: counters.instance_created(),
        })
    }

    /// The export `name` of the instance, if it is a `T`.
    pub(super) fn export<T: JsCast>(&self, name: &str) -> Option<T> {
        js_sys::Reflect::get(&self.exports, &name.into())
            .ok()?
            .dyn_into()
            .ok()
    }
}

/// A new fuel counter holding `fuel` (see `fuel.rs`).
fn fuel_counter(fuel: u64) -> Result<WebAssembly::Global> {
    let desc = descriptor(&[("value", "i64".into()), ("mutable", true.into())]);
    let start = i64::try_from(fuel).unwrap_or(i64::MAX);
    WebAssembly::Global::new(&desc, &start.into()).map_err(|thrown| {
        WasmError::engine_in("cannot create the fuel counter", js_message(&thrown))
    })
}
