//! A plugin that declares `format = msgpack`: every message it reads and
//! writes is MessagePack, byte for byte what the host's
//! `MessagePackSerializer` writes (structs as maps with string keys).

use crate::__private::{self as export, Codec, Json, MessagePack};
use crate::Timestamp;
use crate::abi::live_buffers;
use crate::prelude::*;
use crate::testing::{self, Harness};

#[derive(Default)]
struct Packed {
    count: i64,
}

impl Plugin for Packed {
    fn manifest() -> PluginManifest {
        PluginManifest::wasm("plugin.packed", "Packed", "1.0.0", "Speaks MessagePack")
            .with_required_host_functions(["test.echo"])
    }

    fn handle_event(&mut self, event: PluginEvent) -> Result<PluginResponse, Error> {
        self.count += 1;
        match event.event_type.as_str() {
            "count" => Ok(PluginResponse::ok().with_field("count", self.count)),
            "echo" => Ok(PluginResponse::ok_with(event.data)),
            "fail" => bail!("failed on purpose after {} events", self.count),
            "host" => {
                let result = host::call("test.echo", event.data.clone())?;
                Ok(PluginResponse::ok().with_field("result", result))
            }
            other => bail!("unsupported event type: {other}"),
        }
    }
}

export_plugin!(Packed, format = msgpack);

/// The JSON tests' `Greeter` (not `Default`: it reads its context), in
/// MessagePack.
struct PackedGreeter(super::Greeter);

impl Plugin for PackedGreeter {
    fn manifest() -> PluginManifest {
        PluginManifest::wasm("plugin.packed-greeter", "Greeter", "1.0.0", "Greets")
    }

    fn initialize(ctx: Context) -> Result<Self, Error> {
        <super::Greeter as Plugin>::initialize(ctx).map(PackedGreeter)
    }

    fn handle_event(&mut self, event: PluginEvent) -> Result<PluginResponse, Error> {
        self.0.handle_event(event)
    }
}

export_plugin!(PackedGreeter, format = msgpack);

/// JSON, written out: the same as `export_plugin!(Spelled)`.
#[derive(Default)]
struct Spelled;

impl Plugin for Spelled {
    fn manifest() -> PluginManifest {
        PluginManifest::wasm("plugin.spelled", "Spelled", "1.0.0", "Speaks JSON")
    }

    fn handle_event(&mut self, event: PluginEvent) -> Result<PluginResponse, Error> {
        let result = host::call("test.echo", event.data)?;
        Ok(PluginResponse::ok().with_field("result", result))
    }
}

export_plugin!(Spelled, format = json,);

/// A `fixstr`.
fn fixstr(text: &str) -> Vec<u8> {
    assert!(text.len() < 32);
    let mut out = vec![0xa0 | text.len() as u8];
    out.extend_from_slice(text.as_bytes());
    out
}

/// A MessagePack message, as the host writes it.
fn packed<T: serde::Serialize + ?Sized>(value: &T) -> Vec<u8> {
    rmp_serde::to_vec_named(value).unwrap()
}

/// Data with every kind of value, nested.
fn nested_data() -> ValueMap {
    let inner: Value = [
        (
            "list",
            Value::from_iter([Value::Null, Value::Float(1.5), Value::Bool(true)]),
        ),
        ("bytes", Value::Bytes(vec![0, 1, 254, 255])),
        ("deeper", [("n", Value::from(-200))].into_iter().collect()),
    ]
    .into_iter()
    .collect();
    [
        ("text".to_owned(), Value::from("ünïcödé ✓")),
        ("big".to_owned(), Value::from(u64::MAX)),
        ("small".to_owned(), Value::from(i64::MIN)),
        ("inner".to_owned(), inner),
        ("empty".to_owned(), Value::Map(ValueMap::new())),
    ]
    .into()
}

#[test]
fn the_section_names_the_format_without_trailing_bytes() {
    assert_eq!(export::wire_format_section::<MessagePack, 7>(), *b"msgpack");
    assert_eq!(export::wire_format_section::<Json, 4>(), *b"json");
    assert_eq!(MessagePack::WIRE_FORMAT, "msgpack");
    assert_eq!(crate::abi::WIRE_FORMAT, Json::WIRE_FORMAT);
}

