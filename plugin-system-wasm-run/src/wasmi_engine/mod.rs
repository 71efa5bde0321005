//! The wasmi engine: an interpreter, for targets that forbid a JIT and for instant
//! start-up.
//!
//! One [`wasmi::Engine`] per runtime, one [`wasmi::Store`] per instance, or per
//! [`WasmStore`] of linked instances. wasmi has no epoch interruption, so fuel
//! metering is always on in the engine: a deadline runs guest code in slices of
//! fuel and looks at the clock between slices ([`call`]), while the fuel the user
//! sees stays exact.
//!
//! Code map: [`state`] (what a store holds), [`store`] (instantiation, stores of
//! several instances), [`linking`] (imports, host functions, exports of other
//! instances), [`instance`] (calls, globals, fuel), [`call`] (the typed fast
//! path and the deadline path), [`memory`] (memory views), [`convert`] (values,
//! types and errors), [`module`] (compiling: the start function moved under the
//! deadline, instructions wasmi runs wrongly refused).

mod call;
mod convert;
mod instance;
mod linking;
mod memory;
mod module;
mod state;
mod store;
#[cfg(feature = "wasi")]
mod wasi;

pub(crate) use module::WasmiModule;

use std::{
    panic::{AssertUnwindSafe, catch_unwind},
    sync::Arc,
};

use plugin_system_core::{
    BoxError, Imports, InstanceLimits, Result, RuntimeCounters, RuntimeStats, WasmError,
    WasmFeatures, WasmInstance, WasmModule, WasmRuntime, WasmRuntimeConfig, WasmStore,
};
use wasmparser::WasmFeatures as Proposals;

use crate::{
    module_info::{compile_error, prepare, read_module_info},
    shared,
};

/// The engine's name, as runtimes and modules report it.
const ENGINE: &str = "wasmi";

/// The wasmi version the workspace pins (`=2.0.0`).
const VERSION: &str = "2.0.0";

/// The proposals [`engine_config`] enables, in the workspace's `wasmparser` terms, so
/// that [`compile_error()`] can name the proposal a refused module needs.
///
/// memory64 is absent: wasmi implements it only behind its `memory64` cargo feature,
/// which the workspace does not enable. Custom page sizes and wide arithmetic are off
/// as on wasmtime, where they are off by default too.
const PROPOSALS: Proposals = Proposals::WASM2
    .union(Proposals::TAIL_CALL)
    .union(Proposals::EXTENDED_CONST)
    .union(Proposals::MULTI_MEMORY)
    .union(Proposals::RELAXED_SIMD);

/// The wasmi interpreter behind [`WasmRuntime`].
///
/// ```
/// use plugin_system_core::{WasmRuntime, WasmRuntimeConfig, WasmValue};
/// use plugin_system_wasm_run::WasmiRuntime;
///
/// let runtime = WasmiRuntime::new(WasmRuntimeConfig::default().fuel_limit(1_000))?;
/// let module = runtime.load_module(br#"(module
///     (func (export "add") (param i32 i32) (result i32)
///         local.get 0 local.get 1 i32.add))"#)?;
/// let mut instance = runtime.instantiate(&module, &Default::default())?;
/// assert_eq!(instance.call("add", &[WasmValue::I32(2), WasmValue::I32(3)])?, [WasmValue::I32(5)]);
/// assert!(instance.fuel()? < 1_000);
/// # Ok::<(), plugin_system_core::WasmError>(())
/// ```
pub struct WasmiRuntime {
    engine: wasmi::Engine,
    config: Arc<WasmRuntimeConfig>,
    counters: Arc<RuntimeCounters>,
}

impl WasmiRuntime {
    /// Sets on `config` the WebAssembly proposals this runtime accepts, and no
    /// others: for a raw wasmi engine that is to behave as this runtime's (the
    /// spec suite and the benchmarks compare the two).
    pub fn enable_proposals(config: &mut wasmi::Config) -> &mut wasmi::Config {
        config
            .wasm_mutable_global(true)
            .wasm_sign_extension(true)
            .wasm_saturating_float_to_int(true)
            .wasm_multi_value(true)
            .wasm_bulk_memory(true)
            .wasm_reference_types(true)
            .wasm_simd(true)
            .wasm_relaxed_simd(true)
            .wasm_tail_call(true)
            .wasm_multi_memory(true)
            .wasm_extended_const(true)
            .wasm_custom_page_sizes(false)
            .wasm_wide_arithmetic(false)
    }

