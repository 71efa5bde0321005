//! The wasmtime engine: Cranelift-compiled code, epoch-based deadlines, fuel,
//! a resource limiter per store, and precompiled modules.

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

use std::{
    sync::{Arc, OnceLock},
    thread,
};

use plugin_system_core::{
    Imports, InstanceLimits, Result, RuntimeCounters, RuntimeStats, WasmError, WasmFeatures,
    WasmInstance, WasmModule, WasmRuntime, WasmRuntimeConfig, WasmStore,
};
use wasmtime::{Config, Engine, OptLevel};

use crate::{module_info, shared};
pub(crate) use module::WasmtimeModule;
pub(crate) use store::WasmtimeStore;

/// The proposals this engine is configured to accept, as the validator names them.
fn parser_features() -> wasmparser::WasmFeatures {
    use wasmparser::WasmFeatures as F;
    F::WASM2
        | F::TAIL_CALL
        | F::MULTI_MEMORY
        | F::MEMORY64
        | F::RELAXED_SIMD
        | F::EXTENDED_CONST
        | F::EXCEPTIONS
        | F::FUNCTION_REFERENCES
        | F::GC
}

/// What this engine implements, as the core reports it.
pub(crate) fn features() -> WasmFeatures {
    let mut f = WasmFeatures::default();
    f.multi_value = true;
    f.bulk_memory = true;
    f.reference_types = true;
    f.simd = true;
    f.relaxed_simd = true;
    f.tail_calls = true;
    f.exceptions = true;
    f.memory64 = true;
    f.multi_memory = true;
    f.extended_const = true;
    f.gc = true;
    f.function_references = true;
    f.fuel = true;
    f.deadlines = true;
    // Both engines serve WASI preview 1 when the crate is built with it.
    f.wasi = cfg!(feature = "wasi");
    f.precompile = true;
    f
}

/// The wasmtime module behind `module`, or the error for one of another engine.
pub(crate) fn module_of<'a>(
    module: &'a Arc<dyn WasmModule>,
    engine: &Engine,
) -> Result<&'a WasmtimeModule> {
    match module.as_any().downcast_ref::<WasmtimeModule>() {
        Some(m) if Engine::same(m.module.engine(), engine) => Ok(m),
        Some(_) => Err(WasmError::ForeignModule {
            engine: "wasmtime",
            module_engine: "wasmtime (another runtime)".into(),
        }),
        None => Err(WasmError::ForeignModule {
            engine: "wasmtime",
            module_engine: module.engine().to_string(),
        }),
    }
}

/// What [`WasmtimeRuntime`] shares with its modules and instances.
pub(crate) struct Shared {
    pub(crate) engine: Engine,
    pub(crate) config: WasmRuntimeConfig,
    pub(crate) counters: Arc<RuntimeCounters>,
    /// Secret that seals precompiled modules (see `module::precompile`).
    pub(crate) precompile_key: [u8; 32],
    /// The deadline ticker, started when the first deadline is armed; the
    /// error when it could not start, which every deadline then reports.
    ticker: OnceLock<Result<(), String>>,
    /// WASI preview 1's functions, defined once (the guest's world is per
    /// store): at start-up with `enable_wasi`, else when a store is first
    /// given a world.
    #[cfg(feature = "wasi")]
    wasi: OnceLock<Option<wasmtime::Linker<state::StoreData>>>,
}

impl Shared {
    /// WASI's functions, when an instance linked with `imports` is served
    /// WASI ([`shared::wasi_served`]).
    #[cfg(feature = "wasi")]
    pub(crate) fn wasi_linker(
        &self,
        imports: &plugin_system_core::Imports,
    ) -> Option<&wasmtime::Linker<state::StoreData>> {
        if !crate::shared::wasi_served(&self.config, imports) {
            return None;
        }
        self.wasi
            .get_or_init(|| {
                let mut linker = wasmtime::Linker::new(&self.engine);
                // Defining them failed at start-up too, with enable_wasi; here
                // the module's WASI imports are reported missing.
                wasi::define_all(&mut linker)
                    .inspect_err(|e| tracing::warn!("cannot define WASI: {e}"))
                    .ok()
                    .map(|()| linker)
            })
            .as_ref()
    }

