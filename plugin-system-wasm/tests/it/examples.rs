//! The example plugins of `guests/` (built from source by `cargo xtask guests`)
//! through `WasmPluginRuntime`: four in Rust with the guest SDK (one of them in
//! MessagePack), one in C to the bare ABI. Each test runs on every engine: on
//! wasmtime and wasmi here, on the web engine in headless Chromium
//! (`tests/web`, which reads this module unchanged); the harness gives the
//! engine (`engine`) and the modules (`guest`).

use std::sync::Arc;

use plugin_system_core::{
    HostFunction, HostFunctionError, PluginContext, PluginError, PluginEvent, PluginPermissions,
    PluginSerializer, PluginSource, Value, ValueMap, WireFormat,
};
use plugin_system_wasm::{
    JsonSerializer, LoadOptions, MessagePackSerializer, TimeLimit, WasmPlugin, WasmPluginRuntime,
};
use plugin_system_wasm_run::EngineKind;

use crate::{engine, guest, on_every_engine};

/// A plugin of the guest workspace, by its module's name.
fn rust_plugin(name: &str) -> PluginSource {
    guest(&format!("wasm32-unknown-unknown/release/{name}.wasm"))
}

/// What the plugin's `plugin_live_buffers` diagnostic export says.
pub(crate) fn live_buffers(plugin: &WasmPlugin) -> i32 {
    plugin
        .call_export("plugin_live_buffers", &[])
        .expect("diagnostic export")[0]
        .as_i32()
        .expect("i32")
}

fn runtime(kind: EngineKind) -> WasmPluginRuntime {
    let mut rt = WasmPluginRuntime::new(engine(kind));
    rt.register_host_function(
        "editor.get_text",
        HostFunction::new(|_, _| Ok(Value::from("text from the editor\nsecond line"))),
    );
    rt.register_host_function(
        "editor.broken",
        HostFunction::new(|_, _| Err(HostFunctionError::new("no editor"))),
    );
    rt
}

fn start(rt: &WasmPluginRuntime, source: &PluginSource, options: LoadOptions) -> WasmPlugin {
    let plugin = rt.load(source, options).expect("loads");
    let id = plugin_system_core::Plugin::manifest(&plugin).id.clone();
    plugin
        .initialize_sync(&PluginContext::new(id))
        .expect("initializes");
    plugin
}

fn icon(plugin: &WasmPlugin, extension: &str) -> String {
    let event = PluginEvent::new("get_icon").with_field("extension", extension);
    let response = plugin.handle_event_sync(&event).expect("answers");
    assert!(response.success);
    response
        .get("icon")
        .and_then(Value::as_str)
        .expect("icon")
        .to_owned()
}

fn file_icons_names_an_icon_per_extension(kind: EngineKind) {
    let rt = runtime(kind);
    let plugin = start(&rt, &rust_plugin("file_icons"), LoadOptions::new());
    assert_eq!(
        plugin_system_core::Plugin::manifest(&plugin).id,
        "plugin.file-icons-wasm"
    );
    // A deadline where the engine keeps one; else fuel alone, and said so.
    match plugin.time_limit() {
        TimeLimit::Deadline(limit) => {
            assert_eq!(limit, PluginPermissions::DEFAULT_MAX_EXECUTION_TIME);
            assert!(rt.runtime().supported_features().deadlines);
        }
        TimeLimit::FuelOnly {
            fuel_per_exchange, ..
        } => {
            assert_eq!(Some(fuel_per_exchange), rt.runtime().config().fuel_limit);
            assert!(!rt.runtime().supported_features().deadlines);
        }
        other => panic!("{kind:?}: {other:?}"),
    }
    assert_eq!(icon(&plugin, "rs"), "devicon-rust-plain");
    assert_eq!(icon(&plugin, ".DART"), icon(&plugin, "dart"));
    assert_eq!(icon(&plugin, "no-such-ext"), "devicon-txt-plain");
    let unsupported = plugin.handle_event_sync(&PluginEvent::new("paint"));
    match unsupported {
        Err(PluginError::Guest { message, .. }) => {
            assert!(message.contains("paint"), "{message}")
        }
        other => panic!("{kind:?}: {other:?}"),
    }
    assert_eq!(live_buffers(&plugin), 0);
    plugin.dispose_sync().expect("disposes");
}

fn word_count_reads_the_event_or_asks_the_host(kind: EngineKind) {
    let rt = runtime(kind);
    let plugin = start(&rt, &rust_plugin("word_count"), LoadOptions::new());
    let counted = plugin
        .handle_event_sync(
            &PluginEvent::new("document.changed").with_field("text", "héllo wörld\nagain"),
        )
        .expect("counts");
    assert_eq!(counted.get("words").and_then(Value::as_i64), Some(3));
    assert_eq!(counted.get("lines").and_then(Value::as_i64), Some(2));
    assert_eq!(counted.get("characters").and_then(Value::as_i64), Some(17));
    // No text in the event: the plugin calls editor.get_text, which its
    // manifest asks for.
    let asked = plugin
        .handle_event_sync(&PluginEvent::new("count_words"))
        .expect("asks the host");
    assert_eq!(asked.get("words").and_then(Value::as_i64), Some(6));
    assert_eq!(plugin.stats().host_calls, 1);
    assert_eq!(live_buffers(&plugin), 0);

    // Without the permission the host refuses, and says so with a typed error.
    let denied = start(
        &rt,
        &rust_plugin("word_count"),
        LoadOptions::new().permissions(PluginPermissions::default()),
    );
    let err = denied
        .handle_event_sync(&PluginEvent::new("count_words"))
        .unwrap_err();
    assert!(
        matches!(err, PluginError::PermissionDenied { ref function } if function == "editor.get_text"),
        "{err}"
    );
    assert_eq!(live_buffers(&denied), 0);
}

