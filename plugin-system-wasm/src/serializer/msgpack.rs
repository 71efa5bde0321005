//! [`MessagePackSerializer`]: MessagePack with structs as maps, as Dart's
//! `msgpack_dart` reads and writes it.

use plugin_system_core::{
    PluginEvent, PluginManifest, PluginResponse, PluginSerializer, SerializationError, Value,
    WireFormat,
};
use serde::{Serialize, de::DeserializeOwned};

use super::{append, check_input, encode_with};

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
        encode_with(FORMAT, self.max_size, |out| {
            rmp_serde::encode::write_named(out, value)
        })
    }

    fn decode<T: DeserializeOwned>(
        &self,
        bytes: &[u8],
        map: bool,
    ) -> Result<T, SerializationError> {
        check_input(FORMAT, bytes, self.max_size)?;
        if map && bytes.is_empty() {
            return Err(SerializationError::decode(
                FORMAT,
                "the message is empty, where a MessagePack map was expected",
            ));
        }
        if map && !matches!(bytes.first(), Some(0x80..=0x8f | 0xde | 0xdf)) {
            return Err(SerializationError::decode(
                FORMAT,
                "expected a MessagePack map at the top",
            ));
        }
        // The message's extent first: the slice reader then borrows strings
        // from the input (the `io::Read` one copies each into a buffer), and
        // bytes after the message are found without a second parse.
        let message = first_value_len(bytes).map_or(bytes, |len| &bytes[..len]);
        let mut de = rmp_serde::Deserializer::from_read_ref(message);
        // Deep enough for a model around values of `Value::MAX_DEPTH`, and
        // shallow enough that skipping an unknown key's value cannot exhaust
        // a small thread stack (rmp_serde allows 1024 by default).
        de.set_max_depth(MAX_DEPTH);
        let value = T::deserialize(&mut de).map_err(|e| SerializationError::decode(FORMAT, e))?;
        match bytes.len() - message.len() {
            0 => Ok(value),
            extra => Err(SerializationError::decode(
                FORMAT,
                format_args!("{extra} bytes after the end of the message"),
            )),
        }
    }
}

/// The length of the MessagePack value at the start of `bytes`, from its
/// framing alone (nothing is decoded or allocated); `None` if the bytes end
/// before the value does or hold a byte that starts no value (the parser then
/// says what is wrong).
fn first_value_len(bytes: &[u8]) -> Option<usize> {
    /// A big-endian length of `width` bytes at `*pos`.
    fn length(bytes: &[u8], pos: &mut usize, width: usize) -> Option<usize> {
        let field = bytes.get(*pos..*pos + width)?;
        *pos += width;
        Some(field.iter().fold(0, |n, &b| n << 8 | usize::from(b)))
    }

    let mut pos = 0;
    // Values still to pass over; each takes at least one byte, so hostile
    // counts end with the input.
    let mut pending: u64 = 1;
    while pending > 0 {
        pending -= 1;
        let marker = *bytes.get(pos)?;
        pos += 1;
        let payload = match marker {
            0x00..=0x7f | 0xc0 | 0xc2 | 0xc3 | 0xe0..=0xff => 0,
            0x80..=0x8f => {
                pending += 2 * u64::from(marker & 0x0f);
                0
            }
            0x90..=0x9f => {
                pending += u64::from(marker & 0x0f);
                0
            }
            0xa0..=0xbf => usize::from(marker & 0x1f),
            0xcc | 0xd0 => 1,
            0xcd | 0xd1 => 2,
            0xca | 0xce | 0xd2 => 4,
            0xcb | 0xcf | 0xd3 => 8,
            0xd4 => 2,
            0xd5 => 3,
            0xd6 => 5,
            0xd7 => 9,
            0xd8 => 17,
            0xc4 | 0xd9 => length(bytes, &mut pos, 1)?,
            0xc5 | 0xda => length(bytes, &mut pos, 2)?,
            0xc6 | 0xdb => length(bytes, &mut pos, 4)?,
            0xc7 => length(bytes, &mut pos, 1)? + 1,
            0xc8 => length(bytes, &mut pos, 2)? + 1,
            0xc9 => length(bytes, &mut pos, 4)? + 1,
            0xdc | 0xde => {
                let count = length(bytes, &mut pos, 2)? as u64;
                pending += if marker == 0xde { 2 * count } else { count };
                0
            }
            0xdd | 0xdf => {
                let count = length(bytes, &mut pos, 4)? as u64;
                pending += if marker == 0xdf { 2 * count } else { count };
                0
            }
            _ => return None,
        };
        pos = pos.checked_add(payload).filter(|&end| end <= bytes.len())?;
    }
    Some(pos)
}

impl PluginSerializer for MessagePackSerializer {
    fn format(&self) -> WireFormat {
        FORMAT
    }

    fn serialize_event(&self, event: &PluginEvent) -> Result<Vec<u8>, SerializationError> {
        self.encode(event)
    }

    fn serialize_event_into(
        &self,
        event: &PluginEvent,
        out: &mut Vec<u8>,
    ) -> Result<(), SerializationError> {
        append(FORMAT, out, self.max_size, |out| {
            rmp_serde::encode::write_named(out, event)
        })
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
    fn framing_matches_the_encoder() {
        let mp = MessagePackSerializer::new();
        let values = [
            Value::Null,
            Value::from(-3),
            Value::from(300),
            Value::from(-70_000),
            Value::from(u64::MAX),
            Value::Float(0.5),
            Value::from("x".repeat(40)),
            Value::from("y".repeat(300)),
            Value::Bytes(vec![7; 70_000]),
            Value::from(vec![Value::from(1); 20]),
            (0..20).map(|i| (i.to_string(), Value::from(i))).collect(),
        ];
        for value in values {
            let bytes = mp.serialize_value(&value).unwrap();
            assert_eq!(first_value_len(&bytes), Some(bytes.len()), "{value:?}");
            assert_eq!(first_value_len(&bytes[..bytes.len() - 1]), None);
        }
        // fixext 4, ext 8 and a reserved byte
        assert_eq!(first_value_len(&[0xd6, 1, 0, 0, 0, 0, 0xc0]), Some(6));
        assert_eq!(first_value_len(&[0xc7, 2, 9, 0, 0]), Some(5));
        assert_eq!(first_value_len(&[0xc1]), None);
        // A map that claims 2^32 - 1 entries ends with the input.
        assert_eq!(first_value_len(&[0xdf, 0xff, 0xff, 0xff, 0xff, 0xc0]), None);
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
