//! [`PluginSerializer`]: the trait of the wire formats, and its error.

use std::fmt;

use super::{PluginEvent, PluginManifest, PluginResponse, Value};

/// The largest message a serializer reads or writes unless told otherwise:
/// 100 MiB, the guest ABI's limit on a result.
pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 100 * 1024 * 1024;

/// A wire format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum WireFormat {
    /// UTF-8 JSON, as Dart's `jsonEncode` writes it.
    Json,
    /// MessagePack, structs as maps with string keys.
    MessagePack,
    /// postcard: compact, and not self-describing, so it cannot be
    /// [detected](WireFormat::detect).
    Postcard,
}

impl WireFormat {
    /// The format's name: `json`, `messagepack` (Dart's serializer names) or
    /// `postcard`.
    pub fn name(self) -> &'static str {
        match self {
            WireFormat::Json => "json",
            WireFormat::MessagePack => "messagepack",
            WireFormat::Postcard => "postcard",
        }
    }

    /// Which format a message is in, from its first bytes, or `None` if they do
    /// not tell.
    ///
    /// - JSON: the first byte that is not JSON whitespace is `{` or `[` (and the
    ///   message is at least two bytes long, since a one-byte message starting so
    ///   can only be a MessagePack integer).
    /// - MessagePack: the first byte marks a map or an array (`fixmap`, `map16`,
    ///   `map32`, `fixarray`, `array16`, `array32`).
    ///
    /// Events, responses and manifests are maps, so they are always recognised.
    /// A scalar at the top (a bare host-call argument such as `5` or `"x"`) is
    /// not: its bytes may be either format. Postcard is never recognised: it has
    /// no markers at all.
    ///
    /// ```
    /// use plugin_system_core::WireFormat;
    ///
    /// assert_eq!(WireFormat::detect(b" {\"success\":true}"), Some(WireFormat::Json));
    /// assert_eq!(WireFormat::detect(&[0x81, 0xa7]), Some(WireFormat::MessagePack));
    /// assert_eq!(WireFormat::detect(b"42"), None);
    /// ```
    pub fn detect(bytes: &[u8]) -> Option<WireFormat> {
        let &first = bytes.first()?;
        match first {
            // fixmap, fixarray, array16, array32, map16, map32.
            0x80..=0x9f | 0xdc..=0xdf => return Some(WireFormat::MessagePack),
            _ => {}
        }
        let start = bytes
            .iter()
            .position(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'))?;
        (bytes.len() >= 2 && matches!(bytes[start], b'{' | b'[')).then_some(WireFormat::Json)
    }
}

impl fmt::Display for WireFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Bytes that a serializer could not write or read.
///
/// Bad input is always this error, never a panic.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SerializationError {
    /// The value cannot be written in this format (for example a NaN in JSON).
    #[error("cannot encode {format}: {message}")]
    Encode {
        /// The format.
        format: WireFormat,
        /// What could not be written.
        message: String,
    },
    /// The bytes are not a valid message of this format, or not the expected
    /// model (a required field missing, a wrong type, trailing bytes, ...).
    #[error("invalid {format}: {message}")]
    Decode {
        /// The format.
        format: WireFormat,
        /// What is wrong with the bytes.
        message: String,
    },
    /// The message is larger than the serializer's limit.
    #[error("{format} message of {size} bytes exceeds the limit of {limit} bytes")]
    TooLarge {
        /// The format.
        format: WireFormat,
        /// The message's size in bytes.
        size: usize,
        /// The limit in bytes.
        limit: usize,
    },
}

impl SerializationError {
    /// An [`Encode`](Self::Encode) error.
    pub fn encode(format: WireFormat, message: impl fmt::Display) -> Self {
        SerializationError::Encode {
            format,
            message: message.to_string(),
        }
    }

    /// A [`Decode`](Self::Decode) error.
    pub fn decode(format: WireFormat, message: impl fmt::Display) -> Self {
        SerializationError::Decode {
            format,
            message: message.to_string(),
        }
    }

    /// The format that failed.
    pub fn format(&self) -> WireFormat {
        match *self {
            SerializationError::Encode { format, .. }
            | SerializationError::Decode { format, .. }
            | SerializationError::TooLarge { format, .. } => format,
        }
    }

    /// Checks a message's size against a limit.
    ///
    /// # Errors
    ///
    /// [`TooLarge`](Self::TooLarge) if `size > limit`.
    pub fn check_size(format: WireFormat, size: usize, limit: usize) -> Result<(), Self> {
        if size > limit {
            Err(SerializationError::TooLarge {
                format,
                size,
                limit,
            })
        } else {
            Ok(())
        }
    }
}

