//! An engine: loads modules and instantiates them.

use std::{
    collections::BTreeMap,
    io::Read,
    path::Path,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
};

use crate::{
    config::{InstanceLimits, WasmFeatures, WasmRuntimeConfig},
    error::{Result, WasmError},
    imports::Imports,
    instance::WasmInstance,
    module::WasmModule,
    store::WasmStore,
};

/// The most bytes a module file may hold, as [`read_module_file`] and
/// [`WasmRuntime::load_module_from_file`] read it: 1 GiB.
pub const MAX_MODULE_FILE_BYTES: u64 = 1 << 30;

/// Reads a module file of at most [`MAX_MODULE_FILE_BYTES`], without reading
/// more than one byte past the cap, whatever the file is (`/dev/zero`, a pipe).
///
/// # Errors
/// [`WasmError::Io`] when the file cannot be read, [`WasmError::InvalidModule`]
/// when it holds more than the cap.
pub fn read_module_file(path: &Path) -> Result<Vec<u8>> {
    read_capped(path, MAX_MODULE_FILE_BYTES)
}

/// [`read_module_file`] with another cap.
pub(crate) fn read_capped(path: &Path, cap: u64) -> Result<Vec<u8>> {
    let io = |source| WasmError::Io {
        path: path.to_owned(),
        source,
    };
    let too_large = || WasmError::InvalidModule {
        message: format!(
            "{} is larger than {cap} bytes, the most a module file may hold",
            path.display()
        ),
    };
    let file = std::fs::File::open(path).map_err(io)?;
    // A regular file tells its size: one past the cap fails before any read.
    let known = file
        .metadata()
        .ok()
        .filter(std::fs::Metadata::is_file)
        .map(|metadata| metadata.len());
    if known.is_some_and(|len| len > cap) {
        return Err(too_large());
    }
    let mut bytes = Vec::new();
    let capacity = known.map_or(0, |len| usize::try_from(len).unwrap_or(usize::MAX));
    bytes
        .try_reserve_exact(capacity)
        .map_err(|_| io(std::io::ErrorKind::OutOfMemory.into()))?;
    file.take(cap.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > cap {
        return Err(too_large());
    }
    Ok(bytes)
}

/// Counters of one engine, with the Dart original's keys in [`to_map`](Self::to_map).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RuntimeStats {
    /// Modules loaded (compiled or deserialized) so far.
    pub modules_loaded: u64,
    /// Instances created so far.
    pub instances_created: u64,
    /// Instances alive now: it goes down when an instance is dropped.
    pub instances_active: u64,
    /// Modules loaded from precompiled bytes so far.
    pub precompiled_loaded: u64,
}

impl RuntimeStats {
    /// The counters by their stable names (`modules_loaded`, `instances_active`, ...).
    pub fn to_map(&self) -> BTreeMap<&'static str, u64> {
        BTreeMap::from([
            ("modules_loaded", self.modules_loaded),
            ("instances_created", self.instances_created),
            ("instances_active", self.instances_active),
            ("precompiled_loaded", self.precompiled_loaded),
        ])
    }
}

/// Thread-safe counters behind [`RuntimeStats`], for engine implementations.
#[derive(Debug, Default)]
pub struct RuntimeCounters {
    modules_loaded: AtomicU64,
    instances_created: AtomicU64,
    instances_active: AtomicU64,
    precompiled_loaded: AtomicU64,
}

