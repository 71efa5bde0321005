//! The one error type of the plugin boundary.

use std::path::PathBuf;

use crate::{SerializationError, WasmError};

/// Everything that can go wrong loading a plugin or talking to it.
///
/// A misbehaving plugin (a trap, garbage bytes, a pointer out of range, a limit)
/// fails the call it was in with one of these; the host and its other plugins
/// carry on. Match on the variant, never on the message.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PluginError {
    /// The plugin's bytes do not have the SHA-256 the caller expected.
    #[error("integrity check failed: expected sha256 {expected}, the plugin has {actual}")]
    Integrity {
        /// The expected digest, lowercase hex.
        expected: String,
        /// The digest of the bytes, lowercase hex.
        actual: String,
    },
    /// The plugin was built for another version of the guest ABI.
    #[error("plugin needs ABI {required}, host supports {supported}")]
    AbiVersion {
        /// The version the plugin declares.
        required: String,
        /// The version this host implements.
        supported: u32,
    },
    /// The module is no plugin: a required export is missing or has another type,
    /// or a declaration (wire format, ABI section) cannot be read.
    #[error("invalid plugin: {message}")]
    InvalidPlugin {
        /// What is wrong, naming the export.
        message: String,
    },
    /// The manifest is missing, malformed, or lacks a required field.
    #[error("invalid manifest: {message}")]
    InvalidManifest {
        /// What is wrong.
        message: String,
    },
    /// The engine refused the module or the guest failed: a trap, fuel, a
    /// deadline, a memory or stack limit, a link error.
    #[error(transparent)]
    Wasm(#[from] WasmError),
    /// A message could not be written or read in the wire format.
    #[error(transparent)]
    Serialization(#[from] SerializationError),
    /// The guest reported a failure (it returned 0 or -1, or a non-zero status).
    #[error("plugin failed in {export}: {message}")]
    Guest {
        /// The export that failed.
        export: &'static str,
        /// The message the guest gave with `set_error`, or what it returned.
        message: String,
    },
    /// The guest broke the ABI: a pointer or length outside its memory, a reply
    /// over its size cap, an allocation that failed.
    #[error("plugin broke the ABI in {export}: {message}")]
    Protocol {
        /// The export the host was calling.
        export: &'static str,
        /// What the guest did.
        message: String,
    },
    /// The plugin's permissions do not allow the host function.
    #[error("permission denied: host function `{function}` is not allowed for this plugin")]
    PermissionDenied {
        /// The host function asked for.
        function: String,
    },
    /// The host offered the plugin a WASI directory that its
    /// `filesystem_access` permission does not cover.
    #[error(
        "permission denied: the directory `{}` needs filesystem access `{needed}`, the plugin has `{granted}`",
        path.display()
    )]
    FilesystemDenied {
        /// The host directory.
        path: std::path::PathBuf,
        /// The access the directory was offered with.
        needed: super::FilesystemAccessLevel,
        /// The plugin's permission.
        granted: super::FilesystemAccessLevel,
    },
    /// No host function of that name is registered.
    #[error("no host function named `{name}`")]
    HostFunctionNotFound {
        /// The name asked for.
        name: String,
    },
    /// A host function failed.
    #[error("host function `{name}` failed: {source}")]
    HostFunction {
        /// The host function.
        name: String,
        /// Its error (boxed: the error stays small).
        #[source]
        source: Box<super::HostFunctionError>,
    },
    /// The plugin was disposed; it takes no more calls.
    #[error("plugin `{id}` is disposed")]
    Disposed {
        /// The plugin's id.
        id: String,
    },
    /// The guest trapped after saying why: its `set_error` message (a Rust
    /// SDK plugin's panic reaches the host this way) or, for a WASI guest
    /// whose stderr the host captures, what it wrote there last.
    #[error(transparent)]
    Trapped(Box<LastWords>),
    /// A plugin file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// A trap with the guest's last words: what it said with `set_error` before
