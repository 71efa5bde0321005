//! [`PluginEvent`]: what a host sends a plugin.

use serde::{Deserialize, Serialize};

use super::{Timestamp, Value, ValueError, ValueMap, null_as_default, response, value};

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
///
/// A plugin reads the payload as a serde type with [`data_as`](Self::data_as).
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
    ///
    /// On `wasm32-unknown-unknown`, which has no clock, the timestamp stays
    /// `None` (reading the clock would trap a plugin there).
    pub fn now(event_type: impl Into<String>) -> Self {
        PluginEvent {
            timestamp: response::now_if_clock(),
            ..PluginEvent::new(event_type)
        }
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

    /// The payload as any serde type: a `#[derive(Deserialize)]` struct whose
    /// fields are the data's keys (what a plugin would otherwise pick out
    /// with [`get`](Self::get)). It may borrow from the event (`&str`
    /// fields). Keys the type does not name are ignored, unless it says
    /// `#[serde(deny_unknown_fields)]`.
    ///
    /// # Errors
    ///
    /// [`ValueError`] when the data does not have the shape of `T`: its
    /// message names the event type and `T`, says what is wrong as serde
    /// does (`missing field `path``, `invalid type: ...`), and gives the path
    /// of the field ([`ValueError::path`]).
    ///
    /// ```
    /// use plugin_system_core::PluginEvent;
    /// use serde::Deserialize;
    ///
    /// #[derive(Debug, Deserialize)]
    /// struct Opened {
    ///     path: String,
    ///     #[serde(default)]
    ///     line: u32,
    /// }
    ///
    /// let event = PluginEvent::new("file.opened").with_field("path", "/project/lib/main.dart");
    /// let opened: Opened = event.data_as().unwrap();
    /// assert_eq!((opened.path.as_str(), opened.line), ("/project/lib/main.dart", 0));
    ///
    /// let err = PluginEvent::new("file.opened").data_as::<Opened>().unwrap_err();
    /// assert_eq!(err.message(), "missing field `path`");
    /// assert!(err.to_string().starts_with("cannot read the data of event `file.opened` as `"));
    /// ```
    pub fn data_as<'a, T: Deserialize<'a>>(&'a self) -> Result<T, ValueError> {
        value::from_map(&self.data).map_err(|e| {
            e.context(format!(
                "cannot read the data of event `{}` as `{}`",
                self.event_type,
                std::any::type_name::<T>()
            ))
        })
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
        assert_eq!(
            PluginEvent::now("x").timestamp.is_some(),
            response::HAS_CLOCK
        );
        assert!(PluginEvent::new("x").is_broadcast());
    }

    #[derive(Debug, PartialEq, Deserialize)]
    struct Edit<'a> {
        path: &'a str,
        range: (u32, u32),
        #[serde(default)]
        tags: Vec<String>,
        kind: Kind,
    }

    #[derive(Debug, PartialEq, Deserialize)]
    #[serde(rename_all = "snake_case")]
    enum Kind {
        Insert,
        Replace { with: String },
    }

    #[test]
    fn data_reads_as_a_serde_type() {
        let event = PluginEvent::new("edit")
            .with_field("path", "lib/a.dart")
            .with_field("range", Value::from_iter([1, 4]))
            .with_field("kind", "insert")
            .with_field("ignored", true);
        assert_eq!(
            event.data_as::<Edit<'_>>().unwrap(),
            Edit {
                path: "lib/a.dart",
                range: (1, 4),
                tags: Vec::new(),
                kind: Kind::Insert,
            }
        );
        let replace: Value = [("replace", [("with", "x")].into_iter().collect::<Value>())]
            .into_iter()
            .collect();
        let event = event.with_field("kind", replace);
        assert_eq!(
            event.data_as::<Edit<'_>>().unwrap().kind,
            Kind::Replace { with: "x".into() }
        );
    }

    #[test]
    fn a_mismatch_names_the_event_the_type_and_the_field() {
        let event = PluginEvent::new("edit")
            .with_field("path", "lib/a.dart")
            .with_field(
                "range",
                Value::from_iter([Value::from(1), Value::from("end")]),
            )
            .with_field("kind", "insert");
        let err = event.data_as::<Edit<'_>>().unwrap_err();
        assert_eq!(err.path(), "range[1]");
        assert_eq!(
            err.to_string(),
            format!(
                "cannot read the data of event `edit` as `{}`: invalid type: string \"end\", \
                 expected u32 at `range[1]`",
                std::any::type_name::<Edit<'_>>()
            )
        );
        let err = event
            .clone()
            .with_field("range", Value::from_iter([1, 2]))
            .with_field("tags", Value::from_iter([Value::from("a"), Value::Null]))
            .data_as::<Edit<'_>>()
            .unwrap_err();
        assert_eq!(err.path(), "tags[1]");
        assert_eq!(err.message(), "invalid type: null, expected a string");
        let err = PluginEvent::new("edit").data_as::<Edit<'_>>().unwrap_err();
        assert_eq!((err.message(), err.path()), ("missing field `path`", ""));
        let err = event
            .with_field("range", Value::from_iter([1, 2]))
            .with_field("kind", "delete")
            .data_as::<Edit<'_>>()
            .unwrap_err();
        assert_eq!(err.path(), "kind");
        assert!(
            err.message().starts_with("unknown variant `delete`"),
            "{err}"
        );
    }
}
