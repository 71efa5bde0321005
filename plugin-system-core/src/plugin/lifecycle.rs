//! The [`Plugin`] trait: what a host does with a loaded plugin.

use std::path::PathBuf;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::{PluginError, PluginEvent, PluginManifest, PluginResponse, ValueMap};

/// What a plugin gets when it is initialized.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct PluginContext {
    /// The plugin's id, as the host knows it.
    pub plugin_id: String,
    /// The plugin's configuration.
    #[serde(default)]
    pub config: ValueMap,
}

impl PluginContext {
    /// A context for `plugin_id` with an empty configuration.
    pub fn new(plugin_id: impl Into<String>) -> Self {
        PluginContext {
            plugin_id: plugin_id.into(),
            config: ValueMap::new(),
        }
    }

    /// Sets the configuration.
    pub fn with_config(mut self, config: ValueMap) -> Self {
        self.config = config;
        self
    }
}

/// A loaded plugin, whatever runs it.
///
/// Calls run the plugin's code off the async executor's worker threads where an
/// implementation can (the WebAssembly one uses `spawn_blocking`), so that a slow
/// plugin never stalls other tasks.
#[async_trait]
pub trait Plugin: Send + Sync {
    /// The plugin's manifest.
    fn manifest(&self) -> &PluginManifest;

    /// Prepares the plugin; called once before the first event.
    ///
    /// # Errors
    /// The plugin refused to start, or failed.
    async fn initialize(&self, context: PluginContext) -> Result<(), PluginError>;

    /// Handles one event and returns the plugin's response.
    ///
    /// # Errors
    /// The plugin failed; a response with `success: false` is not an error.
    async fn handle_event(&self, event: PluginEvent) -> Result<PluginResponse, PluginError>;

    /// Tears the plugin down; later calls fail with [`PluginError::Disposed`].
    ///
    /// # Errors
    /// The plugin's own clean-up failed (it is disposed anyway).
    async fn dispose(&self) -> Result<(), PluginError>;
}

/// Where a plugin's code comes from, with an optional SHA-256 that is checked
/// before anything of it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginSource {
    /// The bytes, or where to read them.
    pub origin: PluginOrigin,
    /// The expected SHA-256 of the bytes, lowercase or uppercase hex.
    pub sha256: Option<String>,
}

/// Where a plugin's bytes are.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PluginOrigin {
    /// A file (`.wasm`, or `.wat` text).
    File(PathBuf),
    /// In memory.
    Bytes(Vec<u8>),
}

impl PluginSource {
    /// A plugin in a file.
    pub fn file(path: impl Into<PathBuf>) -> Self {
        PluginSource {
            origin: PluginOrigin::File(path.into()),
            sha256: None,
        }
    }

    /// A plugin in memory.
    pub fn bytes(bytes: impl Into<Vec<u8>>) -> Self {
        PluginSource {
            origin: PluginOrigin::Bytes(bytes.into()),
            sha256: None,
        }
    }

    /// Requires the bytes to have this SHA-256 (hex).
    pub fn with_sha256(mut self, hex: impl Into<String>) -> Self {
        self.sha256 = Some(hex.into());
        self
    }

    /// Reads the bytes and checks the digest.
    ///
    /// # Errors
    /// [`PluginError::Io`] when the file cannot be read, [`PluginError::Integrity`]
    /// when the digest differs.
    pub fn load(&self) -> Result<Vec<u8>, PluginError> {
        let bytes = match &self.origin {
            // As a module file: at most 1 GiB, whatever the file is (a device, a pipe).
            PluginOrigin::File(path) => {
                crate::runtime::read_module_file(path).map_err(|e| match e {
                    crate::WasmError::Io { path, source } => PluginError::Io { path, source },
                    other => PluginError::from(other),
                })?
            }
            PluginOrigin::Bytes(bytes) => bytes.clone(),
        };
        if let Some(expected) = &self.sha256 {
            use sha2::Digest;
            let actual = hex::encode(sha2::Sha256::digest(&bytes));
            if !actual.eq_ignore_ascii_case(expected.trim()) {
                return Err(PluginError::Integrity {
                    expected: expected.trim().to_ascii_lowercase(),
                    actual,
                });
            }
        }
        Ok(bytes)
    }
}