/// Turns the plugin models into bytes and back: one implementation per wire
/// format (JSON, MessagePack, postcard, and a hybrid that reads JSON or
/// MessagePack), all in `plugin-system-wasm`.
///
/// Hosts share one serializer across tasks as `Arc<dyn PluginSerializer>`.
///
/// # Errors
///
/// Every method returns [`SerializationError`]: `Encode` for a value the format
/// cannot hold, `Decode` for bytes that are not a valid message of the model,
/// `TooLarge` for a message over the serializer's size limit.
pub trait PluginSerializer: Send + Sync + fmt::Debug {
    /// The format this serializer writes.
    fn format(&self) -> WireFormat;

    /// Writes an event (what the host sends to `plugin_handle_event`).
    fn serialize_event(&self, event: &PluginEvent) -> Result<Vec<u8>, SerializationError>;

    /// Writes an event at the end of `out`. A caller that sends many events
    /// keeps one buffer for all of them (the plugin bridge does) and saves an
    /// allocation per event. On an error `out` is left as it was.
    ///
    /// The default appends what [`serialize_event`](Self::serialize_event)
    /// returns; the serializers of `plugin-system-wasm` write in place.
    fn serialize_event_into(
        &self,
        event: &PluginEvent,
        out: &mut Vec<u8>,
    ) -> Result<(), SerializationError> {
        out.extend_from_slice(&self.serialize_event(event)?);
        Ok(())
    }

    /// Reads an event.
    fn deserialize_event(&self, bytes: &[u8]) -> Result<PluginEvent, SerializationError>;

    /// Writes a response.
    fn serialize_response(&self, response: &PluginResponse) -> Result<Vec<u8>, SerializationError>;

    /// Reads a response (what `plugin_handle_event` returns); `success` is required.
    fn deserialize_response(&self, bytes: &[u8]) -> Result<PluginResponse, SerializationError>;

    /// Writes a manifest.
    fn serialize_manifest(&self, manifest: &PluginManifest) -> Result<Vec<u8>, SerializationError>;

    /// Reads a manifest (what `plugin_get_manifest` returns).
    fn deserialize_manifest(&self, bytes: &[u8]) -> Result<PluginManifest, SerializationError>;

    /// Writes any value (host-call arguments and results).
    fn serialize_value(&self, value: &Value) -> Result<Vec<u8>, SerializationError>;

    /// Reads any value.
    fn deserialize_value(&self, bytes: &[u8]) -> Result<Value, SerializationError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_json_and_msgpack() {
        assert_eq!(WireFormat::detect(b"{}"), Some(WireFormat::Json));
        assert_eq!(WireFormat::detect(b"[1]"), Some(WireFormat::Json));
        assert_eq!(
            WireFormat::detect(b"\r\n\t {\"a\":1}"),
            Some(WireFormat::Json)
        );
        for first in [0x80u8, 0x8f, 0x90, 0x9f, 0xdc, 0xdd, 0xde, 0xdf] {
            assert_eq!(
                WireFormat::detect(&[first, 0, 0]),
                Some(WireFormat::MessagePack)
            );
        }
        // A one-byte MessagePack integer 123 is `{`.
        assert_eq!(WireFormat::detect(b"{"), None);
        for undecided in [
            &b""[..],
            b"   ",
            b"42",
            b"\"x\"",
            b"true",
            b"null",
            &[0xa1, b'x'],
            &[0xc0],
        ] {
            assert_eq!(WireFormat::detect(undecided), None, "{undecided:?}");
        }
    }

    #[test]
    fn names_and_errors() {
        assert_eq!(WireFormat::Json.to_string(), "json");
        assert_eq!(WireFormat::MessagePack.name(), "messagepack");
        assert_eq!(WireFormat::Postcard.name(), "postcard");
        let e = SerializationError::decode(WireFormat::Json, "expected `{`");
        assert_eq!(e.to_string(), "invalid json: expected `{`");
        assert_eq!(e.format(), WireFormat::Json);
        let e = SerializationError::check_size(WireFormat::Postcard, 11, 10).unwrap_err();
        assert_eq!(
            e.to_string(),
            "postcard message of 11 bytes exceeds the limit of 10 bytes"
        );
        assert!(SerializationError::check_size(WireFormat::Postcard, 10, 10).is_ok());
    }
}
