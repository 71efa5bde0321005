//! Conveniences on the models of `plugin-system-core`, in the
//! [prelude](crate::prelude).
//!
//! `PluginResponse::success` and `PluginResponse::error` stamp the response
//! with the system clock where the target has one, and leave the timestamp
//! out on `wasm32-unknown-unknown`, which has none (they never trap).
//! [`PluginResponseExt::ok`] and friends leave it out on every target, so
//! that a plugin answers the same bytes wherever it runs.

use plugin_system_core::{
    PluginEvent, PluginManifest, PluginResponse, PluginRuntimeType, Value, ValueMap,
};

use crate::Error;

/// Responses without a timestamp, the same on every target.
///
/// ```
/// use plugin_system_guest::prelude::*;
///
/// let response = PluginResponse::ok().with_field("words", 2);
/// assert!(response.success && response.timestamp.is_none());
/// ```
pub trait PluginResponseExt {
    /// A successful response with no data.
    fn ok() -> Self;
    /// A successful response with this data.
    fn ok_with(data: ValueMap) -> Self;
    /// A response that says `success: false`, with this message.
    fn failure(message: impl Into<String>) -> Self;
}

impl PluginResponseExt for PluginResponse {
    fn ok() -> Self {
        PluginResponse::new(true)
    }

    fn ok_with(data: ValueMap) -> Self {
        let mut response = PluginResponse::new(true);
        response.data = data;
        response
    }

    fn failure(message: impl Into<String>) -> Self {
        let mut response = PluginResponse::new(false);
        response.message = Some(message.into());
        response
    }
}

/// Reading an event's data.
///
/// ```
/// use plugin_system_guest::prelude::*;
///
/// let event = PluginEvent::new("get_icon").with_field("extension", "rs");
/// assert_eq!(event.get_str("extension"), Some("rs"));
/// assert_eq!(
///     event.require_str("path").unwrap_err().message(),
///     "event `get_icon` has no string field `path`"
/// );
/// ```
pub trait PluginEventExt {
    /// The data entry `key`, if it is a string.
    fn get_str(&self, key: &str) -> Option<&str>;
    /// The data entry `key`, which must be a string.
    ///
    /// # Errors
    ///
    /// An [`Error`] naming the event and the key when it is missing or not a
    /// string.
    fn require_str(&self, key: &str) -> Result<&str, Error>;
}

impl PluginEventExt for PluginEvent {
    fn get_str(&self, key: &str) -> Option<&str> {
        self.get(key).and_then(Value::as_str)
    }

    fn require_str(&self, key: &str) -> Result<&str, Error> {
        self.get_str(key).ok_or_else(|| {
            Error::new(format!(
                "event `{}` has no string field `{key}`",
                self.event_type
            ))
        })
    }
}

/// Building a manifest.
///
/// ```
/// use plugin_system_guest::prelude::*;
///
/// let manifest = PluginManifest::wasm("plugin.word-count", "Word Count", "1.0.0", "Counts words")
///     .with_required_host_functions(["editor.get_text"])
///     .with_subscriptions(["document.changed"]);
/// assert_eq!(manifest.runtime, PluginRuntimeType::Wasm);
/// assert_eq!(manifest.required_host_functions, ["editor.get_text"]);
/// ```
pub trait PluginManifestExt: Sized {
    /// A manifest of a WebAssembly plugin with the required fields.
    fn wasm(
        id: impl Into<String>,
        name: impl Into<String>,
        version: impl Into<String>,
        description: impl Into<String>,
    ) -> Self;
    /// Sets the host functions the plugin calls (`requiredHostFunctions`).
    #[must_use]
    fn with_required_host_functions<I, S>(self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>;
    /// Sets the event types the plugin wants (`subscribesTo`).
    #[must_use]
    fn with_subscriptions<I, S>(self, event_types: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>;
    /// Sets the event types the plugin emits (`providedEvents`).
    #[must_use]
    fn with_provided_events<I, S>(self, event_types: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>;
}

impl PluginManifestExt for PluginManifest {
    fn wasm(
        id: impl Into<String>,
        name: impl Into<String>,
        version: impl Into<String>,
        description: impl Into<String>,
    ) -> Self {
        PluginManifest::new(id, name, version, description, PluginRuntimeType::Wasm)
    }

    fn with_required_host_functions<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.required_host_functions = names.into_iter().map(Into::into).collect();
        self
    }

    fn with_subscriptions<I, S>(mut self, event_types: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.subscribes_to = event_types.into_iter().map(Into::into).collect();
        self
    }

    fn with_provided_events<I, S>(mut self, event_types: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.provided_events = event_types.into_iter().map(Into::into).collect();
        self
    }
}