fn echo_returns_the_data_unchanged(kind: EngineKind) {
    let data = Value::from_iter([
        ("text".to_owned(), Value::from("ünïcödé ✓")),
        ("n".to_owned(), Value::from(u64::MAX)),
        (
            "list".to_owned(),
            Value::from_iter([Value::from(1.5), Value::Null, Value::from(true)]),
        ),
    ]);
    let Value::Map(map) = data else {
        unreachable!()
    };
    let rt = runtime(kind);
    let plugin = start(&rt, &rust_plugin("echo"), LoadOptions::new());
    for _ in 0..100 {
        let response = plugin
            .handle_event_sync(&PluginEvent::new("echo").with_data(map.clone()))
            .expect("echoes");
        assert_eq!(response.data, map);
    }
    assert_eq!(live_buffers(&plugin), 0);
}

fn echo_msgpack_declares_msgpack_and_echoes_nested_data(kind: EngineKind) {
    let inner = Value::from_iter([
        ("bytes".to_owned(), Value::Bytes(vec![0, 1, 254, 255])),
        (
            "list".to_owned(),
            Value::from_iter([
                Value::from(1.5),
                Value::Null,
                Value::from(true),
                Value::from_iter([Value::from("deep"), Value::from(-200)]),
                Value::Array(Vec::new()),
            ]),
        ),
        ("empty".to_owned(), Value::Map(ValueMap::new())),
    ]);
    let data = Value::from_iter([
        ("text".to_owned(), Value::from("ünïcödé ✓")),
        ("big".to_owned(), Value::from(u64::MAX)),
        ("small".to_owned(), Value::from(i64::MIN)),
        ("inner".to_owned(), inner),
    ]);
    let Value::Map(map) = data else {
        unreachable!()
    };
    let source = rust_plugin("echo_msgpack");
    let bytes = source.load().expect("reads the module");
    // A host that speaks JSON to plugins that declare no format: the
    // plugin gets MessagePack (and is understood) only because the load
    // reads its section. JSON would fail the plugin's initialization.
    let mut rt = runtime(kind).with_serializer(Arc::new(JsonSerializer::new()));
    rt.register_host_function(
        "echo.host",
        HostFunction::new(|_, args| Ok(Value::from_iter([("got".to_owned(), args)]))),
    );
    let module = rt.runtime().load_module(&bytes).expect("compiles");
    assert_eq!(
        module.custom_section("plugin_wire_format"),
        Some(&b"msgpack"[..]),
        "{kind:?}"
    );
    let plugin = start(&rt, &source, LoadOptions::new());
    assert_eq!(
        plugin_system_core::Plugin::manifest(&plugin).id,
        "plugin.echo-msgpack"
    );
    for _ in 0..100 {
        let event = PluginEvent::new("echo")
            .with_target("plugin.echo-msgpack")
            .with_data(map.clone());
        let response = plugin.handle_event_sync(&event).expect("echoes");
        assert!(response.success);
        assert_eq!(response.data, map, "{kind:?}");
    }
    let empty = plugin
        .handle_event_sync(&PluginEvent::new("empty"))
        .expect("echoes");
    assert!(empty.data.is_empty());
    // Serialized once, in the format the plugin speaks, and sent as bytes.
    assert_eq!(plugin.wire_format(), WireFormat::MessagePack);
    let msgpack = MessagePackSerializer::new();
    let event = PluginEvent::new("echo").with_data(map.clone());
    let reply = plugin
        .handle_event_bytes_sync(&msgpack.serialize_event(&event).unwrap())
        .expect("echoes");
    assert_eq!(msgpack.deserialize_response(&reply).unwrap().data, map);
    // A host call in MessagePack both ways: the host reads the plugin's
    // arguments and the plugin reads the host's result, bytes and all.
    let asked = plugin
        .handle_event_sync(&PluginEvent::new("ask_host").with_data(map.clone()))
        .expect("asks the host");
    assert_eq!(
        asked.get("result"),
        Some(&Value::from_iter([(
            "got".to_owned(),
            Value::Map(map.clone())
        )])),
        "{kind:?}"
    );
    assert_eq!(plugin.stats().host_calls, 1);
    assert_eq!(live_buffers(&plugin), 0);
    plugin.dispose_sync().expect("disposes");
}

fn a_c_plugin_speaks_the_same_abi(kind: EngineKind) {
    let source = guest("c/line_count.wasm");
    let rt = runtime(kind);
    let plugin = start(&rt, &source, LoadOptions::new());
    assert_eq!(
        plugin_system_core::Plugin::manifest(&plugin).id,
        "plugin.line-count-c"
    );
    let response = plugin
        .handle_event_sync(&PluginEvent::new("count").with_field("text", "a\nb\nc"))
        .expect("counts");
    assert_eq!(response.get("lines").and_then(Value::as_i64), Some(3));
    let err = plugin
        .handle_event_sync(&PluginEvent::new("count"))
        .unwrap_err();
    assert!(matches!(err, PluginError::Guest { .. }), "{err}");
    assert_eq!(live_buffers(&plugin), 0);
}

on_every_engine!(
    file_icons_names_an_icon_per_extension,
    word_count_reads_the_event_or_asks_the_host,
    echo_returns_the_data_unchanged,
    echo_msgpack_declares_msgpack_and_echoes_nested_data,
    a_c_plugin_speaks_the_same_abi,
);
