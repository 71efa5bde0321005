//! [`TieredRuntime`]: modules start on an interpreter at once and move to a
//! JIT's code when its compile, on a background thread, is done.

mod compiler;
mod module;

use std::{
    collections::HashMap,
    fmt,
    sync::{Arc, Mutex, PoisonError, Weak},
};

use plugin_system_core::{
    Imports, InstanceLimits, NextTier, Result, RuntimeStats, WasmError, WasmFeatures, WasmInstance,
    WasmModule, WasmRuntime, WasmRuntimeConfig, WasmStore,
};
use sha2::{Digest, Sha256};

use self::{
    compiler::Compiler,
    module::{QuickModule, Slot},
};
use crate::{CachedRuntime, EngineKind, ModuleCache};

/// Background compiles that run at once, by default. Each one already spreads
/// its functions over every core (Cranelift compiles functions in parallel), so
/// more would mostly share the same cores.
pub const DEFAULT_COMPILE_THREADS: usize = 2;

/// A runtime that starts each module on a quick runtime (wasmi: no compile
/// before the first call) and compiles it with an optimizing one (wasmtime)
/// on a background thread, into a [`ModuleCache`](crate::ModuleCache).
///
/// [`load_module`](WasmRuntime::load_module):
/// - With an entry in the cache, returns the optimizing runtime's module at
///   once: a warm start runs on wasmtime from the first call.
/// - Else returns the quick runtime's module, and queues the bytes for the
///   background compile (once per module, however many loads ask for it while
///   it runs). The module's [`next_tier`](WasmModule::next_tier) is
///   [`Pending`](NextTier::Pending) until the compile is done, then
///   [`Ready`](NextTier::Ready) with the compiled module, which is in the
///   cache for the next load too; a compile that fails leaves it
///   [`Final`](NextTier::Final) (the reason is logged), on the quick tier.
/// - A module the quick runtime cannot run (a proposal wasmi lacks) is
///   compiled by the optimizing one before `load_module` returns.
///
/// Instances of the quick module stay on the quick runtime; whoever holds one
/// decides when to move to the compiled module: the plugin layer does so
/// between events, when the plugin's state allows. Both runtimes take the same
/// [`WasmRuntimeConfig`], so a module behaves alike on either (limits, WASI,
/// traps); fuel is counted in each engine's own units.
///
/// Compiles run on at most [`compile_threads`](Self::with_compile_threads)
/// threads at once, the smallest module first; threads end when none is
/// waiting.
///
/// ```no_run
/// use plugin_system_core::{WasmRuntime, WasmRuntimeConfig};
/// use plugin_system_wasm_run::ModuleCache;
///
/// let runtime = ModuleCache::open_default()?.new_tiered_runtime(WasmRuntimeConfig::default())?;
/// let module = runtime.load_module(&std::fs::read("big.wasm")?)?; // on wasmi, at once
/// let mut instance = runtime.instantiate(&module, &Default::default())?;
/// // ... calls run on wasmi; the next load after the compile runs on wasmtime.
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct TieredRuntime {
    quick: Arc<dyn WasmRuntime>,
    optimized: Arc<CachedRuntime>,
    compiler: Arc<Compiler>,
    /// The slots of compiles under way (or done, while a module holds them),
    /// by the SHA-256 of the bytes.
    slots: Mutex<HashMap<[u8; 32], Weak<Slot>>>,
    /// Who compiles instead of this process, if anyone.
    hand_off: Option<HandOff>,
}

/// A compile handed to someone else: called with a module's bytes and their
/// SHA-256.
type HandOff = Arc<dyn Fn(&[u8], &[u8; 32]) + Send + Sync>;