/// it trapped, and the end of its captured stderr.
///
/// Displayed as `plugin panicked: <message> (<trap> in <export>)` when the
/// guest said why, then `; stderr: <tail>` when it wrote to a captured
/// stderr during the call.
#[derive(Debug)]
#[non_exhaustive]
pub struct LastWords {
    /// The export whose call trapped (its `alloc` or `dealloc` included).
    pub export: &'static str,
    /// What the guest said with `set_error` during the call.
    pub message: Option<String>,
    /// The end of what the guest wrote to its captured stderr during the
    /// call (at most [`LastWords::STDERR_TAIL`] bytes, lossy UTF-8).
    pub stderr: Option<String>,
    /// The trap itself.
    pub cause: WasmError,
}

impl LastWords {
    /// The most of a guest's stderr an error keeps: its end.
    pub const STDERR_TAIL: usize = 1024;

    /// The last words of a trap in `export`.
    pub fn new(
        export: &'static str,
        message: Option<String>,
        stderr: Option<String>,
        cause: WasmError,
    ) -> Self {
        LastWords {
            export,
            message,
            stderr,
            cause,
        }
    }
}

impl std::fmt::Display for LastWords {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.message {
            Some(message) => write!(
                f,
                "plugin panicked: {message} ({} in {})",
                self.cause, self.export
            )?,
            None => write!(f, "{} in {}", self.cause, self.export)?,
        }
        if let Some(stderr) = &self.stderr {
            write!(f, "; stderr: {}", stderr.trim_end())?;
        }
        Ok(())
    }
}

impl std::error::Error for LastWords {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.cause)
    }
}

impl PluginError {
    /// The trap under this error, with or without the guest's last words.
    pub fn trap(&self) -> Option<&WasmError> {
        match self {
            PluginError::Wasm(e @ WasmError::Trap { .. }) => Some(e),
            PluginError::Trapped(words) => Some(&words.cause),
            _ => None,
        }
    }

    /// A short, stable name of the error's kind, for logs and command-line output.
    pub fn kind(&self) -> &'static str {
        match self {
            PluginError::Integrity { .. } => "integrity",
            PluginError::AbiVersion { .. } => "abi version",
            PluginError::InvalidPlugin { .. } => "invalid plugin",
            PluginError::InvalidManifest { .. } => "invalid manifest",
            PluginError::Wasm(e) => e.kind(),
            PluginError::Trapped(words) => words.cause.kind(),
            PluginError::Serialization(_) => "serialization",
            PluginError::Guest { .. } => "plugin failed",
            PluginError::Protocol { .. } => "abi violation",
            PluginError::PermissionDenied { .. } | PluginError::FilesystemDenied { .. } => {
                "permission denied"
            }
            PluginError::HostFunctionNotFound { .. } => "host function not found",
            PluginError::HostFunction { .. } => "host function failed",
            PluginError::Disposed { .. } => "disposed",
            PluginError::Io { .. } => "io error",
        }
    }

    /// Whether the error leaves the plugin's instance in doubt, so that it
    /// must not take another event: a trap, exhausted fuel, a missed deadline,
    /// a stack overflow, an exit, a host function that aborted the guest
    /// mid-call, a broken ABI, or a reply the host could not read. A failure
    /// the guest reported itself, or a refused host call it was told of, does
    /// not.
    pub fn poisons_instance(&self) -> bool {
        match self {
            PluginError::Wasm(e) => e.is_guest_failure(),
            PluginError::Trapped(words) => words.cause.is_guest_failure(),
            PluginError::Protocol { .. } => true,
            // The guest's reply could not be read; the host failing to write
            // an event (a value JSON cannot hold, an event over the limit)
            // says nothing of the instance.
            PluginError::Serialization(e) => matches!(e, super::SerializationError::Decode { .. }),
            _ => false,
        }
    }

    /// Whether the plugin, not the caller's input, caused the error.
    pub fn is_guest_failure(&self) -> bool {
        match self {
            PluginError::Wasm(e) => e.is_guest_failure(),
            PluginError::Trapped(words) => words.cause.is_guest_failure(),
            PluginError::Guest { .. }
            | PluginError::Protocol { .. }
            | PluginError::Serialization(_)
            | PluginError::PermissionDenied { .. }
            | PluginError::HostFunction { .. } => true,
            _ => false,
        }
    }
}

// A plugin call's `Result` carries this error: five words of engine error and
// a tag, no more.
const _: () = assert!(size_of::<PluginError>() <= 48);
