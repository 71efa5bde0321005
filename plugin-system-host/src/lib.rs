//! Plugin lifecycle for host applications: manager, registry, dispatcher,
//! permissions, limits and reload.
//!
//! - [`PluginManager`]: loads plugin folders in dependency order, grants their
//!   permissions through a [`PermissionPolicy`], keeps each plugin's
//!   [`PluginState`] (every change published as a [`StateChange`]), and routes
//!   events to them, each plugin behind its own bounded mailbox and thread
//!   (a task of the page's executor in a browser);
//!   an idle plugin's event runs on the caller's thread, with no hand-off
//!   (`send_event_blocking` and `dispatch_event_blocking` always; `send_event`
//!   and `dispatch_event` on a multi-thread tokio runtime, in a blocking
//!   section, while the plugin is quick: `ManagerBuilder::async_in_place`).
//!   A plugin that faults gets a fresh
//!   instance ([`RestartPolicy`], quarantine, `revive`); `reload` swaps
//!   versions atomically and `watch` follows a plugins folder.
//! - [`package`]: a plugin on disk, a folder with a `plugin.toml` (the Dart
//!   manifest's keys, plus the module, its digest, the permissions asked for
//!   and the plugin's settings), read into [`PluginPackage`]; [`discover`]
//!   finds such folders.
//! - [`dependencies`]: `"id@<range>"` entries ([`Dependency`]), and
//!   [`resolve`], which decides which plugins can load and in which order,
//!   with every failure's chain to its root cause; [`dependents`] for unloading.
//!
//! A host embeds the manager in a few lines (here over WebAssembly, with
//! `plugin-system-wasm` and `plugin-system-wasm-run`):
//!
//! ```no_run
//! # use std::{path::Path, sync::Arc};
//! # use plugin_system_core::{HostFunction, PluginEvent, Value, WasmRuntimeConfig};
//! # use plugin_system_host::PluginManager;
//! # use plugin_system_wasm::WasmPluginRuntime;
//! # use plugin_system_wasm_run::EngineKind;
//! # async fn embed() -> Result<(), Box<dyn std::error::Error>> {
//! let engine = plugin_system_wasm_run::new_runtime(EngineKind::Auto, WasmRuntimeConfig::default())?;
//! let manager = PluginManager::builder()
//!     .runtime(Arc::new(WasmPluginRuntime::new(engine)))
//!     .host_function("editor.get_text", HostFunction::new(|_, _| Ok(Value::from("..."))))
//!     .build();
//! let report = manager.load_dir(Path::new("plugins")).await;
//! let answers = manager.dispatch_event(PluginEvent::new("file.opened")).await;
//! manager.shutdown().await;
//! # let _ = (report, answers);
//! # Ok(())
//! # }
//! ```
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
//! The crate has no cargo features. It builds for `wasm32-unknown-unknown`
//! too, to run plugins in a web page: there each plugin's worker is a task
//! on the page's executor and its guest runs in place, packages come from
//! memory ([`PluginPackage::with_module_bytes`]), folder watching is not
//! built, and what would need a thread to block or a file system fails with
//! [`ManagerError::Unsupported`] or an I/O error, never silently.

mod actor;
pub mod dependencies;
mod error;
mod errors;
mod exec;
mod manager;
pub mod package;
mod permissions;
mod restart;
mod signature;
mod state;
mod statistics;
mod stats;

pub use error::ManagerError;
pub use errors::{ERRORS_KEPT, ErrorRecord, ErrorSeverity, ErrorStats};
pub use manager::{
    DEFAULT_MAILBOX_CAPACITY, DEFAULT_MAX_EVENT_DEPTH, EMIT_FUNCTION, FailurePolicy, LoadReport,
    ManagerBuilder, PluginInfo, PluginManager, plugin_config, subscribes,
};
#[cfg(not(all(target_family = "wasm", target_os = "unknown")))]
pub use manager::{FolderWatch, WATCH_DEBOUNCE};
pub use permissions::{
    Decision, Grant, GrantDeclared, PermissionPolicy, PermissionRecord, PolicyTable,
};
pub use restart::RestartPolicy;
pub use signature::{HostFunctionParam, HostFunctionSignature, ValueType};
pub use state::{PluginState, StateChange};
pub use statistics::{
    DispatcherStats, HostFunctionStats, PermissionStats, RegistryStats, Statistics,
};
pub use stats::PluginStats;

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
    send_sync::<PluginManager>();
    send_sync::<ManagerError>();
    send_sync::<StateChange>();
};
