//! MessagePack: maps not arrays, and what Dart's `msgpack_dart` writes.

use plugin_system_core::{
    PluginEvent, PluginManifest, PluginResponse, PluginRuntimeType, PluginSerializer, Value,
};
use plugin_system_wasm::MessagePackSerializer;

/// A `fixstr`.
fn fixstr(text: &str) -> Vec<u8> {
    assert!(text.len() < 32);
    let mut out = vec![0xa0 | text.len() as u8];
    out.extend_from_slice(text.as_bytes());
    out
}

#[test]
fn structs_are_maps_with_string_keys() {
    let mp = MessagePackSerializer::new();
    let event = mp.serialize_event(&PluginEvent::new("ping")).unwrap();
    assert_eq!(event[0], 0x87, "fixmap of 7 entries");
    assert_eq!(&event[1..6], &fixstr("type")[..]);
    let response = mp.serialize_response(&PluginResponse::new(true)).unwrap();
    assert_eq!(response[0], 0x88, "fixmap of 8 entries");
    assert_eq!(&response[1..9], &fixstr("success")[..]);
    assert_eq!(response[9], 0xc3, "true");
    let manifest = PluginManifest::new("a", "A", "1", "d", PluginRuntimeType::Wasm);
    let manifest = mp.serialize_manifest(&manifest).unwrap();
    assert_eq!(&manifest[..3], &[0xde, 0x00, 17], "map16 of 17 entries");
    // The runtime is its string.
    let runtime = [&fixstr("runtime")[..], &fixstr("wasm")[..]].concat();
    assert!(manifest.windows(runtime.len()).any(|w| w == runtime));
}

#[test]
fn values_use_native_types() {
    let mp = MessagePackSerializer::new();
    assert_eq!(mp.serialize_value(&Value::Null).unwrap(), [0xc0]);
    assert_eq!(mp.serialize_value(&Value::Int(5)).unwrap(), [0x05]);
    assert_eq!(
        mp.serialize_value(&Value::Int(-200)).unwrap(),
        [0xd1, 0xff, 0x38]
    );
    assert_eq!(
        mp.serialize_value(&Value::UInt(u64::MAX)).unwrap(),
        [0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]
    );
    assert_eq!(
        mp.serialize_value(&Value::Bytes(vec![1, 2])).unwrap(),
        [0xc4, 2, 1, 2]
    );
    let map: Value = [("k", 1)].into_iter().collect();
    assert_eq!(mp.serialize_value(&map).unwrap(), [0x81, 0xa1, b'k', 0x01]);
    let f = mp.serialize_value(&Value::Float(0.5)).unwrap();
    assert_eq!(f[0], 0xcb, "float64");
}

/// A response as `msgpack_dart` encodes `response.toJson()`, with the encodings
/// it picks: `str8`, `uint16`, `int16`, `uint64`, `float64`, `float32`, `bin8`.
fn dart_response(header: &[u8]) -> Vec<u8> {
    let long = "devicon-dart-plain colored wordmark";
    let mut out = header.to_vec();
    out.extend(fixstr("success"));
    out.push(0xc3);
    out.extend(fixstr("data"));
    out.push(0x88);
    out.extend(fixstr("icon"));
    out.extend([0xd9, long.len() as u8]);
    out.extend(long.as_bytes());
    out.extend(fixstr("size"));
    out.extend([0xcd, 0x04, 0x00]);
    out.extend(fixstr("ratio"));
    out.push(0xcb);
    out.extend(0.5f64.to_be_bytes());
    out.extend(fixstr("neg"));
    out.extend([0xd1, 0xff, 0x38]);
    out.extend(fixstr("big"));
    out.push(0xcf);
    out.extend((1u64 << 40).to_be_bytes());
    out.extend(fixstr("bin"));
    out.extend([0xc4, 3, 1, 2, 3]);
    out.extend(fixstr("f32"));
    out.push(0xca);
    out.extend(1.5f32.to_be_bytes());
    out.extend(fixstr("list"));
    out.extend([0x92, 0x01, 0xff]);
    out.extend(fixstr("message"));
    out.push(0xc0);
    out.extend(fixstr("timestamp"));
    out.extend(fixstr("2025-11-18T10:00:00.000"));
    out
}

#[test]
fn reads_what_msgpack_dart_writes() {
    let mp = MessagePackSerializer::new();
    // fixmap of 4 entries, and the same as a (non-minimal) map16 and map32.
    for header in [&[0x84u8][..], &[0xde, 0, 4], &[0xdf, 0, 0, 0, 4]] {
        let response = mp.deserialize_response(&dart_response(header)).unwrap();
        assert!(response.success);
        assert_eq!(
            response.get("icon").and_then(Value::as_str),
            Some("devicon-dart-plain colored wordmark")
        );
        assert_eq!(response.get("size"), Some(&Value::Int(1024)));
        assert_eq!(response.get("ratio"), Some(&Value::Float(0.5)));
        assert_eq!(response.get("neg"), Some(&Value::Int(-200)));
        assert_eq!(response.get("big"), Some(&Value::Int(1 << 40)));
        assert_eq!(response.get("bin"), Some(&Value::Bytes(vec![1, 2, 3])));
        assert_eq!(response.get("f32"), Some(&Value::Float(1.5)));
        assert_eq!(
            response.get("list"),
            Some(&Value::from(vec![Value::Int(1), Value::Int(-1)]))
        );
        assert_eq!(response.message, None);
        assert_eq!(
            response.timestamp,
            Some("2025-11-18T10:00:00Z".parse().unwrap())
        );
    }
}

#[test]
fn positional_structs_from_rust_guests_are_refused() {
    // `rmp_serde::to_vec` (not `to_vec_named`) writes a struct as an array: the
    // bug of the Dart project's example guests.
    #[derive(serde::Serialize)]
    struct GuestResponse {
        success: bool,
        data: std::collections::BTreeMap<String, String>,
    }
    let guest = GuestResponse {
        success: true,
        data: Default::default(),
    };
    let positional = rmp_serde::to_vec(&guest).unwrap();
    assert_eq!(positional[0], 0x92, "fixarray");
    let err = MessagePackSerializer::new()
        .deserialize_response(&positional)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid messagepack: expected a MessagePack map at the top"
    );
    // The same struct written with names is read, unknown fields ignored.
    #[derive(serde::Serialize)]
    struct Named {
        success: bool,
        handled: bool,
    }
    let named = rmp_serde::to_vec_named(&Named {
        success: true,
        handled: true,
    })
    .unwrap();
    assert_eq!(
        MessagePackSerializer::new()
            .deserialize_response(&named)
            .unwrap(),
        PluginResponse::new(true)
    );
}

#[test]
fn a_response_without_success_is_an_error() {
    let mut bytes = vec![0x81];
    bytes.extend(fixstr("data"));
    bytes.push(0x80);
    let err = MessagePackSerializer::new()
        .deserialize_response(&bytes)
        .unwrap_err();
    assert!(err.to_string().contains("success"), "{err}");
}