#[test]
fn manifest_goes_out_as_a_msgpack_map() {
    let plugin = Harness::<Packed>::new();
    let manifest = plugin.manifest().unwrap();
    assert_eq!(manifest.id, "plugin.packed");
    assert_eq!(manifest.runtime, PluginRuntimeType::Wasm);
    assert_eq!(manifest.required_host_functions, ["test.echo"]);
    assert_eq!(live_buffers(), 0);

    let (ptr, len) = export::manifest::<Packed>().unwrap();
    // SAFETY: a reply of `len` bytes, freed once below.
    let bytes = unsafe { std::slice::from_raw_parts(ptr, len) }.to_vec();
    // SAFETY: as above.
    unsafe { export::dealloc(ptr, len) };
    assert_eq!(live_buffers(), 0);
    assert_eq!(bytes, packed(&Packed::manifest()));
    assert_eq!(&bytes[..3], &[0xde, 0x00, 17], "map16 of 17 entries");
    let runtime = [&fixstr("runtime")[..], &fixstr("wasm")[..]].concat();
    assert!(bytes.windows(runtime.len()).any(|w| w == runtime));
    let map: Value = rmp_serde::from_slice(&bytes).unwrap();
    assert_eq!(
        map.get("requiredHostFunctions"),
        Some(&Value::from_iter([Value::from("test.echo")]))
    );
    assert_eq!(map.get("author"), Some(&Value::Null));
}

#[test]
fn events_round_trip_in_msgpack() {
    let plugin = Harness::<Packed>::new();
    plugin.initialize(&Context::default()).unwrap();
    for expected in 1..=3 {
        let response = plugin.handle(&PluginEvent::new("count")).unwrap();
        assert!(response.success);
        assert_eq!(response.get("count"), Some(&Value::from(expected)));
        assert_eq!(live_buffers(), 0);
    }

    let event = PluginEvent::new("echo")
        .with_target("plugin.packed")
        .with_data(nested_data())
        .with_priority(-3)
        .with_timestamp(Timestamp::parse("2025-11-18T10:00:00.000Z").unwrap());
    let response = plugin.handle(&event).unwrap();
    assert_eq!(response.data, nested_data());

    // At the level of bytes: the event as the host writes it, the response
    // as the host reads it, nulls and all.
    let input = packed(&event);
    assert_eq!(input[0], 0x87, "fixmap of 7 entries");
    assert_eq!(&input[1..6], &fixstr("type")[..]);
    let reply = plugin.handle_bytes(&input).unwrap();
    assert_eq!(reply, packed(&PluginResponse::ok_with(nested_data())));
    assert_eq!(reply[0], 0x88, "fixmap of 8 entries");
    assert_eq!(&reply[1..9], &fixstr("success")[..]);
    assert_eq!(reply[9], 0xc3, "true");
    // The harness speaks the same.
    assert_eq!(Harness::<Packed>::encode(&event).unwrap(), input);
    let decoded: PluginResponse = Harness::<Packed>::decode(&reply).unwrap();
    assert_eq!(decoded.data, nested_data());
    assert_eq!(live_buffers(), 0);
}

#[test]
fn replies_of_any_size_follow_each_other() {
    // Replies are written in a buffer reused across calls: a short one after
    // a long one carries nothing of it.
    let plugin = Harness::<Packed>::new();
    let long = PluginEvent::new("echo").with_field("text", "x".repeat(100_000));
    let short = PluginEvent::new("echo").with_field("n", 1);
    for event in [&long, &short, &long, &PluginEvent::new("echo"), &short] {
        let reply = plugin.handle_bytes(&packed(event)).unwrap();
        assert_eq!(reply, packed(&PluginResponse::ok_with(event.data.clone())));
    }
    assert_eq!(live_buffers(), 0);
}

#[test]
fn an_error_goes_to_set_error_and_returns_nothing() {
    super::failures_reach_set_error::<Packed>();
}

