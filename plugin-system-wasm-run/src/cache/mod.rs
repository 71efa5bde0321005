//! [`ModuleCache`]: compiled modules kept on disk for any runtime, and
//! [`CachedRuntime`], a runtime that loads modules through it.

mod files;
mod key;
mod runtime;
mod seal;

use std::{
    fmt, io,
    path::{Path, PathBuf},
    sync::Arc,
    time::SystemTime,
};

use plugin_system_core::{WasmError, WasmRuntime, WasmRuntimeConfig};

use crate::EngineKind;
pub use key::CacheKey;
pub use runtime::{CacheStats, CachedRuntime};
pub use seal::{CacheDirFault, UntrustedCacheDir};

/// A cache of compiled modules on disk, for any [`WasmRuntime`].
///
/// Compiling a large module with Cranelift takes seconds to minutes; the cache
/// keeps a runtime's precompiled bytes ([`WasmRuntime::precompile`]) in a
/// directory and loads them with [`WasmRuntime::load_precompiled`] the next
/// time the same module is loaded with the same settings, in this process or
/// another.
///
/// ```
/// use plugin_system_core::{WasmRuntime, WasmRuntimeConfig, WasmValue};
/// use plugin_system_wasm_run::{EngineKind, ModuleCache};
///
/// # let dir = std::env::temp_dir().join(format!("plugin-system-doc-cache-{}", std::process::id()));
/// # let _ = std::fs::remove_dir_all(&dir);
/// // Or `ModuleCache::open_default()`: $PLUGIN_SYSTEM_CACHE_DIR, else
/// // $XDG_CACHE_HOME/plugin-system, else ~/.cache/plugin-system.
/// let cache = ModuleCache::open(&dir)?.with_max_bytes(256 << 20);
/// let runtime = cache.new_runtime(EngineKind::Auto, WasmRuntimeConfig::default())?;
/// let answer = br#"(module (func (export "answer") (result i32) i32.const 42))"#;
///
/// let module = runtime.load_module(answer)?; // compiled, and written to the cache
/// let mut instance = runtime.instantiate(&module, &Default::default())?;
/// assert_eq!(instance.call("answer", &[])?, [WasmValue::I32(42)]);
///
/// // Another runtime (in another process, say) loads it without compiling.
/// let again = cache.new_runtime(EngineKind::Auto, WasmRuntimeConfig::default())?;
/// again.load_module(answer)?;
/// if again.caches() {
///     assert_eq!(again.cache_stats().hits, 1);
///     assert_eq!(cache.entries()?.len(), 1);
/// }
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # wasmi
///
/// wasmi compiles nothing ahead of time ([`WasmRuntime::precompile`] is
/// [`WasmError::Unsupported`](plugin_system_core::WasmError::Unsupported)), so a
/// [`CachedRuntime`] over it passes every call through: it reads and writes
/// nothing, never fails because of the cache, and
/// [`CachedRuntime::caches`] is `false`. A host can turn the cache on whatever
/// the engine.
///
/// # What names an entry
///
/// An entry is the file `<key>.cwasm`, where the [`CacheKey`] is the SHA-256 of
/// the module's bytes as given (binary or WAT) and of what decides the code
/// compiled from them. For each setting of [`WasmRuntimeConfig`], from how the
/// wasmtime engine builds its `wasmtime::Config`:
///
/// | what | in the key | why |
/// |---|---|---|
/// | engine name and version | yes | another compiler's code |
/// | this crate's version | yes | it chooses the proposals, the engine settings and the envelope of precompiled bytes |
/// | target (architecture, OS) | yes | native code |
/// | `enable_optimization` | yes | Cranelift's optimisation level |
/// | `fuel_limit` set or not | yes | fuel metering is compiled into the code (`consume_fuel`) |
/// | `fuel_limit`'s amount | no | the fuel a store starts with, set at instantiation |
/// | `module_bounds` | yes | not the code, but whether there is any: an entry is loaded without the bounds check, so it serves only under the bounds it passed |
/// | `max_stack_depth` | no | wasmtime reads its stack limit (`max_wasm_stack`) when a call enters the guest, not when it compiles; each runtime's own limit holds on a shared entry |
/// | `max_memory_pages`, `max_table_elements` | no | enforced by the store's limiter at run time; the memory reservation and guards, which do change code, are the same for every runtime |
/// | `timeout` | no | epoch interruption is compiled in for every runtime; the deadline is per store |
/// | `enable_wasi` | no | links host functions, compiles nothing |
///
/// What escapes the key is refused when loading, which makes a miss: wasmtime
/// checks an artifact's version, settings, proposals and CPU features against
/// its own (a cache directory shared by two machines with different CPUs, say),
/// and the runtime checks that the entry holds the module asked for.
///
/// # Sealed
///
/// Entries are native code that the host runs, so what the cache reads is
/// checked first; on Unix, a file's checks are made on the file as opened,
/// so that nothing can swap it between check and read.
///
/// - The directory: [`ModuleCache::open`] makes it (mode 0700) if missing,
///   and refuses it with an [`UntrustedCacheDir`] error when a user other
///   than the process's effective one owns it, or its group or others may
///   write it. A link to it is followed: the directory it leads to is checked.
/// - The key (file `key`, 32 random bytes, mode 0400): opened without
///   following a link, and trusted only if it is a regular file of 32 bytes
///   that the process's effective user owns, no one may write and only its
///   owner may read. Any other (a link, which is removed, never followed) is
///   replaced by a new key, under which every entry sealed before misses.
/// - An entry: opened without following a link, and read only if it is a
///   regular file of at most 4 GiB; a link there is a miss, and what it leads
///   to is neither read nor touched.
/// - Its last 32 bytes must be the keyed BLAKE3, under a key derived from the
///   cache's, of its name (its [`CacheKey`]) and the rest, checked before the
///   engine parses any of it: an entry is refused under another name, such as
///   one of a configuration it was not compiled for (the module bounds
///   skipped when loading are those of its own name).
/// - The rest is the engine's own sealed bytes: wasmtime checks their keyed
///   BLAKE3 under the cache's key before reading them, then their
///   version, settings and CPU features; the runtime checks that they hold
///   the module asked for.
///
/// An entry that fails any check is a miss: the module is compiled again and
/// the entry overwritten. Elsewhere than on Unix there are no owners to check,
/// and a key is trusted if it is read-only. Whoever can read the key can make
/// code that the cache's runtimes will run: never give a guest the cache
/// directory (a WASI grant of it, of a folder above it, or of one inside it).
///
/// # Bounded, shared, and never in the way
///
/// - The entries hold at most [`ModuleCache::max_bytes`] (default
///   [`ModuleCache::DEFAULT_MAX_BYTES`]). After each entry is written, the
///   least recently used ones are removed until the rest fit; an entry is
///   used when it is written or loaded (its modification time is set then).
///   An entry larger than the whole bound is not written.
/// - Several processes may use one directory at once: an entry is written to
///   a temporary file beside it and renamed into place, so a reader sees a
///   whole entry or none, and two processes that fill the same entry leave one
///   of theirs; the key is written whole before it is linked into place.
/// - Nothing about the cache fails a load: an entry that is missing, corrupt,
///   truncated, a link, sealed under another key or for another name, made by
///   another engine version or configuration, or that holds another module is
///   a miss (the module is compiled and the entry overwritten), and any I/O
///   error is a miss and a `tracing` warning.
///
/// Cheap to clone; clones use the same directory and key.
#[derive(Clone)]
pub struct ModuleCache {
    dir: PathBuf,
    key: [u8; 32],
    /// What entries' tags are made with ([`seal::entry_key`]).
    entry_key: [u8; 32],
    max_bytes: u64,
}

