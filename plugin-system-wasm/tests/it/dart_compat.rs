//! Byte compatibility with the Dart models' JSON (`toJson()` of the freezed /
//! json_serializable classes, written by `jsonEncode`).

use std::time::Duration;

use plugin_system_core::{
    FilesystemAccessLevel, PluginEvent, PluginManifest, PluginPermissions, PluginResponse,
    PluginRuntimeType, PluginSerializer, SerializationError, Timestamp, Value,
};
use plugin_system_wasm::JsonSerializer;
use serde_json::json;

fn ts(text: &str) -> Timestamp {
    text.parse().unwrap()
}

fn to_json(bytes: Result<Vec<u8>, SerializationError>) -> serde_json::Value {
    let bytes = bytes.unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

const DART_EVENT: &str = r#"{"type":"file.opened","targetPluginId":"plugin.file-icons","data":{"file_id":"file123","filename":"main.dart","path":"/project/lib/main.dart","size":1024,"ratio":0.5,"tags":["dart","flutter"],"nested":{"ok":true,"none":null}},"timestamp":"2025-11-18T12:34:56.789012","sourcePluginId":null,"priority":0,"eventId":null}"#;

#[test]
fn reads_a_dart_event() {
    let event = JsonSerializer::new()
        .deserialize_event(DART_EVENT.as_bytes())
        .unwrap();
    assert_eq!(event.event_type, "file.opened");
    assert_eq!(event.target_plugin_id.as_deref(), Some("plugin.file-icons"));
    // Dart's `DateTime.now()` is local and written without a zone: read as UTC.
    assert_eq!(event.timestamp, Some(ts("2025-11-18T12:34:56.789012Z")));
    assert_eq!(event.get("size"), Some(&Value::Int(1024)));
    assert_eq!(event.get("ratio"), Some(&Value::Float(0.5)));
    assert_eq!(
        event.get("tags"),
        Some(&Value::from(vec![
            Value::from("dart"),
            Value::from("flutter")
        ]))
    );
    let nested = event.get("nested").unwrap();
    assert_eq!(nested.get("ok"), Some(&Value::Bool(true)));
    assert_eq!(nested.get("none"), Some(&Value::Null));
    assert_eq!(
        (event.source_plugin_id, event.priority, event.event_id),
        (None, 0, None)
    );
}

#[test]
fn writes_an_event_as_dart_does() {
    let event = PluginEvent::new("file.opened")
        .with_target("plugin.file-icons")
        .with_field("path", "/project/lib/main.dart")
        .with_field("size", 1024)
        .with_timestamp(ts("2025-11-18T10:00:00.000Z"))
        .with_priority(3)
        .with_event_id("e-1");
    let bytes = JsonSerializer::new().serialize_event(&event).unwrap();
    // Byte for byte what Dart's `jsonEncode(event.toJson())` gives (UTC time).
    assert_eq!(
        std::str::from_utf8(&bytes).unwrap(),
        r#"{"type":"file.opened","targetPluginId":"plugin.file-icons","data":{"path":"/project/lib/main.dart","size":1024},"timestamp":"2025-11-18T10:00:00.000Z","sourcePluginId":null,"priority":3,"eventId":"e-1"}"#
    );
    // Microseconds are written when there are any.
    let event = event.with_timestamp(ts("2025-11-18T10:00:00.000001Z"));
    let json = to_json(JsonSerializer::new().serialize_event(&event));
    assert_eq!(json["timestamp"], "2025-11-18T10:00:00.000001Z");
}

#[test]
fn the_dart_event_round_trips_to_the_same_json() {
    let json = JsonSerializer::new();
    let event = json.deserialize_event(DART_EVENT.as_bytes()).unwrap();
    let mut expected: serde_json::Value = serde_json::from_str(DART_EVENT).unwrap();
    // The one difference: we write UTC with its `Z`.
    expected["timestamp"] = json!("2025-11-18T12:34:56.789012Z");
    assert_eq!(to_json(json.serialize_event(&event)), expected);
}

#[test]
fn missing_and_null_event_keys_take_dart_defaults() {
    let json = JsonSerializer::new();
    for text in [
        r#"{"type":"ping"}"#,
        r#"{"type":"ping","targetPluginId":null,"data":null,"timestamp":null,"sourcePluginId":null,"priority":null,"eventId":null}"#,
        r#"{"type":"ping","unknown":{"deep":[1,2,3]},"alsoUnknown":true}"#,
    ] {
        let event = json.deserialize_event(text.as_bytes()).unwrap();
        assert_eq!(event, PluginEvent::new("ping"), "{text}");
    }
    let err = json.deserialize_event(br#"{"data":{}}"#).unwrap_err();
    assert!(err.to_string().contains("missing field `type`"), "{err}");
}

#[test]
fn event_timestamps_in_every_dart_form() {
    let json = JsonSerializer::new();
    let expected = ts("2025-11-18T10:00:00Z");
    for stamp in [
        "2025-11-18T10:00:00.000Z",
        "2025-11-18T10:00:00.000000Z",
        "2025-11-18T12:00:00.000+02:00",
        "2025-11-18T10:00:00.000",
    ] {
        let text = format!(r#"{{"type":"t","timestamp":"{stamp}"}}"#);
        let event = json.deserialize_event(text.as_bytes()).unwrap();
        assert_eq!(event.timestamp, Some(expected), "{stamp}");
    }
    let err = json
        .deserialize_event(br#"{"type":"t","timestamp":"yesterday"}"#)
        .unwrap_err();
    assert!(matches!(err, SerializationError::Decode { .. }), "{err}");
}

#[test]
fn reads_dart_responses() {
    let json = JsonSerializer::new();
    // `PluginResponse.success(data: {...}, durationMs: 12)`.
    let ok = json
        .deserialize_response(
            br#"{"success":true,"data":{"icon":"devicon-dart-plain","cached":true},"message":null,"error":null,"stackTrace":null,"timestamp":"2025-11-18T10:00:00.123","durationMs":12,"metadata":null}"#,
        )
        .unwrap();
    assert!(ok.success);
    assert_eq!(
        ok.get("icon").and_then(Value::as_str),
        Some("devicon-dart-plain")
    );
    assert_eq!(ok.duration_ms, Some(12));
    assert_eq!(ok.timestamp, Some(ts("2025-11-18T10:00:00.123Z")));
    // `PluginResponse.error(message: ..., error: ..., stackTrace: ...)`.
    let failed = json
        .deserialize_response(
            br##"{"success":false,"data":{},"message":"Failed to resolve icon","error":"Exception: boom","stackTrace":"#0 main","timestamp":null,"durationMs":null,"metadata":{"attempt":2}}"##,
        )
        .unwrap();
    assert!(!failed.success && failed.has_error());
    assert_eq!(failed.message.as_deref(), Some("Failed to resolve icon"));
    assert_eq!(failed.error.as_deref(), Some("Exception: boom"));
    assert_eq!(failed.stack_trace.as_deref(), Some("#0 main"));
    assert_eq!(failed.metadata.unwrap()["attempt"], Value::Int(2));
    // The minimum, and unknown keys (the file-icons guest's `handled`).
    let minimal = json
        .deserialize_response(br#"{"success":true,"handled":true,"data":null}"#)
        .unwrap();
    assert_eq!(minimal, PluginResponse::new(true));
}

#[test]
fn a_response_without_success_is_an_error() {
    let json = JsonSerializer::new();
    for text in [
        &br#"{"data":{"icon":"x"}}"#[..],
        br#"{"success":null}"#,
        br#"{"success":"yes"}"#,
    ] {
        let err = json.deserialize_response(text).unwrap_err();
        assert!(matches!(err, SerializationError::Decode { .. }), "{err}");
    }
    let err = json
        .deserialize_response(br#"{"handled":true}"#)
        .unwrap_err();
    assert!(err.to_string().contains("missing field `success`"), "{err}");
}

#[test]
fn writes_responses_as_dart_does() {
    let response = PluginResponse::error("Failed to resolve icon")
        .with_error_details("Exception: boom")
        .with_timestamp(Some(ts("2025-11-18T10:00:00Z")))
        .with_duration_ms(7);
    assert_eq!(
        to_json(JsonSerializer::new().serialize_response(&response)),
        json!({
            "success": false,
            "data": {},
            "message": "Failed to resolve icon",
            "error": "Exception: boom",
            "stackTrace": null,
            "timestamp": "2025-11-18T10:00:00.000Z",
            "durationMs": 7,
            "metadata": null
        })
    );
}

const DART_MANIFEST: &str = r#"{
  "id": "plugin.file-icons-wasm",
  "name": "File Icons",
  "version": "1.0.0",
  "description": "Beautiful colorful icons for 150+ file types",
  "runtime": "wasm",
  "author": "Editor Team",
  "homepage": "https://example.com",
  "repository": null,
  "license": "MIT",
  "dependencies": ["plugin.core"],
  "configSchema": {"type": "object", "properties": {"theme": {"type": "string", "default": "dark"}}},
  "requiredHostFunctions": ["log_info", "get_file_extension"],
  "providedEvents": [],
  "subscribesTo": ["file.opened"],
  "minHostVersion": "0.1.0",
  "maxHostVersion": null,
  "metadata": {"icons": 150}
}"#;

#[test]
fn manifests_read_and_write_as_in_dart() {
    let json = JsonSerializer::new();
    let manifest = json.deserialize_manifest(DART_MANIFEST.as_bytes()).unwrap();
    assert_eq!(manifest.id, "plugin.file-icons-wasm");
    assert_eq!(manifest.runtime, PluginRuntimeType::Wasm);
    assert_eq!(manifest.license.as_deref(), Some("MIT"));
    assert_eq!(
        manifest.required_host_functions,
        ["log_info", "get_file_extension"]
    );
    assert_eq!(manifest.subscribes_to, ["file.opened"]);
    let schema = Value::from(manifest.config_schema.clone().unwrap());
    let theme_default = schema
        .get("properties")
        .and_then(|p| p.get("theme"))
        .and_then(|t| t.get("default"));
    assert_eq!(theme_default.and_then(Value::as_str), Some("dark"));
    let expected: serde_json::Value = serde_json::from_str(DART_MANIFEST).unwrap();
    assert_eq!(to_json(json.serialize_manifest(&manifest)), expected);
}

#[test]
fn manifest_requirements_and_defaults() {
    let json = JsonSerializer::new();
    let minimal = json
        .deserialize_manifest(br#"{"id":"a","name":"A","version":"1","description":"d","runtime":"native","dependencies":null}"#)
        .unwrap();
    assert_eq!(
        minimal,
        PluginManifest::new("a", "A", "1", "d", PluginRuntimeType::Native)
    );
    for text in [
        &br#"{"name":"A","version":"1","description":"d","runtime":"wasm"}"#[..],
        br#"{"id":"a","name":"A","version":"1","description":"d"}"#,
        br#"{"id":"a","name":"A","version":"1","description":"d","runtime":"WASM"}"#,
        br#"{"id":"a","name":"A","version":"1","description":"d","runtime":"wasm","dependencies":"x"}"#,
    ] {
        assert!(json.deserialize_manifest(text).is_err(), "{}", String::from_utf8_lossy(text));
    }
}

#[test]
fn permissions_match_dart_json() {
    // `PluginPermissions().toJson()`: the Duration is in microseconds.
    let dart_defaults = json!({
        "allowedHostFunctions": [],
        "maxExecutionTime": 5_000_000,
        "maxMemoryBytes": 52_428_800,
        "maxCallDepth": 100,
        "canAccessNetwork": false,
        "filesystemAccess": "none",
        "customLimits": null
    });
    assert_eq!(
        serde_json::to_value(PluginPermissions::default()).unwrap(),
        dart_defaults
    );
    let read: PluginPermissions = serde_json::from_value(dart_defaults).unwrap();
    assert_eq!(read, PluginPermissions::default());
    let read: PluginPermissions = serde_json::from_str("{}").unwrap();
    assert_eq!(read, PluginPermissions::default());
    let read: PluginPermissions = serde_json::from_str(
        r#"{"allowedHostFunctions":["log_info"],"maxExecutionTime":250000,"maxCallDepth":null,"filesystemAccess":"readOnly","canAccessNetwork":true,"extra":1}"#,
    )
    .unwrap();
    assert_eq!(read.max_execution_time, Duration::from_millis(250));
    assert_eq!(read.max_call_depth, 100);
    assert_eq!(read.filesystem_access, FilesystemAccessLevel::ReadOnly);
    assert!(read.can_access_network && read.allows_host_function("log_info"));
    for (level, text) in [
        (FilesystemAccessLevel::None, "\"none\""),
        (FilesystemAccessLevel::ReadOnly, "\"readOnly\""),
        (FilesystemAccessLevel::ReadWrite, "\"readWrite\""),
        (FilesystemAccessLevel::Full, "\"full\""),
    ] {
        assert_eq!(serde_json::to_string(&level).unwrap(), text);
        assert_eq!(
            serde_json::from_str::<FilesystemAccessLevel>(text).unwrap(),
            level
        );
    }
}

#[test]
fn bytes_go_out_as_arrays_of_numbers() {
    // What Dart's `jsonEncode` does with a `Uint8List`.
    let json = JsonSerializer::new();
    let bytes = json
        .serialize_value(&Value::Bytes(vec![0, 127, 255]))
        .unwrap();
    assert_eq!(bytes, b"[0,127,255]");
}
