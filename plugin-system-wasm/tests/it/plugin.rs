//! `WasmPluginRuntime` on both engines with plugins written to the Dart original's
//! ABI in WAT: the round trip, the checks before instantiation, host functions
//! and permissions, and guests that misbehave in every way the ABI allows.

use std::{sync::Arc, time::Duration};

use plugin_system_core::{
    DirAccess, FilesystemAccessLevel, HostFunction, HostFunctionError, OutputBuffer, Plugin,
    PluginContext, PluginError, PluginEvent, PluginManifest, PluginPermissions, PluginRuntimeType,
    PluginSerializer, PluginSource, Value, WasiConfig, WasiOutput, WasmError, WasmRuntimeConfig,
    WasmValue, WireFormat,
};
use plugin_system_wasm::{JsonSerializer, LoadOptions, WasmPlugin, WasmPluginRuntime};
use plugin_system_wasm_run::{EngineKind, new_runtime};

use crate::examples::live_buffers;

const ENGINES: [EngineKind; 2] = [EngineKind::Wasmtime, EngineKind::Wasmi];

/// Static strings the fixture copies from, at fixed offsets.
struct Data {
    wat: String,
    next: usize,
}

impl Data {
    fn new() -> Self {
        Data {
            wat: String::new(),
            next: 16,
        }
    }

    /// Places `text` and returns `(offset, len)`.
    fn add(&mut self, text: &str) -> (usize, usize) {
        let offset = self.next;
        let escaped: String = text.bytes().map(|b| format!("\\{b:02x}")).collect();
        self.wat
            .push_str(&format!("(data (i32.const {offset}) \"{escaped}\")\n"));
        self.next += text.len() + 8;
        (offset, text.len())
    }
}

const MANIFEST: &str = r#"{"id":"plugin.echo-wat","name":"Echo","version":"1.0.0","description":"echoes events","runtime":"wasm","requiredHostFunctions":["editor.get_text"]}"#;

/// A plugin to the Dart ABI: a bump allocator that counts live buffers,
/// `plugin_handle_event` running `body` (default: reply
/// `{"success":true,"data":{"echo":<the event>}}`), a manifest, an initializer and
/// a dispose that returns a packed buffer, as the Dart original's Rust examples do.
fn plugin_wat(body: &str, extra: &str) -> String {
    let mut data = Data::new();
    let (pre, pre_len) = data.add(r#"{"success":true,"data":{"echo":"#);
    let (suf, suf_len) = data.add("}}");
    let (man, man_len) = data.add(MANIFEST);
    let (name, name_len) = data.add("editor.get_text");
    let (args, args_len) = data.add("{}");
    let (bye, bye_len) = data.add("bye");
    let (garbage, garbage_len) = data.add("this is not json");
    let (msg, msg_len) = data.add("the plugin refuses");
    let body = body
        .replace(
            "GARBAGE",
            &format!("(i32.const {garbage}) (i32.const {garbage_len})"),
        )
        .replace(
            "MESSAGE",
            &format!("(i32.const {msg}) (i32.const {msg_len})"),
        );
    format!(
        r#"(module
  (import "plugin_system" "set_error" (func $set_error (param i32 i32)))
  (import "plugin_system" "host_call" (func $host_call (param i32 i32 i32 i32) (result i32)))
  (import "plugin_system" "host_result_len" (func $host_result_len (result i32)))
  (import "plugin_system" "host_result" (func $host_result (param i32)))
  (memory (export "memory") 1)
  {data}
  (global $heap (mut i32) (i32.const 4096))
  (global $live (mut i32) (i32.const 0))
  (func $alloc (export "alloc") (param $len i32) (result i32) (local $p i32)
    (local.set $p (global.get $heap))
    (block $done (loop $grow
      (br_if $done (i64.le_u
        (i64.add (i64.extend_i32_u (local.get $p)) (i64.extend_i32_u (local.get $len)))
        (i64.mul (i64.extend_i32_u (memory.size)) (i64.const 65536))))
      (if (i32.eq (memory.grow (i32.const 1)) (i32.const -1)) (then (return (i32.const 0))))
      (br $grow)))
    (global.set $heap (i32.add (local.get $p) (i32.add (local.get $len) (i32.const 8))))
    (global.set $live (i32.add (global.get $live) (i32.const 1)))
    (local.get $p))
  (func $dealloc (export "dealloc") (param i32 i32)
    (global.set $live (i32.sub (global.get $live) (i32.const 1))))
  (func (export "plugin_live_buffers") (result i32) (global.get $live))
  (func $pack (param $p i32) (param $n i32) (result i64)
    (i64.or (i64.shl (i64.extend_i32_u (local.get $p)) (i64.const 32)) (i64.extend_i32_u (local.get $n))))
  (func $copy (param $src i32) (param $n i32) (result i64) (local $out i32)
    (local.set $out (call $alloc (local.get $n)))
    (memory.copy (local.get $out) (local.get $src) (local.get $n))
    (call $pack (local.get $out) (local.get $n)))
  (func $reply (param $src i32) (param $n i32) (result i64) (local $out i32) (local $total i32)
    (local.set $total (i32.add (local.get $n) (i32.const {pre_len_plus_suf})))
    (local.set $out (call $alloc (local.get $total)))
    (memory.copy (local.get $out) (i32.const {pre}) (i32.const {pre_len}))
    (memory.copy (i32.add (local.get $out) (i32.const {pre_len})) (local.get $src) (local.get $n))
    (memory.copy (i32.add (local.get $out) (i32.add (i32.const {pre_len}) (local.get $n)))
      (i32.const {suf}) (i32.const {suf_len}))
    (call $pack (local.get $out) (local.get $total)))
  (func $ask_host (result i64) (local $status i32) (local $len i32) (local $buf i32) (local $r i64)
    (local.set $status (call $host_call (i32.const {name}) (i32.const {name_len}) (i32.const {args}) (i32.const {args_len})))
    (local.set $len (call $host_result_len))
    (local.set $buf (call $alloc (local.get $len)))
    (call $host_result (local.get $buf))
    (if (local.get $status) (then
      (call $set_error (local.get $buf) (local.get $len))
      (call $dealloc (local.get $buf) (local.get $len))
      (return (i64.const 0))))
    (local.set $r (call $reply (local.get $buf) (local.get $len)))
    (call $dealloc (local.get $buf) (local.get $len))
    (local.get $r))
  (func (export "plugin_handle_event") (param $p i32) (param $n i32) (result i64)
    {body})
  (func (export "plugin_get_manifest") (result i64) (call $copy (i32.const {man}) (i32.const {man_len})))
  (func (export "plugin_initialize") (result i32) (i32.const 0))
  (func (export "plugin_dispose") (result i64) (call $copy (i32.const {bye}) (i32.const {bye_len})))
  {extra})"#,
        data = data.wat,
        pre_len_plus_suf = pre_len + suf_len,
    )
}