/// An entry of a [`ModuleCache`], as [`ModuleCache::entries`] lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CacheEntry {
    /// The entry's [`CacheKey`] in hex: its file name without `.cwasm`.
    pub name: String,
    /// Its file.
    pub path: PathBuf,
    /// Its size in bytes.
    pub bytes: u64,
    /// When it was last written or loaded.
    pub last_used: SystemTime,
}

impl ModuleCache {
    /// The bound of a cache's entries unless [`with_max_bytes`](Self::with_max_bytes)
    /// sets another: 1 GiB.
    pub const DEFAULT_MAX_BYTES: u64 = 1 << 30;

    /// The cache in `dir`, made if missing (mode 0700), with its key (made if
    /// missing, replaced if the host would not have made it).
    ///
    /// # Errors
    /// When `dir` cannot be made, or the key cannot be read or made;
    /// [`io::ErrorKind::PermissionDenied`] with an [`UntrustedCacheDir`]
    /// inside when another user owns `dir` or others may write it. A host
    /// that would rather run without the cache than fail goes on without it.
    pub fn open(dir: impl AsRef<Path>) -> io::Result<ModuleCache> {
        let dir = dir.as_ref();
        let dir = std::path::absolute(dir).unwrap_or_else(|_| dir.to_owned());
        seal::create_dir(&dir)?;
        let key = seal::key(&dir)?;
        Ok(ModuleCache {
            dir,
            key,
            entry_key: seal::entry_key(&key),
            max_bytes: Self::DEFAULT_MAX_BYTES,
        })
    }