impl TieredRuntime {
    /// `quick` starting modules, `optimized` compiling them in the background
    /// into its cache. Give both the same [`WasmRuntimeConfig`].
    ///
    /// # Errors
    /// [`WasmError::Unsupported`] when the two configurations differ: a
    /// module would change its limits when it moves.
    pub fn new(quick: Arc<dyn WasmRuntime>, optimized: CachedRuntime) -> Result<TieredRuntime> {
        if quick.config() != optimized.config() {
            return Err(WasmError::Unsupported {
                feature: "tiering between runtimes of different configurations".into(),
            });
        }
        let optimized = Arc::new(optimized);
        Ok(TieredRuntime {
            compiler: Arc::new(Compiler::new(
                Arc::clone(&optimized),
                DEFAULT_COMPILE_THREADS,
            )),
            quick,
            optimized,
            slots: Mutex::default(),
            hand_off: None,
        })
    }

    /// Hands each module to `compile` with its SHA-256 (once per module, as
    /// the background
    /// compile would be queued) instead of compiling it in this process: for a
    /// short-lived process, such as a command, that starts a longer-lived one
    /// to fill the cache for its next run. Modules then stay on the quick tier
    /// in this process ([`NextTier::Final`]); a module already in the cache
    /// still loads from it.
    #[must_use]
    pub fn with_compile_hand_off(
        mut self,
        compile: impl Fn(&[u8], &[u8; 32]) + Send + Sync + 'static,
    ) -> TieredRuntime {
        self.hand_off = Some(Arc::new(compile));
        self
    }

    /// At most `threads` background compiles at once (at least one).
    #[must_use]
    pub fn with_compile_threads(mut self, threads: usize) -> TieredRuntime {
        self.compiler = Arc::new(Compiler::new(Arc::clone(&self.optimized), threads));
        self
    }

    /// The runtime modules start on.
    pub fn quick(&self) -> &Arc<dyn WasmRuntime> {
        &self.quick
    }

    /// The runtime that compiles them, through its cache.
    pub fn optimized(&self) -> &CachedRuntime {
        &self.optimized
    }

    /// Modules waiting for, or in, a background compile.
    pub fn compiles_pending(&self) -> usize {
        self.compiler.pending()
    }

    /// Blocks until every background compile queued so far is done (each
    /// module's [`next_tier`](WasmModule::next_tier) is then `Ready` or
    /// `Final`). For a process that wants the cache filled before it exits,
    /// and for tests.
    pub fn wait_for_compiles(&self) {
        self.compiler.wait_idle();
    }

    /// The slot of the compile of the bytes whose SHA-256 is `digest`: the
    /// one under way, or a new one (then `true`).
    fn slot(&self, digest: [u8; 32]) -> (Arc<Slot>, bool) {
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(slot) = slots.get(&digest).and_then(Weak::upgrade) {
            return (slot, false);
        }
        slots.retain(|_, slot| slot.strong_count() > 0);
        let slot = Arc::new(Slot::default());
        slots.insert(digest, Arc::downgrade(&slot));
        (slot, true)
    }
}

impl fmt::Debug for TieredRuntime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TieredRuntime")
            .field("quick", &self.quick.name())
            .field("optimized", &self.optimized)
            .field("compiles_pending", &self.compiles_pending())
            .finish_non_exhaustive()
    }
}

