//! [`WebStore`]: one or more browser instances linked together, with what
//! they need to stay alive, and instantiation.
//!
//! As on the other engines, a store's instances share its fuel (one counter
//! that every metered module imports) and its limits, and a later instance may
//! import an earlier one's exports ([`Extern::Export`](plugin_system_core::Extern::Export)):
//! the browser links JS objects, so the export itself is passed.

use std::{cell::RefCell, rc::Rc, sync::Arc, time::Duration};

use js_sys::{Function, Object, WebAssembly};
use plugin_system_core::{
    FuncType, Imports, InstanceGuard, InstanceHandle, InstanceId, Result, RuntimeCounters,
    WasmError, WasmInstance, WasmModule, WasmRuntimeConfig, WasmStore,
};
use wasm_bindgen::{JsCast, JsValue};

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

/// One instance of a store.
pub(super) struct Member {
    pub(super) module: Arc<dyn WasmModule>,
    pub(super) id: InstanceId,
    /// The instance's `exports` object.
    pub(super) exports: Object,
    /// Shared with the instance's host functions.
    pub(super) state: Rc<HostState>,
    /// The host functions its import object calls: dropped with it.
    _closures: Vec<HostClosure>,
    pub(super) funcs: Vec<Resolved>,
    _counted: InstanceGuard,
}

impl Member {
    /// The export `name`, if it is a `T`.
    pub(super) fn export<T: JsCast>(&self, name: &str) -> Option<T> {
        js_sys::Reflect::get(&self.exports, &name.into())
            .ok()?
            .dyn_into()
            .ok()
    }
}

/// Whether an instance may import from the store's other instances: not when
/// it is alone in a store of its own (`WasmRuntime::instantiate`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Linking {
    Alone,
    Shared,
}

/// Browser instances, the current one selected, and what they share.
pub(crate) struct WebStore {
    config: Arc<WasmRuntimeConfig>,
    counters: Arc<RuntimeCounters>,
    /// The limits the store's modules are compiled with, and the runtime's.
    pub(super) limits: StoreLimitValues,
    pub(super) runtime_limits: StoreLimitValues,
    /// The store's fuel counter, when fuel is on (`fuel.rs`).
    pub(super) fuel: Option<WebAssembly::Global>,
    /// The `funcref`s its guests handed out (see `HostState`).
    funcrefs: Rc<RefCell<Vec<JsValue>>>,
    pub(super) members: Vec<Member>,
    pub(super) current: usize,
    /// The memory view last handed out.
    pub(super) view: Option<WebMemory>,
    /// A timeout asked for with `set_timeout`: calls refuse to run under it.
    pub(super) timeout: Option<Duration>,
    /// Fuel as last set (the limit at first), and what was burnt before.
    pub(super) fuel_last_set: u64,
    pub(super) fuel_burnt_before: u64,
    pub(super) calls: u64,
    pub(super) failed_calls: u64,
}

// SAFETY: see `SingleThread` in `state.rs`: this engine builds only where a
// program has one thread, so the JS objects and `Rc`s here never meet a second.
unsafe impl Send for WebStore {}

impl WebStore {
    /// An empty store whose modules are compiled with `limits`.
    ///
    /// # Errors
    /// [`WasmError::Engine`] when the browser cannot make the fuel counter.
    pub(super) fn new(
        config: &Arc<WasmRuntimeConfig>,
        limits: StoreLimitValues,
        counters: &Arc<RuntimeCounters>,
    ) -> Result<Self> {
        Ok(WebStore {
            config: Arc::clone(config),
            counters: Arc::clone(counters),
            limits,
            runtime_limits: StoreLimitValues::new(config),
            fuel: config.fuel_limit.map(fuel_counter).transpose()?,
            funcrefs: Rc::default(),
            members: Vec::new(),
            current: 0,
            view: None,
            timeout: None,
            fuel_last_set: config.fuel_limit.unwrap_or(0),
            fuel_burnt_before: 0,
            calls: 0,
            failed_calls: 0,
        })
    }

    /// Instantiates `module` (compiled by this store's runtime) with `imports`
    /// and runs its start function and a reactor's `_initialize`; the new
    /// instance becomes the current one. When a start function fails, the
    /// instance is not added, but what it did to imported memories, tables and
    /// globals stays done, as the spec wants.
    ///
    /// # Errors
    /// [`WasmError::ForeignModule`] for another runtime's module;
    /// [`WasmError::MemoryLimit`] when a memory or table starts past its cap;
    /// link errors; a trap of the start function; [`WasmError::Unsupported`]
    /// for WASI.
    pub(super) fn add(
        &mut self,
        module: &Arc<dyn WasmModule>,
        imports: &Imports,
        linking: Linking,
    ) -> Result<InstanceHandle> {
        let foreign = || WasmError::ForeignModule {
            engine: ENGINE,
            module_engine: module.engine().to_string(),
        };
        let compiled = module
            .as_any()
            .downcast_ref::<WebModule>()
            .ok_or_else(foreign)?;
        if !compiled.belongs_to(&self.config) {
            return Err(foreign());
        }
        if imports.wasi_config().is_some() {
            return Err(unsupported("WASI on the web engine"));
        }
        let info = module.info();
        shared::check_limits(info, imports, self.limits)?;
        let compiled_module = compiled.compiled_for(self.limits)?;
        let state = Rc::new(HostState {
            memory: Default::default(),
            failure: Default::default(),
            fuel: self.fuel.clone(),
            funcrefs: Rc::clone(&self.funcrefs),
        });
        let exporters = (linking == Linking::Shared).then_some(&self.members[..]);
        let linked = linking::link(info, imports, &state, self.limits, exporters)?;
        if let Some(counter) = &self.fuel {
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
        self.members.push(Member {
            module: Arc::clone(module),
            id: InstanceId::next(),
            exports,
            state,
            _closures: linked.closures,
            funcs: Vec::new(),
            _counted: self.counters.instance_created(),
        });
        self.current = self.members.len() - 1;
        Ok(InstanceHandle::from_index(self.current))
    }

    /// The current instance.
    pub(super) fn member(&self) -> &Member {
        &self.members[self.current]
    }

    /// The current instance, to change.
    pub(super) fn member_mut(&mut self) -> &mut Member {
        &mut self.members[self.current]
    }
}

impl WasmStore for WebStore {
    fn instantiate(
        &mut self,
        module: &Arc<dyn WasmModule>,
        imports: &Imports,
    ) -> Result<InstanceHandle> {
        self.add(module, imports, Linking::Shared)
    }

    fn instance(&mut self, handle: InstanceHandle) -> Result<&mut dyn WasmInstance> {
        self.current = handle.checked_index(self.members.len())?;
        Ok(self)
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
