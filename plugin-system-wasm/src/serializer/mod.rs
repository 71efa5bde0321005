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

/// Refuses output over the limit.
fn check_output(
    format: WireFormat,
    bytes: Vec<u8>,
    limit: usize,
) -> Result<Vec<u8>, SerializationError> {
    SerializationError::check_size(format, bytes.len(), limit)?;
    Ok(bytes)
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
