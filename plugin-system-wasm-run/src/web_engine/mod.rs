//! The web engine: the browser's own WebAssembly (`WebAssembly.Module`,
//! `Instance`, `Memory`, `Global`, `Table`), for hosts built for
//! `wasm32-unknown-unknown` with wasm-bindgen.
//!
//! Bytes go through [`prepare`] and wasmparser's validator as on the other
//! engines, so that a module is refused, and described, in the same words;
//! then the browser compiles them.
//!
//! Limits: the browser gives no handle on a running call, so what it must
//! bound is rewritten into the module. Memories and tables get a maximum at
//! most the store limits ([`module`]: `memory.grow` and `table.grow` past it
//! return -1), and with a `fuel_limit` the module counts its fuel down itself
//! ([`fuel`]). A deadline cannot interrupt synchronous code on the page's
//! thread, and the stack depth is the browser's own (its overflow is
//! [`WasmError::StackOverflow`]): the settings that ask for these are refused
//! with [`WasmError::Unsupported`] rather than ignored.
//!
//! Code map: [`state`] (what host functions share with their instance, and why
//! JS objects may cross `Send`), [`store`] (instantiation), [`linking`] (the
//! import object: host functions as JS functions, memories, globals, tables),
//! [`instance`] (calls, globals, memories), [`call`] (calling a JS function and
//! catching what it throws), [`memory`] (memory views), [`convert`] (values and
//! `map_error`), [`module`] (compiling, the caps), [`fuel`] (the metering
//! rewrite).

mod call;
mod convert;
mod fuel;
mod instance;
mod linking;
mod memory;
mod module;
mod state;
mod store;

use std::sync::Arc;

use plugin_system_core::{
    Imports, InstanceLimits, Result, RuntimeCounters, RuntimeStats, WasmError, WasmFeatures,
    WasmInstance, WasmModule, WasmRuntime, WasmRuntimeConfig, WasmStore,
};
use wasmparser::WasmFeatures as Proposals;

use crate::{
    module_info::{compile_error, prepare, read_module_info},
    shared::StoreLimitValues,
};

// JS objects are shared between the module, its instances and host closures as
// if `Send`: sound only where no second thread can exist (see `state`).
#[cfg(target_feature = "atomics")]
compile_error!("the web engine needs a wasm32 build without threads (no `atomics` target feature)");

/// The engine's name, as runtimes and modules report it.
const ENGINE: &str = "web";

/// What [`WasmRuntime::version`] reports: the browser's engine has no version
/// a page can read, so this is the JS API the engine is written against.
const VERSION: &str = "js-api-2";

/// The proposals every current browser implements (Chromium 119 and later,
/// Firefox 121, Safari 18.2): WebAssembly 2.0 (SIMD included; a `v128` may not
/// cross into JS, so a call with one in its signature is refused), tail calls
/// and extended constants. Multi-memory and relaxed SIMD are not in Safari yet.
const PROPOSALS: Proposals = Proposals::WASM2
    .union(Proposals::TAIL_CALL)
    .union(Proposals::EXTENDED_CONST);

/// The browser's WebAssembly behind [`WasmRuntime`].
///
/// ```no_run
/// use plugin_system_core::{WasmRuntime, WasmRuntimeConfig, WasmValue};
/// use plugin_system_wasm_run::WebRuntime;
///
/// let runtime = WebRuntime::new(WasmRuntimeConfig::default().max_memory_pages(16))?;
/// let module = runtime.load_module(br#"(module
///     (func (export "add") (param i32 i32) (result i32)
///         local.get 0 local.get 1 i32.add))"#)?;
/// let mut instance = runtime.instantiate(&module, &Default::default())?;
/// assert_eq!(instance.call("add", &[WasmValue::I32(2), WasmValue::I32(3)])?, [WasmValue::I32(5)]);
/// # Ok::<(), plugin_system_core::WasmError>(())
/// ```
pub struct WebRuntime {
    config: Arc<WasmRuntimeConfig>,
    counters: Arc<RuntimeCounters>,
}