impl RuntimeCounters {
    /// Counts a loaded module (`precompiled`: from precompiled bytes).
    pub fn module_loaded(&self, precompiled: bool) {
        self.modules_loaded.fetch_add(1, Ordering::Relaxed);
        if precompiled {
            self.precompiled_loaded.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Counts a new instance; the guard counts it gone when dropped. Keep the guard
    /// inside the instance.
    pub fn instance_created(self: &Arc<Self>) -> InstanceGuard {
        self.instances_created.fetch_add(1, Ordering::Relaxed);
        self.instances_active.fetch_add(1, Ordering::Relaxed);
        InstanceGuard(Arc::clone(self))
    }

    /// A snapshot.
    pub fn snapshot(&self) -> RuntimeStats {
        RuntimeStats {
            modules_loaded: self.modules_loaded.load(Ordering::Relaxed),
            instances_created: self.instances_created.load(Ordering::Relaxed),
            instances_active: self.instances_active.load(Ordering::Relaxed),
            precompiled_loaded: self.precompiled_loaded.load(Ordering::Relaxed),
        }
    }
}

/// Keeps an instance counted as active until dropped.
#[derive(Debug)]
pub struct InstanceGuard(Arc<RuntimeCounters>);

impl Drop for InstanceGuard {
    fn drop(&mut self) {
        self.0.instances_active.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A WebAssembly engine behind one API: wasmtime, wasmi, or your own.
///
/// A runtime is shared (`Send + Sync`); each instance gets a store of its own, so a
/// trap, a limit or a deadline in one instance never touches another.
pub trait WasmRuntime: Send + Sync {
    /// The engine's name: `wasmtime`, `wasmi`, ...
    fn name(&self) -> &'static str;

    /// The engine crate's version.
    fn version(&self) -> &'static str;

    /// What the engine implements, truthfully.
    fn supported_features(&self) -> WasmFeatures;

    /// The configuration it was built with.
    fn config(&self) -> &WasmRuntimeConfig;

    /// Compiles a module from binary bytes or WAT text.
    ///
    /// # Errors
    /// [`WasmError::InvalidModule`] for bad bytes, [`WasmError::Unsupported`] when
    /// the module needs a feature the engine lacks.
    fn load_module(&self, bytes: &[u8]) -> Result<Arc<dyn WasmModule>>;

    /// Compiles a module from a `.wasm` or `.wat` file of at most 1 GiB.
    ///
    /// The file is read with that cap, so that a path such as `/dev/zero`, a
    /// pipe that never ends or a file of many gigabytes fails at once instead
    /// of filling the host's memory. Real programs are far smaller (a whole
    /// compiler suite such as yosys is about 70 MB).
    ///
    /// # Errors
    /// [`WasmError::Io`] when the file cannot be read,
    /// [`WasmError::InvalidModule`] when it holds more than 1 GiB, else as
    /// [`load_module`](Self::load_module).
    fn load_module_from_file(&self, path: &Path) -> Result<Arc<dyn WasmModule>> {
        let bytes = read_module_file(path)?;
        self.load_module(&bytes)
    }

    /// Validates bytes (or WAT text) without keeping a module.
    ///
    /// # Errors
    /// As [`load_module`](Self::load_module).
    fn validate_bytes(&self, bytes: &[u8]) -> Result<()>;

    /// Instantiates `module` (compiled by this runtime) in a new store, runs its
    /// start function, and returns the instance.
    ///
    /// A reactor (a module that exports `_initialize` and no `_start`, as
    /// `wasm32-wasip1` libraries and C `-mexec-model=reactor` builds are) is
    /// initialized here: its `_initialize` has run when the instance is
    /// returned, and calling it again is refused
    /// ([`WasmError::Unsupported`]), since its set-up runs once.
    ///
    /// # Errors
    /// [`WasmError::ForeignModule`], [`WasmError::Link`] for a missing or ill-typed
    /// import, [`WasmError::MemoryLimit`] when a memory's minimum exceeds the limit,
    /// or what the start function raised.
    fn instantiate(
        &self,
        module: &Arc<dyn WasmModule>,
        imports: &Imports,
    ) -> Result<Box<dyn WasmInstance>>;

    /// Instantiates `module` as [`instantiate`](Self::instantiate) does, with
    /// this instance's own `limits` (tighter than the runtime's) in force from
    /// the start: its start function runs under them too. The instance's
    /// deadline is then the tighter of `limits.timeout` and the runtime's
    /// `timeout`; [`WasmInstance::set_timeout`] and
    /// [`WasmInstance::set_memory_limit`] change them later.
    ///
    /// # Errors
    /// As [`instantiate`](Self::instantiate); [`WasmError::Unsupported`] from an
    /// engine that cannot limit one instance (the default of this method, unless
    /// `limits` sets nothing).
    fn instantiate_with_limits(
        &self,
        module: &Arc<dyn WasmModule>,
        imports: &Imports,
        limits: InstanceLimits,
    ) -> Result<Box<dyn WasmInstance>> {
        if limits.is_none() {
            return self.instantiate(module, imports);
        }
        Err(WasmError::Unsupported {
            feature: format!("per-instance limits on {}", self.name()),
        })
    }

    /// A new, empty store for instances that link to each other.
    ///
    /// # Errors
    /// [`WasmError::Unsupported`] on engines without stores of several instances.
    fn new_store(&self) -> Result<Box<dyn WasmStore>> {
        Err(WasmError::Unsupported {
            feature: format!("stores of several instances on {}", self.name()),
        })
    }

    /// Compiles a module to bytes that [`load_precompiled`](Self::load_precompiled)
    /// loads without compiling again.
    ///
    /// # Errors
    /// [`WasmError::Unsupported`] on engines without ahead-of-time compilation.
    fn precompile(&self, bytes: &[u8]) -> Result<Vec<u8>> {
        let _ = bytes;
        Err(WasmError::Unsupported {
            feature: format!("precompiled modules on {}", self.name()),
        })
    }

    /// Loads bytes made by [`precompile`](Self::precompile) of the same engine
    /// version and configuration.
    ///
    /// # Errors
    /// [`WasmError::Precompiled`] for bytes of another version, configuration or
    /// origin; [`WasmError::Unsupported`] on engines without it.
    fn load_precompiled(&self, bytes: &[u8]) -> Result<Arc<dyn WasmModule>> {
        let _ = bytes;
        Err(WasmError::Unsupported {
            feature: format!("precompiled modules on {}", self.name()),
        })
    }

    /// Counters.
    fn stats(&self) -> RuntimeStats;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_file(name: &str, bytes: &[u8]) -> std::path::PathBuf {
        let path =
            std::env::temp_dir().join(format!("plugin-system-core-{}-{name}", std::process::id()));
        std::fs::write(&path, bytes).expect("write a temp file");
        path
    }

    #[test]
    fn a_module_file_is_read_up_to_the_cap() {
        let fits = temp_file("fits.wasm", b"0123456789");
        assert_eq!(read_capped(&fits, 10).expect("10 bytes fit"), b"0123456789");
        let message = match read_capped(&fits, 9) {
            Err(WasmError::InvalidModule { message }) => message,
            other => panic!("one byte over the cap: {other:?}"),
        };
        assert!(message.ends_with("is larger than 9 bytes, the most a module file may hold"));
        let _ = std::fs::remove_file(fits);
        assert!(matches!(
            read_capped(Path::new("/no/such/module.wasm"), 10),
            Err(WasmError::Io { .. })
        ));
    }

    #[cfg(unix)]
    #[test]
    fn an_endless_file_stops_at_the_cap() {
        // A device says nothing of its size: the read itself stops.
        assert!(matches!(
            read_capped(Path::new("/dev/zero"), 4096),
            Err(WasmError::InvalidModule { .. })
        ));
    }
}
