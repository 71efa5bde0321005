//! Bad bytes give a `SerializationError`, never a panic, a stack overflow or a
//! huge allocation.

use plugin_system_core::{
    PluginEvent, PluginManifest, PluginResponse, PluginRuntimeType, PluginSerializer,
    SerializationError, Value,
};
use plugin_system_wasm::{
    HybridSerializer, JsonSerializer, MessagePackSerializer, PostcardSerializer,
};
use proptest::prelude::*;

fn all() -> Vec<Box<dyn PluginSerializer>> {
    vec![
        Box::new(JsonSerializer::new()),
        Box::new(MessagePackSerializer::new()),
        Box::new(PostcardSerializer::new()),
        Box::new(HybridSerializer::new(false)),
        Box::new(HybridSerializer::new(true)),
    ]
}

/// Runs every reader of `s` on `bytes`; returns how many succeeded.
fn read_all(s: &dyn PluginSerializer, bytes: &[u8]) -> usize {
    [
        s.deserialize_event(bytes).is_ok(),
        s.deserialize_response(bytes).is_ok(),
        s.deserialize_manifest(bytes).is_ok(),
        s.deserialize_value(bytes).is_ok(),
    ]
    .into_iter()
    .filter(|ok| *ok)
    .count()
}

fn samples(s: &dyn PluginSerializer) -> Vec<Vec<u8>> {
    let mut manifest = PluginManifest::new("a", "A", "1", "d", PluginRuntimeType::Wasm);
    manifest.metadata = Some([("k".to_owned(), Value::from(vec![Value::from(1.5)]))].into());
    vec![
        s.serialize_event(
            &PluginEvent::new("file.opened")
                .with_field("p", "/x")
                .with_field("b", vec![1u8, 2]),
        )
        .unwrap(),
        s.serialize_response(&PluginResponse::new(true).with_stack_trace("st"))
            .unwrap(),
        s.serialize_manifest(&manifest).unwrap(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        for s in all() {
            read_all(&*s, &bytes);
        }
    }

    /// Valid messages with a few bytes changed.
    #[test]
    fn mutated_messages_never_panic(
        which in 0usize..3,
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
    ) {
        for s in all() {
            let mut bytes = samples(&*s).swap_remove(which);
            for (at, byte) in &edits {
                let i = at.index(bytes.len());
                bytes[i] = *byte;
            }
            read_all(&*s, &bytes);
        }
    }
}

#[test]
fn truncated_messages_are_errors() {
    for s in all() {
        for message in samples(&*s) {
            assert_eq!(read_all(&*s, &message[..0]), 0);
            for len in 1..message.len() {
                let prefix = &message[..len];
                assert!(s.deserialize_event(prefix).is_err(), "{} {len}", s.format());
                assert!(
                    s.deserialize_response(prefix).is_err(),
                    "{} {len}",
                    s.format()
                );
                assert!(
                    s.deserialize_manifest(prefix).is_err(),
                    "{} {len}",
                    s.format()
                );
            }
        }
    }
}

#[test]
fn garbage_of_each_format_is_a_decode_error() {
    let cases: [(&dyn PluginSerializer, &[u8]); 9] = [
        (&JsonSerializer::new(), b"{"),
        (&JsonSerializer::new(), b"{\"type\": 1}"),
        (&JsonSerializer::new(), b"{\"type\": \"\xff\xfe\"}"),
        (&JsonSerializer::new(), b"{\"type\": \"x\"} trailing"),
        (
            &MessagePackSerializer::new(),
            &[0x81, 0xa4, b't', b'y', b'p', b'e', 0x01],
        ),
        (&MessagePackSerializer::new(), &[0x81, 0xc1]),
        (
            &MessagePackSerializer::new(),
            &[0x81, 0xa4, b't', b'y', b'p', b'e', 0xa1, 0xff],
        ),
        (
            &PostcardSerializer::new(),
            &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
        ),
        (&HybridSerializer::new(true), b"not a message"),
    ];
    for (s, bytes) in cases {
        let err = s.deserialize_event(bytes).unwrap_err();
        assert!(
            matches!(err, SerializationError::Decode { .. }),
            "{} {bytes:?}: {err}",
            s.format()
        );
        assert!(!err.to_string().is_empty());
    }
}

#[test]
fn lengths_claiming_gigabytes_are_errors() {
    let mp = MessagePackSerializer::new();
    // map32, array32, bin32 and str32 claiming 4 GiB of content.
    for marker in [0xdfu8, 0xdd, 0xc6, 0xdb] {
        let bytes = [marker, 0xff, 0xff, 0xff, 0xff, 0x00];
        assert!(mp.deserialize_value(&bytes).is_err(), "{marker:#x}");
    }
    // postcard: a value tagged as bytes / an array / a map, with a huge varint length.
    let pc = PostcardSerializer::new();
    for tag in [6u8, 7, 8] {
        let bytes = [tag, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x00];
        assert!(pc.deserialize_value(&bytes).is_err(), "{tag}");
    }
    let json = JsonSerializer::new();
    assert!(json.deserialize_value(b"[1e999]").is_err());
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    const DEPTH: usize = 100_000;
    let json = JsonSerializer::new();
    assert!(json.deserialize_value(&b"[".repeat(DEPTH)).is_err());
    let mut event = br#"{"type":"x","unknown":"#.to_vec();
    event.extend(b"[".repeat(DEPTH));
    assert!(json.deserialize_event(&event).is_err());

    let mp = MessagePackSerializer::new();
    assert!(mp.deserialize_value(&[0x91].repeat(DEPTH)).is_err());
    // Skipped, not read: the unknown key of an event.
    let mut event = vec![0x82, 0xa4, b't', b'y', b'p', b'e', 0xa1, b'x', 0xa1, b'u'];
    event.extend([0x91].repeat(DEPTH));
    assert!(mp.deserialize_event(&event).is_err());
    let mut event = vec![
        0x82, 0xa4, b't', b'y', b'p', b'e', 0xa1, b'x', 0xa4, b'd', b'a', b't', b'a', 0x81, 0xa1,
        b'k',
    ];
    event.extend([0x91].repeat(DEPTH));
    assert!(mp.deserialize_event(&event).is_err());

    let pc = PostcardSerializer::new();
    assert!(pc.deserialize_value(&[7u8, 1].repeat(DEPTH)).is_err());
}

#[test]
fn size_limits_apply_before_parsing() {
    let big = Value::from("x".repeat(1000));
    let limited: [Box<dyn PluginSerializer>; 4] = [
        Box::new(JsonSerializer::new().with_max_size(100)),
        Box::new(MessagePackSerializer::new().with_max_size(100)),
        Box::new(PostcardSerializer::new().with_max_size(100)),
        Box::new(HybridSerializer::new(true).with_max_size(100)),
    ];
    for s in limited {
        let err = s.serialize_value(&big).unwrap_err();
        assert!(
            matches!(err, SerializationError::TooLarge { limit: 100, .. }),
            "{err}"
        );
        let err = s.deserialize_event(&[b' '; 101]).unwrap_err();
        assert!(
            matches!(
                err,
                SerializationError::TooLarge {
                    size: 101,
                    limit: 100,
                    ..
                }
            ),
            "{err}"
        );
    }
}

#[test]
fn an_empty_message_is_called_empty() {
    for s in [
        Box::new(JsonSerializer::new()) as Box<dyn PluginSerializer>,
        Box::new(MessagePackSerializer::new()),
    ] {
        for bytes in [&b""[..], b" \n"] {
            let err = s.deserialize_response(bytes).unwrap_err();
            let empty = bytes.is_empty() || s.format() == plugin_system_core::WireFormat::Json;
            assert_eq!(
                err.to_string().contains("the message is empty"),
                empty,
                "{s:?} {bytes:?}: {err}"
            );
        }
    }
}