const ECHO: &str = "(call $reply (local.get $p) (local.get $n))";

fn runtime(kind: EngineKind, config: WasmRuntimeConfig) -> WasmPluginRuntime {
    WasmPluginRuntime::new(new_runtime(kind, config).expect("engine built in"))
}

fn load(kind: EngineKind, body: &str) -> Result<WasmPlugin, PluginError> {
    let rt = runtime(kind, WasmRuntimeConfig::default());
    rt.load(
        &PluginSource::bytes(plugin_wat(body, "")),
        LoadOptions::new(),
    )
}

fn event() -> PluginEvent {
    PluginEvent::new("document.changed")
        .with_target("plugin.echo-wat")
        .with_field("text", "hello wörld")
        .with_field("count", 3)
}

#[test]
fn a_dart_abi_plugin_round_trips_an_event() {
    for kind in ENGINES {
        let plugin = load(kind, ECHO).expect("loads");
        assert_eq!(plugin.manifest().id, "plugin.echo-wat");
        assert_eq!(plugin.manifest().runtime, PluginRuntimeType::Wasm);
        plugin
            .initialize_sync(&PluginContext::new("plugin.echo-wat"))
            .expect("initializes");
        for _ in 0..3 {
            let response = plugin.handle_event_sync(&event()).expect("handles");
            assert!(response.success, "{kind:?}");
            let echo = response.get("echo").expect("echo");
            assert_eq!(
                echo.get("type").and_then(Value::as_str),
                Some("document.changed")
            );
            let data = echo.get("data").expect("data");
            assert_eq!(
                data.get("text").and_then(Value::as_str),
                Some("hello wörld")
            );
            assert_eq!(data.get("count").and_then(Value::as_i64), Some(3));
        }
        assert_eq!(live_buffers(&plugin), 0, "{kind:?}: every buffer is freed");
        let stats = plugin.stats();
        assert_eq!((stats.events, stats.failures), (3, 0));
        assert!(stats.bytes_in > 0 && stats.bytes_out > stats.bytes_in);
        plugin.dispose_sync().expect("disposes");
        assert_eq!(
            live_buffers(&plugin),
            0,
            "{kind:?}: the dispose buffer is freed"
        );
        assert!(matches!(
            plugin.handle_event_sync(&event()),
            Err(PluginError::Disposed { .. })
        ));
    }
}

