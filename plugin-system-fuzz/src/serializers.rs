//! `serializers`: any bytes into every `deserialize_*` of every serializer.
//!
//! The serializers are JSON, MessagePack, postcard, and hybrid (writing JSON,
//! and writing MessagePack); the models are events, responses, manifests and
//! values. What must hold:
//!
//! - decoding ends in a model or a typed
//!   [`SerializationError`](plugin_system_core::SerializationError), never a
//!   panic or a stack overflow (nesting is the input's to choose);
//! - what decodes, in any format, re-encodes in every format that can hold it
//!   (an encoding error is typed too: JSON has no NaN), and what a serializer
//!   writes it reads back, to a model it writes to the same bytes.
//!
//! Bytes are compared rather than models: a model holding a NaN is not equal
//! to itself, and a format may keep less than another (JSON timestamps to the
//! millisecond), so the check is that one round trip reaches a fixed point.

use plugin_system_core::{PluginSerializer, SerializationError};
use plugin_system_wasm::{
    HybridSerializer, JsonSerializer, MessagePackSerializer, PostcardSerializer,
};

/// Every serializer, in every configuration that changes what it writes.
const SERIALIZERS: [&dyn PluginSerializer; 5] = [
    &JsonSerializer::new(),
    &MessagePackSerializer::new(),
    &PostcardSerializer::new(),
    &HybridSerializer::new(false),
    &HybridSerializer::new(true),
];

/// One model: how to read it and how to write it.
struct Model<T> {
    name: &'static str,
    read: fn(&dyn PluginSerializer, &[u8]) -> Result<T, SerializationError>,
    write: fn(&dyn PluginSerializer, &T) -> Result<Vec<u8>, SerializationError>,
}

impl<T> Model<T> {
    fn check(&self, data: &[u8]) {
        for reader in SERIALIZERS {
            let Ok(model) = (self.read)(reader, data) else {
                continue;
            };
            for writer in SERIALIZERS {
                self.round_trip(writer, &model);
            }
        }
    }

    fn round_trip(&self, serializer: &dyn PluginSerializer, model: &T) {
        let name = self.name;
        let Ok(bytes) = (self.write)(serializer, model) else {
            return;
        };
        let again = (self.read)(serializer, &bytes).unwrap_or_else(|e| {
            panic!("{serializer:?} cannot read the {name} it wrote ({bytes:?}): {e}")
        });
        let rewritten = (self.write)(serializer, &again).unwrap_or_else(|e| {
            panic!("{serializer:?} cannot write again the {name} it read back: {e}")
        });
        assert_eq!(
            bytes, rewritten,
            "{serializer:?}: a {name} does not survive a round trip"
        );
    }
}

/// Runs the target on one input.
///
/// # Panics
/// On a finding: see the module's documentation.
pub fn run(data: &[u8]) {
    Model {
        name: "event",
        read: |s, b| s.deserialize_event(b),
        write: |s, m| s.serialize_event(m),
    }
    .check(data);
    Model {
        name: "response",
        read: |s, b| s.deserialize_response(b),
        write: |s, m| s.serialize_response(m),
    }
    .check(data);
    Model {
        name: "manifest",
        read: |s, b| s.deserialize_manifest(b),
        write: |s, m| s.serialize_manifest(m),
    }
    .check(data);
    Model {
        name: "value",
        read: |s, b| s.deserialize_value(b),
        write: |s, m| s.serialize_value(m),
    }
    .check(data);
}
