//! [`ManagerError`]: what can go wrong between a host and its plugins.

use plugin_system_core::PluginError;

use crate::{PluginState, dependencies::DependencyError, package::ManifestError};

/// Everything the [`PluginManager`](crate::PluginManager) can refuse or report.
///
/// Match on the variant, never on the message.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ManagerError {
    /// No plugin of that id is known to the manager.
    #[error("no plugin `{id}`")]
    NotFound {
        /// The id asked for.
        id: String,
    },
    /// The plugin is not in a state that allows the call.
    #[error("plugin `{id}` is {state}, not {wanted}")]
    WrongState {
        /// The plugin.
        id: String,
        /// The state it is in.
        state: PluginState,
        /// What the call needs, such as `ready`.
        wanted: &'static str,
    },
    /// The plugin's mailbox is full: it is still busy with earlier events.
    #[error("plugin `{id}` is busy: its mailbox of {capacity} events is full")]
    Busy {
        /// The plugin.
        id: String,
        /// The mailbox's size.
        capacity: usize,
    },
    /// A plugin's manifest could not be read.
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    /// A plugin's dependencies or host version are not satisfied.
    #[error(transparent)]
    Dependency(#[from] DependencyError),
    /// A plugin this one needs did not get to `ready` (it failed to load or
    /// to initialize), so this one is not loaded.
    #[error("plugin `{id}` needs `{dependency}`, which is {state}")]
    DependencyNotReady {
        /// The plugin.
        id: String,
        /// The plugin it needs.
        dependency: String,
        /// The state that one is in.
        state: PluginState,
    },
    /// No runtime is registered for the plugin's runtime type.
    #[error("plugin `{id}` needs a `{runtime}` runtime, and none is registered that takes it")]
    NoRuntime {
        /// The plugin.
        id: String,
        /// The runtime type its manifest names.
        runtime: String,
    },
    /// The host's permission policy refused the plugin.
    #[error("plugin `{id}` was refused its permissions: {reason}")]
    PermissionRefused {
        /// The plugin.
        id: String,
        /// The policy's reason.
        reason: String,
    },
    /// Other plugins need this one; unloading it would break them.
    #[error("plugin `{id}` is needed by {}", dependents.join(", "))]
    HasDependents {
        /// The plugin.
        id: String,
        /// The plugins that need it, directly or through others.
        dependents: Vec<String>,
    },
    /// A plugin with that id is loaded already.
    #[error("a plugin `{id}` is loaded already")]
    AlreadyLoaded {
        /// The id.
        id: String,
    },
    /// The plugin failed: it could not load or initialize, or it failed an
    /// event.
    #[error("plugin `{id}`: {}", plugin_system_core::ErrorChain(source))]
    Plugin {
        /// The plugin.
        id: String,
        /// What failed.
        #[source]
        source: PluginError,
    },
    /// The plugin was not granted the host function, or no such function is
    /// registered: to a plugin the two look alike.
    #[error("plugin `{id}` may not call host function `{name}`")]
    HostFunctionDenied {
        /// The plugin.
        id: String,
        /// The function.
        name: String,
    },
    /// A host function failed or panicked; the host carries on.
    #[error("host function `{name}` failed: {source}")]
    HostFunctionFailed {
        /// The function.
        name: String,
        /// Its error.
        #[source]
        source: plugin_system_core::HostFunctionError,
    },
    /// The plugin's runtime panicked while it `during` (a bug of the runtime;
    /// the host carries on).
    #[error("the runtime of plugin `{id}` panicked during {during}")]
    Panicked {
        /// The plugin.
        id: String,
        /// What it was doing: `load`, `initialize`, `event`, `dispose`.
        during: &'static str,
    },
    /// The plugin's worker has stopped (it was unloaded while the call waited).
    #[error("plugin `{id}` stopped before it answered")]
    Stopped {
        /// The plugin.
        id: String,
    },
    /// The plugin faulted too often and is in quarantine: the event was not
    /// given to it. `revive` tries it again.
    #[error("plugin `{id}` is in quarantine: {reason}")]
    Quarantined {
        /// The plugin.
        id: String,
        /// Its last fault.
        reason: String,
    },
    /// A reload failed at `step`; the old version is still in service.
    #[error("plugin `{id}` was not reloaded: the {step} step failed: {source}")]
    ReloadFailed {
        /// The plugin.
        id: String,
        /// `read`, `dependencies`, `permissions`, `verify`, `compile` or
        /// `initialize`.
        step: &'static str,
        /// What failed.
        source: Box<ManagerError>,
    },
    /// The system cannot watch a plugins folder.
    #[cfg(not(all(target_family = "wasm", target_os = "unknown")))]
    #[error("cannot watch {}: {source}", dir.display())]
    Watch {
        /// The folder.
        dir: std::path::PathBuf,
        /// The system's refusal.
        source: notify_debouncer_mini::notify::Error,
    },
    /// The system refused the thread that runs a plugin's events.
    #[error("no thread for plugin `{id}`: {source}")]
    NoThread {
        /// The plugin.
        id: String,
        /// The system's refusal.
        source: std::io::Error,
    },
    /// What was asked cannot be done on this platform or for this plugin: a
    /// blocking call that would have to wait in a web page (one thread), a
    /// plugin without blocking calls there, or a reload of a plugin whose
    /// module was given in memory.
    #[error("not supported here: {what}")]
    Unsupported {
        /// What was asked.
        what: String,
    },
}

impl ManagerError {
    /// A short, stable name of the error's kind, for logs and JSON output.
    pub fn kind(&self) -> &'static str {
        match self {
            ManagerError::NotFound { .. } => "not found",
            ManagerError::WrongState { .. } => "wrong state",
            ManagerError::Busy { .. } => "busy",
            ManagerError::Manifest(_) => "invalid manifest",
            ManagerError::Dependency(_) | ManagerError::DependencyNotReady { .. } => "dependency",
            ManagerError::NoRuntime { .. } => "no runtime",
            ManagerError::PermissionRefused { .. } => "permission refused",
            ManagerError::HasDependents { .. } => "has dependents",
            ManagerError::AlreadyLoaded { .. } => "already loaded",
            ManagerError::Plugin { source, .. } => source.kind(),
            ManagerError::Stopped { .. } => "stopped",
            ManagerError::NoThread { .. } => "no thread",
            ManagerError::Quarantined { .. } => "quarantined",
            ManagerError::ReloadFailed { .. } => "reload failed",
            #[cfg(not(all(target_family = "wasm", target_os = "unknown")))]
            ManagerError::Watch { .. } => "watch",
            ManagerError::Unsupported { .. } => "unsupported",
            ManagerError::Panicked { .. } => "panicked",
            ManagerError::HostFunctionDenied { .. } => "permission denied",
            ManagerError::HostFunctionFailed { .. } => "host function failed",
        }
    }
}
