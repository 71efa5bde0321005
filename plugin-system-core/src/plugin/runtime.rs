//! [`PluginRuntime`]: what loads the plugins of one kind (Dart's `IPluginRuntime`).
//!
//! A host (the PluginManager of `plugin-system-host`) loads every plugin through
//! this trait, so it never names an engine: `plugin-system-wasm`'s
//! `WasmPluginRuntime` implements it for WebAssembly, and a host may register
//! runtimes of its own (plain Rust plugins, for example) by
//! [`PluginRuntimeType`].

use std::sync::Arc;

use super::{
    HostFunctions, Plugin, PluginError, PluginManifest, PluginPermissions, PluginRuntimeType,
    PluginSource,
};
use crate::WasiConfig;

/// What a host grants one plugin when it loads it.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct PluginLoadOptions {
    /// The manifest the host read (from `plugin.toml`): the plugin's own, if it
    /// has one, must agree with it on `id` and `version`. `None` takes the
    /// plugin's own.
    pub manifest: Option<PluginManifest>,
    /// The permissions granted: host functions, time and memory per call, and
    /// the filesystem level. A runtime enforces them.
    pub permissions: PluginPermissions,
    /// The host functions the plugin may call, by name: those of the grant.
    /// A runtime offers the plugin these and no others.
    pub host_functions: HostFunctions,
    /// Fuel for each call, for a runtime that meters its plugins; a runtime
    /// that cannot refuses the plugin rather than run it unmetered.
    pub fuel: Option<u64>,
    /// The directories and streams of a plugin that uses WASI: exactly the
    /// granted folders. `None` gives it none.
    pub wasi: Option<WasiConfig>,
}

impl PluginLoadOptions {
    /// Nothing granted beyond the default permissions.
    pub fn new() -> Self {
        Self::default()
    }

    /// The manifest the host read for the plugin.
    #[must_use]
    pub fn manifest(mut self, manifest: PluginManifest) -> Self {
        self.manifest = Some(manifest);
        self
    }

    /// The permissions granted.
    #[must_use]
    pub fn permissions(mut self, permissions: PluginPermissions) -> Self {
        self.permissions = permissions;
        self
    }

    /// The host functions the plugin may call.
    #[must_use]
    pub fn host_functions(mut self, functions: HostFunctions) -> Self {
        self.host_functions = functions;
        self
    }

    /// Fuel for each call.
    #[must_use]
    pub fn fuel(mut self, fuel: u64) -> Self {
        self.fuel = Some(fuel);
        self
    }

    /// The WASI world of a plugin that uses WASI.
    #[must_use]
    pub fn wasi(mut self, wasi: WasiConfig) -> Self {
        self.wasi = Some(wasi);
        self
    }
}

/// Loads the plugins of one [`PluginRuntimeType`].
///
/// Loading compiles and instantiates (on a JIT, a large plugin takes a while):
/// it runs on the caller's thread, so an async host calls it through
/// `spawn_blocking`. The plugin it returns is loaded, not initialized.
pub trait PluginRuntime: Send + Sync {
    /// The kind of plugin this runtime loads.
    fn runtime_type(&self) -> PluginRuntimeType;

    /// Whether this runtime can load the plugin that `manifest` describes: by
    /// default, whether the manifest names this runtime's type.
    fn is_compatible(&self, manifest: &PluginManifest) -> bool {
        manifest.runtime == self.runtime_type()
    }

    /// Loads the plugin at `source` with what `options` grants it.
    ///
    /// # Errors
    /// The source cannot be read or fails its digest, the code is refused, the
    /// plugin's own manifest disagrees with `options.manifest`
    /// ([`PluginError::InvalidManifest`] naming the field), or a grant cannot
    /// be enforced.
    fn load(
        &self,
        source: &PluginSource,
        options: &PluginLoadOptions,
    ) -> Result<Arc<dyn Plugin>, PluginError>;
}

/// Checks that a plugin's own manifest agrees with the one its host read, on
/// the fields that identify it.
///
/// # Errors
/// [`PluginError::InvalidManifest`] naming the field that differs and both
/// values.
pub fn check_manifests_agree(
    declared: &PluginManifest,
    own: &PluginManifest,
) -> Result<(), PluginError> {
    for (field, a, b) in [
        ("id", &declared.id, &own.id),
        ("version", &declared.version, &own.version),
    ] {
        if a != b {
            return Err(PluginError::InvalidManifest {
                message: format!(
                    "the plugin's own manifest says {field} `{b}`, its plugin.toml says `{a}`"
                ),
            });
        }
    }
    Ok(())
}

// Hosts keep runtimes in shared registries.
const _: () = {
    const fn shared<T: Send + Sync + ?Sized>() {}
    shared::<dyn PluginRuntime>();
    shared::<PluginLoadOptions>();
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifests_must_agree_on_id_and_version() {
        let declared = PluginManifest::new("a", "A", "1.0.0", "d", PluginRuntimeType::Wasm);
        let mut own = declared.clone();
        own.description = "another description".into();
        assert!(check_manifests_agree(&declared, &own).is_ok());
        own.version = "1.0.1".into();
        let e = check_manifests_agree(&declared, &own).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid manifest: the plugin's own manifest says version `1.0.1`, its plugin.toml says `1.0.0`"
        );
        own.id = "b".into();
        assert!(
            check_manifests_agree(&declared, &own)
                .unwrap_err()
                .to_string()
                .contains("id `b`")
        );
    }
}
