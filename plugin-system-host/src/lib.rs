//! Plugin lifecycle for host applications: manager, registry, dispatcher,
//! permissions, limits and reload.
//!
//! What is here so far:
//!
//! - [`package`]: a plugin on disk, a folder with a `plugin.toml` (the Dart
//!   manifest's keys, plus the module, its digest, the permissions asked for
//!   and the plugin's settings), read into [`PluginPackage`]; [`discover`]
//!   finds such folders.
//! - [`dependencies`]: `"id@<range>"` entries ([`Dependency`]), and
//!   [`resolve`], which decides which plugins can load and in which order,
//!   with every failure's chain to its root cause; [`dependents`] for unloading.
//!
//! The crate depends on `plugin-system-core` only and never names an engine
//! type, nor a wire format: it hands a module's path to whatever
//! `PluginRuntime` the host picked.
//!
//! ```
//! use std::path::Path;
//! use plugin_system_host::{PluginPackage, resolve};
//!
//! let base = PluginPackage::parse(
//!     r#"
//!     id = "plugin.base"
//!     name = "Base"
//!     version = "1.2.0"
//!     description = "What the others build on"
//!     runtime = "wasm"
//!     module = "base.wasm"
//!     "#,
//!     Path::new("plugins/base/plugin.toml"),
//! )?;
//! let icons = PluginPackage::parse(
//!     r#"
//!     id = "plugin.icons"
//!     name = "Icons"
//!     version = "0.3.0"
//!     description = "Icons for file types"
//!     runtime = "wasm"
//!     dependencies = ["plugin.base@^1.1"]
//!     module = "icons.wasm"
//!
//!     [permissions]
//!     hostFunctions = ["log_info"]
//!     maxExecutionTimeMs = 200
//!     "#,
//!     Path::new("plugins/icons/plugin.toml"),
//! )?;
//!
//! let host = semver::Version::new(1, 0, 0);
//! let resolution = resolve(&[&icons.manifest, &base.manifest], &host);
//! assert_eq!(resolution.order, ["plugin.base", "plugin.icons"]);
//! assert!(resolution.failed.is_empty());
//! # Ok::<(), plugin_system_host::ManifestError>(())
//! ```
//!
//! The crate has no cargo features.

pub mod dependencies;
pub mod package;

pub use dependencies::{
    Dependency, DependencyError, DependencySpecError, Resolution, dependents, resolve,
};
pub use package::{
    Discovery, MANIFEST_FILE, MAX_MANIFEST_SIZE, ManifestError, PluginPackage,
    RequestedPermissions, discover,
};

// Hosts share these across tasks and threads.
const _: () = {
    const fn send_sync<T: Send + Sync>() {}
    send_sync::<PluginPackage>();
    send_sync::<Discovery>();
    send_sync::<ManifestError>();
    send_sync::<Resolution>();
    send_sync::<DependencyError>();
};