#[test]
fn events_go_as_bytes_and_replies_come_back_undecoded() {
    let json = JsonSerializer::new();
    let bytes = json.serialize_event(&event()).unwrap();
    for kind in ENGINES {
        let plugin = load(kind, ECHO).expect("loads");
        assert_eq!(plugin.wire_format(), WireFormat::Json);
        let reply = plugin.handle_event_bytes_sync(&bytes).expect("handles");
        let expected = [&br#"{"success":true,"data":{"echo":"#[..], &bytes, b"}}"].concat();
        assert_eq!(reply, expected, "{kind:?}");
        // The reply the typed path decodes.
        let typed = plugin.handle_event_sync(&event()).expect("handles");
        assert_eq!(json.deserialize_response(&reply).unwrap(), typed);
        // The bytes are the plugin's to read: none is an event too.
        assert_eq!(
            plugin.handle_event_bytes_sync(b"").expect("handles"),
            br#"{"success":true,"data":{"echo":}}"#
        );
        assert_eq!(live_buffers(&plugin), 0, "{kind:?}");
        let stats = plugin.stats();
        assert_eq!((stats.events, stats.failures), (3, 0));
        assert_eq!(stats.bytes_in, 2 * bytes.len() as u64);

        // Failures as on the typed path: typed, counted, every buffer freed.
        let refusing = load(kind, "(call $set_error MESSAGE) (i64.const 0)").expect("loads");
        let err = refusing.handle_event_bytes_sync(&bytes).unwrap_err();
        assert!(
            matches!(err, PluginError::Guest { ref message, .. } if message == "the plugin refuses"),
            "{err}"
        );
        let outside = load(kind, "(i64.const 0x7fff000000000010)").expect("loads");
        let err = outside.handle_event_bytes_sync(&bytes).unwrap_err();
        assert!(matches!(err, PluginError::Protocol { .. }), "{err}");
        for failed in [&refusing, &outside] {
            assert_eq!(live_buffers(failed), 0, "{kind:?}");
            assert_eq!(failed.stats().failures, 1);
        }
        plugin.dispose_sync().expect("disposes");
        assert!(matches!(
            plugin.handle_event_bytes_sync(&bytes),
            Err(PluginError::Disposed { .. })
        ));
    }
}

#[test]
fn undecoded_replies_read_as_the_typed_path_reads_them() {
    let tokio = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let manifest = PluginManifest::new("p", "P", "1", "d", PluginRuntimeType::Wasm);
    for kind in ENGINES {
        let rt = runtime(kind, WasmRuntimeConfig::default());
        let plugin = rt
            .load(
                // `{"success": true}` in MessagePack, which the default
                // (hybrid) serializer reads though the plugin declares no format.
                &PluginSource::bytes(fixed_reply(r"\81\a7success\c3", 10)),
                LoadOptions::new().manifest(manifest.clone()),
            )
            .expect("loads");
        // Spoken to in JSON, answering in MessagePack: the runtime's hybrid
        // serializer reads either, and so does `decode_response`.
        assert_eq!(plugin.wire_format(), WireFormat::Json);
        let typed = plugin.handle_event_sync(&event()).expect("handles");
        let bytes = JsonSerializer::new().serialize_event(&event()).unwrap();
        let reply = tokio
            .block_on(plugin.handle_event_bytes(bytes))
            .expect("handles off the executor");
        assert_eq!(reply[0], 0x81, "MessagePack, undecoded");
        assert_eq!(plugin.decode_response(&reply).expect("reads"), typed);
        assert!(matches!(
            plugin.decode_response(b"nonsense"),
            Err(PluginError::Serialization(_))
        ));
    }
}

/// The `Plugin` trait's async methods drive the plugin's lifecycle, and run the
/// guest off the executor: a guest blocked in a host function leaves it free. On a
/// current-thread runtime, the host function waits for a message that only
/// another task of that runtime sends, which it can send only if the guest runs
/// off the executor's one thread. (The wait is bounded so that a regression
/// fails instead of hanging; a healthy run never comes near the bound.)
#[test]
fn the_async_trait_runs_the_plugin() {
    let tokio = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let executor = std::thread::current().id();
    for kind in ENGINES {
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let rx = std::sync::Mutex::new(rx);
        let seen = Arc::new(std::sync::Mutex::new(None));
        let record = Arc::clone(&seen);
        let mut rt = runtime(kind, WasmRuntimeConfig::default());
        rt.register_host_function(
            "editor.get_text",
            HostFunction::new(move |_, _| {
                let released = rx
                    .lock()
                    .map_err(|_| HostFunctionError::new("poisoned"))?
                    .recv_timeout(Duration::from_secs(30))
                    .is_ok();
                *record.lock().expect("not poisoned") =
                    Some((std::thread::current().id(), released));
                Ok(Value::from_iter([("text".to_owned(), Value::from("x"))]))
            }),
        );
        let source = PluginSource::bytes(plugin_wat("(call $ask_host)", ""));
        let plugin: Arc<dyn Plugin> =
            Arc::new(rt.load(&source, LoadOptions::new()).expect("loads"));
        let other_task_ran = tokio.block_on(async {
            plugin
                .initialize(PluginContext::new("x"))
                .await
                .expect("init");
            let other = tokio::spawn(async move { tx.send(()).is_ok() });
            let response = plugin.handle_event(event()).await.expect("event");
            assert!(response.success, "{kind:?}");
            plugin.dispose().await.expect("dispose");
            assert!(plugin.handle_event(event()).await.is_err());
            other.await.expect("the other task")
        });
        let (thread, released) = seen.lock().expect("not poisoned").expect("host called");
        assert!(other_task_ran, "{kind:?}");
        assert!(
            released,
            "{kind:?}: the other task could not run while the guest did"
        );
        assert_ne!(thread, executor, "{kind:?}: the guest ran on the executor");
    }
}

#[test]
fn a_given_manifest_wins_and_an_id_is_required() {
    for kind in ENGINES {
        let rt = runtime(kind, WasmRuntimeConfig::default());
        let manifest = PluginManifest::new(
            "given.id",
            "Given",
            "2.0.0",
            "from the host",
            PluginRuntimeType::Wasm,
        );
        let plugin = rt
            .load(
                &PluginSource::bytes(plugin_wat(ECHO, "")),
                LoadOptions::new().manifest(manifest),
            )
            .expect("loads");
        assert_eq!(plugin.manifest().id, "given.id");
        let empty = PluginManifest::new(" ", "x", "1", "x", PluginRuntimeType::Wasm);
        let refused = rt.load(
            &PluginSource::bytes(plugin_wat(ECHO, "")),
            LoadOptions::new().manifest(empty),
        );
        assert!(
            matches!(refused, Err(PluginError::InvalidManifest { .. })),
            "{refused:?}"
        );
    }
}

/// The least a Dart-ABI plugin exports (no manifest, no initializer, no
/// format): it answers every event with `reply`, written as WAT string text.
fn fixed_reply(reply: &str, len: usize) -> Vec<u8> {
    format!(
        r#"(module
  (memory (export "memory") 1)
  (data (i32.const 16) "{reply}")
  (global $heap (mut i32) (i32.const 1024))
  (func $alloc (export "alloc") (param $len i32) (result i32) (local $p i32)
    (local.set $p (global.get $heap))
    (global.set $heap (i32.add (local.get $p) (local.get $len)))
    (local.get $p))
  (func (export "dealloc") (param i32 i32))
  (func (export "plugin_handle_event") (param i32 i32) (result i64) (local $out i32)
    (local.set $out (call $alloc (i32.const {len})))
    (memory.copy (local.get $out) (i32.const 16) (i32.const {len}))
    (i64.or (i64.shl (i64.extend_i32_u (local.get $out)) (i64.const 32)) (i64.const {len}))))"#
    )
    .into_bytes()
}