impl WebRuntime {
    /// A runtime with `config`. `enable_optimization` is the browser's choice
    /// (it tiers up on its own).
    ///
    /// # Errors
    /// [`WasmError::Unsupported`] for the settings the browser cannot honour
    /// yet: `timeout` (nothing can interrupt a call on the page's thread),
    /// `max_stack_depth` (the browser's stack is its own), and WASI.
    pub fn new(config: WasmRuntimeConfig) -> Result<Self> {
        let refused = if config.timeout.is_some() {
            Some("deadlines on the web engine (a call on the page's thread cannot be interrupted)")
        } else if config.max_stack_depth.is_some() {
            Some("max_stack_depth on the web engine (the browser's stack depth is its own)")
        } else if config.enable_wasi {
            Some("WASI on the web engine")
        } else {
            None
        };
        if let Some(feature) = refused {
            return Err(unsupported(feature));
        }
        Ok(WebRuntime {
            config: Arc::new(config),
            counters: Arc::new(RuntimeCounters::default()),
        })
    }
}

impl std::fmt::Debug for WebRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebRuntime")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// [`WasmError::Unsupported`] naming what the web engine lacks.
fn unsupported(feature: &str) -> WasmError {
    WasmError::Unsupported {
        feature: feature.into(),
    }
}

/// What [`WasmRuntime::supported_features`] reports; must agree with [`PROPOSALS`].
fn features() -> WasmFeatures {
    let mut features = WasmFeatures::default();
    features.multi_value = true;
    features.bulk_memory = true;
    features.reference_types = true;
    features.simd = true;
    features.tail_calls = true;
    features.extended_const = true;
    features.fuel = true;
    features
}

impl WasmRuntime for WebRuntime {
    fn name(&self) -> &'static str {
        ENGINE
    }

    fn version(&self) -> &'static str {
        VERSION
    }

    fn supported_features(&self) -> WasmFeatures {
        features()
    }

    fn config(&self) -> &WasmRuntimeConfig {
        &self.config
    }

    fn load_module(&self, bytes: &[u8]) -> Result<Arc<dyn WasmModule>> {
        let binary = prepare(bytes, &self.config.module_bounds)?;
        validate(&binary)?;
        let info = read_module_info(&binary)?;
        let module = module::WebModule::new(binary.into_owned(), info, Arc::clone(&self.config))?;
        self.counters.module_loaded(false);
        Ok(Arc::new(module))
    }

    fn validate_bytes(&self, bytes: &[u8]) -> Result<()> {
        let binary = prepare(bytes, &self.config.module_bounds)?;
        validate(&binary)
    }

    fn instantiate(
        &self,
        module: &Arc<dyn WasmModule>,
        imports: &Imports,
    ) -> Result<Box<dyn WasmInstance>> {
        let limits = StoreLimitValues::new(&self.config);
        let mut store = store::WebStore::new(&self.config, limits, &self.counters)?;
        store.add(module, imports, store::Linking::Alone)?;
        Ok(Box::new(store))
    }

    fn instantiate_with_limits(
        &self,
        module: &Arc<dyn WasmModule>,
        imports: &Imports,
        limits: InstanceLimits,
    ) -> Result<Box<dyn WasmInstance>> {
        if limits.timeout.is_some() {
            return Err(unsupported(
                "deadlines on the web engine (a call on the page's thread cannot be interrupted)",
            ));
        }
        // The instance's cap only tightens the runtime's, as on the other engines.
        let store_limits = StoreLimitValues::new(&self.config).capped(limits.max_memory_bytes);
        let mut store = store::WebStore::new(&self.config, store_limits, &self.counters)?;
        store.add(module, imports, store::Linking::Alone)?;
        Ok(Box::new(store))
    }

    fn new_store(&self) -> Result<Box<dyn WasmStore>> {
        let limits = StoreLimitValues::new(&self.config);
        Ok(Box::new(store::WebStore::new(
            &self.config,
            limits,
            &self.counters,
        )?))
    }

    fn stats(&self) -> RuntimeStats {
        self.counters.snapshot()
    }
}

/// Validates with the proposals the browser is relied on for, so that a module
/// is refused here, in wasmparser's words, rather than half-way by the browser.
fn validate(binary: &[u8]) -> Result<()> {
    wasmparser::Validator::new_with_features(PROPOSALS)
        .validate_all(binary)
        .map(drop)
        .map_err(|error| compile_error(binary, PROPOSALS, error))
}
