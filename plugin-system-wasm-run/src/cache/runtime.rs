//! [`CachedRuntime`]: a runtime that loads modules through a [`ModuleCache`].

use std::{
    fmt,
    path::Path,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
};

use plugin_system_core::{
    Imports, InstanceLimits, Result, RuntimeStats, WasmFeatures, WasmInstance, WasmModule,
    WasmRuntime, WasmRuntimeConfig, WasmStore,
};
use sha2::{Digest, Sha256};

use super::{CacheKey, ModuleCache, files, seal};
use crate::{ModuleKind, module_info, module_kind};

/// A runtime that loads modules through a [`ModuleCache`] and does everything
/// else as the runtime it wraps: made by [`ModuleCache::new_runtime`] or
/// [`ModuleCache::wrap`].
///
/// [`load_module`](WasmRuntime::load_module) (and
/// [`load_module_from_file`](WasmRuntime::load_module_from_file)) loads the
/// entry of the module's [`CacheKey`] if there is one the runtime takes, else
/// compiles, writes the entry and evicts what no longer fits. Whatever goes
/// wrong with the cache, the module is compiled as without it; only the
/// module's own faults are errors, the same ones the wrapped runtime gives. On
/// an engine that does not precompile (wasmi) it passes every call through,
/// reads and writes nothing, and counts nothing.
pub struct CachedRuntime {
    inner: Arc<dyn WasmRuntime>,
    cache: ModuleCache,
    counters: Counters,
}

/// What a [`CachedRuntime`] did with its cache so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CacheStats {
    /// Modules loaded from an entry.
    pub hits: u64,
    /// Modules compiled because no entry was there, or the one there was
    /// refused (corrupt, truncated, sealed under another key, of another
    /// engine version or configuration, of another module) or unreadable.
    pub misses: u64,
    /// Entries written.
    pub stored: u64,
    /// Entries removed to keep the cache within its bound.
    pub evicted: u64,
}

#[derive(Default)]
struct Counters {
    hits: AtomicU64,
    misses: AtomicU64,
    stored: AtomicU64,
    evicted: AtomicU64,
}

impl CachedRuntime {
    /// `inner` loading modules through `cache`.
    ///
    /// Entries load back only into a runtime holding the key they were sealed
    /// with: give a wasmtime runtime the cache's
    /// ([`WasmtimeRuntime::with_precompile_key`](crate::WasmtimeRuntime::with_precompile_key)
    /// with [`ModuleCache::precompile_key`]), as [`ModuleCache::new_runtime`]
    /// does. A runtime with a key of its own still works, but what it writes
    /// serves only itself, and its entries and those of other processes
    /// replace each other.
    pub fn new(inner: Arc<dyn WasmRuntime>, cache: ModuleCache) -> CachedRuntime {
        CachedRuntime {
            inner,
            cache,
            counters: Counters::default(),
        }
    }

    /// The runtime this one wraps.
    pub fn inner(&self) -> &Arc<dyn WasmRuntime> {
        &self.inner
    }

    /// The cache it loads modules through.
    pub fn cache(&self) -> &ModuleCache {
        &self.cache
    }

    /// Whether the cache is used at all: `false` on an engine that does not
    /// precompile (wasmi), whose every call passes through.
    pub fn caches(&self) -> bool {
        self.inner.supported_features().precompile
    }

    /// Hits, misses, entries written and evicted so far.
    pub fn cache_stats(&self) -> CacheStats {
        let read = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        CacheStats {
            hits: read(&self.counters.hits),
            misses: read(&self.counters.misses),
            stored: read(&self.counters.stored),
            evicted: read(&self.counters.evicted),
        }
    }

    /// The module of `bytes` from its entry, if there is one the runtime
    /// takes; `None` (nothing compiled, nothing counted as a miss) otherwise,
    /// and always on an engine that does not precompile. For a caller that
    /// has something else to do on a miss, such as a
    /// [`TieredRuntime`](crate::TieredRuntime).
    pub fn load_cached(&self, bytes: &[u8]) -> Option<Arc<dyn WasmModule>> {
        self.load_cached_digest(bytes, &Sha256::digest(bytes).into())
    }

    /// [`load_cached`](Self::load_cached) of `bytes` whose SHA-256 the caller
    /// has already: tens of megabytes are not hashed twice.
    pub fn load_cached_digest(
        &self,
        bytes: &[u8],
        digest: &[u8; 32],
    ) -> Option<Arc<dyn WasmModule>> {
        if !self.caches() {
            return None;
        }
        let name = CacheKey::of_digest(&*self.inner, digest);
        self.load_entry(&name, &self.cache.entry_path(&name), bytes, digest)
    }