/// `{"success":true}` in JSON.
fn bare() -> Vec<u8> {
    fixed_reply(r#"{\"success\":true}"#, 16)
}

#[test]
fn a_fallback_manifest_serves_plugins_that_export_none() {
    let fallback = PluginManifest::new("fallback.id", "F", "0.0.0", "f", PluginRuntimeType::Wasm);
    for kind in ENGINES {
        let rt = runtime(kind, WasmRuntimeConfig::default());
        let bare = PluginSource::bytes(bare());
        let refused = rt.load(&bare, LoadOptions::new());
        assert!(
            matches!(refused, Err(PluginError::InvalidManifest { ref message }) if message.contains("exports no `plugin_get_manifest`")),
            "{refused:?}"
        );
        let plugin = rt
            .load_and_initialize(
                &bare,
                LoadOptions::new().fallback_manifest(fallback.clone()),
            )
            .expect("loads");
        assert_eq!(plugin.manifest().id, "fallback.id");
        assert!(plugin.handle_event_sync(&event()).expect("handles").success);
        // A plugin's own manifest wins over the fallback.
        let own = rt
            .load(
                &PluginSource::bytes(plugin_wat(ECHO, "")),
                LoadOptions::new().fallback_manifest(fallback.clone()),
            )
            .expect("loads");
        assert_eq!(own.manifest().id, "plugin.echo-wat");
    }
}

#[test]
fn the_digest_is_checked_before_anything_runs() {
    use sha2::Digest;
    let wat = plugin_wat(ECHO, "");
    let digest = hex::encode(sha2::Sha256::digest(wat.as_bytes()));
    for kind in ENGINES {
        let rt = runtime(kind, WasmRuntimeConfig::default());
        rt.load(
            &PluginSource::bytes(wat.clone()).with_sha256(digest.to_uppercase()),
            LoadOptions::new(),
        )
        .expect("the right digest loads");
        let wrong = rt.load(
            &PluginSource::bytes(wat.clone()).with_sha256("00".repeat(32)),
            LoadOptions::new(),
        );
        match wrong {
            Err(PluginError::Integrity { actual, .. }) => assert_eq!(actual, digest),
            other => panic!("{other:?}"),
        }
        let missing = rt.load(
            &PluginSource::file("/no/such/plugin.wasm"),
            LoadOptions::new(),
        );
        assert!(
            matches!(missing, Err(PluginError::Io { .. })),
            "{missing:?}"
        );
    }
}

#[test]
fn another_abi_version_is_refused_before_instantiation() {
    for kind in ENGINES {
        let rt = runtime(kind, WasmRuntimeConfig::default());
        // The start function would trap: it must never run.
        let wat = plugin_wat(
            ECHO,
            r#"(@custom "plugin_abi_version" "2") (func $boom unreachable) (start $boom)"#,
        );
        let err = rt
            .load(&PluginSource::bytes(wat), LoadOptions::new())
            .unwrap_err();
        assert_eq!(err.to_string(), "plugin needs ABI 2, host supports 1");
        let ok = plugin_wat(ECHO, r#"(@custom "plugin_abi_version" "1")"#);
        rt.load(&PluginSource::bytes(ok), LoadOptions::new())
            .expect("ABI 1 loads");
    }
}

#[test]
fn missing_or_mistyped_exports_are_named() {
    let cases = [
        (r#"(module (memory (export "memory") 1))"#, "`alloc`"),
        (
            r#"(module (memory (export "memory") 1)
                (func (export "alloc") (param i32) (result i32) i32.const 0)
                (func (export "dealloc") (param i32))
                (func (export "plugin_handle_event") (param i32 i32) (result i64) i64.const 0))"#,
            "`dealloc`",
        ),
        (
            r#"(module (func (export "alloc") (param i32) (result i32) i32.const 0))"#,
            "memory",
        ),
    ];
    for kind in ENGINES {
        let rt = runtime(kind, WasmRuntimeConfig::default());
        for (wat, named) in cases {
            match rt.load(&PluginSource::bytes(wat), LoadOptions::new()) {
                Err(PluginError::InvalidPlugin { message }) => {
                    assert!(message.contains(named), "{message}");
                }
                other => panic!("{kind:?}: {other:?}"),
            }
        }
        let garbage = rt.load(
            &PluginSource::bytes(&b"\0asm\x01\0\0\0garbage"[..]),
            LoadOptions::new(),
        );
        assert!(matches!(
            garbage,
            Err(PluginError::Wasm(WasmError::InvalidModule { .. }))
        ));
    }
}

/// Runs `body` as the event handler and returns the error, after checking that
/// the host freed the input and the plugin still answers its diagnostic export.
fn misbehaves(
    kind: EngineKind,
    config: WasmRuntimeConfig,
    permissions: Option<PluginPermissions>,
    body: &str,
) -> PluginError {
    let rt = runtime(kind, config);
    let mut options = LoadOptions::new();
    if let Some(p) = permissions {
        options = options.permissions(p);
    }
    let plugin = rt
        .load(&PluginSource::bytes(plugin_wat(body, "")), options)
        .expect("loads");
    let err = plugin
        .handle_event_sync(&event())
        .expect_err("the plugin misbehaves");
    assert_eq!(
        live_buffers(&plugin),
        0,
        "{kind:?} {body}: buffers left after {err}"
    );
    assert_eq!(plugin.stats().failures, 1);
    // The host carries on: a good plugin loads and runs on the same runtime.
    let good = rt
        .load(
            &PluginSource::bytes(plugin_wat(ECHO, "")),
            LoadOptions::new(),
        )
        .expect("loads");
    assert!(good.handle_event_sync(&event()).expect("runs").success);
    err
}

#[test]
fn misbehaving_guests_get_typed_errors() {
    for kind in ENGINES {
        let config = WasmRuntimeConfig::default;
        let err = misbehaves(kind, config(), None, "(i64.const 0x7fff000000000010)");
        assert!(matches!(err, PluginError::Protocol { .. }), "{err}");
        // A reply over the 100 MiB cap (freed by the host, so the count stays 0).
        let err = misbehaves(
            kind,
            config(),
            None,
            "(drop (call $alloc (i32.const 1))) (i64.const 0x0000100006400001)",
        );
        assert!(
            matches!(err, PluginError::Protocol { ref message, .. } if message.contains("over the limit")),
            "{err}"
        );
        let err = misbehaves(kind, config(), None, "unreachable");
        assert!(
            matches!(err, PluginError::Wasm(WasmError::Trap { .. })),
            "{err}"
        );
        let err = misbehaves(
            kind,
            config(),
            None,
            "(call $set_error MESSAGE) (i64.const 0)",
        );
        assert!(
            matches!(err, PluginError::Guest { ref message, .. } if message == "the plugin refuses"),
            "{err}"
        );
        let err = misbehaves(kind, config(), None, "(i64.const -1)");
        assert!(matches!(err, PluginError::Guest { .. }), "{err}");
        let err = misbehaves(kind, config(), None, "(call $copy GARBAGE)");
        assert!(matches!(err, PluginError::Serialization(_)), "{err}");
        let spin = "(loop $l (br $l)) (i64.const 0)";
        let short =
            PluginPermissions::default().with_max_execution_time(Duration::from_millis(100));
        let err = misbehaves(kind, config(), Some(short), spin);
        assert!(
            matches!(err, PluginError::Wasm(WasmError::Timeout { .. })),
            "{err}"
        );
        let err = misbehaves(kind, config().fuel_limit(100_000), None, spin);
        assert!(
            matches!(err, PluginError::Wasm(WasmError::FuelExhausted)),
            "{err}"
        );
    }
}

#[test]
fn a_plugin_memory_stops_at_its_permission() {
    const ONE_MIB: u64 = 1 << 20;
    let small = || PluginPermissions::default().with_max_memory_bytes(ONE_MIB);
    // Grows 4 MiB, and reports a refusal.
    let hog = "(if (i32.eq (memory.grow (i32.const 64)) (i32.const -1)) \
        (then (call $set_error MESSAGE) (return (i64.const 0)))) \
        (call $reply (local.get $p) (local.get $n))";
    // Grows until refused.
    let bomb = "(loop $l (br_if $l (i32.ne (memory.grow (i32.const 1)) (i32.const -1)))) \
        (call $reply (local.get $p) (local.get $n))";
    for kind in ENGINES {
        let err = misbehaves(kind, WasmRuntimeConfig::default(), Some(small()), hog);
        assert!(
            matches!(err, PluginError::Guest { ref message, .. } if message == "the plugin refuses"),
            "{err}"
        );
        // Within the default 50 MiB.
        let roomy = load(kind, hog).expect("loads");
        assert!(roomy.handle_event_sync(&event()).expect("runs").success);
        assert_eq!(roomy.stats().memory_bytes, 65 * 65536);

        let rt = runtime(kind, WasmRuntimeConfig::default());
        let bombed = rt
            .load(
                &PluginSource::bytes(plugin_wat(bomb, "")),
                LoadOptions::new().permissions(small()),
            )
            .expect("loads");
        assert!(bombed.handle_event_sync(&event()).expect("runs").success);
        assert_eq!(bombed.stats().memory_bytes, ONE_MIB);
        assert_eq!(live_buffers(&bombed), 0);

        // A memory that starts above the cap: the plugin does not load.
        let big = plugin_wat(ECHO, "").replace(
            r#"(memory (export "memory") 1)"#,
            r#"(memory (export "memory") 17)"#,
        );
        let err = rt
            .load(
                &PluginSource::bytes(big),
                LoadOptions::new().permissions(small()),
            )
            .map(drop)
            .unwrap_err();
        assert!(
            matches!(err, PluginError::Wasm(WasmError::MemoryLimit { .. })),
            "{err}"
        );
    }
}

#[test]
fn loading_runs_under_the_plugin_deadline() {
    let endless_manifest = plugin_wat(ECHO, "").replace(
        r#"(func (export "plugin_get_manifest") (result i64)"#,
        r#"(func (export "plugin_get_manifest") (result i64) (loop $l (br $l))"#,
    );
    let endless_start = plugin_wat(ECHO, "(func $s (loop $l (br $l))) (start $s)");
    let short = || {
        LoadOptions::new().permissions(
            PluginPermissions::default().with_max_execution_time(Duration::from_millis(100)),
        )
    };
    for kind in ENGINES {
        // No deadline in the engine's configuration: the plugin's applies.
        let rt = runtime(kind, WasmRuntimeConfig::default());
        for wat in [&endless_manifest, &endless_start] {
            let err = rt
                .load(&PluginSource::bytes(wat.clone()), short())
                .map(drop)
                .unwrap_err();
            assert!(
                matches!(err, PluginError::Wasm(WasmError::Timeout { .. })),
                "{kind:?}: {err}"
            );
        }
        // The engine's shorter deadline wins over the plugin's 5 s.
        let strict = runtime(
            kind,
            WasmRuntimeConfig::default().timeout(Duration::from_millis(100)),
        );
        let plugin = strict
            .load(
                &PluginSource::bytes(plugin_wat("(loop $l (br $l)) (i64.const 0)", "")),
                LoadOptions::new(),
            )
            .expect("loads");
        let err = plugin.handle_event_sync(&event()).unwrap_err();
        assert!(
            matches!(err, PluginError::Wasm(WasmError::Timeout { limit }) if limit == Duration::from_millis(100)),
            "{err}"
        );
    }
}

#[test]
fn a_plugin_that_imports_wasi_gets_the_world_its_permissions_allow() {
    // Writes the event to stdout, then echoes it.
    let wasi_plugin = plugin_wat(
        "(i32.store (i32.const 3000) (local.get $p)) (i32.store (i32.const 3004) (local.get $n)) \
         (drop (call $fd_write (i32.const 1) (i32.const 3000) (i32.const 1) (i32.const 3008))) \
         (call $reply (local.get $p) (local.get $n))",
        "",
    )
    .replacen(
        "(module",
        r#"(module (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))"#,
        1,
    );
    let source = PluginSource::bytes(wasi_plugin);
    let dir = std::env::temp_dir();
    let read_only = || WasiConfig::new().preopen(&dir, "/data", DirAccess::ReadOnly);
    let read_write = || WasiConfig::new().preopen(&dir, "/data", DirAccess::ReadWrite);
    let may_read =
        || PluginPermissions::default().with_filesystem_access(FilesystemAccessLevel::ReadOnly);
    for kind in ENGINES {
        let rt = runtime(kind, WasmRuntimeConfig::default().enable_wasi(true));
        let stdout = OutputBuffer::new(4096);
        let options =
            LoadOptions::new().wasi(WasiConfig::new().stdout(WasiOutput::Capture(stdout.clone())));
        let plugin = rt.load(&source, options).expect("loads");
        assert!(plugin.handle_event_sync(&event()).expect("runs").success);
        assert!(
            stdout.to_string_lossy().contains("document.changed"),
            "{kind:?}: the plugin's stdout reaches the host"
        );
        // No world given: the empty one.
        let plugin = rt.load(&source, LoadOptions::new()).expect("loads");
        assert!(plugin.handle_event_sync(&event()).expect("runs").success);

        // Directories within the filesystem permission only.
        let denied = |options: LoadOptions| rt.load(&source, options).map(drop).unwrap_err();
        let err = denied(LoadOptions::new().wasi(read_only()));
        assert!(
            matches!(
                err,
                PluginError::FilesystemDenied {
                    needed: FilesystemAccessLevel::ReadOnly,
                    granted: FilesystemAccessLevel::None,
                    ..
                }
            ),
            "{err}"
        );
        let err = denied(
            LoadOptions::new()
                .permissions(may_read())
                .wasi(read_write()),
        );
        assert!(
            matches!(
                err,
                PluginError::FilesystemDenied {
                    needed: FilesystemAccessLevel::ReadWrite,
                    ..
                }
            ),
            "{err}"
        );
        assert_eq!(err.kind(), "permission denied");
        rt.load(
            &source,
            LoadOptions::new().permissions(may_read()).wasi(read_only()),
        )
        .expect("a read-only directory with read access");

        // The plugin's world is the one switch: an engine whose config
        // leaves WASI off serves it too.
        let plugin = runtime(kind, WasmRuntimeConfig::default())
            .load(&source, LoadOptions::new())
            .expect("a world given is enough");
        assert!(plugin.handle_event_sync(&event()).expect("runs").success);
    }
}

/// A plugin whose every event burns a loop of a million turns before it replies:
/// more than the fuel the bridge tops `dealloc` up with, so that an event cannot
/// run on what cleanup left.
const BURN: &str = "(local $i i32)
    (local.set $i (i32.const 1000000))
    (loop $burn (br_if $burn (local.tee $i (i32.sub (local.get $i) (i32.const 1)))))
    (call $reply (local.get $p) (local.get $n))";

#[test]
fn fuel_is_given_afresh_to_every_call() {
    for kind in ENGINES {
        let load_with = |fuel: u64| {
            runtime(kind, WasmRuntimeConfig::default().fuel_limit(fuel)).load(
                &PluginSource::bytes(plugin_wat(BURN, "")),
                LoadOptions::new(),
            )
        };
        let one_event_runs =
            |fuel: u64| load_with(fuel).is_ok_and(|p| p.handle_event_sync(&event()).is_ok());
        // The least fuel an event needs, found by bisection: each engine counts
        // fuel its own way.
        let (mut lo, mut hi) = (0u64, 1 << 32);
        assert!(one_event_runs(hi), "{kind:?}");
        while hi - lo > hi / 50 {
            let mid = lo + (hi - lo) / 2;
            if one_event_runs(mid) {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        // Enough for one event, far from enough for two: an exchange that did
        // not refill the fuel fails the second.
        let plugin = load_with(hi + hi / 10).expect("loads");
        for n in 0..5 {
            let response = plugin
                .handle_event_sync(&event())
                .unwrap_or_else(|e| panic!("{kind:?}: event {n} has its own budget: {e}"));
            assert!(response.success, "{kind:?}");
        }
    }
}

fn with_host(kind: EngineKind) -> WasmPluginRuntime {
    let mut rt = runtime(kind, WasmRuntimeConfig::default());
    rt.register_host_function(
        "editor.get_text",
        HostFunction::new(|call, _args| {
            Ok(Value::from_iter([(
                "text".to_owned(),
                Value::from(format!("text for {}", call.plugin_id)),
            )]))
        }),
    );
    rt.register_host_function(
        "editor.fail",
        HostFunction::new(|_, _| Err(HostFunctionError::new("no document open"))),
    );
    rt
}

#[test]
fn host_functions_are_offered_within_the_permissions() {
    for kind in ENGINES {
        let rt = with_host(kind);
        let source = PluginSource::bytes(plugin_wat("(call $ask_host)", ""));
        // The manifest asks for editor.get_text: allowed.
        let plugin = rt.load(&source, LoadOptions::new()).expect("loads");
        let response = plugin
            .handle_event_sync(&event())
            .expect("host call answered");
        assert_eq!(
            response
                .get("echo")
                .and_then(|e| e.get("text"))
                .and_then(Value::as_str),
            Some("text for plugin.echo-wat")
        );
        assert_eq!(live_buffers(&plugin), 0);
        assert_eq!(plugin.stats().host_calls, 1);

        // Permissions without it: the guest is refused, the host gets a typed error.
        let denied = rt
            .load(
                &source,
                LoadOptions::new().permissions(PluginPermissions::default()),
            )
            .expect("loads");
        let err = denied.handle_event_sync(&event()).unwrap_err();
        assert!(
            matches!(err, PluginError::PermissionDenied { ref function } if function == "editor.get_text"),
            "{err}"
        );
        assert_eq!(denied.stats().host_calls_denied, 1);
        assert_eq!(live_buffers(&denied), 0);

        // The same checks from the host side.
        assert!(matches!(
            denied.call_host_function("editor.get_text", Value::Null),
            Err(PluginError::PermissionDenied { .. })
        ));
        let open =
            PluginPermissions::default().with_host_functions(["editor.fail", "editor.nothing"]);
        let p = rt
            .load(&source, LoadOptions::new().permissions(open))
            .expect("loads");
        assert!(matches!(
            p.call_host_function("editor.fail", Value::Null),
            Err(PluginError::HostFunction { .. })
        ));
        assert!(matches!(
            p.call_host_function("editor.nothing", Value::Null),
            Err(PluginError::HostFunctionNotFound { .. })
        ));
    }
}

#[test]
fn a_bad_allocator_is_an_abi_violation() {
    for kind in ENGINES {
        let rt = runtime(kind, WasmRuntimeConfig::default());
        for alloc in ["(i32.const 0)", "(i32.const -16)"] {
            let wat = plugin_wat(ECHO, "").replace(
                "(func $alloc (export \"alloc\") (param $len i32) (result i32) (local $p i32)",
                &format!("(func (export \"alloc\") (param i32) (result i32) {alloc}) (func $alloc (param $len i32) (result i32) (local $p i32)"),
            );
            let plugin = rt
                .load(&PluginSource::bytes(wat), LoadOptions::new())
                .expect("loads");
            let err = plugin.handle_event_sync(&event()).unwrap_err();
            assert!(
                matches!(err, PluginError::Protocol { .. }),
                "{kind:?} {alloc}: {err}"
            );
        }
    }
}

#[test]
fn exports_other_than_the_abi_still_answer() {
    for kind in ENGINES {
        let plugin = load(kind, ECHO).unwrap();
        assert_eq!(
            plugin.call_export("plugin_live_buffers", &[]).unwrap(),
            [WasmValue::I32(0)]
        );
    }
}

/// The manifest of the echo plugin as its host would read it from plugin.toml.
fn declared() -> PluginManifest {
    let mut m = PluginManifest::new(
        "plugin.echo-wat",
        "Echo",
        "1.0.0",
        "from plugin.toml",
        PluginRuntimeType::Wasm,
    );
    m.subscribes_to = vec!["document.changed".into()];
    m
}

#[test]
fn the_plugin_runtime_seam_loads_what_the_host_granted() {
    use plugin_system_core::{HostFunctions, PluginLoadOptions, PluginRuntime};
    let tokio = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    for kind in ENGINES {
        let wasm = runtime(kind, WasmRuntimeConfig::default());
        let rt: &dyn PluginRuntime = &wasm;
        assert_eq!(rt.runtime_type(), PluginRuntimeType::Wasm);
        assert!(rt.is_compatible(&declared()));
        let mut native = declared();
        native.runtime = PluginRuntimeType::Native;
        assert!(!rt.is_compatible(&native));

        // The host's manifest is the plugin's; its host functions are offered.
        let mut functions = HostFunctions::new();
        functions.register(
            "editor.get_text",
            HostFunction::new(|call, _| {
                Ok(Value::from_iter([(
                    "text".to_owned(),
                    Value::from(format!("granted to {}", call.plugin_id)),
                )]))
            }),
        );
        let granted = PluginPermissions::default().with_host_functions(["editor.get_text"]);
        let options = PluginLoadOptions::new()
            .manifest(declared())
            .permissions(granted)
            .host_functions(functions);
        let source = PluginSource::bytes(plugin_wat("(call $ask_host)", ""));
        let plugin = rt.load(&source, &options).expect("loads");
        assert_eq!(plugin.manifest().description, "from plugin.toml");
        let response = tokio
            .block_on(plugin.handle_event(event()))
            .expect("answered");
        assert_eq!(
            response
                .get("echo")
                .and_then(|e| e.get("text"))
                .and_then(Value::as_str),
            Some("granted to plugin.echo-wat"),
            "{kind:?}"
        );

        // Without the grant, the same plugin is denied the function.
        let denied = rt
            .load(
                &source,
                &options.clone().permissions(PluginPermissions::default()),
            )
            .expect("loads");
        let err = tokio.block_on(denied.handle_event(event())).unwrap_err();
        assert!(
            matches!(err, PluginError::PermissionDenied { .. }),
            "{kind:?}: {err}"
        );

        // The plugin's own manifest must agree with plugin.toml.
        let mut other = declared();
        other.version = "2.0.0".into();
        let refused = rt.load(&source, &PluginLoadOptions::new().manifest(other));
        assert!(
            matches!(&refused, Err(PluginError::InvalidManifest { message }) if message.contains("version `1.0.0`")),
            "{kind:?}: {:?}",
            refused.err()
        );
        // A plugin without one takes plugin.toml's.
        let bare = rt
            .load(
                &PluginSource::bytes(bare()),
                &PluginLoadOptions::new().manifest(declared()),
            )
            .expect("loads");
        assert_eq!(bare.manifest().id, "plugin.echo-wat");

        // Fuel that the engine cannot meter is refused, not ignored.
        let unmetered = rt.load(&source, &PluginLoadOptions::new().fuel(1_000_000));
        assert!(
            matches!(
                unmetered,
                Err(PluginError::Wasm(WasmError::Unsupported { .. }))
            ),
            "{kind:?}"
        );
        // On a metering engine the plugin's own budget applies to each call.
        let metered = runtime(kind, WasmRuntimeConfig::default().fuel_limit(u64::MAX / 4));
        let burner = PluginSource::bytes(plugin_wat(BURN, ""));
        let starved = PluginRuntime::load(&metered, &burner, &PluginLoadOptions::new().fuel(1_000))
            .expect("loads with its manifest");
        let err = tokio.block_on(starved.handle_event(event())).unwrap_err();
        assert!(
            matches!(err, PluginError::Wasm(WasmError::FuelExhausted)),
            "{kind:?}: {err}"
        );
    }
}
