//! The exports' code, natively, through the harness and directly.

use std::cell::Cell;
use std::rc::Rc;

use crate::__private as export;
use crate::abi::live_buffers;
use crate::log::Level;
use crate::prelude::*;
use crate::testing::{self, Harness};

mod msgpack;
mod typed;

thread_local! {
    static DISPOSED: Cell<u32> = const { Cell::new(0) };
}

#[derive(Default)]
struct Counter {
    count: i64,
}

impl Plugin for Counter {
    fn manifest() -> PluginManifest {
        PluginManifest::wasm("plugin.counter", "Counter", "1.0.0", "Counts events")
            .with_required_host_functions(["test.echo"])
    }

    fn handle_event(&mut self, event: PluginEvent) -> Result<PluginResponse, Error> {
        self.count += 1;
        match event.event_type.as_str() {
            "count" => Ok(PluginResponse::ok().with_field("count", self.count)),
            "fail" => bail!("failed on purpose after {} events", self.count),
            "panic" => panic!("panicked on purpose"),
            "host" => {
                let result = host::call("test.echo", event.data.clone())?;
                Ok(PluginResponse::ok().with_field("result", result))
            }
            "log" => {
                log::warn("careful");
                log::debug(&format!("count is {}", self.count));
                Ok(PluginResponse::ok())
            }
            other => bail!("unsupported event type: {other}"),
        }
    }

    fn dispose(self) {
        DISPOSED.with(|d| d.set(d.get() + 1));
    }

    fn snapshot(&self) -> Option<Vec<u8>> {
        Some(self.count.to_le_bytes().to_vec())
    }

    fn restore(&mut self, state: &[u8]) -> Result<(), Error> {
        let bytes: [u8; 8] = state
            .try_into()
            .map_err(|_| Error::new(format!("a count is 8 bytes, not {}", state.len())))?;
        self.count = i64::from_le_bytes(bytes);
        Ok(())
    }
}

export_plugin!(Counter);

/// Not `Default`: needs its `initialize`.
struct Greeter {
    greeting: String,
    plugin_id: String,
}

impl Plugin for Greeter {
    fn manifest() -> PluginManifest {
        PluginManifest::wasm("plugin.greeter", "Greeter", "1.0.0", "Greets")
    }

    fn initialize(ctx: Context) -> Result<Self, Error> {
        let Some(greeting) = ctx.config.get("greeting").and_then(Value::as_str) else {
            bail!("config needs a `greeting`");
        };
        Ok(Greeter {
            greeting: greeting.to_owned(),
            plugin_id: ctx.plugin_id,
        })
    }

    fn handle_event(&mut self, event: PluginEvent) -> Result<PluginResponse, Error> {
        let name = event.require_str("name")?;
        Ok(PluginResponse::ok()
            .with_field("text", format!("{}, {name}!", self.greeting))
            .with_field("from", self.plugin_id.as_str()))
    }
}

export_plugin!(Greeter);

/// Neither `Default` nor `initialize`.
struct Bare;

impl Plugin for Bare {
    fn manifest() -> PluginManifest {
        PluginManifest::wasm("plugin.bare", "Bare", "1.0.0", "Cannot be built")
    }

    fn handle_event(&mut self, _event: PluginEvent) -> Result<PluginResponse, Error> {
        Ok(PluginResponse::ok())
    }
}

export_plugin!(Bare);

/// Both `Default` and `initialize`: `initialize` wins.
#[derive(Default)]
struct Both {
    from_initialize: bool,
}

impl Plugin for Both {
    fn manifest() -> PluginManifest {
        PluginManifest::wasm("plugin.both", "Both", "1.0.0", "Initializes itself")
    }

    fn initialize(_ctx: Context) -> Result<Self, Error> {
        Ok(Both {
            from_initialize: true,
        })
    }

    fn handle_event(&mut self, _event: PluginEvent) -> Result<PluginResponse, Error> {
        Ok(PluginResponse::ok().with_field("fromInitialize", self.from_initialize))
    }
}

export_plugin!(Both);

fn greeter_context() -> Context {
    let config: ValueMap = [("greeting".to_owned(), Value::from("Hello"))].into();
    Context::new("plugin.greeter#1", config)
}

#[test]
fn manifest_goes_out_as_json() {
    let plugin = Harness::<Counter>::new();
    let manifest = plugin.manifest().unwrap();
    assert_eq!(manifest.id, "plugin.counter");
    assert_eq!(manifest.runtime, PluginRuntimeType::Wasm);
    assert_eq!(manifest.required_host_functions, ["test.echo"]);
    assert_eq!(live_buffers(), 0);

    let (ptr, len) = export::manifest::<Counter>().unwrap();
    // SAFETY: a reply of `len` bytes, freed once below.
    let json = unsafe { std::slice::from_raw_parts(ptr, len) };
    let json: serde_json::Value = serde_json::from_slice(json).unwrap();
    assert_eq!(json["requiredHostFunctions"][0], "test.echo");
    assert_eq!(json["runtime"], "wasm");
    assert!(json["author"].is_null());
    assert_eq!(live_buffers(), 1);
    // SAFETY: as above.
    unsafe { export::dealloc(ptr, len) };
    assert_eq!(live_buffers(), 0);
}

