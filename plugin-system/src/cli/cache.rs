//! The compiled-module cache of `run`, `call` and `event` on wasmtime.
//!
//! Compiling a large module with Cranelift takes minutes; the cache keeps the
//! runtime's precompiled bytes ([`WasmRuntime::precompile`]) on disk and loads
//! them with [`WasmRuntime::load_precompiled`] on the next run. The entries are
//! sealed with HMAC-SHA256 under a key kept in the cache directory itself (file
//! `key`, 32 random bytes, mode 0600): a file the key did not seal is refused,
//! recompiled and overwritten, as are entries of another wasmtime version.
//!
//! The cache directory is `$PLUGIN_SYSTEM_CACHE_DIR`, else
//! `$XDG_CACHE_HOME/plugin-system`, else `$HOME/.cache/plugin-system`. An entry is
//! named by the SHA-256 of the module's bytes and of everything in the runtime's
//! configuration that changes the compiled code, so that runs with and without
//! `--fuel` do not overwrite each other. Nothing about the cache ever fails a
//! command: a directory that cannot be created or written, a key that cannot be
//! read, a full disk, all fall back to compiling as if there were no cache.

use std::sync::Arc;

use clap::Args;
use plugin_system::{EngineKind, WasmError, WasmRuntime, WasmRuntimeConfig, new_runtime};

/// `--no-cache`.
#[derive(Debug, Args)]
pub(crate) struct CacheArgs {
    /// Neither read nor write the cache of compiled code. On wasmtime the
    /// compiled module is otherwise kept in $PLUGIN_SYSTEM_CACHE_DIR (default
    /// $XDG_CACHE_HOME/plugin-system or ~/.cache/plugin-system) and reused by the
    /// next run of the same file with the same settings; wasmi compiles nothing
    /// and caches nothing.
    #[arg(long)]
    no_cache: bool,
}

/// A runtime of engine `kind` with `config`; on wasmtime, unless `--no-cache`,
/// one that keeps compiled modules in the cache directory.
///
/// # Errors
/// As [`new_runtime`].
pub(crate) fn runtime(
    kind: EngineKind,
    config: WasmRuntimeConfig,
    args: &CacheArgs,
) -> Result<Arc<dyn WasmRuntime>, WasmError> {
    #[cfg(feature = "wasmtime")]
    if !args.no_cache
        && kind.resolve() == EngineKind::Wasmtime
        && let Some((dir, key)) = wasmtime_cache::open()
    {
        let inner = plugin_system::WasmtimeRuntime::with_precompile_key(config, key)?;
        return Ok(Arc::new(wasmtime_cache::CachedRuntime::new(
            Arc::new(inner),
            dir,
        )));
    }
    #[cfg(not(feature = "wasmtime"))]
    let _ = args;
    new_runtime(kind, config)
}

#[cfg(feature = "wasmtime")]
mod wasmtime_cache {
    use std::{
        fs,
        io::{self, Write},
        path::{Path, PathBuf},
        sync::Arc,
    };

    use plugin_system::{
        WasmModule, WasmRuntime, WasmRuntimeConfig,
        core::{
            Imports, InstanceLimits, Result, RuntimeStats, WasmFeatures, WasmInstance, WasmStore,
        },
    };
    use sha2::{Digest, Sha256};

    /// Bumped when the entry format or naming changes.
    const VERSION: &str = "plugin-system-cache-1";

    /// The cache directory and its key, created when missing; `None` when there is
    /// no usable directory or key.
    pub(super) fn open() -> Option<(PathBuf, [u8; 32])> {
        let dir = directory()?;
        match create_dir(&dir).and_then(|()| key(&dir)) {
            Ok(key) => Some((dir, key)),
            Err(e) => {
                tracing::debug!("no compiled-module cache in {}: {e}", dir.display());
                None
            }
        }
    }

    /// `$PLUGIN_SYSTEM_CACHE_DIR`, else `$XDG_CACHE_HOME/plugin-system`, else
    /// `$HOME/.cache/plugin-system`. Empty variables count as unset.
    fn directory() -> Option<PathBuf> {
        let var = |name| std::env::var_os(name).filter(|value| !value.is_empty());
        if let Some(dir) = var("PLUGIN_SYSTEM_CACHE_DIR") {
            return Some(PathBuf::from(dir));
        }
        if let Some(dir) = var("XDG_CACHE_HOME") {
            return Some(PathBuf::from(dir).join("plugin-system"));
        }
        var("HOME").map(|home| PathBuf::from(home).join(".cache").join("plugin-system"))
    }

