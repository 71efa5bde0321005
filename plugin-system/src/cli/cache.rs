//! The compiled-module cache of `run`, `call` and `event` on wasmtime.
//!
//! Compiling a large module with Cranelift takes minutes; the cache keeps the
//! runtime's precompiled bytes ([`WasmRuntime::precompile`]) on disk and loads
//! them with [`WasmRuntime::load_precompiled`] on the next run. The entries are
//! sealed with HMAC-SHA256 under a key kept in the cache directory itself (file
//! `key`, 32 random bytes, mode 0400): a file the key did not seal is refused,
//! recompiled and overwritten, as are entries of another wasmtime version.
//!
//! # Out of a guest's reach
//!
//! The entries are native code that the host runs, so a guest that could read
//! the key could seal code of its own choosing for the next run to execute.
//! Hence ([`guard_grants`]):
//! - `run` refuses a `--dir` or `--dir-ro` grant whose host folder contains the
//!   cache directory or lies inside it (`/`, `~`, `~/.cache`, ...; paths
//!   compared canonicalized, a cache directory not made yet included), with an
//!   error that names the ways out: `--no-cache`, or `PLUGIN_SYSTEM_CACHE_DIR`
//!   elsewhere. This holds on wasmi too, which would not read the cache but
//!   whose guest could write into it for a later wasmtime run.
//! - With `--no-cache` such a grant is allowed, and the key is deleted before
//!   the guest starts: the guest cannot read it, and whatever it leaves in the
//!   folder is sealed by no key the host will use.
//! - The host trusts a key only if it is a regular file (not a symlink) of 32
//!   bytes that no one may write and only its owner may read (mode 0400, as the
//!   host makes it; WASI cannot set modes, so a key a guest wrote fails this).
//!   Any other key is replaced by a new one, which refuses every entry sealed
//!   before. A cache directory that others may write is not used, and an entry
//!   that is not a regular file, or is larger than 4 GiB, is not read.
//!
//! What is left: a run that uses the cache and starts while a `--no-cache` run
//! with such a grant is going makes a new key its guest could read; and the
//! superuser's runs ignore file modes, so under root a granted guest could
//! rewrite the key (grants that reach the cache are refused all the same).
//!
//! The cache directory is `$PLUGIN_SYSTEM_CACHE_DIR`, else
//! `$XDG_CACHE_HOME/plugin-system`, else `$HOME/.cache/plugin-system`. An entry is
//! named by the SHA-256 of the module's bytes and of everything in the runtime's
//! configuration that changes the compiled code, so that runs with and without
//! `--fuel` do not overwrite each other. Nothing about the cache ever fails a
//! command: a directory that cannot be created or written, a key that cannot be
//! read, a full disk, all fall back to compiling as if there were no cache.

use std::{
    io,
    path::{Component, Path, PathBuf},
    sync::Arc,
};

use clap::Args;
use plugin_system::{EngineKind, WasmError, WasmRuntime, WasmRuntimeConfig, new_runtime};

use super::Failure;

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

/// Checks the host folders a guest is to be given (`grants`: the option as
/// the user wrote it, such as `--dir ~::/h`, and the host path) against the
/// cache directory: see [the module docs](self). With `--no-cache` every grant
/// is allowed, and the key is deleted when a grant reaches it.
///
/// # Errors
/// [`Failure::Usage`] for a grant that contains the cache directory or lies
/// inside it, unless `--no-cache`.
pub(crate) fn guard_grants(args: &CacheArgs, grants: &[(String, PathBuf)]) -> Result<(), Failure> {
    let Some(cache) = directory().map(|dir| canonical(&dir)) else {
        return Ok(());
    };
    for (option, host) in grants {
        // Also a folder that does not exist yet: making the cache may make it.
        let host = canonical(host);
        if !(cache.starts_with(&host) || host.starts_with(&cache)) {
            continue;
        }
        if args.no_cache {
            retire_key(&cache);
            continue;
        }
        return Err(Failure::Usage(format!(
            "bad usage: {option} would give the guest the cache of compiled code in {} \
             (native code the host runs, and the key that seals it); grant a folder \
             that neither holds it nor lies in it, or run with --no-cache, or keep the \
             cache elsewhere with PLUGIN_SYSTEM_CACHE_DIR",
            cache.display()
        )));
    }
    Ok(())
}

/// Deletes the cache's key before a guest that may read the cache starts: the
/// next run that uses the cache makes a new one.
fn retire_key(cache: &Path) {
    match std::fs::remove_file(cache.join("key")) {
        Ok(()) => tracing::debug!(
            "cache key in {} deleted: a guest is given it",
            cache.display()
        ),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => tracing::debug!("cannot delete the cache key in {}: {e}", cache.display()),
    }
}

