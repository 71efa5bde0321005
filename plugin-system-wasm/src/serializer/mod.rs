//! The [`PluginSerializer`](plugin_system_core::PluginSerializer) implementations,
//! one module per wire format.

/// The constructors and the size limit every serializer of one format has.
macro_rules! size_limited {
    ($name:ident) => {
        impl $name {
            /// A serializer with the default size limit,
            /// [`DEFAULT_MAX_MESSAGE_SIZE`](plugin_system_core::DEFAULT_MAX_MESSAGE_SIZE).
            pub const fn new() -> Self {
                $name {
                    max_size: plugin_system_core::DEFAULT_MAX_MESSAGE_SIZE,
                }
            }

            /// The same serializer with another limit on the size of a message, in
            /// bytes, read or written.
            #[must_use]
            pub const fn with_max_size(mut self, max_size: usize) -> Self {
                self.max_size = max_size;
                self
            }

            /// The limit on the size of a message, in bytes.
            pub const fn max_size(&self) -> usize {
                self.max_size
            }
        }

        impl Default for $name {
            fn default() -> Self {
                $name::new()
            }
        }
    };
}

mod hybrid;
mod json;
mod msgpack;
mod postcard;

pub use hybrid::HybridSerializer;
pub use json::JsonSerializer;
pub use msgpack::MessagePackSerializer;
pub use postcard::PostcardSerializer;

use plugin_system_core::{SerializationError, WireFormat};

/// Refuses input over the limit before any parsing.
fn check_input(format: WireFormat, bytes: &[u8], limit: usize) -> Result<(), SerializationError> {
    SerializationError::check_size(format, bytes.len(), limit)
}

/// Room a fresh output buffer starts with: a typical event or response fits
/// without the buffer growing (and copying) on the way.
const INITIAL_CAPACITY: usize = 512;

/// Appends a message to `out` with `write`, and takes it back out if writing
/// failed or the message is over the limit: `out` keeps what it had before.
fn append<E: std::fmt::Display>(
    format: WireFormat,
    out: &mut Vec<u8>,
    limit: usize,
    write: impl FnOnce(&mut Vec<u8>) -> Result<(), E>,
) -> Result<(), SerializationError> {
    let start = out.len();
    let written = write(out)
        .map_err(|e| SerializationError::encode(format, e))
        .and_then(|()| SerializationError::check_size(format, out.len() - start, limit));
    if written.is_err() {
        out.truncate(start);
    }
    written
}

/// A fresh buffer holding one message written by `write`.
fn encode_with<E: std::fmt::Display>(
    format: WireFormat,
    limit: usize,
    write: impl FnOnce(&mut Vec<u8>) -> Result<(), E>,
) -> Result<Vec<u8>, SerializationError> {
    let mut out = Vec::with_capacity(INITIAL_CAPACITY);
    append(format, &mut out, limit, write)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use plugin_system_core::PluginSerializer;

    use super::*;

    const _: () = {
        const fn shared<T: Send + Sync + Clone + 'static>() {}
        shared::<JsonSerializer>();
        shared::<MessagePackSerializer>();
        shared::<PostcardSerializer>();
        shared::<HybridSerializer>();
    };

    #[test]
    fn events_append_in_place_and_failures_leave_the_buffer_alone() {
        use plugin_system_core::PluginEvent;

        let event = PluginEvent::new("file.opened").with_field("path", "/a.rs");
        let limited: [Box<dyn PluginSerializer>; 4] = [
            Box::new(JsonSerializer::new().with_max_size(16)),
            Box::new(MessagePackSerializer::new().with_max_size(16)),
            Box::new(PostcardSerializer::new().with_max_size(8)),
            Box::new(HybridSerializer::new(true).with_max_size(16)),
        ];
        let unlimited: [Box<dyn PluginSerializer>; 4] = [
            Box::new(JsonSerializer::new()),
            Box::new(MessagePackSerializer::new()),
            Box::new(PostcardSerializer::new()),
            Box::new(HybridSerializer::new(true)),
        ];
        for (serializer, small) in unlimited.iter().zip(&limited) {
            let alone = serializer.serialize_event(&event).unwrap();
            let mut out = b"kept".to_vec();
            serializer.serialize_event_into(&event, &mut out).unwrap();
            assert_eq!(&out[..4], b"kept");
            assert_eq!(out[4..], alone[..], "{serializer:?}");

            let mut out = b"kept".to_vec();
            let err = small.serialize_event_into(&event, &mut out).unwrap_err();
            assert!(
                matches!(err, SerializationError::TooLarge { .. }),
                "{small:?}: {err}"
            );
            assert_eq!(out, b"kept", "{small:?}");
        }
        // A value JSON cannot hold: nothing is written.
        let mut out = Vec::new();
        let nan = PluginEvent::new("x").with_field("f", f64::NAN);
        assert!(
            JsonSerializer::new()
                .serialize_event_into(&nan, &mut out)
                .is_err()
        );
        assert!(out.is_empty());
    }

    #[test]
    fn serializers_are_trait_objects() {
        let all: Vec<std::sync::Arc<dyn PluginSerializer>> = vec![
            std::sync::Arc::new(JsonSerializer::new()),
            std::sync::Arc::new(MessagePackSerializer::new()),
            std::sync::Arc::new(PostcardSerializer::new()),
            std::sync::Arc::new(HybridSerializer::new(true)),
        ];
        let formats: Vec<_> = all.iter().map(|s| s.format()).collect();
        assert_eq!(
            formats,
            [
                WireFormat::Json,
                WireFormat::MessagePack,
                WireFormat::Postcard,
                WireFormat::MessagePack
            ]
        );
    }
}