    fn create_dir(dir: &Path) -> io::Result<()> {
        let mut builder = fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(dir)
    }

    /// The key in `dir/key`, made once (32 random bytes, readable by the owner
    /// only). A key of any other length is an error: nothing is cached then.
    fn key(dir: &Path) -> io::Result<[u8; 32]> {
        let path = dir.join("key");
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).map_err(|e| io::Error::other(e.to_string()))?;
        let mut options = fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        match options.open(&path) {
            Ok(mut file) => match file.write_all(&key).and_then(|()| file.sync_all()) {
                Ok(()) => Ok(key),
                Err(e) => {
                    let _ = fs::remove_file(&path);
                    Err(e)
                }
            },
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => fs::read(&path)?
                .try_into()
                .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "key is not 32 bytes")),
            Err(e) => Err(e),
        }
    }

    /// A runtime that loads modules through the cache and does everything else
    /// as the runtime it wraps.
    pub(super) struct CachedRuntime {
        inner: Arc<dyn WasmRuntime>,
        dir: PathBuf,
    }

    impl CachedRuntime {
        pub(super) fn new(inner: Arc<dyn WasmRuntime>, dir: PathBuf) -> Self {
            CachedRuntime { inner, dir }
        }

        /// `DIR/<hex sha256>.cwasm`, named by the module's bytes and what of the
        /// engine and its configuration changes the compiled code.
        fn entry(&self, bytes: &[u8]) -> PathBuf {
            let mut hash = Sha256::new();
            hash.update(Sha256::digest(bytes));
            hash.update(fingerprint(
                self.inner.name(),
                self.inner.version(),
                self.inner.config(),
            ));
            self.dir
                .join(format!("{}.cwasm", hex::encode(hash.finalize())))
        }
    }

    /// What of the engine and its configuration goes into the compiled code.
    fn fingerprint(name: &str, version: &str, config: &WasmRuntimeConfig) -> String {
        format!(
            "{VERSION} {name} {version} optimize={} fuel={} stack={:?}",
            config.enable_optimization,
            config.fuel_limit.is_some(),
            config.max_stack_depth,
        )
    }

    /// Writes `bytes` to `path` through a temporary file in the same directory,
    /// so that no reader ever sees half an entry.
    fn store(path: &Path, bytes: &[u8]) -> io::Result<()> {
        let mut temp = path.as_os_str().to_owned();
        temp.push(format!(".{}.tmp", std::process::id()));
        let temp = PathBuf::from(temp);
        let written = fs::write(&temp, bytes).and_then(|()| fs::rename(&temp, path));
        if written.is_err() {
            let _ = fs::remove_file(&temp);
        }
        written
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

        /// The cached entry if it loads; else compiles, stores the entry and loads
        /// it. Bytes the engine refuses get the engine's own error.
        fn load_module(&self, bytes: &[u8]) -> Result<Arc<dyn WasmModule>> {
            let path = self.entry(bytes);
            if let Ok(sealed) = fs::read(&path) {
                match self.inner.load_precompiled(&sealed) {
                    Ok(module) => return Ok(module),
                    Err(e) => tracing::debug!("cache entry {} refused: {e}", path.display()),
                }
            }
            let Ok(sealed) = self.inner.precompile(bytes) else {
                // Invalid or unsupported: the error of a plain load.
                return self.inner.load_module(bytes);
            };
            if let Err(e) = store(&path, &sealed) {
                tracing::debug!("cannot write cache entry {}: {e}", path.display());
            }
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

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn codegen_settings_change_the_name() {
            let plain = WasmRuntimeConfig::default();
            let fuel = WasmRuntimeConfig::default().fuel_limit(10);
            let other_fuel = WasmRuntimeConfig::default().fuel_limit(20);
            let timeout = WasmRuntimeConfig::default().timeout(std::time::Duration::from_millis(5));
            let name = |config| fingerprint("wasmtime", "48", config);
            assert_ne!(name(&plain), name(&fuel));
            assert_eq!(name(&fuel), name(&other_fuel));
            assert_eq!(name(&plain), name(&timeout));
        }
    }
}
