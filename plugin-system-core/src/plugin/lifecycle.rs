//! The [`Plugin`] trait: what a host does with a loaded plugin.

use std::{
    path::PathBuf,
    sync::{Mutex, OnceLock, PoisonError},
};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::{PluginError, PluginEvent, PluginManifest, PluginResponse, ValueMap, WireFormat};

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

    /// The plugin's calls on the caller's thread, when it has them.
    ///
    /// A host that runs each plugin on a thread of its own (the `PluginManager`
    /// does) calls these instead of the async methods, and saves the hand-off to
    /// a blocking thread that the async methods make. The default, `None`, makes
    /// such a host drive the async methods.
    fn blocking(&self) -> Option<&dyn BlockingPlugin> {
        None
    }

    /// What the plugin holds now, where the implementation can tell.
    fn usage(&self) -> PluginUsage {
        PluginUsage::default()
    }

    /// Replaces the plugin's instance with a fresh one of the same code, as
    /// it was loaded (nothing is compiled again), after a fault left the old
    /// one in doubt ([`PluginError::poisons_instance`]). The plugin must be
    /// initialized again before its next event. It runs on the caller's
    /// thread.
    ///
    /// # Errors
    /// The fresh instance could not be made; the default says the plugin
    /// cannot be restarted.
    fn restart(&self) -> Result<(), PluginError> {
        Err(PluginError::InvalidPlugin {
            message: "this plugin cannot be restarted".into(),
        })
    }

    /// The plugin's state, for the version that replaces it in a hot reload
    /// ([`restore`](Self::restore)); `None` when it hands none over. It runs
    /// on the caller's thread, after the plugin's last event.
    ///
    /// # Errors
    /// The plugin failed to give its state; the new version starts afresh.
    fn snapshot(&self) -> Result<Option<Vec<u8>>, PluginError> {
        Ok(None)
    }

    /// Takes the state the version it replaces gave in
    /// [`snapshot`](Self::snapshot), after `initialize` and before its first
    /// event; `false` when the plugin takes none. It runs on the caller's
    /// thread.
    ///
    /// # Errors
    /// The plugin refused the state.
    fn restore(&self, state: &[u8]) -> Result<bool, PluginError> {
        let _ = state;
        Ok(false)
    }
}

/// A [`Plugin`]'s calls, run on the caller's thread until they return.
///
/// They do what the async methods of [`Plugin`] do, under the same limits.
pub trait BlockingPlugin: Send + Sync {
    /// As [`Plugin::initialize`].
    ///
    /// # Errors
    /// As [`Plugin::initialize`].
    fn initialize_blocking(&self, context: &PluginContext) -> Result<(), PluginError>;

    /// As [`Plugin::handle_event`].
    ///
    /// # Errors
    /// As [`Plugin::handle_event`].
    fn handle_event_blocking(&self, event: &PluginEvent) -> Result<PluginResponse, PluginError>;

    /// As [`Plugin::handle_event`], for an event that goes to several plugins:
    /// an implementation that serializes events takes its bytes from
    /// [`SharedEvent::encoded`], so that each wire format is written once for
    /// all the recipients. The default handles [`SharedEvent::event`].
    ///
    /// # Errors
    /// As [`Plugin::handle_event`].
    fn handle_shared_event_blocking(
        &self,
        event: &SharedEvent,
    ) -> Result<PluginResponse, PluginError> {
        self.handle_event_blocking(event.event())
    }

    /// As [`Plugin::dispose`].
    ///
    /// # Errors
    /// As [`Plugin::dispose`].
    fn dispose_blocking(&self) -> Result<(), PluginError>;
}

/// What a plugin holds, for a host's statistics; `None` where its
/// implementation cannot tell.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct PluginUsage {
    /// The size of its memory.
    pub memory_bytes: Option<u64>,
    /// The fuel it has burnt, when fuel is metered.
    pub fuel_consumed: Option<u64>,
}

impl PluginUsage {
    /// A usage with both figures.
    pub fn new(memory_bytes: Option<u64>, fuel_consumed: Option<u64>) -> Self {
        PluginUsage {
            memory_bytes,
            fuel_consumed,
        }
    }
}

/// An event on its way to several plugins, serialized at most once per wire
/// format however many of them read it.
#[derive(Debug)]
pub struct SharedEvent {
    event: PluginEvent,
    /// The encodings made so far, by [`format_slot`]: read without a lock
    /// by recipients that may run on several threads at once.
    encoded: [OnceLock<Box<[u8]>>; FORMATS],
    /// Held while an encoding is made, so that it is made once.
    encoding: Mutex<()>,
}

/// The number of wire formats.
const FORMATS: usize = 3;

/// `format`'s place in [`SharedEvent`]'s encodings.
fn format_slot(format: WireFormat) -> usize {
    match format {
        WireFormat::Json => 0,
        WireFormat::MessagePack => 1,
        WireFormat::Postcard => 2,
    }
}

impl SharedEvent {
    /// `event`, not encoded yet.
    pub fn new(event: PluginEvent) -> Self {
        SharedEvent {
            event,
            encoded: Default::default(),
            encoding: Mutex::new(()),
        }
    }

    /// The event.
    pub fn event(&self) -> &PluginEvent {
        &self.event
    }

    /// The event in `format`: made by `encode` the first time it is asked
    /// for, and the same bytes after that. Recipients that ask at the same
    /// time wait for one encoding.
    ///
    /// # Errors
    /// `encode`'s, which is not kept: the next caller tries again.
    pub fn encoded(
        &self,
        format: WireFormat,
        encode: impl FnOnce(&PluginEvent) -> Result<Vec<u8>, PluginError>,
    ) -> Result<&[u8], PluginError> {
        let slot = &self.encoded[format_slot(format)];
        if let Some(bytes) = slot.get() {
            return Ok(bytes);
        }
        let _encoding = self.encoding.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(bytes) = slot.get() {
            return Ok(bytes);
        }
        let bytes = encode(&self.event)?.into_boxed_slice();
        Ok(slot.get_or_init(|| bytes))
    }
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
