//! [`PluginResponse`]: what a plugin answers.

use serde::{Deserialize, Serialize};

use super::{Timestamp, Value, ValueMap, null_as_default};

/// A plugin's answer to an event: Dart's `PluginResponse`.
///
/// On the wire it is a map with the Dart keys `success`, `data`, `message`,
/// `error`, `stackTrace`, `timestamp`, `durationMs` and `metadata`, `null` written
/// for absent fields. `success` is required when reading; a missing or `null`
/// `data` is an empty map.
///
/// ```
/// use plugin_system_core::{PluginResponse, Value};
///
/// let ok = PluginResponse::success([("icon".to_owned(), Value::from("devicon-rust"))].into());
/// assert!(ok.success);
/// let failed = PluginResponse::error("unknown extension").with_error_details("no icon for .xyz");
/// assert!(!failed.success && failed.has_error());
/// assert_eq!(failed.message.as_deref(), Some("unknown extension"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct PluginResponse {
    /// Whether the plugin handled the event successfully.
    pub success: bool,
    /// The result.
    #[serde(default, deserialize_with = "null_as_default")]
    pub data: ValueMap,
    /// A message for people; on failure, what went wrong.
    #[serde(default)]
    pub message: Option<String>,
    /// Details of the failure.
    #[serde(default)]
    pub error: Option<String>,
    /// The plugin's stack trace of the failure.
    #[serde(default)]
    pub stack_trace: Option<String>,
    /// When the response was made.
    #[serde(default)]
    pub timestamp: Option<Timestamp>,
    /// How long handling took, in milliseconds.
    #[serde(default)]
    pub duration_ms: Option<u64>,
    /// Anything else.
    #[serde(default)]
    pub metadata: Option<ValueMap>,
}

impl PluginResponse {
    /// A response with this outcome and nothing else (no timestamp either).
    pub fn new(success: bool) -> Self {
        PluginResponse {
            success,
            data: ValueMap::new(),
            message: None,
            error: None,
            stack_trace: None,
            timestamp: None,
            duration_ms: None,
            metadata: None,
        }
    }

    /// A successful response with this data, stamped with the current time
    /// (Dart's `PluginResponse.success`).
    pub fn success(data: ValueMap) -> Self {
        PluginResponse {
            data,
            timestamp: Some(Timestamp::now()),
            ..PluginResponse::new(true)
        }
    }

    /// A failed response with this message, stamped with the current time
    /// (Dart's `PluginResponse.error`; details go to
    /// [`with_error_details`](Self::with_error_details)).
    pub fn error(message: impl Into<String>) -> Self {
        PluginResponse {
            message: Some(message.into()),
            timestamp: Some(Timestamp::now()),
            ..PluginResponse::new(false)
        }
    }

    /// Sets one entry of the data.
    #[must_use]
    pub fn with_field(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.data.insert(key.into(), value.into());
        self
    }

    /// Sets the failure's details (the `error` field).
    #[must_use]
    pub fn with_error_details(mut self, error: impl Into<String>) -> Self {
        self.error = Some(error.into());
        self
    }

    /// Sets the stack trace.
    #[must_use]
    pub fn with_stack_trace(mut self, stack_trace: impl Into<String>) -> Self {
        self.stack_trace = Some(stack_trace.into());
        self
    }

    /// Sets or clears the timestamp.
    #[must_use]
    pub fn with_timestamp(mut self, timestamp: Option<Timestamp>) -> Self {
        self.timestamp = timestamp;
        self
    }

    /// Sets the duration in milliseconds.
    #[must_use]
    pub fn with_duration_ms(mut self, duration_ms: u64) -> Self {
        self.duration_ms = Some(duration_ms);
        self
    }

    /// Sets the metadata.
    #[must_use]
    pub fn with_metadata(mut self, metadata: ValueMap) -> Self {
        self.metadata = Some(metadata);
        self
    }

    /// The data entry `key` (Dart's `getData`).
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.data.get(key)
    }

    /// Whether the response carries error details or a stack trace (Dart's
    /// `hasError`).
    pub fn has_error(&self) -> bool {
        self.error.is_some() || self.stack_trace.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constructors_match_dart() {
        let ok = PluginResponse::success(ValueMap::new()).with_field("a", true);
        assert!(ok.success && ok.timestamp.is_some() && !ok.has_error());
        assert_eq!(ok.get("a"), Some(&Value::Bool(true)));
        let err = PluginResponse::error("boom");
        assert!(!err.success && err.timestamp.is_some());
        assert_eq!(err.message.as_deref(), Some("boom"));
        assert!(
            !err.has_error(),
            "Dart's hasError looks at error and stackTrace only"
        );
        assert!(err.clone().with_stack_trace("at main").has_error());
        let plain = PluginResponse::new(true).with_duration_ms(3);
        assert_eq!((plain.timestamp, plain.duration_ms), (None, Some(3)));
    }
}