    /// Starts the engine's one deadline ticker, once. It bumps the epoch every
    /// [`shared::EPOCH_TICK`] and ends when the engine is gone. Each store has its
    /// own deadline in ticks, so a deadline in one instance never stops another.
    ///
    /// # Errors
    /// [`WasmError::Engine`] when the thread cannot be spawned: deadlines would
    /// silently not hold, so every call under one fails instead.
    pub(crate) fn start_ticker(&self) -> Result<()> {
        self.ticker
            .get_or_init(|| {
                let weak = self.engine.weak();
                thread::Builder::new()
                    .name("plugin-system-epoch".into())
                    .spawn(move || {
                        while let Some(engine) = weak.upgrade() {
                            engine.increment_epoch();
                            drop(engine);
                            thread::sleep(shared::EPOCH_TICK);
                        }
                    })
                    .map(drop)
                    .map_err(|e| format!("cannot start the deadline ticker: {e}"))
            })
            .clone()
            .map_err(WasmError::engine)
    }
}

/// The wasmtime engine behind [`WasmRuntime`].
///
/// Compiles with Cranelift; each instance gets its own `Store` with a resource
/// limiter, fuel (when `fuel_limit` is set) and an epoch deadline (when a timeout
/// is set). Cheap to share: clone the `Arc` you keep it in.
pub struct WasmtimeRuntime {
    shared: Arc<Shared>,
}

impl WasmtimeRuntime {
    /// An engine with this configuration.
    ///
    /// # Errors
    /// [`WasmError::Engine`] when wasmtime refuses the configuration.
    pub fn new(config: WasmRuntimeConfig) -> Result<Self> {
        Self::build(config, None, None)
    }

    /// An engine that preallocates `instances` instance slots (wasmtime's pooling
    /// allocator): instantiation takes about half as long, and at most `instances`
    /// instances (and as many memories and tables) live at once; one more is
    /// [`WasmError::Engine`] until another is dropped. Each slot reserves address
    /// space for a memory of `max_memory_pages` (4 GiB when unset), not memory.
    ///
    /// # Errors
    /// [`WasmError::Engine`] when wasmtime refuses the configuration.
    pub fn with_pooling(config: WasmRuntimeConfig, instances: u32) -> Result<Self> {
        Self::build(config, Some(instances), None)
    }

    /// An engine whose precompiled modules are sealed with `key`.
    ///
    /// By default each runtime draws a random key, so its precompiled bytes load
    /// only into itself. A host that caches precompiled modules on disk across
    /// runs gives its own key, kept where guests and other users cannot read it:
    /// whoever holds the key can make bytes that this runtime will execute.
    ///
    /// # Errors
    /// [`WasmError::Engine`] when wasmtime refuses the configuration.
    pub fn with_precompile_key(config: WasmRuntimeConfig, key: [u8; 32]) -> Result<Self> {
        Self::build(config, None, Some(key))
    }

    fn build(config: WasmRuntimeConfig, pool: Option<u32>, key: Option<[u8; 32]>) -> Result<Self> {
        let mut wt = Config::new();
        if let Some(instances) = pool {
            let mut pooling = wasmtime::PoolingAllocationConfig::new();
            pooling
                .total_core_instances(instances)
                .total_memories(instances)
                .total_tables(instances)
                .total_gc_heaps(instances)
                .max_memories_per_module(1)
                .max_tables_per_module(1);
            if let Some(pages) = config.max_memory_pages {
                let bytes = pages.saturating_mul(plugin_system_core::PAGE_SIZE);
                pooling.max_memory_size(usize::try_from(bytes).unwrap_or(usize::MAX));
            }
            if let Some(elements) = config.max_table_elements {
                pooling.table_elements(usize::try_from(elements).unwrap_or(usize::MAX));
            }
            wt.allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(pooling));
        }
        wt.cranelift_opt_level(if config.enable_optimization {
            OptLevel::Speed
        } else {
            OptLevel::None
        })
        .consume_fuel(config.fuel_limit.is_some())
        .epoch_interruption(true);
        Self::enable_proposals(&mut wt);
        // 4096 frames at 256 bytes is 1 MiB, below the 2 MiB wasmtime keeps for
        // async calls, which `max_wasm_stack` must not exceed.
        let depth = shared::stack_depth(config.max_stack_depth) as usize;
        wt.max_wasm_stack(depth * shared::STACK_BYTES_PER_FRAME);
        let engine = Engine::new(&wt).map_err(WasmError::engine)?;
        let precompile_key = match key {
            Some(key) => key,
            None => {
                let mut key = [0u8; 32];
                getrandom::fill(&mut key).map_err(|e| {
                    WasmError::engine_in("no randomness for the precompile key", e.to_string())
                })?;
                key
            }
        };
        #[cfg(feature = "wasi")]
        let wasi = OnceLock::new();
        #[cfg(feature = "wasi")]
        if config.enable_wasi {
            let mut linker = wasmtime::Linker::new(&engine);
            wasi::define_all(&mut linker)
                .map_err(|e| WasmError::engine_in("cannot define WASI", e))?;
            let _ = wasi.set(Some(linker));
        }
        let shared = Arc::new(Shared {
            engine,
            config,
            counters: Arc::default(),
            precompile_key,
            ticker: OnceLock::new(),
            #[cfg(feature = "wasi")]
            wasi,
        });
        if shared.config.timeout.is_some() {
            shared.start_ticker()?;
        }
        Ok(WasmtimeRuntime { shared })
    }

    /// Sets on `config` the WebAssembly proposals this runtime accepts, and no
    /// others: for a raw wasmtime engine that is to behave as this runtime's
    /// (the spec suite and the benchmarks compare the two).
    pub fn enable_proposals(config: &mut wasmtime::Config) -> &mut wasmtime::Config {
        config
            .wasm_tail_call(true)
            .wasm_multi_memory(true)
            .wasm_memory64(true)
            .wasm_relaxed_simd(true)
            .wasm_extended_const(true)
            .wasm_function_references(true)
            .wasm_gc(true)
            .wasm_exceptions(true)
            // Shared memories are not offered (no `Config::shared_memory`): a
            // module that needs threads is `Unsupported`, as on wasmi.
            .wasm_threads(false)
            .wasm_wide_arithmetic(false)
            .wasm_custom_page_sizes(false)
    }

    /// The underlying wasmtime engine, for embedders that need more than this API.
    pub fn engine(&self) -> &Engine {
        &self.shared.engine
    }
}