    /// An engine with `config`.
    ///
    /// `enable_optimization` has no effect: wasmi has a single translation. With a
    /// `fuel_limit`, functions are translated when the module is loaded rather than on
    /// their first call, so that a call costs the same fuel in every instance.
    ///
    /// # Errors
    /// None today; the `Result` leaves room for configurations wasmi cannot honour.
    pub fn new(config: WasmRuntimeConfig) -> Result<Self, WasmError> {
        let engine = wasmi::Engine::new(&engine_config(&config));
        Ok(WasmiRuntime {
            engine,
            config: Arc::new(config),
            counters: Arc::new(RuntimeCounters::default()),
        })
    }
}

impl std::fmt::Debug for WasmiRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WasmiRuntime")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// The wasmi configuration for `config`.
fn engine_config(config: &WasmRuntimeConfig) -> wasmi::Config {
    let mut wasmi_config = wasmi::Config::default();
    WasmiRuntime::enable_proposals(&mut wasmi_config)
        // Always on: deadlines are built on fuel, there being no epochs in wasmi.
        .consume_fuel(true);
    // The same effective depth on both engines: see `shared::stack_depth`.
    let depth = shared::stack_depth(config.max_stack_depth);
    wasmi_config.set_max_recursion_depth(usize::try_from(depth).unwrap_or(usize::MAX));
    // Lazy translation charges the fuel of translating a function to whichever
    // instance calls it first; eager translation keeps fuel per call deterministic.
    if config.fuel_limit.is_some() {
        wasmi_config.compilation_mode(wasmi::CompilationMode::Eager);
    } else {
        wasmi_config.compilation_mode(wasmi::CompilationMode::LazyTranslation);
        // Unmetered, fuel only cuts a call into deadline slices. wasmi charges the
        // lazy translation of a function to the call that first reaches it, and
        // fails that call (instead of pausing it) when the charge does not fit the
        // slice's fuel: translation must be free here.
        wasmi_config.fuel_cost(wasmi::CustomFuelCosts {
            bytes_copied_per_fuel: 64,
            fuel_per_bytes_translated: 0,
            fuel_per_bytes_validated: 0,
        });
    }
    wasmi_config
}

/// What [`WasmRuntime::supported_features`] reports; must agree with [`PROPOSALS`].
fn features() -> WasmFeatures {
    let mut features = WasmFeatures::default();
    features.multi_value = true;
    features.bulk_memory = true;
    features.reference_types = true;
    features.simd = true;
    features.relaxed_simd = true;
    features.tail_calls = true;
    features.multi_memory = true;
    features.extended_const = true;
    features.fuel = true;
    features.deadlines = true;
    // Both engines serve WASI preview 1 when the crate is built with it.
    features.wasi = cfg!(feature = "wasi");
    features
}

/// Runs a wasmi operation that should not panic, turning an error or a panic into
/// the engine's message: bad input must never take the host down.
fn guarded<T>(op: impl FnOnce() -> Result<T, wasmi::Error>) -> Result<T, BoxError> {
    match catch_unwind(AssertUnwindSafe(op)) {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => Err(error.into()),
        Err(_) => Err("wasmi panicked on this module".into()),
    }
}

impl WasmRuntime for WasmiRuntime {
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
        let (module, start_hoisted) = module::compile(&self.engine, &binary)?;
        let info = read_module_info(&binary)?;
        self.counters.module_loaded(false);
        Ok(Arc::new(WasmiModule {
            module,
            info,
            start_hoisted,
            config: Arc::clone(&self.config),
        }))
    }

    fn validate_bytes(&self, bytes: &[u8]) -> Result<()> {
        let binary = prepare(bytes, &self.config.module_bounds)?;
        module::refuse_defects(&binary)?;
        guarded(|| wasmi::Module::validate(&self.engine, &binary))
            .map_err(|error| compile_error(&binary, PROPOSALS, error))
    }

    fn instantiate(
        &self,
        module: &Arc<dyn WasmModule>,
        imports: &Imports,
    ) -> Result<Box<dyn WasmInstance>> {
        let mut store = store::WasmiStore::new(&self.engine, &self.config, &self.counters);
        store.add(module, imports, store::Linking::Alone)?;
        Ok(Box::new(store))
    }

    fn instantiate_with_limits(
        &self,
        module: &Arc<dyn WasmModule>,
        imports: &Imports,
        limits: InstanceLimits,
    ) -> Result<Box<dyn WasmInstance>> {
        let mut store = store::WasmiStore::new(&self.engine, &self.config, &self.counters);
        store.set_timeout(limits.timeout_under(self.config.timeout));
        store.set_memory_limit(limits.max_memory_bytes)?;
        store.add(module, imports, store::Linking::Alone)?;
        Ok(Box::new(store))
    }

    fn new_store(&self) -> Result<Box<dyn WasmStore>> {
        Ok(Box::new(store::WasmiStore::new(
            &self.engine,
            &self.config,
            &self.counters,
        )))
    }

    fn stats(&self) -> RuntimeStats {
        self.counters.snapshot()
    }
}
