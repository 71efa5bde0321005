//! [`JsonSerializer`]: UTF-8 JSON, as Dart's `jsonEncode`/`jsonDecode`.

use plugin_system_core::{
    PluginEvent, PluginManifest, PluginResponse, PluginSerializer, SerializationError, Value,
    ValueMap, WireFormat,
};
use serde::{Serialize, de::DeserializeOwned};

use super::{append, check_input, encode_with};

const FORMAT: WireFormat = WireFormat::Json;

/// UTF-8 JSON with the Dart keys: what Dart's `JsonPluginSerializer` reads and
/// writes.
///
/// - Events, responses and manifests must be a JSON object at the top, as in
///   Dart; [`deserialize_value`](PluginSerializer::deserialize_value) takes any
///   JSON value.
/// - [`Value::Bytes`] is written as an array of numbers (JSON has no bytes) and
///   reads back as a [`Value::Array`] of [`Value::Int`].
/// - A NaN or infinite [`Value::Float`] cannot be written: JSON has no such
///   numbers, and Dart's `jsonEncode` refuses them too.
/// - Nesting is limited to 128 levels for the whole document (a [`Value`] to
///   [`Value::MAX_DEPTH`]), and input to [`max_size`](Self::max_size) bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JsonSerializer {
    max_size: usize,
}

size_limited!(JsonSerializer);

impl JsonSerializer {
    fn encode<T: Serialize + ?Sized>(&self, value: &T) -> Result<Vec<u8>, SerializationError> {
        encode_with(FORMAT, self.max_size, |out| {
            serde_json::to_writer(out, value)
        })
    }

    fn decode<T: DeserializeOwned>(
        &self,
        bytes: &[u8],
        object: bool,
    ) -> Result<T, SerializationError> {
        check_input(FORMAT, bytes, self.max_size)?;
        if object {
            let first = bytes
                .iter()
                .find(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'));
            match first {
                Some(b'{') => {}
                None => {
                    return Err(SerializationError::decode(
                        FORMAT,
                        "the message is empty, where a JSON object was expected",
                    ));
                }
                Some(_) => {
                    return Err(SerializationError::decode(
                        FORMAT,
                        "expected a JSON object at the top",
                    ));
                }
            }
        }
        serde_json::from_slice(bytes).map_err(|e| SerializationError::decode(FORMAT, e))
    }
}

/// Refuses NaN and infinities, which JSON cannot hold (serde_json would write
/// `null` and lose them).
fn check_finite<'a>(values: impl IntoIterator<Item = &'a Value>) -> Result<(), SerializationError> {
    values.into_iter().try_for_each(check_finite_value)
}

/// Recursive (without a heap stack, events are written often): serializing
/// the same value recurses as deep.
fn check_finite_value(value: &Value) -> Result<(), SerializationError> {
    match value {
        Value::Float(f) if !f.is_finite() => Err(SerializationError::encode(
            FORMAT,
            format_args!("JSON cannot hold the float {f}"),
        )),
        Value::Array(items) => check_finite(items),
        Value::Map(map) => check_finite(map.values()),
        _ => Ok(()),
    }
}

fn maps<'a>(
    maps: impl IntoIterator<Item = Option<&'a ValueMap>>,
) -> impl Iterator<Item = &'a Value> {
    maps.into_iter().flatten().flat_map(ValueMap::values)
}

impl PluginSerializer for JsonSerializer {
    fn format(&self) -> WireFormat {
        FORMAT
    }

    fn serialize_event(&self, event: &PluginEvent) -> Result<Vec<u8>, SerializationError> {
        check_finite(event.data.values())?;
        self.encode(event)
    }

    fn serialize_event_into(
        &self,
        event: &PluginEvent,
        out: &mut Vec<u8>,
    ) -> Result<(), SerializationError> {
        check_finite(event.data.values())?;
        append(FORMAT, out, self.max_size, |out| {
            serde_json::to_writer(out, event)
        })
    }

    fn deserialize_event(&self, bytes: &[u8]) -> Result<PluginEvent, SerializationError> {
        self.decode(bytes, true)
    }

    fn serialize_response(&self, response: &PluginResponse) -> Result<Vec<u8>, SerializationError> {
        check_finite(maps([Some(&response.data), response.metadata.as_ref()]))?;
        self.encode(response)
    }

    fn deserialize_response(&self, bytes: &[u8]) -> Result<PluginResponse, SerializationError> {
        self.decode(bytes, true)
    }

    fn serialize_manifest(&self, manifest: &PluginManifest) -> Result<Vec<u8>, SerializationError> {
        check_finite(maps([
            manifest.config_schema.as_ref(),
            manifest.metadata.as_ref(),
        ]))?;
        self.encode(manifest)
    }

    fn deserialize_manifest(&self, bytes: &[u8]) -> Result<PluginManifest, SerializationError> {
        self.decode(bytes, true)
    }

    fn serialize_value(&self, value: &Value) -> Result<Vec<u8>, SerializationError> {
        check_finite([value])?;
        self.encode(value)
    }

    fn deserialize_value(&self, bytes: &[u8]) -> Result<Value, SerializationError> {
        self.decode(bytes, false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_finite_floats_are_refused() {
        let json = JsonSerializer::new();
        let nested = Value::from(vec![
            Value::from(1),
            Value::from(vec![Value::Float(f64::NAN)]),
        ]);
        let err = json.serialize_value(&nested).unwrap_err();
        assert!(matches!(err, SerializationError::Encode { .. }), "{err}");
        let event = PluginEvent::new("x").with_field("inf", f64::INFINITY);
        assert!(json.serialize_event(&event).is_err());
        let response = PluginResponse::new(true)
            .with_metadata([("m".to_owned(), Value::Float(f64::NEG_INFINITY))].into());
        assert!(json.serialize_response(&response).is_err());
        assert!(json.serialize_value(&Value::Float(1.5)).is_ok());
    }

    #[test]
    fn size_limit_applies_both_ways() {
        let json = JsonSerializer::new().with_max_size(8);
        assert_eq!(json.max_size(), 8);
        assert!(matches!(
            json.serialize_value(&Value::from("a long string")),
            Err(SerializationError::TooLarge {
                size: 15,
                limit: 8,
                ..
            })
        ));
        assert!(matches!(
            json.deserialize_value(b"\"a long string\""),
            Err(SerializationError::TooLarge { .. })
        ));
        assert_eq!(
            json.deserialize_value(b"[1,2]"),
            Ok(Value::from(vec![Value::from(1), Value::from(2)]))
        );
    }

    #[test]
    fn models_must_be_objects() {
        let json = JsonSerializer::new();
        let err = json.deserialize_response(b"[true]").unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid json: expected a JSON object at the top"
        );
        assert!(json.deserialize_event(b"").is_err());
    }
}