    /// The module in the entry `name` at `path`, if it is there, its tag is
    /// the cache's for that name, the runtime takes it, and it holds the
    /// module of `bytes` (whose SHA-256 is `digest`); counted as a hit.
    fn load_entry(
        &self,
        name: &CacheKey,
        path: &Path,
        bytes: &[u8],
        digest: &[u8; 32],
    ) -> Option<Arc<dyn WasmModule>> {
        let entry = match files::read(path) {
            Ok(entry) => entry,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
            Err(e) => {
                tracing::warn!("cannot read cache entry {}: {e}", path.display());
                return None;
            }
        };
        // Before the engine parses anything of it.
        let Some(sealed) = seal::entry_payload(&self.cache.entry_key, name, &entry) else {
            tracing::debug!(
                "cache entry {} refused: its tag is not the cache's for this name",
                path.display()
            );
            return None;
        };
        let module = match self.inner.load_precompiled(sealed) {
            Ok(module) => module,
            Err(e) => {
                tracing::debug!("cache entry {} refused: {e}", path.display());
                return None;
            }
        };
        if !holds(&*module, bytes, digest) {
            tracing::debug!(
                "cache entry {} refused: it holds another module",
                path.display()
            );
            return None;
        }
        if let Err(e) = files::touch(path) {
            tracing::warn!("cannot mark cache entry {} used: {e}", path.display());
        }
        self.counters.hits.fetch_add(1, Ordering::Relaxed);
        Some(module)
    }

    /// Writes `sealed` and its tag to the entry `name` at `path` and evicts
    /// what no longer fits; an entry larger than the whole cache is not
    /// written.
    fn store(&self, name: &CacheKey, path: &Path, sealed: &[u8]) {
        let bytes = sealed.len().saturating_add(seal::TAG_LEN);
        if u64::try_from(bytes).unwrap_or(u64::MAX) > self.cache.max_bytes() {
            tracing::debug!(
                "cache entry {} not written: {bytes} bytes, more than the cache holds",
                path.display(),
            );
            return;
        }
        let tag = seal::entry_tag(&self.cache.entry_key, name, sealed);
        if let Err(e) = files::write(path, &[sealed, &tag]) {
            tracing::warn!("cannot write cache entry {}: {e}", path.display());
            return;
        }
        self.counters.stored.fetch_add(1, Ordering::Relaxed);
        match files::evict(self.cache.dir(), self.cache.max_bytes(), path) {
            Ok(evicted) => {
                self.counters.evicted.fetch_add(evicted, Ordering::Relaxed);
            }
            Err(e) => tracing::warn!(
                "cannot evict entries of the cache {}: {e}",
                self.cache.dir().display()
            ),
        }
    }
}

/// Whether `module` was compiled from `bytes` (whose SHA-256 is `digest`): its
/// hash is that of the binary, the bytes themselves or their WAT translated.
fn holds(module: &dyn WasmModule, bytes: &[u8], digest: &[u8; 32]) -> bool {
    let hash = module.hash();
    match module_kind(bytes) {
        ModuleKind::Binary => hash == *digest,
        _ => module_info::to_binary(bytes)
            .is_ok_and(|binary| hash == <[u8; 32]>::from(Sha256::digest(&*binary))),
    }
}

impl fmt::Debug for CachedRuntime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CachedRuntime")
            .field("engine", &self.inner.name())
            .field("cache", &self.cache)
            .field("stats", &self.cache_stats())
            .finish_non_exhaustive()
    }
}

impl WasmRuntime for CachedRuntime {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    fn version(&self) -> &'static str {
        self.inner.version()
    }

    fn supported_features(&self) -> WasmFeatures {
        self.inner.supported_features()
    }

    fn config(&self) -> &WasmRuntimeConfig {
        self.inner.config()
    }

    /// The cached entry if there is one this runtime takes; else compiles,
    /// writes the entry and loads it. Bytes the engine refuses get the
    /// engine's own error.
    fn load_module(&self, bytes: &[u8]) -> Result<Arc<dyn WasmModule>> {
        if !self.caches() {
            return self.inner.load_module(bytes);
        }
        let digest: [u8; 32] = Sha256::digest(bytes).into();
        let name = CacheKey::of_digest(&*self.inner, &digest);
        let path = self.cache.entry_path(&name);
        if let Some(module) = self.load_entry(&name, &path, bytes, &digest) {
            return Ok(module);
        }
        self.counters.misses.fetch_add(1, Ordering::Relaxed);
        let Ok(sealed) = self.inner.precompile(bytes) else {
            // Invalid or unsupported: the error of a plain load.
            return self.inner.load_module(bytes);
        };
        self.store(&name, &path, &sealed);
        self.inner
            .load_precompiled(&sealed)
            .or_else(|_| self.inner.load_module(bytes))
    }

    fn validate_bytes(&self, bytes: &[u8]) -> Result<()> {
        self.inner.validate_bytes(bytes)
    }

    fn instantiate(
        &self,
        module: &Arc<dyn WasmModule>,
        imports: &Imports,
    ) -> Result<Box<dyn WasmInstance>> {
        self.inner.instantiate(module, imports)
    }

    fn instantiate_with_limits(
        &self,
        module: &Arc<dyn WasmModule>,
        imports: &Imports,
        limits: InstanceLimits,
    ) -> Result<Box<dyn WasmInstance>> {
        self.inner.instantiate_with_limits(module, imports, limits)
    }

    fn new_store(&self) -> Result<Box<dyn WasmStore>> {
        self.inner.new_store()
    }

    fn precompile(&self, bytes: &[u8]) -> Result<Vec<u8>> {
        self.inner.precompile(bytes)
    }

    fn load_precompiled(&self, bytes: &[u8]) -> Result<Arc<dyn WasmModule>> {
        self.inner.load_precompiled(bytes)
    }

    fn stats(&self) -> RuntimeStats {
        self.inner.stats()
    }
}