impl WasmRuntime for WasmtimeRuntime {
    fn name(&self) -> &'static str {
        "wasmtime"
    }

    /// wasmtime's version, from the crate that wasmtime pins to its own
    /// (`wasmtime-environ`): the module cache's keys name it, and wasmtime's
    /// own check of precompiled bytes looks at the major version only.
    fn version(&self) -> &'static str {
        wasmtime_environ::VERSION
    }

    fn supported_features(&self) -> WasmFeatures {
        features()
    }

    fn config(&self) -> &WasmRuntimeConfig {
        &self.shared.config
    }

    fn load_module(&self, bytes: &[u8]) -> Result<Arc<dyn WasmModule>> {
        let binary = module_info::prepare(bytes, &self.shared.config.module_bounds)?;
        let module = wasmtime::Module::from_binary(&self.shared.engine, &binary)
            .map_err(|e| module_info::compile_error(&binary, parser_features(), e))?;
        let info = module_info::read_module_info(&binary)?;
        self.shared.counters.module_loaded(false);
        Ok(Arc::new(WasmtimeModule::new(module, info, &self.shared)))
    }

    fn validate_bytes(&self, bytes: &[u8]) -> Result<()> {
        let binary = module_info::prepare(bytes, &self.shared.config.module_bounds)?;
        wasmtime::Module::validate(&self.shared.engine, &binary)
            .map_err(|e| module_info::compile_error(&binary, parser_features(), e))
    }

    fn instantiate(
        &self,
        module: &Arc<dyn WasmModule>,
        imports: &Imports,
    ) -> Result<Box<dyn WasmInstance>> {
        // A store of its own with one instance. An `Extern::Export` finds no
        // instance to refer to there, and `link` says so.
        let mut store = WasmtimeStore::new(Arc::clone(&self.shared))?;
        WasmStore::instantiate(&mut store, module, imports)?;
        Ok(Box::new(store))
    }

    fn instantiate_with_limits(
        &self,
        module: &Arc<dyn WasmModule>,
        imports: &Imports,
        limits: InstanceLimits,
    ) -> Result<Box<dyn WasmInstance>> {
        let mut store = WasmtimeStore::new(Arc::clone(&self.shared))?;
        store.set_timeout(limits.timeout_under(self.shared.config.timeout));
        store.set_memory_limit(limits.max_memory_bytes)?;
        WasmStore::instantiate(&mut store, module, imports)?;
        Ok(Box::new(store))
    }

    fn new_store(&self) -> Result<Box<dyn WasmStore>> {
        Ok(Box::new(WasmtimeStore::new(Arc::clone(&self.shared))?))
    }

    fn precompile(&self, bytes: &[u8]) -> Result<Vec<u8>> {
        module::precompile(&self.shared, bytes)
    }

    fn load_precompiled(&self, bytes: &[u8]) -> Result<Arc<dyn WasmModule>> {
        module::load_precompiled(&self.shared, bytes)
    }

    fn stats(&self) -> RuntimeStats {
        self.shared.counters.snapshot()
    }
}
