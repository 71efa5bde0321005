//! The name of a cache entry: the module, the engine, and what of the engine's
//! configuration goes into the compiled code (see [`ModuleCache`](super::ModuleCache#what-names-an-entry)).

use std::fmt;

use plugin_system_core::{WasmRuntime, WasmRuntimeConfig};
use sha2::{Digest, Sha256};

/// Bumped when the entry format, or what goes into a key, changes.
const FORMAT: &str = "plugin-system-module-cache-4";

/// What a [`ModuleCache`](super::ModuleCache) entry is named by: the SHA-256 of
/// the module's bytes, of the engine's name and version, of this crate's
/// version, of the target, and of every setting of the runtime's
/// [`WasmRuntimeConfig`] that changes the compiled code or whether the module
/// is compiled at all. [`ModuleCache`](super::ModuleCache#what-names-an-entry) lists them
/// and the settings left out.
///
/// ```
/// use plugin_system_core::WasmRuntimeConfig;
/// use plugin_system_wasm_run::{CacheKey, EngineKind, new_runtime};
///
/// let module = br#"(module (func (export "f")))"#;
/// let plain = new_runtime(EngineKind::Auto, WasmRuntimeConfig::default())?;
/// let fuel = new_runtime(EngineKind::Auto, WasmRuntimeConfig::default().fuel_limit(1_000))?;
/// let more_fuel = new_runtime(EngineKind::Auto, WasmRuntimeConfig::default().fuel_limit(9_000))?;
/// // Fuel metering changes the code; the amount of fuel does not.
/// assert_ne!(CacheKey::new(&*plain, module), CacheKey::new(&*fuel, module));
/// assert_eq!(CacheKey::new(&*fuel, module), CacheKey::new(&*more_fuel, module));
/// assert_eq!(CacheKey::new(&*plain, module).to_string().len(), 64);
/// # Ok::<(), plugin_system_core::WasmError>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CacheKey([u8; 32]);

impl CacheKey {
    /// The key of `module` (binary or WAT, as given to
    /// [`load_module`](WasmRuntime::load_module)) compiled by `runtime`.
    pub fn new(runtime: &dyn WasmRuntime, module: &[u8]) -> CacheKey {
        CacheKey::of_digest(runtime, &Sha256::digest(module).into())
    }

    /// The key of a module whose bytes have the SHA-256 `digest`.
    pub fn of_digest(runtime: &dyn WasmRuntime, digest: &[u8; 32]) -> CacheKey {
        let mut hash = Sha256::new();
        hash.update(digest);
        hash.update(fingerprint(
            runtime.name(),
            runtime.version(),
            runtime.config(),
        ));
        CacheKey(hash.finalize().into())
    }

    /// The 32 bytes of the key.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

/// What of the engine and its configuration goes into the compiled code (or
/// decides whether there is any), one `name=value` a line.
fn fingerprint(name: &str, version: &str, config: &WasmRuntimeConfig) -> String {
    format!(
        "{FORMAT}\nengine={name} {version}\ncrate={}\ntarget={}-{}\noptimize={}\nfuel={}\n\
         bounds={:?}\n",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::ARCH,
        std::env::consts::OS,
        config.enable_optimization,
        config.fuel_limit.is_some(),
        config.module_bounds,
    )
}

impl fmt::Display for CacheKey {
    /// The key in lowercase hex, as the entry's file is named.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for CacheKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CacheKey({self})")
    }
}
