//! [`PluginEvent`]: what a host sends a plugin.

use serde::{Deserialize, Serialize};

use super::{Timestamp, Value, ValueMap, null_as_default};

/// An event sent to a plugin (or broadcast to all): Dart's `PluginEvent`.
///
/// On the wire it is a map with the Dart keys, in this order, `null` written for
/// absent fields:
///
/// ```json
/// {"type": "file.opened", "targetPluginId": "plugin.file-icons",
///  "data": {"path": "/project/lib/main.dart"}, "timestamp": "2025-11-18T10:00:00.000Z",
///  "sourcePluginId": null, "priority": 0, "eventId": null}
/// ```
///
/// Only `type` is required when reading; a missing or `null` `data` is an empty
/// map and a missing or `null` `priority` is 0, as in Dart.
///
/// ```
/// use plugin_system_core::{PluginEvent, Value};
///
/// let event = PluginEvent::new("file.opened")
///     .with_target("plugin.file-icons")
///     .with_field("path", "/project/lib/main.dart")
///     .with_priority(5);
/// assert_eq!(event.get("path").and_then(Value::as_str), Some("/project/lib/main.dart"));
/// assert!(!event.is_broadcast());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct PluginEvent {
    /// The event type, namespaced with dots: `file.opened`,
    /// `editor.selection_changed`. JSON key `type`.
    #[serde(rename = "type")]
    pub event_type: String,
    /// The plugin the event is for; `None` broadcasts it to every plugin.
    #[serde(default)]
    pub target_plugin_id: Option<String>,
    /// The payload.
    #[serde(default, deserialize_with = "null_as_default")]
    pub data: ValueMap,
    /// When the event was created.
    #[serde(default)]
    pub timestamp: Option<Timestamp>,
    /// The plugin the event comes from, if it comes from one.
    #[serde(default)]
    pub source_plugin_id: Option<String>,
    /// Priority: higher is more important. Default 0.
    #[serde(default, deserialize_with = "null_as_default")]
    pub priority: i64,
    /// An identifier for tracking and correlating the event.
    #[serde(default)]
    pub event_id: Option<String>,
}

impl PluginEvent {
    /// A broadcast event of this type, with no data and no timestamp.
    pub fn new(event_type: impl Into<String>) -> Self {
        PluginEvent {
            event_type: event_type.into(),
            target_plugin_id: None,
            data: ValueMap::new(),
            timestamp: None,
            source_plugin_id: None,
            priority: 0,
            event_id: None,
        }
    }

    /// A broadcast event of this type stamped with the current time (Dart's
    /// `PluginEvent.now`).
    pub fn now(event_type: impl Into<String>) -> Self {
        PluginEvent::new(event_type).with_timestamp(Timestamp::now())
    }

    /// Addresses the event to one plugin.
    #[must_use]
    pub fn with_target(mut self, plugin_id: impl Into<String>) -> Self {
        self.target_plugin_id = Some(plugin_id.into());
        self
    }

    /// Replaces the payload.
    #[must_use]
    pub fn with_data(mut self, data: ValueMap) -> Self {
        self.data = data;
        self
    }

    /// Sets one entry of the payload.
    #[must_use]
    pub fn with_field(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.data.insert(key.into(), value.into());
        self
    }

    /// Sets the timestamp.
    #[must_use]
    pub fn with_timestamp(mut self, timestamp: Timestamp) -> Self {
        self.timestamp = Some(timestamp);
        self
    }

    /// Names the plugin the event comes from.
    #[must_use]
    pub fn with_source(mut self, plugin_id: impl Into<String>) -> Self {
        self.source_plugin_id = Some(plugin_id.into());
        self
    }

    /// Sets the priority.
    #[must_use]
    pub fn with_priority(mut self, priority: i64) -> Self {
        self.priority = priority;
        self
    }

    /// Sets the event identifier.
    #[must_use]
    pub fn with_event_id(mut self, event_id: impl Into<String>) -> Self {
        self.event_id = Some(event_id.into());
        self
    }

    /// The payload entry `key` (Dart's `getData`).
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.data.get(key)
    }

    /// Whether the event goes to every plugin (it has no target).
    pub fn is_broadcast(&self) -> bool {
        self.target_plugin_id.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builders_set_fields() {
        let t = Timestamp::from_micros(5);
        let e = PluginEvent::new("a.b")
            .with_target("t")
            .with_source("s")
            .with_event_id("id")
            .with_timestamp(t)
            .with_priority(-2)
            .with_field("k", 1);
        assert_eq!(e.event_type, "a.b");
        assert_eq!(e.target_plugin_id.as_deref(), Some("t"));
        assert_eq!(e.source_plugin_id.as_deref(), Some("s"));
        assert_eq!(e.event_id.as_deref(), Some("id"));
        assert_eq!(e.timestamp, Some(t));
        assert_eq!(e.priority, -2);
        assert_eq!(e.get("k"), Some(&Value::Int(1)));
        assert!(PluginEvent::now("x").timestamp.is_some());
        assert!(PluginEvent::new("x").is_broadcast());
    }
}
