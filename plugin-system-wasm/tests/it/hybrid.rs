//! The hybrid serializer writes its configured format and reads both.

use plugin_system_core::{
    PluginEvent, PluginManifest, PluginResponse, PluginRuntimeType, PluginSerializer,
    SerializationError, Value, WireFormat,
};
use plugin_system_wasm::{
    HybridSerializer, JsonSerializer, MessagePackSerializer, PostcardSerializer,
};
use proptest::prelude::*;

use crate::strategies::{Floats, event, map_through_json, value};

fn hybrids() -> [HybridSerializer; 2] {
    [HybridSerializer::new(false), HybridSerializer::new(true)]
}

#[test]
fn writes_the_configured_format() {
    let event = PluginEvent::new("ping");
    let json = HybridSerializer::new(false)
        .serialize_event(&event)
        .unwrap();
    assert_eq!(json, JsonSerializer::new().serialize_event(&event).unwrap());
    let msgpack = HybridSerializer::new(true).serialize_event(&event).unwrap();
    assert_eq!(
        msgpack,
        MessagePackSerializer::new()
            .serialize_event(&event)
            .unwrap()
    );
    assert_eq!(HybridSerializer::new(false).format(), WireFormat::Json);
    assert_eq!(
        HybridSerializer::new(true).format(),
        WireFormat::MessagePack
    );
}

#[test]
fn reads_both_formats_of_every_model() {
    let event = PluginEvent::new("file.opened").with_field("n", 1);
    let response = PluginResponse::new(false).with_field("why", "no");
    let manifest = PluginManifest::new("a", "A", "1", "d", PluginRuntimeType::Wasm);
    let writers: [&dyn PluginSerializer; 2] =
        [&JsonSerializer::new(), &MessagePackSerializer::new()];
    for hybrid in hybrids() {
        for writer in writers {
            let bytes = writer.serialize_event(&event).unwrap();
            assert_eq!(hybrid.deserialize_event(&bytes).unwrap(), event);
            let bytes = writer.serialize_response(&response).unwrap();
            assert_eq!(hybrid.deserialize_response(&bytes).unwrap(), response);
            let bytes = writer.serialize_manifest(&manifest).unwrap();
            assert_eq!(hybrid.deserialize_manifest(&bytes).unwrap(), manifest);
        }
        // JSON with leading whitespace.
        let spaced = b"\n  {\"success\": true}";
        assert_eq!(
            hybrid.deserialize_response(spaced).unwrap(),
            PluginResponse::new(true)
        );
    }
}

#[test]
fn postcard_is_not_read() {
    let bytes = PostcardSerializer::new()
        .serialize_response(&PluginResponse::new(true))
        .unwrap();
    for hybrid in hybrids() {
        let err = hybrid.deserialize_response(&bytes).unwrap_err();
        assert!(matches!(err, SerializationError::Decode { .. }), "{err}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(100))]

    #[test]
    fn reads_events_of_either_format(e in event(Floats::Finite)) {
        let from_json = e.clone().with_data(map_through_json(&e.data));
        for hybrid in hybrids() {
            let json = JsonSerializer::new().serialize_event(&e)?;
            prop_assert_eq!(hybrid.deserialize_event(&json)?, from_json.clone());
            let msgpack = MessagePackSerializer::new().serialize_event(&e)?;
            prop_assert_eq!(hybrid.deserialize_event(&msgpack)?, e.clone());
        }
    }

    /// Values of any shape, scalars at the top included, read back in the
    /// hybrid's own format.
    #[test]
    fn values_round_trip_in_the_write_format(v in value(Floats::Finite)) {
        let bytes = HybridSerializer::new(true).serialize_value(&v)?;
        prop_assert_eq!(HybridSerializer::new(true).deserialize_value(&bytes)?, v.clone());
        let maps: Value = [("v", v.clone())].into_iter().collect();
        let bytes = MessagePackSerializer::new().serialize_value(&maps)?;
        prop_assert_eq!(HybridSerializer::new(false).deserialize_value(&bytes)?, maps);
    }
}