#[test]
fn bytes_that_are_not_a_msgpack_event_are_failures() {
    let plugin = Harness::<Packed>::new();
    let event = packed(&PluginEvent::new("count"));
    let mut trailing = event.clone();
    trailing.push(0xc0);
    // Trailing bytes that are no value: a reserved byte, a cut string.
    let mut reserved = event.clone();
    reserved.push(0xc1);
    let mut cut = event.clone();
    cut.extend([0xa5, b'a']);
    // Trailing values nested far deeper than allowed, or claiming 4 GiB.
    let mut nested = event.clone();
    nested.extend(std::iter::repeat_n(0x91, 100_000));
    let mut huge = event.clone();
    huge.extend([0xdb, 0xff, 0xff, 0xff, 0xff, b'a']);
    // 200 nested arrays: deeper than the host allows.
    let mut deep = vec![0x82];
    deep.extend(fixstr("type"));
    deep.extend(fixstr("x"));
    deep.extend(fixstr("data"));
    deep.push(0x81);
    deep.extend(fixstr("k"));
    deep.extend(std::iter::repeat_n(0x91, 200));
    deep.push(0xc0);
    let cases: [(&[u8], &str); 15] = [
        (b"", "expected a MessagePack map at the top"),
        (
            br#"{"type":"count"}"#,
            "expected a MessagePack map at the top",
        ),
        // The positional encoding (`rmp_serde::to_vec`): an array.
        (
            &rmp_serde::to_vec(&PluginEvent::new("count")).unwrap(),
            "expected a MessagePack map at the top",
        ),
        (&event[..event.len() - 1], ""),
        (&trailing, "bytes after the end of the message"),
        (&reserved, "bytes after the end of the message"),
        (&cut, "bytes after the end of the message"),
        (&nested, "bytes after the end of the message"),
        (&huge, "bytes after the end of the message"),
        // A map without `type`.
        (&[0x80], "missing field `type`"),
        // A reserved byte where the key should be.
        (&[0x81, 0xc1], ""),
        // A map that claims 2^32 - 1 entries.
        (&[0xdf, 0xff, 0xff, 0xff, 0xff, 0xc0], ""),
        // A str32 that claims 4 GiB.
        (&[0x81, 0xdb, 0xff, 0xff, 0xff, 0xff, b'a'], ""),
        // `type` is not a string.
        (&[0x81, 0xa4, b't', b'y', b'p', b'e', 0x07], ""),
        (&deep, ""),
    ];
    for (input, expected) in cases {
        let error = plugin.handle_bytes(input).unwrap_err();
        assert!(error.starts_with("cannot read the event: "), "{error}");
        assert!(error.contains(expected), "{input:x?}: {error}");
        assert_eq!(live_buffers(), 0);
    }
    // The plugin is still fine.
    let response = plugin.handle(&PluginEvent::new("count")).unwrap();
    assert_eq!(response.get("count"), Some(&Value::from(1)));
}

#[test]
fn initialize_reads_a_msgpack_context() {
    let plugin = Harness::<PackedGreeter>::new();
    let config: ValueMap = [("greeting".to_owned(), Value::from("Hello"))].into();
    plugin
        .initialize(&Context::new("plugin.packed-greeter#1", config.clone()))
        .unwrap();
    let response = plugin
        .handle(&PluginEvent::new("greet").with_field("name", "Ada"))
        .unwrap();
    assert_eq!(response.get("text"), Some(&Value::from("Hello, Ada!")));
    assert_eq!(
        response.get("from"),
        Some(&Value::from("plugin.packed-greeter#1"))
    );

    // The context as the host writes it: a map value.
    let slot = export::Slot::<PackedGreeter>::new();
    let context: Value = [
        ("pluginId".to_owned(), Value::from("p")),
        ("config".to_owned(), Value::Map(config)),
    ]
    .into_iter()
    .collect();
    assert_eq!(export::initialize(&slot, &packed(&context)), 0);
    // A JSON context, or garbage, is a failure with a message.
    for input in [&br#"{"pluginId":"p"}"#[..], &[0xc1], &[0x81, 0xa1]] {
        assert_eq!(export::initialize(&slot, input), 1);
        let error = testing::take_error().unwrap();
        assert!(
            error.starts_with("cannot read the initialization context: "),
            "{error}"
        );
    }
    // Valid, but without a greeting.
    assert_eq!(export::initialize(&slot, &packed(&Context::default())), 1);
    assert_eq!(
        testing::take_error().as_deref(),
        Some("config needs a `greeting`")
    );
    assert_eq!(live_buffers(), 0);
}

