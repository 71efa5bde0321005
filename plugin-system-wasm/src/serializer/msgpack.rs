//! [`MessagePackSerializer`]: MessagePack with structs as maps, as Dart's
//! `msgpack_dart` reads and writes it.

use plugin_system_core::{
    PluginEvent, PluginManifest, PluginResponse, PluginSerializer, SerializationError, Value,
    WireFormat,
};
use serde::{Serialize, de::DeserializeOwned};

use super::{check_input, check_output};

const FORMAT: WireFormat = WireFormat::MessagePack;

/// How deep the MessagePack reader lets maps and arrays nest.
const MAX_DEPTH: usize = 2 * Value::MAX_DEPTH;

/// MessagePack with the Dart keys: what Dart's `MessagePackPluginSerializer`
/// reads and writes.
///
/// - Structs are written as **maps with string keys** (`rmp_serde`'s named
///   encoding), never as arrays; integers take their smallest encoding, floats
///   are `float64`, [`Value::Bytes`] is `bin`, timestamps are strings.
/// - Reading accepts every encoding `msgpack_dart` writes (`str8`, `map16`,
///   `uint64`, `float32`, ...). Map keys that are not strings (MessagePack allows
///   them) are turned into strings, as the Dart serializer does. Extension types
///   are refused.
/// - Events, responses and manifests must be a map at the top, as in Dart;
///   [`deserialize_value`](PluginSerializer::deserialize_value) takes any value.
///   Bytes after the first message are an error.
/// - Input is limited to [`max_size`](Self::max_size) bytes, and values to
///   [`Value::MAX_DEPTH`] levels of nesting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessagePackSerializer {
    max_size: usize,
}

size_limited!(MessagePackSerializer);

impl MessagePackSerializer {
    fn encode<T: Serialize + ?Sized>(&self, value: &T) -> Result<Vec<u8>, SerializationError> {
        let bytes =
            rmp_serde::to_vec_named(value).map_err(|e| SerializationError::encode(FORMAT, e))?;
        check_output(FORMAT, bytes, self.max_size)
    }

    fn decode<T: DeserializeOwned>(
        &self,
        bytes: &[u8],
        map: bool,
    ) -> Result<T, SerializationError> {
        check_input(FORMAT, bytes, self.max_size)?;
        if map && !matches!(bytes.first(), Some(0x80..=0x8f | 0xde | 0xdf)) {
            return Err(SerializationError::decode(
                FORMAT,
                "expected a MessagePack map at the top",
            ));
        }
        let mut rest = bytes;
        let value = {
            let mut de = rmp_serde::Deserializer::new(&mut rest);
            // Deep enough for a model around values of `Value::MAX_DEPTH`, and
            // shallow enough that skipping an unknown key's value cannot exhaust
            // a small thread stack (rmp_serde allows 1024 by default).
            de.set_max_depth(MAX_DEPTH);
            T::deserialize(&mut de).map_err(|e| SerializationError::decode(FORMAT, e))?
        };
        if !rest.is_empty() {
            return Err(SerializationError::decode(
                FORMAT,
                format_args!("{} bytes after the end of the message", rest.len()),
            ));
        }
        Ok(value)
    }
}

impl PluginSerializer for MessagePackSerializer {
    fn format(&self) -> WireFormat {
        FORMAT
    }

    fn serialize_event(&self, event: &PluginEvent) -> Result<Vec<u8>, SerializationError> {
        self.encode(event)
    }

    fn deserialize_event(&self, bytes: &[u8]) -> Result<PluginEvent, SerializationError> {
        self.decode(bytes, true)
    }

    fn serialize_response(&self, response: &PluginResponse) -> Result<Vec<u8>, SerializationError> {
        self.encode(response)
    }

    fn deserialize_response(&self, bytes: &[u8]) -> Result<PluginResponse, SerializationError> {
        self.decode(bytes, true)
    }

    fn serialize_manifest(&self, manifest: &PluginManifest) -> Result<Vec<u8>, SerializationError> {
        self.encode(manifest)
    }

    fn deserialize_manifest(&self, bytes: &[u8]) -> Result<PluginManifest, SerializationError> {
        self.decode(bytes, true)
    }

    fn serialize_value(&self, value: &Value) -> Result<Vec<u8>, SerializationError> {
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
    fn trailing_bytes_are_refused() {
        let mp = MessagePackSerializer::new();
        let mut bytes = mp.serialize_value(&Value::from(7)).unwrap();
        assert_eq!(mp.deserialize_value(&bytes), Ok(Value::from(7)));
        bytes.push(0xc0);
        let err = mp.deserialize_value(&bytes).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid messagepack: 1 bytes after the end of the message"
        );
    }

    #[test]
    fn models_must_be_maps() {
        let mp = MessagePackSerializer::new();
        // `rmp_serde::to_vec` writes a struct as an array: refused.
        let positional = rmp_serde::to_vec(&PluginResponse::new(true)).unwrap();
        assert_eq!(positional[0] & 0xf0, 0x90);
        assert!(mp.deserialize_response(&positional).is_err());
    }

    #[test]
    fn scalar_map_keys_become_strings() {
        // {1: "a", true: "b"}
        let bytes = [0x82, 0x01, 0xa1, b'a', 0xc3, 0xa1, b'b'];
        let value = MessagePackSerializer::new()
            .deserialize_value(&bytes)
            .unwrap();
        assert_eq!(value.get("1"), Some(&Value::from("a")));
        assert_eq!(value.get("true"), Some(&Value::from("b")));
    }
}