    /// The cache in [`default_dir`](Self::default_dir).
    ///
    /// # Errors
    /// [`io::ErrorKind::NotFound`] when there is no default directory, else as
    /// [`open`](Self::open).
    pub fn open_default() -> io::Result<ModuleCache> {
        let dir = Self::default_dir().ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                "no cache directory: none of PLUGIN_SYSTEM_CACHE_DIR, XDG_CACHE_HOME and HOME is set",
            )
        })?;
        Self::open(dir)
    }

    /// Where the plugin system keeps its cache by default (the command-line
    /// tool's too): `$PLUGIN_SYSTEM_CACHE_DIR`, else
    /// `$XDG_CACHE_HOME/plugin-system`, else `$HOME/.cache/plugin-system`;
    /// empty variables count as unset. `None` when none is set.
    pub fn default_dir() -> Option<PathBuf> {
        let var = |name| std::env::var_os(name).filter(|value| !value.is_empty());
        if let Some(dir) = var("PLUGIN_SYSTEM_CACHE_DIR") {
            return Some(PathBuf::from(dir));
        }
        if let Some(dir) = var("XDG_CACHE_HOME") {
            return Some(PathBuf::from(dir).join("plugin-system"));
        }
        var("HOME").map(|home| PathBuf::from(home).join(".cache").join("plugin-system"))
    }

    /// This cache with its entries bounded to `max_bytes` in all: see [Bounded, shared, and never in
    /// the way](ModuleCache#bounded-shared-and-never-in-the-way).
    #[must_use]
    pub fn with_max_bytes(mut self, max_bytes: u64) -> ModuleCache {
        self.max_bytes = max_bytes;
        self
    }

    /// The most bytes its entries hold together.
    pub fn max_bytes(&self) -> u64 {
        self.max_bytes
    }

    /// Its directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The key that seals its entries, for a runtime built by hand
    /// ([`WasmtimeRuntime::with_precompile_key`](crate::WasmtimeRuntime::with_precompile_key))
    /// that is to load them. Whoever holds it can make code that such a
    /// runtime will run: keep it from guests and other users.
    pub fn precompile_key(&self) -> [u8; 32] {
        self.key
    }

    /// A runtime of engine `kind` with `config` that loads modules through
    /// this cache: on wasmtime, one that seals with the cache's key; on wasmi,
    /// one that passes through (see [wasmi](ModuleCache#wasmi)).
    ///
    /// # Errors
    /// As [`new_runtime`](crate::new_runtime).
    pub fn new_runtime(
        &self,
        kind: EngineKind,
        config: WasmRuntimeConfig,
    ) -> Result<CachedRuntime, WasmError> {
        let inner: Arc<dyn WasmRuntime> = match kind.resolve() {
            #[cfg(feature = "wasmtime")]
            EngineKind::Wasmtime => Arc::new(crate::WasmtimeRuntime::with_precompile_key(
                config, self.key,
            )?),
            EngineKind::Tiered => {
                return Err(WasmError::Unsupported {
                    feature: "a tiered runtime as a CachedRuntime: \
                              ModuleCache::new_tiered_runtime makes one over this cache"
                        .into(),
                });
            }
            other => crate::new_runtime(other, config)?,
        };
        Ok(self.wrap(inner))
    }

    /// `runtime` loading modules through this cache: [`CachedRuntime::new`].
    pub fn wrap(&self, runtime: Arc<dyn WasmRuntime>) -> CachedRuntime {
        CachedRuntime::new(runtime, self.clone())
    }

    /// The file of the entry named `key`, whether it exists or not.
    pub fn entry_path(&self, key: &CacheKey) -> PathBuf {
        self.dir.join(format!("{key}.{}", files::EXTENSION))
    }

    /// Its entries, most recently used first.
    ///
    /// # Errors
    /// When the directory cannot be read.
    pub fn entries(&self) -> io::Result<Vec<CacheEntry>> {
        let mut entries: Vec<CacheEntry> = files::list(&self.dir, false)?
            .into_iter()
            .map(entry)
            .collect();
        entries.sort_by(|a, b| b.last_used.cmp(&a.last_used).then(a.name.cmp(&b.name)));
        Ok(entries)
    }

    /// The bytes its entries hold together.
    ///
    /// # Errors
    /// When the directory cannot be read.
    pub fn total_bytes(&self) -> io::Result<u64> {
        Ok(files::list(&self.dir, false)?
            .iter()
            .map(|found| found.bytes)
            .sum())
    }

    /// Removes every entry (and what writers that died left behind), not the
    /// key; returns the entries removed.
    ///
    /// # Errors
    /// When the directory cannot be read or an entry cannot be removed.
    pub fn clear(&self) -> io::Result<Vec<CacheEntry>> {
        Ok(files::clear(&self.dir)?.into_iter().map(entry).collect())
    }
}

/// An entry found on disk, as the API shows it.
fn entry(found: files::Found) -> CacheEntry {
    let name = found
        .path
        .file_stem()
        .map(|stem| stem.to_string_lossy().into_owned())
        .unwrap_or_default();
    CacheEntry {
        name,
        path: found.path,
        bytes: found.bytes,
        last_used: found.modified,
    }
}

impl fmt::Debug for ModuleCache {
    /// The directory and bound; never the key.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ModuleCache")
            .field("dir", &self.dir)
            .field("max_bytes", &self.max_bytes)
            .finish_non_exhaustive()
    }
}