#[test]
fn host_calls_carry_msgpack_values() {
    let plugin = Harness::<Packed>::new();
    testing::mock_host(|name, args| {
        assert_eq!(name, "test.echo");
        match args.get("deny") {
            Some(_) => Err(HostCallError::Denied("`test.echo` is not allowed".into())),
            None => Ok(args),
        }
    });
    let response = plugin
        .handle(&PluginEvent::new("host").with_data(nested_data()))
        .unwrap();
    assert_eq!(response.get("result"), Some(&Value::Map(nested_data())));
    let denied = PluginEvent::new("host").with_field("deny", true);
    assert_eq!(
        plugin.handle(&denied).unwrap_err(),
        "host call denied: `test.echo` is not allowed"
    );
    assert_eq!(live_buffers(), 0);
}

#[test]
fn host_call_bytes_are_msgpack() {
    let plugin = Harness::<Packed>::new();
    let args = packed(&Value::Map(nested_data()));
    let answers: [(i32, Vec<u8>, Result<Value, String>); 5] = [
        (
            0,
            packed(&Value::Bytes(vec![1, 2])),
            Ok(Value::Bytes(vec![1, 2])),
        ),
        (0, vec![], Ok(Value::Null)),
        (
            0,
            vec![0x93, 0x01, 0xa1, b'a', 0xc0],
            Ok(Value::from_iter([
                Value::from(1),
                Value::from("a"),
                Value::Null,
            ])),
        ),
        (
            0,
            br#""text""#.to_vec(),
            Err("host function failed: cannot read the result of `test.echo`: ".into()),
        ),
        (
            4,
            b"bad".to_vec(),
            Err("bad host call arguments: bad".into()),
        ),
    ];
    for (status, result, expected) in answers {
        let expected_args = args.clone();
        testing::mock_host_raw(move |name, got| {
            assert_eq!(name, "test.echo");
            assert_eq!(got, expected_args, "the arguments, as the host reads them");
            (status, result.clone())
        });
        let outcome = plugin.handle(&PluginEvent::new("host").with_data(nested_data()));
        match (outcome, expected) {
            (Ok(response), Ok(value)) => assert_eq!(response.get("result"), Some(&value)),
            (Err(error), Err(prefix)) => assert!(error.starts_with(&prefix), "{error}"),
            (outcome, expected) => panic!("{outcome:?}, expected {expected:?}"),
        }
    }
    testing::clear_host();
    assert_eq!(live_buffers(), 0);
}

#[test]
fn each_plugin_calls_the_host_in_its_own_format() {
    // A JSON plugin and a MessagePack one on the same thread; outside both,
    // `host::call` speaks JSON again.
    let seen = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let log = std::rc::Rc::clone(&seen);
    testing::mock_host_raw(move |_, args| {
        log.borrow_mut().push(args.to_vec());
        (0, args.to_vec())
    });
    let data: ValueMap = [("n".to_owned(), Value::from(7))].into();
    let json = Harness::<Spelled>::new();
    let msgpack = Harness::<Packed>::new();
    for _ in 0..2 {
        let response = json
            .handle(&PluginEvent::new("host").with_data(data.clone()))
            .unwrap();
        assert_eq!(response.get("result"), Some(&Value::Map(data.clone())));
        let response = msgpack
            .handle(&PluginEvent::new("host").with_data(data.clone()))
            .unwrap();
        assert_eq!(response.get("result"), Some(&Value::Map(data.clone())));
    }
    assert_eq!(host::call("f", Value::from(1)), Ok(Value::from(1)));
    testing::clear_host();
    let seen = seen.borrow();
    assert_eq!(seen[0], br#"{"n":7}"#);
    assert_eq!(seen[1], [0x81, 0xa1, b'n', 0x07]);
    assert_eq!(seen[2], seen[0]);
    assert_eq!(seen[3], seen[1]);
    assert_eq!(seen[4], b"1");
}
