//! The [`PluginSerializer`](plugin_system_core::PluginSerializer) implementations,
//! one module per wire format.

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
