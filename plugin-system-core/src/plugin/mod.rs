//! The plugin layer's data: the models that travel between a host and a plugin
//! ([`PluginEvent`], [`PluginResponse`], [`PluginManifest`]), the values inside
//! them ([`Value`], [`Timestamp`]), the permissions a host grants, and the
//! [`PluginSerializer`] trait that turns them into bytes.
//!
//! The models are byte-compatible with the Dart original's JSON: camelCase keys,
//! `null` written for absent optional fields, ISO-8601 timestamps, enums as the
//! same strings, and the same defaults for missing keys. Unknown keys are ignored.
//! This module knows no wire format: the serializers live in `plugin-system-wasm`.

mod error;
mod event;
mod host;
mod lifecycle;
mod manifest;
mod permissions;
mod response;
mod runtime;
mod serializer;
mod timestamp;
mod value;

pub use error::{LastWords, PluginError};
pub use event::PluginEvent;
pub use host::{HostCall, HostFunction, HostFunctionError, HostFunctions};
pub use lifecycle::{
    BlockingPlugin, Plugin, PluginContext, PluginOrigin, PluginSource, PluginUsage, SharedEvent,
};
pub use manifest::{PluginManifest, PluginRuntimeType};
pub use permissions::{FilesystemAccessLevel, PluginPermissions};
pub use response::PluginResponse;
pub use runtime::{PluginLoadOptions, PluginRuntime, check_manifests_agree};
pub use serializer::{DEFAULT_MAX_MESSAGE_SIZE, PluginSerializer, SerializationError, WireFormat};
pub use timestamp::{Timestamp, TimestampParseError};
pub use value::{Value, ValueError, ValueMap};

use serde::{Deserialize, Deserializer};

/// A string that names no variant of one of the plugin enums.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind}: `{value}`")]
pub struct ParseEnumError {
    kind: &'static str,
    value: String,
}

impl ParseEnumError {
    pub(crate) fn new(kind: &'static str, value: &str) -> Self {
        ParseEnumError {
            kind,
            value: value.chars().take(64).collect(),
        }
    }

    /// The enum that was asked for, for example `runtime type`.
    pub fn kind(&self) -> &'static str {
        self.kind
    }
}

/// Deserializes a field for which `null` means its default, as a Dart field
/// with `@Default(...)` reads it.
pub(crate) fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

// Hosts share these across tasks.
const _: () = {
    const fn shared<T: Send + Sync + 'static>() {}
    shared::<PluginEvent>();
    shared::<PluginResponse>();
    shared::<PluginManifest>();
    shared::<PluginPermissions>();
    shared::<Value>();
    shared::<ValueError>();
    shared::<SerializationError>();
    shared::<std::sync::Arc<dyn PluginSerializer>>();
    shared::<PluginError>();
    shared::<HostFunctions>();
    shared::<std::sync::Arc<dyn Plugin>>();
};