#[test]
fn events_round_trip_and_free_every_buffer() {
    let plugin = Harness::<Counter>::new();
    plugin.initialize(&Context::default()).unwrap();
    for expected in 1..=3 {
        let response = plugin.handle(&PluginEvent::new("count")).unwrap();
        assert!(response.success);
        assert_eq!(response.get("count"), Some(&Value::from(expected)));
        assert_eq!(response.timestamp, None);
        assert_eq!(live_buffers(), 0);
    }
    // The response is the Dart shape, nulls and all.
    let reply = plugin
        .handle_bytes(br#"{"type":"count","data":null}"#)
        .unwrap();
    assert_eq!(
        String::from_utf8(reply).unwrap(),
        r#"{"success":true,"data":{"count":4},"message":null,"error":null,"stackTrace":null,"timestamp":null,"durationMs":null,"metadata":null}"#
    );
    assert_eq!(live_buffers(), 0);
}

/// `fail` and an event type the plugin does not know reach `set_error`,
/// through the harness and through the raw export, every buffer freed: for a
/// plugin that answers them as `Counter` does, in its own wire format.
pub(crate) fn failures_reach_set_error<P: crate::__private::Exported>() {
    let plugin = Harness::<P>::new();
    assert_eq!(
        plugin.handle(&PluginEvent::new("fail")).unwrap_err(),
        "failed on purpose after 1 events"
    );
    assert_eq!(
        plugin.handle(&PluginEvent::new("what")).unwrap_err(),
        "unsupported event type: what"
    );
    assert_eq!(live_buffers(), 0);

    // The same, without the harness: no reply, and the message was passed to
    // the `set_error` stand-in.
    let slot = export::Slot::<P>::new();
    let fail = Harness::<P>::encode(&PluginEvent::new("fail")).unwrap();
    assert_eq!(export::handle_event(&slot, &fail), None);
    assert_eq!(
        testing::take_error().as_deref(),
        Some("failed on purpose after 1 events")
    );
    assert_eq!(live_buffers(), 0);
}

#[test]
fn an_error_goes_to_set_error_and_returns_nothing() {
    failures_reach_set_error::<Counter>();
    let slot = export::Slot::<Counter>::new();
    // A success does not call it.
    assert!(export::handle_event(&slot, br#"{"type":"nothing"}"#).is_none());
    testing::take_error();
    let (ptr, len) = export::handle_event(&slot, br#"{"type":"count"}"#).unwrap();
    assert_eq!(testing::take_error(), None);
    // SAFETY: a reply of `len` bytes.
    unsafe { export::dealloc(ptr, len) };
}

#[test]
fn unreadable_events_are_errors() {
    let plugin = Harness::<Counter>::new();
    for input in [&b""[..], b"{", b"[1]", b"{\"data\":{}}", b"\xff"] {
        let error = plugin.handle_bytes(input).unwrap_err();
        assert!(error.starts_with("cannot read the event: "), "{error}");
    }
    // serde alone would read an array as the event's fields in order.
    let error = plugin.handle_bytes(br#" ["count"]"#).unwrap_err();
    assert_eq!(
        error,
        "cannot read the event: expected a JSON object at the top"
    );
    assert!(plugin.handle_bytes(br#" {"type":"count"}"#).is_ok());
    assert_eq!(live_buffers(), 0);
}

#[test]
fn initialize_passes_the_context() {
    let plugin = Harness::<Greeter>::new();
    plugin.initialize(&greeter_context()).unwrap();
    let response = plugin
        .handle(&PluginEvent::new("greet").with_field("name", "Ada"))
        .unwrap();
    assert_eq!(response.get("text"), Some(&Value::from("Hello, Ada!")));
    assert_eq!(response.get("from"), Some(&Value::from("plugin.greeter#1")));
    assert_eq!(
        plugin.handle(&PluginEvent::new("greet")).unwrap_err(),
        "event `greet` has no string field `name`"
    );
    assert_eq!(live_buffers(), 0);
}

#[test]
fn initialize_failures_return_non_zero() {
    let plugin = Harness::<Greeter>::new();
    assert_eq!(
        plugin.initialize(&Context::default()).unwrap_err(),
        "config needs a `greeting`"
    );
    let slot = export::Slot::<Greeter>::new();
    assert_eq!(export::initialize(&slot, b"{nope"), 1);
    let error = testing::take_error().unwrap();
    assert!(
        error.starts_with("cannot read the initialization context: "),
        "{error}"
    );
    // An empty context is the default one.
    assert_eq!(export::initialize(&slot, b""), 1);
    assert_eq!(
        testing::take_error().as_deref(),
        Some("config needs a `greeting`")
    );
    assert_eq!(live_buffers(), 0);
}

#[test]
fn initialize_is_optional_for_default_types() {
    // Without `plugin_initialize`, the first event builds the plugin.
    let plugin = Harness::<Counter>::new();
    let response = plugin.handle(&PluginEvent::new("count")).unwrap();
    assert_eq!(response.get("count"), Some(&Value::from(1)));

    let both = Harness::<Both>::new();
    let response = both.handle(&PluginEvent::new("x")).unwrap();
    assert_eq!(response.get("fromInitialize"), Some(&Value::Bool(true)));

    let bare = Harness::<Bare>::new();
    let expected = "`plugin_system_guest::tests::Bare` implements neither \
                    `Plugin::initialize` nor `Default`";
    assert_eq!(bare.initialize(&Context::default()).unwrap_err(), expected);
    assert_eq!(bare.handle(&PluginEvent::new("x")).unwrap_err(), expected);
    // A plugin that lacks `initialize` still has its manifest.
    assert_eq!(bare.manifest().unwrap().id, "plugin.bare");
}

#[test]
fn a_second_initialize_disposes_the_first_plugin() {
    let plugin = Harness::<Counter>::new();
    plugin.initialize(&Context::default()).unwrap();
    plugin.handle(&PluginEvent::new("count")).unwrap();
    plugin.initialize(&Context::default()).unwrap();
    assert_eq!(DISPOSED.with(Cell::get), 1);
    let response = plugin.handle(&PluginEvent::new("count")).unwrap();
    assert_eq!(response.get("count"), Some(&Value::from(1)));
}

#[test]
fn dispose_runs_once() {
    let plugin = Harness::<Counter>::new();
    plugin.handle(&PluginEvent::new("count")).unwrap();
    plugin.dispose();
    plugin.dispose();
    assert_eq!(DISPOSED.with(Cell::get), 1);
    // Never built: nothing to dispose.
    Harness::<Counter>::new().dispose();
    assert_eq!(DISPOSED.with(Cell::get), 1);
}

#[test]
fn logs_reach_the_host() {
    let plugin = Harness::<Counter>::new();
    plugin.handle(&PluginEvent::new("log")).unwrap();
    assert_eq!(
        testing::take_logs(),
        [
            (Level::Warn, "careful".to_owned()),
            (Level::Debug, "count is 1".to_owned())
        ]
    );
    assert!(testing::take_logs().is_empty());
}

#[test]
fn host_calls_carry_values_and_errors() {
    let plugin = Harness::<Counter>::new();
    // No host: status 3.
    let error = plugin.handle(&PluginEvent::new("host")).unwrap_err();
    assert_eq!(
        error,
        "host function not found: no host: `test.echo` cannot be called outside a WebAssembly host"
    );

    testing::mock_host(|name, args| {
        assert_eq!(name, "test.echo");
        match args.get("deny") {
            Some(_) => Err(HostCallError::Denied("`test.echo` is not allowed".into())),
            None => Ok(args),
        }
    });
    let event = PluginEvent::new("host").with_field("n", 7);
    let response = plugin.handle(&event).unwrap();
    let expected: Value = [("n", 7)].into_iter().collect();
    assert_eq!(response.get("result"), Some(&expected));
    let denied = PluginEvent::new("host").with_field("deny", true);
    assert_eq!(
        plugin.handle(&denied).unwrap_err(),
        "host call denied: `test.echo` is not allowed"
    );
    assert_eq!(live_buffers(), 0);
}

#[test]
fn host_call_statuses_and_results_at_the_abi_level() {
    let answers = [
        (0, &b"\"text\""[..], Ok(Value::from("text"))),
        (0, b"", Ok(Value::Null)),
        (1, b"boom", Err(HostCallError::Failed("boom".into()))),
        (2, b"no", Err(HostCallError::Denied("no".into()))),
        (3, b"who", Err(HostCallError::NotFound("who".into()))),
        (4, b"bad", Err(HostCallError::BadArguments("bad".into()))),
        (
            7,
            b"odd",
            Err(HostCallError::Failed(
                "unknown host call status 7: odd".into(),
            )),
        ),
        (
            0,
            b"{",
            Err(HostCallError::Failed(
                "cannot read the result of `f`: EOF while parsing an object at line 1 column 1"
                    .into(),
            )),
        ),
    ];
    for (status, result, expected) in answers {
        testing::mock_host_raw(move |name, args| {
            assert_eq!((name, args), ("f", &b"[1,\"a\"]"[..]));
            (status, result.to_vec())
        });
        let args: Value = [Value::from(1), Value::from("a")].into_iter().collect();
        assert_eq!(host::call("f", args), expected, "status {status}");
    }
    testing::clear_host();
    assert!(matches!(
        host::call("f", Value::Null),
        Err(HostCallError::NotFound(_))
    ));
}

#[test]
fn a_host_that_re_enters_the_plugin_is_refused() {
    let plugin = Rc::new(Harness::<Counter>::new());
    let inner = Rc::clone(&plugin);
    testing::mock_host(move |_, _| {
        let error = inner.handle(&PluginEvent::new("count")).unwrap_err();
        Err(HostCallError::Failed(error))
    });
    let error = plugin.handle(&PluginEvent::new("host")).unwrap_err();
    assert_eq!(
        error,
        format!("host function failed: {}", export::UNUSABLE_MESSAGE)
    );
    // Once the outer call is over, the plugin takes calls again.
    testing::clear_host();
    let response = plugin.handle(&PluginEvent::new("count")).unwrap();
    assert_eq!(response.get("count"), Some(&Value::from(2)));
    assert_eq!(live_buffers(), 0);
}

#[test]
fn a_native_panic_unwinds_and_frees_the_input() {
    // On wasm a panic aborts (a trap); natively it unwinds through the
    // harness, which frees the input like a host freeing it after a trap.
    let plugin = Harness::<Counter>::new();
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        plugin.handle(&PluginEvent::new("panic"))
    }));
    assert!(outcome.is_err());
    assert_eq!(live_buffers(), 0);
    let response = plugin.handle(&PluginEvent::new("count")).unwrap();
    assert_eq!(response.get("count"), Some(&Value::from(2)));
}

#[test]
fn a_trapped_call_leaves_the_plugin_unusable() {
    // A trap ends the call without running any code of the plugin: here, the
    // guard of the call is forgotten as a trap would leave it.
    let slot = export::Slot::<Counter>::new();
    export::simulate_trap(&slot);
    assert_eq!(export::handle_event(&slot, br#"{"type":"count"}"#), None);
    assert_eq!(
        testing::take_error().as_deref(),
        Some(export::UNUSABLE_MESSAGE)
    );
    assert_eq!(export::initialize(&slot, b"{}"), 1);
    assert_eq!(
        testing::take_error().as_deref(),
        Some(export::UNUSABLE_MESSAGE)
    );
    export::dispose(&slot);
    assert_eq!(DISPOSED.with(Cell::get), 0);
    let logs = testing::take_logs();
    assert_eq!(logs.len(), 1);
    assert_eq!(logs[0].0, Level::Warn);
    // The manifest and the buffers still work.
    let (ptr, len) = export::manifest::<Counter>().unwrap();
    // SAFETY: a reply of `len` bytes.
    unsafe { export::dealloc(ptr, len) };
    assert_eq!(live_buffers(), 0);
}

/// `plugin_snapshot` gives a plugin's state, `plugin_restore` gives it to a
/// fresh one (the next version, in a hot reload); bytes it cannot read are
/// refused through `set_error`.
#[test]
fn state_survives_a_snapshot_and_a_restore() {
    let old = export::Slot::<Counter>::new();
    assert!(export::snapshot(&old).is_none(), "no plugin built yet");
    assert_eq!(export::initialize(&old, b""), 0);
    for _ in 0..2 {
        let (ptr, len) = export::handle_event(&old, br#"{"type":"count"}"#).unwrap();
        // SAFETY: the host frees what the plugin handed out.
        unsafe { export::dealloc(ptr, len) };
    }
    let (ptr, len) = export::snapshot(&old).expect("a state");
    // SAFETY: the export handed out `len` bytes at `ptr`.
    let state = unsafe { export::input(ptr, len) }.to_vec();
    // SAFETY: the host frees what the plugin handed out.
    unsafe { export::dealloc(ptr, len) };

    let new = export::Slot::<Counter>::new();
    assert_eq!(export::initialize(&new, b""), 0);
    assert_eq!(export::restore(&new, &state), 0);
    let (ptr, len) = export::handle_event(&new, br#"{"type":"count"}"#).unwrap();
    // SAFETY: as above.
    let reply = unsafe { export::input(ptr, len) }.to_vec();
    unsafe { export::dealloc(ptr, len) };
    let response: PluginResponse = serde_json::from_slice(&reply).unwrap();
    assert_eq!(response.get("count"), Some(&Value::from(3)));

    assert_eq!(export::restore(&new, b"nope"), 1);
    assert_eq!(
        testing::take_error().as_deref(),
        Some("a count is 8 bytes, not 4")
    );
    assert_eq!(live_buffers(), 0);
}