impl WasmRuntime for TieredRuntime {
    /// `tiered`.
    fn name(&self) -> &'static str {
        "tiered"
    }

    /// The optimizing engine's version.
    fn version(&self) -> &'static str {
        self.optimized.version()
    }

    /// What both engines implement: a module uses more only on the optimizing
    /// one, compiled before `load_module` returns.
    fn supported_features(&self) -> WasmFeatures {
        self.optimized.supported_features()
    }

    fn config(&self) -> &WasmRuntimeConfig {
        self.optimized.config()
    }

    fn load_module(&self, bytes: &[u8]) -> Result<Arc<dyn WasmModule>> {
        let digest: [u8; 32] = Sha256::digest(bytes).into();
        if let Some(module) = self.optimized.load_cached_digest(bytes, &digest) {
            return Ok(module);
        }
        let (slot, new) = self.slot(digest);
        if let NextTier::Ready(module) = slot.next_tier() {
            // Compiled in this process, yet not in the cache (unwritable).
            return Ok(module);
        }
        let inner = match self.quick.load_module(bytes) {
            Ok(inner) => inner,
            Err(WasmError::Unsupported { feature }) => {
                tracing::debug!(
                    "{} cannot run the module ({feature}): {} compiles it now",
                    self.quick.name(),
                    self.optimized.name()
                );
                return self.optimized.load_module(bytes);
            }
            Err(e) => return Err(e),
        };
        if new {
            match &self.hand_off {
                Some(compile) => {
                    compile(bytes, &digest);
                    slot.fail();
                }
                None => self.compiler.submit(Arc::from(bytes), Arc::clone(&slot)),
            }
        }
        Ok(Arc::new(QuickModule { inner, slot }))
    }

    fn validate_bytes(&self, bytes: &[u8]) -> Result<()> {
        self.optimized.validate_bytes(bytes)
    }

    fn instantiate(
        &self,
        module: &Arc<dyn WasmModule>,
        imports: &Imports,
    ) -> Result<Box<dyn WasmInstance>> {
        self.instantiate_with_limits(module, imports, InstanceLimits::default())
    }

    fn instantiate_with_limits(
        &self,
        module: &Arc<dyn WasmModule>,
        imports: &Imports,
        limits: InstanceLimits,
    ) -> Result<Box<dyn WasmInstance>> {
        match module.as_any().downcast_ref::<QuickModule>() {
            Some(quick) => self
                .quick
                .instantiate_with_limits(&quick.inner, imports, limits),
            None => self
                .optimized
                .instantiate_with_limits(module, imports, limits),
        }
    }

    /// Unsupported: the instances of a store share one engine's objects, and
    /// a module of the store cannot move alone. Use the quick or the
    /// optimizing runtime for stores.
    fn new_store(&self) -> Result<Box<dyn WasmStore>> {
        Err(WasmError::Unsupported {
            feature: "stores of several instances on the tiered runtime (their modules \
                      cannot move one by one): use its quick() or optimized() runtime"
                .into(),
        })
    }

    fn precompile(&self, bytes: &[u8]) -> Result<Vec<u8>> {
        self.optimized.precompile(bytes)
    }

    fn load_precompiled(&self, bytes: &[u8]) -> Result<Arc<dyn WasmModule>> {
        self.optimized.load_precompiled(bytes)
    }

    /// Both runtimes' counters, added: the background compile counts as a
    /// module loaded.
    fn stats(&self) -> RuntimeStats {
        let (quick, optimized) = (self.quick.stats(), self.optimized.stats());
        let mut stats = RuntimeStats::default();
        stats.modules_loaded = quick.modules_loaded + optimized.modules_loaded;
        stats.instances_created = quick.instances_created + optimized.instances_created;
        stats.instances_active = quick.instances_active + optimized.instances_active;
        stats.precompiled_loaded = quick.precompiled_loaded + optimized.precompiled_loaded;
        stats
    }
}

impl ModuleCache {
    /// A [`TieredRuntime`] over this cache: wasmi starting modules, wasmtime
    /// compiling them into the cache, both with `config`.
    ///
    /// # Errors
    /// [`WasmError::Unsupported`] when either engine is not built in, or the
    /// target allows no JIT; as [`new_runtime`](crate::new_runtime).
    pub fn new_tiered_runtime(&self, config: WasmRuntimeConfig) -> Result<TieredRuntime> {
        if !EngineKind::Tiered.is_available() {
            return Err(WasmError::Unsupported {
                feature:
                    "tiering: it needs both wasmi and wasmtime built in, on a target with a JIT"
                        .into(),
            });
        }
        let quick = crate::new_runtime(EngineKind::Wasmi, config.clone())?;
        let optimized = self.new_runtime(EngineKind::Wasmtime, config)?;
        TieredRuntime::new(quick, optimized)
    }
}