/// `path` canonicalized: its longest existing ancestor canonicalized, and the
/// rest (folders not made yet, so no symlinks) resolved as written, `..` too.
fn canonical(path: &Path) -> PathBuf {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
    let components: Vec<Component<'_>> = absolute.components().collect();
    for split in (1..=components.len()).rev() {
        let Ok(mut found) = components[..split]
            .iter()
            .collect::<PathBuf>()
            .canonicalize()
        else {
            continue;
        };
        for component in &components[split..] {
            match component {
                Component::ParentDir => {
                    found.pop();
                }
                Component::CurDir => {}
                other => found.push(other),
            }
        }
        return found;
    }
    absolute
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_resolves_what_does_not_exist_yet() {
        let temp = std::env::temp_dir().canonicalize().expect("temp dir");
        let base = temp.join("plugin-system-no-such-folder");
        assert_eq!(canonical(&temp), temp);
        assert_eq!(canonical(&base.join("b")), base.join("b"));
        assert_eq!(canonical(&base.join("b/../c/./d")), base.join("c/d"));
        assert_eq!(canonical(&base.join("b/..")), base);
        assert_eq!(canonical(&base.join("..")), temp);
    }
}

#[cfg(feature = "wasmtime")]
mod wasmtime_cache {
    use std::{
        fs,
        io::{self, Read, Write},
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

    /// The most bytes of a cache entry that are read.
    const MAX_ENTRY_BYTES: u64 = 4 << 30;

    /// The cache directory and its key, created when missing; `None` when there is
    /// no usable directory or key.
    pub(super) fn open() -> Option<(PathBuf, [u8; 32])> {
        let dir = super::directory()?;
        match create_dir(&dir).and_then(|()| key(&dir)) {
            Ok(key) => Some((dir, key)),
            Err(e) => {
                tracing::debug!("no compiled-module cache in {}: {e}", dir.display());
                None
            }
        }
    }

    /// Makes `dir` (mode 0700) if missing; a directory others may write is an
    /// error.
    fn create_dir(dir: &Path) -> io::Result<()> {
        let mut builder = fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(dir)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            if fs::metadata(dir)?.permissions().mode() & 0o022 != 0 {
                return Err(io::Error::new(
                    io::ErrorKind::PermissionDenied,
                    "others may write the directory",
                ));
            }
        }
        Ok(())
    }

    /// The key in `dir/key`, made once (32 random bytes, mode 0400). A key the
    /// host would not have made (see [the module docs](super)) is replaced.
    fn key(dir: &Path) -> io::Result<[u8; 32]> {
        let path = dir.join("key");
        // Once for a missing key, once more for one that had to be replaced.
        for _ in 0..2 {
            match existing_key(&path) {
                Ok(Some(key)) => return Ok(key),
                Ok(None) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
            match new_key(&path) {
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                made => return made,
            }
        }
        Err(io::Error::other("the key keeps changing"))
    }

    /// The key at `path` if the host can trust it; `None` after deleting one
    /// it cannot.
    fn existing_key(path: &Path) -> io::Result<Option<[u8; 32]>> {
        let metadata = fs::symlink_metadata(path)?;
        let trusted = metadata.is_file() && metadata.len() == 32 && sealed_mode(&metadata);
        if trusted {
            let mut key = [0u8; 32];
            fs::File::open(path)?.read_exact(&mut key)?;
            return Ok(Some(key));
        }
        tracing::debug!(
            "cache key {} replaced: not one the host made",
            path.display()
        );
        match fs::remove_file(path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(None),
        }
    }

    /// Whether no one may write the key and only its owner read it.
    fn sealed_mode(metadata: &fs::Metadata) -> bool {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            metadata.permissions().mode() & 0o277 == 0
        }
        #[cfg(not(unix))]
        {
            metadata.permissions().readonly()
        }
    }

    /// Makes a key at `path`, which must not exist yet.
    fn new_key(path: &Path) -> io::Result<[u8; 32]> {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).map_err(|e| io::Error::other(e.to_string()))?;
        let mut options = fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o400);
        let mut file = options.open(path)?;
        let written = file.write_all(&key).and_then(|()| file.sync_all());
        #[cfg(not(unix))]
        let written = written.and_then(|()| {
            let mut permissions = file.metadata()?.permissions();
            permissions.set_readonly(true);
            fs::set_permissions(path, permissions)
        });
        match written {
            Ok(()) => Ok(key),
            Err(e) => {
                let _ = fs::remove_file(path);
                Err(e)
            }
        }
    }

    /// The entry at `path`: a regular file of at most [`MAX_ENTRY_BYTES`].
    fn read_entry(path: &Path) -> io::Result<Vec<u8>> {
        let metadata = fs::symlink_metadata(path)?;
        if !metadata.is_file() || metadata.len() > MAX_ENTRY_BYTES {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "not a regular file of at most 4 GiB",
            ));
        }
        let mut bytes = Vec::new();
        fs::File::open(path)?
            .take(MAX_ENTRY_BYTES)
            .read_to_end(&mut bytes)?;
        Ok(bytes)
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
            if let Ok(sealed) = read_entry(&path) {
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
