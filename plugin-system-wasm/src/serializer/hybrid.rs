//! [`HybridSerializer`]: writes JSON or MessagePack, reads either.

use plugin_system_core::{
    PluginEvent, PluginManifest, PluginResponse, PluginSerializer, SerializationError, Value,
    WireFormat,
};

use super::{JsonSerializer, MessagePackSerializer};

/// Writes JSON or MessagePack as configured (Dart's
/// `HybridPluginSerializer(useMessagePack: ...)`), and reads either, recognising
/// each message's format with [`WireFormat::detect`].
///
/// Unlike Dart's, which used one format both ways, this lets a host talk JSON
/// while a guest answers in MessagePack (or the reverse) without configuration.
/// Events, responses and manifests are maps and always recognised. A value whose
/// bytes do not tell (a scalar at the top, such as a bare number) is read in the
/// format this serializer writes. postcard is not read: it cannot be recognised.
///
/// ```
/// use plugin_system_core::{PluginResponse, PluginSerializer};
/// use plugin_system_wasm::{HybridSerializer, JsonSerializer, MessagePackSerializer};
///
/// let hybrid = HybridSerializer::new(false); // writes JSON
/// let response = PluginResponse::new(true).with_field("answer", 42);
/// for bytes in [
///     JsonSerializer::new().serialize_response(&response)?,
///     MessagePackSerializer::new().serialize_response(&response)?,
/// ] {
///     assert_eq!(hybrid.deserialize_response(&bytes)?, response);
/// }
/// # Ok::<(), plugin_system_core::SerializationError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HybridSerializer {
    json: JsonSerializer,
    msgpack: MessagePackSerializer,
    use_msgpack: bool,
}

impl HybridSerializer {
    /// A serializer that writes MessagePack if `use_msgpack`, else JSON, with the
    /// default size limit.
    pub const fn new(use_msgpack: bool) -> Self {
        HybridSerializer {
            json: JsonSerializer::new(),
            msgpack: MessagePackSerializer::new(),
            use_msgpack,
        }
    }

    /// The same serializer with another limit on the size of a message, in bytes,
    /// read or written, in either format.
    #[must_use]
    pub const fn with_max_size(mut self, max_size: usize) -> Self {
        self.json = self.json.with_max_size(max_size);
        self.msgpack = self.msgpack.with_max_size(max_size);
        self
    }

    /// The limit on the size of a message, in bytes.
    pub const fn max_size(&self) -> usize {
        self.json.max_size()
    }

    /// Whether this serializer writes MessagePack (rather than JSON).
    pub const fn uses_msgpack(&self) -> bool {
        self.use_msgpack
    }

    fn writer(&self) -> &dyn PluginSerializer {
        if self.use_msgpack {
            &self.msgpack
        } else {
            &self.json
        }
    }

    fn reader(&self, bytes: &[u8]) -> &dyn PluginSerializer {
        match WireFormat::detect(bytes) {
            Some(WireFormat::Json) => &self.json,
            Some(WireFormat::MessagePack) => &self.msgpack,
            _ => self.writer(),
        }
    }
}

impl PluginSerializer for HybridSerializer {
    fn format(&self) -> WireFormat {
        self.writer().format()
    }

    fn serialize_event(&self, event: &PluginEvent) -> Result<Vec<u8>, SerializationError> {
        self.writer().serialize_event(event)
    }

    fn serialize_event_into(
        &self,
        event: &PluginEvent,
        out: &mut Vec<u8>,
    ) -> Result<(), SerializationError> {
        self.writer().serialize_event_into(event, out)
    }

    fn deserialize_event(&self, bytes: &[u8]) -> Result<PluginEvent, SerializationError> {
        self.reader(bytes).deserialize_event(bytes)
    }

    fn serialize_response(&self, response: &PluginResponse) -> Result<Vec<u8>, SerializationError> {
        self.writer().serialize_response(response)
    }

    fn deserialize_response(&self, bytes: &[u8]) -> Result<PluginResponse, SerializationError> {
        self.reader(bytes).deserialize_response(bytes)
    }

    fn serialize_manifest(&self, manifest: &PluginManifest) -> Result<Vec<u8>, SerializationError> {
        self.writer().serialize_manifest(manifest)
    }

    fn deserialize_manifest(&self, bytes: &[u8]) -> Result<PluginManifest, SerializationError> {
        self.reader(bytes).deserialize_manifest(bytes)
    }

    fn serialize_value(&self, value: &Value) -> Result<Vec<u8>, SerializationError> {
        self.writer().serialize_value(value)
    }

    fn deserialize_value(&self, bytes: &[u8]) -> Result<Value, SerializationError> {
        self.reader(bytes).deserialize_value(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_the_configured_format() {
        let value = Value::from(vec![Value::from(1)]);
        assert_eq!(
            HybridSerializer::default().serialize_value(&value).unwrap(),
            b"[1]"
        );
        assert_eq!(
            HybridSerializer::new(true).serialize_value(&value).unwrap(),
            [0x91, 0x01]
        );
        assert_eq!(
            HybridSerializer::new(true).format(),
            WireFormat::MessagePack
        );
        assert!(!HybridSerializer::default().uses_msgpack());
    }

    #[test]
    fn undetected_scalars_are_read_in_the_write_format() {
        // 0x7b is `{` in JSON and the integer 123 in MessagePack.
        assert_eq!(
            HybridSerializer::new(true).deserialize_value(&[0x7b]),
            Ok(Value::from(123))
        );
        assert_eq!(
            HybridSerializer::new(false).deserialize_value(b"123"),
            Ok(Value::from(123))
        );
        let limited = HybridSerializer::new(true).with_max_size(2);
        assert_eq!(limited.max_size(), 2);
        assert!(limited.deserialize_value(b"[1,2]").is_err());
    }
}
