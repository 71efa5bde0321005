//! [`PluginResponse`]: what a plugin answers.

use serde::{Deserialize, Serialize};

use super::{Timestamp, Value, ValueError, ValueMap, null_as_default, value};

/// Whether the target has a clock for [`Timestamp::now`]: every target but
/// `wasm32-unknown-unknown` (and `wasm64-unknown-unknown`), where
/// `SystemTime::now` panics, which traps a plugin.
pub(super) const HAS_CLOCK: bool = !cfg!(all(target_family = "wasm", target_os = "unknown"));

/// The current time where the target has a clock ([`HAS_CLOCK`]), `None`
/// where it has none: what the constructors that stamp a model use, so that
/// they work on every target.
pub(super) fn now_if_clock() -> Option<Timestamp> {
    HAS_CLOCK.then(Timestamp::now)
}

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
///
/// With serde types, [`success_from`](Self::success_from) writes the data and
/// [`data_as`](Self::data_as) reads it:
///
/// ```
/// use plugin_system_core::PluginResponse;
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Debug, PartialEq, Serialize, Deserialize)]
/// struct Icon {
///     icon: String,
///     extension: String,
/// }
///
/// let icon = Icon { icon: "devicon-rust-plain".into(), extension: "rs".into() };
/// let response = PluginResponse::success_from(&icon).unwrap();
/// assert!(response.success);
/// assert_eq!(response.data_as::<Icon>().unwrap(), icon);
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
    ///
    /// On `wasm32-unknown-unknown`, which has no clock, the timestamp stays
    /// `None` (reading the clock would trap the plugin); every other target
    /// stamps it.
    pub fn success(data: ValueMap) -> Self {
        PluginResponse {
            data,
            timestamp: now_if_clock(),
            ..PluginResponse::new(true)
        }
    }

    /// A successful response whose data is `data`, any serde type that
    /// serializes to a map (a `#[derive(Serialize)]` struct, a map): the
    /// typed [`success`](Self::success), stamped as it is (not on
    /// `wasm32-unknown-unknown`).
    ///
    /// `data` goes through [`Value::from_serialize`], so the response is the
    /// same in every wire format. `None` or `()` (serialized as null) make an
    /// empty map, as a `null` `data` reads on the wire.
    ///
    /// # Errors
    ///
    /// [`ValueError`] when `data` is not a map (a string, a number, an array,
    /// a tuple struct) or cannot be serialized ([`Value::from_serialize`]);
    /// the message names its type.
    ///
    /// ```
    /// use plugin_system_core::PluginResponse;
    ///
    /// let err = PluginResponse::success_from(&[1, 2]).unwrap_err();
    /// assert_eq!(
    ///     err.to_string(),
    ///     "cannot make the data of a response from `[i32; 2]`: it must be a map, not an array"
    /// );
    /// ```
    pub fn success_from<T: Serialize + ?Sized>(data: &T) -> Result<Self, ValueError> {
        let context = || {
            format!(
                "cannot make the data of a response from `{}`",
                std::any::type_name::<T>()
            )
        };
        let data = match value::to_value(data).map_err(|e| e.context(context()))? {
            Value::Map(map) => map,
            Value::Null => ValueMap::new(),
            other => {
                return Err(ValueError::new(format_args!(
                    "it must be a map, not {}",
                    other.kind_with_article()
                ))
                .context(context()));
            }
        };
        Ok(PluginResponse::success(data))
    }

    /// A failed response with this message, stamped with the current time
    /// (Dart's `PluginResponse.error`; details go to
    /// [`with_error_details`](Self::with_error_details)).
    ///
    /// On `wasm32-unknown-unknown`, which has no clock, the timestamp stays
    /// `None`, as with [`success`](Self::success).
    pub fn error(message: impl Into<String>) -> Self {
        PluginResponse {
            message: Some(message.into()),
            timestamp: now_if_clock(),
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

    /// The data as any serde type: for a host, the plugin's answer as a
    /// `#[derive(Deserialize)]` struct whose fields are the data's keys.
    /// It may borrow from the response (`&str` fields).
    ///
    /// # Errors
    ///
    /// [`ValueError`] when the data does not have the shape of `T`: its
    /// message names `T`, says what is wrong as serde does (`missing field
    /// `icon``, `invalid type: ...`), and gives the path of the field.
    pub fn data_as<'a, T: Deserialize<'a>>(&'a self) -> Result<T, ValueError> {
        value::from_map(&self.data).map_err(|e| {
            e.context(format!(
                "cannot read the data of the response as `{}`",
                std::any::type_name::<T>()
            ))
        })
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

    #[test]
    fn only_wasm_without_an_os_has_no_clock() {
        // This target (the tests run natively) has one; wasm32-unknown-unknown's
        // builds take the other branch, which the example plugins run in the
        // host's tests (share answers with `success_from`; `cargo xtask guests`
        // fails a plugin that links std's clock).
        const { assert!(HAS_CLOCK) };
        assert!(now_if_clock().is_some());
        assert_eq!(
            PluginResponse::success(ValueMap::new()).timestamp.is_some(),
            HAS_CLOCK
        );
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Counts {
        words: usize,
        lines: usize,
        #[serde(skip_serializing_if = "Option::is_none", default)]
        note: Option<String>,
    }

    #[test]
    fn typed_data_goes_in_and_out() {
        let counts = Counts {
            words: 3,
            lines: 1,
            note: None,
        };
        let response = PluginResponse::success_from(&counts).unwrap();
        assert!(response.success && response.message.is_none());
        assert_eq!(response.timestamp.is_some(), HAS_CLOCK);
        assert_eq!(
            response.data,
            ValueMap::from([
                ("words".to_owned(), Value::from(3)),
                ("lines".to_owned(), Value::from(1)),
            ])
        );
        assert_eq!(response.data_as::<Counts>().unwrap(), counts);

        // Null data is an empty map, as on the wire; a map type works too.
        assert!(PluginResponse::success_from(&()).unwrap().data.is_empty());
        assert!(
            PluginResponse::success_from(&None::<Counts>)
                .unwrap()
                .data
                .is_empty()
        );
        let map = std::collections::BTreeMap::from([("k", 1)]);
        assert_eq!(
            PluginResponse::success_from(&map).unwrap().get("k"),
            Some(&Value::from(1))
        );
    }

    #[test]
    fn data_that_is_not_a_map_is_an_error() {
        for (err, kind) in [
            (
                PluginResponse::success_from("text").unwrap_err(),
                "a string",
            ),
            (PluginResponse::success_from(&5u8).unwrap_err(), "an int"),
            (
                PluginResponse::success_from(&(1, 2)).unwrap_err(),
                "an array",
            ),
        ] {
            assert_eq!(err.message(), format!("it must be a map, not {kind}"));
            assert!(
                err.to_string()
                    .starts_with("cannot make the data of a response from `"),
                "{err}"
            );
        }
        // A map key that is no string, number or boolean.
        let bad_key = std::collections::BTreeMap::from([((1, 2), "pair")]);
        let err = PluginResponse::success_from(&bad_key).unwrap_err();
        assert!(err.message().starts_with("a map key must be"), "{err}");
    }

    #[test]
    fn reading_names_the_type_and_the_field() {
        let response = PluginResponse::new(true)
            .with_field("words", "three")
            .with_field("lines", 1);
        let err = response.data_as::<Counts>().unwrap_err();
        assert_eq!(err.path(), "words");
        assert_eq!(
            err.to_string(),
            format!(
                "cannot read the data of the response as `{}`: invalid type: string \"three\", \
                 expected usize at `words`",
                std::any::type_name::<Counts>()
            )
        );
        let err = PluginResponse::new(true)
            .with_field("lines", 1)
            .data_as::<Counts>()
            .unwrap_err();
        assert_eq!((err.message(), err.path()), ("missing field `words`", ""));
        // Borrowed.
        #[derive(Deserialize)]
        struct Note<'a> {
            note: &'a str,
        }
        let response = PluginResponse::new(true).with_field("note", "hi");
        assert_eq!(response.data_as::<Note<'_>>().unwrap().note, "hi");
    }
}
