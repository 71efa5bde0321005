//! Round trips through every format: what goes in comes out (JSON: with bytes
//! as arrays of numbers).

use std::sync::Arc;

use plugin_system_core::{PluginEvent, PluginSerializer, Value, WireFormat};
use plugin_system_wasm::{
    HybridSerializer, JsonSerializer, MessagePackSerializer, PostcardSerializer,
};
use proptest::prelude::*;

use crate::strategies::{Floats, event, manifest, map_through_json, response, through_json, value};

/// The binary formats, which keep every value as it is.
fn binary() -> Vec<Box<dyn PluginSerializer>> {
    vec![
        Box::new(MessagePackSerializer::new()),
        Box::new(PostcardSerializer::new()),
        Box::new(HybridSerializer::new(true)),
    ]
}

/// The JSON writers.
fn json() -> Vec<Box<dyn PluginSerializer>> {
    vec![
        Box::new(JsonSerializer::new()),
        Box::new(HybridSerializer::new(false)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn values_round_trip_in_binary_formats(v in value(Floats::Any)) {
        for s in binary() {
            let bytes = s.serialize_value(&v)?;
            prop_assert_eq!(s.deserialize_value(&bytes)?, v.clone(), "{}", s.format());
        }
    }

    #[test]
    fn values_round_trip_in_json(v in value(Floats::Finite)) {
        for s in json() {
            let bytes = s.serialize_value(&v)?;
            prop_assert_eq!(s.deserialize_value(&bytes)?, through_json(&v));
        }
    }

    #[test]
    fn events_round_trip_in_binary_formats(e in event(Floats::Any)) {
        for s in binary() {
            let bytes = s.serialize_event(&e)?;
            prop_assert_eq!(s.deserialize_event(&bytes)?, e.clone(), "{}", s.format());
        }
    }

    #[test]
    fn events_round_trip_in_json(e in event(Floats::Finite)) {
        let expected = e.clone().with_data(map_through_json(&e.data));
        for s in json() {
            let bytes = s.serialize_event(&e)?;
            prop_assert_eq!(s.deserialize_event(&bytes)?, expected.clone());
        }
    }

    #[test]
    fn responses_round_trip_in_binary_formats(r in response(Floats::Any)) {
        for s in binary() {
            let bytes = s.serialize_response(&r)?;
            prop_assert_eq!(s.deserialize_response(&bytes)?, r.clone(), "{}", s.format());
        }
    }

    #[test]
    fn responses_round_trip_in_json(r in response(Floats::Finite)) {
        let mut expected = r.clone();
        expected.data = map_through_json(&r.data);
        expected.metadata = r.metadata.as_ref().map(map_through_json);
        for s in json() {
            let bytes = s.serialize_response(&r)?;
            prop_assert_eq!(s.deserialize_response(&bytes)?, expected.clone());
        }
    }

    #[test]
    fn manifests_round_trip_in_binary_formats(m in manifest(Floats::Any)) {
        for s in binary() {
            let bytes = s.serialize_manifest(&m)?;
            prop_assert_eq!(s.deserialize_manifest(&bytes)?, m.clone(), "{}", s.format());
        }
    }

    #[test]
    fn manifests_round_trip_in_json(m in manifest(Floats::Finite)) {
        let mut expected = m.clone();
        expected.config_schema = m.config_schema.as_ref().map(map_through_json);
        expected.metadata = m.metadata.as_ref().map(map_through_json);
        for s in json() {
            let bytes = s.serialize_manifest(&m)?;
            prop_assert_eq!(s.deserialize_manifest(&bytes)?, expected.clone());
        }
    }

    /// Every event is a JSON object with exactly Dart's seven keys (their order
    /// is checked byte for byte in `dart_compat`).
    #[test]
    fn events_have_dart_keys(e in event(Floats::Finite)) {
        let bytes = JsonSerializer::new().serialize_event(&e)?;
        let json: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        let keys: Vec<&str> = json.as_object().unwrap().keys().map(String::as_str).collect();
        prop_assert_eq!(
            keys,
            ["data", "eventId", "priority", "sourcePluginId", "targetPluginId", "timestamp", "type"]
        );
    }
}

#[test]
fn floats_keep_their_bits_in_binary_formats() {
    let nan = f64::from_bits(0x7ff8_0000_dead_beef);
    for f in [
        nan,
        f64::INFINITY,
        f64::NEG_INFINITY,
        -0.0,
        f64::MIN_POSITIVE / 2.0,
    ] {
        for s in binary() {
            let bytes = s.serialize_value(&Value::Float(f)).unwrap();
            match s.deserialize_value(&bytes).unwrap() {
                Value::Float(back) => assert_eq!(back.to_bits(), f.to_bits(), "{}", s.format()),
                other => panic!("{other:?}"),
            }
        }
    }
}

#[test]
fn json_keeps_floats_and_ints_apart() {
    let json = JsonSerializer::new();
    for v in [
        Value::Float(1.0),
        Value::Float(-0.0),
        Value::Int(1),
        Value::UInt(u64::MAX),
    ] {
        let bytes = json.serialize_value(&v).unwrap();
        assert_eq!(
            json.deserialize_value(&bytes).unwrap(),
            v,
            "{}",
            String::from_utf8_lossy(&bytes)
        );
    }
}

#[test]
fn postcard_is_the_most_compact() {
    let event = PluginEvent::new("file.opened")
        .with_target("plugin.file-icons")
        .with_field("path", "/project/lib/main.dart")
        .with_field("line", 42);
    let sizes: Vec<usize> = [
        &JsonSerializer::new() as &dyn PluginSerializer,
        &MessagePackSerializer::new(),
        &PostcardSerializer::new(),
    ]
    .iter()
    .map(|s| s.serialize_event(&event).unwrap().len())
    .collect();
    assert!(sizes[0] > sizes[1] && sizes[1] > sizes[2], "{sizes:?}");
}

/// Every serializer works as the trait object hosts share: an event written
/// through an `Arc<dyn PluginSerializer>` on another thread reads back through a
/// `&dyn PluginSerializer`, and the in-place writer (a method with a default)
/// writes the same bytes.
#[test]
fn serializer_is_object_safe() {
    let all: Vec<Arc<dyn PluginSerializer>> = vec![
        Arc::new(JsonSerializer::new()),
        Arc::new(MessagePackSerializer::new()),
        Arc::new(PostcardSerializer::new()),
        Arc::new(HybridSerializer::new(true)),
        Arc::new(HybridSerializer::new(false)),
    ];
    let event = PluginEvent::new("document.changed")
        .with_target("plugin.echo")
        .with_field("text", "hello wörld")
        .with_field("count", 3);
    let formats: Vec<WireFormat> = all.iter().map(|s| s.format()).collect();
    assert_eq!(
        formats,
        [
            WireFormat::Json,
            WireFormat::MessagePack,
            WireFormat::Postcard,
            WireFormat::MessagePack,
            WireFormat::Json,
        ]
    );
    for shared in all {
        let sender = Arc::clone(&shared);
        let sent = event.clone();
        let bytes = std::thread::spawn(move || sender.serialize_event(&sent))
            .join()
            .expect("no panic")
            .expect("writes");
        let s: &dyn PluginSerializer = &*shared;
        assert_eq!(
            s.deserialize_event(&bytes).expect("reads"),
            event,
            "{}",
            s.format()
        );
        let mut buffer = b"kept".to_vec();
        s.serialize_event_into(&event, &mut buffer).expect("writes");
        assert_eq!(
            (&buffer[..4], &buffer[4..]),
            (&b"kept"[..], &bytes[..]),
            "{}",
            s.format()
        );
        assert!(
            s.deserialize_event(b"\xc1 not an event").is_err(),
            "{}",
            s.format()
        );
    }
}
