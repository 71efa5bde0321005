//! `plugin-system event`: the example plugins built from source in `guests/`, and
//! a plugin written by hand to the Dart original's ABI, on every engine.

use std::path::PathBuf;

use crate::{engines, fixture, run, run::guest, run_with_stdin};

fn plugin(name: &str) -> PathBuf {
    guest(&format!("wasm32-unknown-unknown/release/{name}.wasm"))
}

fn event(engine: &str, file: &std::path::Path, args: &[&str]) -> crate::Run {
    let mut all = vec![
        "event",
        "--engine",
        engine,
        file.to_str().expect("utf-8 path"),
    ];
    all.extend_from_slice(args);
    run(&all)
}

fn json(run: &crate::Run) -> serde_json::Value {
    assert_eq!(run.code, 0, "{run:#?}");
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {run:#?}"))
}

#[test]
fn file_icons_answers_get_icon() {
    for engine in engines() {
        let out = json(&event(
            engine,
            &plugin("file_icons"),
            &["--type", "get_icon", "--data", r#"{"extension":".RS"}"#],
        ));
        assert_eq!(out["success"], true);
        assert_eq!(out["data"]["icon"], "devicon-rust-plain");
        let msgpack = json(&event(
            engine,
            &plugin("file_icons"),
            &[
                "--type",
                "get_icon",
                "--data",
                r#"{"extension":"dart"}"#,
                "--format",
                "msgpack",
            ],
        ));
        assert_eq!(
            msgpack["success"], true,
            "a plugin that declares JSON is spoken to in JSON"
        );
    }
}

#[test]
fn word_count_counts_the_text_of_the_event() {
    for engine in engines() {
        let out = json(&event(
            engine,
            &plugin("word_count"),
            &[
                "--type",
                "document.changed",
                "--data",
                r#"{"text":"one two\nthree"}"#,
            ],
        ));
        assert_eq!(out["data"]["words"], 3);
        assert_eq!(out["data"]["lines"], 2);
        // Without text it asks the host, which here has no such function.
        event(
            engine,
            &plugin("word_count"),
            &["--type", "document.changed"],
        )
        .fails(1, "error: plugin failed in plugin_handle_event: ");
    }
}

/// A plugin written to the Dart original's ABI by hand: no SDK, no custom
/// sections, `plugin_initialize() -> i32`, a JSON reply built from the input.
pub(crate) const DART_ABI: &str = r#"(module
  (memory (export "memory") 1)
  (global $heap (mut i32) (i32.const 1024))
  (data (i32.const 16) "{\"success\":true,\"data\":{\"echo\":")
  (data (i32.const 64) "}}")
  (data (i32.const 80) "{\"id\":\"dart.echo\",\"name\":\"Echo\",\"version\":\"1.0.0\",\"description\":\"d\",\"runtime\":\"wasm\"}")
  (func $alloc (export "alloc") (param $n i32) (result i32) (local $p i32)
    (local.set $p (global.get $heap))
    (global.set $heap (i32.add (local.get $p) (local.get $n)))
    (local.get $p))
  (func (export "dealloc") (param i32 i32))
  (func (export "plugin_initialize") (result i32) (i32.const 0))
  (func (export "plugin_get_manifest") (result i64) (i64.const 0x0000005000000055))
  (func (export "plugin_handle_event") (param $p i32) (param $n i32) (result i64) (local $o i32)
    (local.set $o (call $alloc (i32.add (local.get $n) (i32.const 33))))
    (memory.copy (local.get $o) (i32.const 16) (i32.const 31))
    (memory.copy (i32.add (local.get $o) (i32.const 31)) (local.get $p) (local.get $n))
    (memory.copy (i32.add (local.get $o) (i32.add (local.get $n) (i32.const 31))) (i32.const 64) (i32.const 2))
    (i64.or (i64.shl (i64.extend_i32_u (local.get $o)) (i64.const 32))
            (i64.extend_i32_u (i32.add (local.get $n) (i32.const 33))))))"#;

#[test]
fn a_dart_abi_plugin_runs_unchanged() {
    let file = fixture("dart_abi.wat", DART_ABI);
    for engine in engines() {
        let out = json(&event(
            engine,
            &file,
            &["--type", "file.opened", "--data", r#"{"path":"/a/b.dart"}"#],
        ));
        assert_eq!(out["success"], true);
        assert_eq!(out["data"]["echo"]["type"], "file.opened");
        // The same plugin answers several events.
        let run = event(engine, &file, &["--type", "a", "--repeat", "2"]);
        assert_eq!(run.code, 0, "{run:#?}");
        assert_eq!(documents(&run.stdout).len(), 2);
        assert_eq!(out["data"]["echo"]["data"]["path"], "/a/b.dart");
        assert!(out["data"]["echo"]["timestamp"].is_string());
    }
}

#[test]
fn bad_input_and_bad_plugins_are_one_error_line() {
    let not_a_plugin = fixture("not_a_plugin.wat", r#"(module (func (export "f")))"#);
    let endless = fixture(
        "endless.wat",
        DART_ABI.replace(
            "(func (export \"plugin_handle_event\") (param $p i32) (param $n i32) (result i64) (local $o i32)",
            "(func (export \"plugin_handle_event\") (param $p i32) (param $n i32) (result i64) (local $o i32) (loop $l (br $l))",
        ),
    );
    for engine in engines() {
        event(engine, &not_a_plugin, &["--type", "x"]).fails(2, "error: invalid plugin: ");
        event(engine, &plugin("echo"), &["--type", "x", "--data", "[1]"])
            .fails(2, "error: bad arguments: --data must be a JSON object");
        event(engine, &plugin("echo"), &["--type", "x", "--data", "{"])
            .fails(2, "error: bad arguments: ");
        event(
            engine,
            &plugin("echo"),
            &["--type", "x", "--sha256", "abcd"],
        )
        .fails(2, "error: integrity check failed");
        event(engine, &endless, &["--type", "x", "--timeout-ms", "100"]).fails(1, "error: timeout");
        event(engine, &endless, &["--type", "x", "--timeout-ms", "100"]).fails(
            1,
            "error: timeout: the call ran longer than 100ms (in plugin_handle_event)",
        );
        event(engine, &endless, &["--type", "x", "--fuel", "100000"])
            .fails(1, "error: fuel exhausted");
    }
}

/// `DART_ABI` without `plugin_get_manifest`, which the ABI makes optional.
fn without_manifest() -> String {
    DART_ABI.replace(
        "(func (export \"plugin_get_manifest\") (result i64) (i64.const 0x0000005000000055))",
        "",
    )
}

#[test]
fn a_plugin_without_a_manifest_runs_and_one_can_be_given() {
    let file = fixture("no_manifest.wat", without_manifest());
    let bad_manifest = fixture(
        "empty_id.json",
        r#"{"id":" ","name":"x","version":"1","description":"d","runtime":"wasm"}"#,
    );
    for engine in engines() {
        let out = json(&event(
            engine,
            &file,
            &["--type", "x", "--data", r#"{"k":1}"#],
        ));
        assert_eq!(out["data"]["echo"]["data"]["k"], 1);
        // A manifest given on the command line is the plugin's.
        let manifest = bad_manifest.to_str().expect("utf-8 path");
        event(engine, &file, &["--type", "x", "--manifest", manifest])
            .fails(2, "error: invalid manifest: the manifest's `id` is empty");
        event(
            engine,
            &file,
            &["--type", "x", "--manifest", "/no/such/manifest.json"],
        )
        .fails(
            2,
            "error: bad arguments: cannot read --manifest /no/such/manifest.json: ",
        );
    }
}

#[test]
fn data_comes_from_a_file_or_stdin() {
    // The SDK echo answers with the event's data.
    let file = plugin("echo");
    let path = file.to_str().expect("utf-8 path");
    // A megabyte: more than one command-line argument may hold.
    let big = format!(r#"{{"text":"{}"}}"#, "x".repeat(1 << 20));
    let data = fixture("big_data.json", &big);
    let at_data = format!("@{}", data.to_str().expect("utf-8 path"));
    for engine in engines() {
        let out = json(&event(engine, &file, &["--type", "x", "--data", &at_data]));
        assert_eq!(out["data"]["text"].as_str().map(str::len), Some(1 << 20));
        let piped = run_with_stdin(
            &[
                "event", "--engine", engine, path, "--type", "x", "--data", "-",
            ],
            Some(br#"{"from":"stdin"}"#),
        );
        assert_eq!(json(&piped)["data"]["from"], "stdin");
        event(
            engine,
            &file,
            &["--type", "x", "--data", "@/no/such/data.json"],
        )
        .fails(
            2,
            "error: bad arguments: cannot read --data @/no/such/data.json: ",
        );
    }
}

#[test]
fn a_failing_dispose_does_not_hide_the_response() {
    let traps_on_dispose = fixture(
        "traps_on_dispose.wat",
        DART_ABI.replace(
            "(func (export \"plugin_initialize\") (result i32) (i32.const 0))",
            "(func (export \"plugin_initialize\") (result i32) (i32.const 0))
  (func (export \"plugin_dispose\") unreachable)",
        ),
    );
    let traps_on_init = fixture(
        "traps_on_init.wat",
        DART_ABI.replace(
            "(func (export \"plugin_initialize\") (result i32) (i32.const 0))",
            "(func (export \"plugin_initialize\") (result i32) unreachable)
  (func (export \"plugin_dispose\") unreachable)",
        ),
    );
    for engine in engines() {
        let run = event(engine, &traps_on_dispose, &["--type", "x"]);
        assert_eq!(run.code, 1, "{run:#?}");
        let response: serde_json::Value = serde_json::from_str(&run.stdout).expect("the response");
        assert_eq!(response["success"], true);
        assert_eq!(run.stderr, "error: trap: unreachable (in plugin_dispose)\n");
        // Both failures are told, in order; the first sets the exit code.
        let run = event(engine, &traps_on_init, &["--type", "x"]);
        assert_eq!(run.code, 1, "{run:#?}");
        assert_eq!(run.stdout, "");
        assert_eq!(
            run.stderr,
            "error: trap: unreachable (in plugin_initialize)\nerror: trap: unreachable (in plugin_dispose)\n"
        );
    }
}

#[test]
fn log_shows_the_plugin_log_lines() {
    for engine in engines() {
        let args = ["--type", "document.changed", "--data", r#"{"text":"a b"}"#];
        let quiet = event(engine, &plugin("word_count"), &args);
        assert_eq!(json(&quiet)["data"]["words"], 2);
        assert_eq!(quiet.stderr, "", "no log lines unless asked");
        let logged = event(
            engine,
            &plugin("word_count"),
            &[&args[..], &["--log", "debug"]].concat(),
        );
        assert_eq!(json(&logged)["data"]["words"], 2);
        assert!(
            logged.stderr.contains("DEBUG")
                && logged.stderr.contains("2 words")
                && logged.stderr.contains("plugin.word-count"),
            "{logged:#?}"
        );
        // The plugin logs at debug: not shown from info on.
        let above = event(
            engine,
            &plugin("word_count"),
            &[&args[..], &["--log", "info"]].concat(),
        );
        assert_eq!(above.stderr, "", "{above:#?}");
    }
}

/// `text` as the inside of a WAT string.
fn wat_string(text: &str) -> String {
    text.replace('\\', "\\\\").replace('"', "\\\"")
}

/// A plugin with state, written by hand: `plugin_initialize(ptr, len)` keeps
/// the context it is given, and each event answers
/// `{"success":true,"data":{"n":N,"context":CONTEXT,"event":EVENT}}`, N the
/// events it handled so far (1 to 9), CONTEXT and EVENT the JSON it was sent.
/// No manifest: it is named after its file.
fn counter() -> String {
    let head = r#"{"success":true,"data":{"n":"#;
    let context = r#","context":"#;
    let event = r#","event":"#;
    let tail = "}}";
    format!(
        r#"(module
  (memory (export "memory") 2)
  (global $heap (mut i32) (i32.const 1024))
  (global $ctx (mut i32) (i32.const 0))
  (global $ctx_len (mut i32) (i32.const 0))
  (global $count (mut i32) (i32.const 0))
  (data (i32.const 16) "{head}")
  (data (i32.const 64) "{context}")
  (data (i32.const 96) "{event}")
  (data (i32.const 128) "{tail}")
  (func $alloc (export "alloc") (param $n i32) (result i32) (local $p i32)
    (local.set $p (global.get $heap))
    (global.set $heap (i32.add (local.get $p) (local.get $n)))
    (local.get $p))
  (func (export "dealloc") (param i32 i32))
  (func (export "plugin_initialize") (param $p i32) (param $n i32) (result i32)
    (global.set $ctx (call $alloc (local.get $n)))
    (memory.copy (global.get $ctx) (local.get $p) (local.get $n))
    (global.set $ctx_len (local.get $n))
    (i32.const 0))
  (func $put (param $at i32) (param $from i32) (param $n i32) (result i32)
    (memory.copy (local.get $at) (local.get $from) (local.get $n))
    (i32.add (local.get $at) (local.get $n)))
  (func (export "plugin_handle_event") (param $p i32) (param $n i32) (result i64) (local $o i32) (local $at i32)
    (global.set $count (i32.add (global.get $count) (i32.const 1)))
    ;; TRAP
    (local.set $o (call $alloc (i32.add (i32.add (local.get $n) (global.get $ctx_len)) (i32.const 64))))
    (local.set $at (call $put (local.get $o) (i32.const 16) (i32.const {head_len})))
    (i32.store8 (local.get $at) (i32.add (i32.const 48) (global.get $count)))
    (local.set $at (i32.add (local.get $at) (i32.const 1)))
    (local.set $at (call $put (local.get $at) (i32.const 64) (i32.const {context_len})))
    (local.set $at (call $put (local.get $at) (global.get $ctx) (global.get $ctx_len)))
    (local.set $at (call $put (local.get $at) (i32.const 96) (i32.const {event_len})))
    (local.set $at (call $put (local.get $at) (local.get $p) (local.get $n)))
    (local.set $at (call $put (local.get $at) (i32.const 128) (i32.const {tail_len})))
    (i64.or (i64.shl (i64.extend_i32_u (local.get $o)) (i64.const 32))
            (i64.extend_i32_u (i32.sub (local.get $at) (local.get $o))))))"#,
        head = wat_string(head),
        context = wat_string(context),
        event = wat_string(event),
        tail = wat_string(tail),
        head_len = head.len(),
        context_len = context.len(),
        event_len = event.len(),
        tail_len = tail.len(),
    )
}

/// Every JSON document of `text`, in order.
fn documents(text: &str) -> Vec<serde_json::Value> {
    serde_json::Deserializer::from_str(text)
        .into_iter::<serde_json::Value>()
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| panic!("not JSON documents ({e}):\n{text}"))
}

/// The `n` and the event data of each answer of the counter plugin.
fn counted(run: &crate::Run) -> Vec<(u64, serde_json::Value)> {
    assert_eq!(run.code, 0, "{run:#?}");
    documents(&run.stdout)
        .into_iter()
        .map(|doc| {
            (
                doc["data"]["n"].as_u64().expect("a count"),
                doc["data"]["event"]["data"].clone(),
            )
        })
        .collect()
}

#[test]
fn config_reaches_plugin_initialize() {
    let file = fixture("counter_config.wat", counter());
    let config_file = fixture(
        "config.json",
        r#"{"a": 1, "b": "from the file", "nested": {"k": [true, null]}}"#,
    );
    let config_path = config_file.to_str().expect("utf-8 path");
    for engine in engines() {
        let plain = json(&event(engine, &file, &["--type", "x"]));
        assert_eq!(plain["data"]["context"]["pluginId"], "counter_config");
        assert_eq!(plain["data"]["context"]["config"], serde_json::json!({}));

        let configured = json(&event(
            engine,
            &file,
            &[
                "--type",
                "x",
                "--config-file",
                config_path,
                "--config",
                "b=from the flag",
                "--config",
                "n=5",
                "--config",
                "s=hello",
                "--config",
                r#"q="5""#,
                "--config",
                r#"o={"k":[1,"two"]}"#,
                "--config",
                "empty=",
                "--config",
                "eq=a=b",
            ],
        ));
        assert_eq!(
            configured["data"]["context"]["config"],
            serde_json::json!({
                "a": 1,
                "b": "from the flag",
                "nested": {"k": [true, null]},
                "n": 5,
                "s": "hello",
                "q": "5",
                "o": {"k": [1, "two"]},
                "empty": "",
                "eq": "a=b",
            })
        );
    }
}

#[test]
fn bad_config_and_host_functions_are_usage_errors() {
    let file = fixture("counter_bad_config.wat", counter());
    let list = fixture("config_list.json", "[1, 2]");
    let broken = fixture("config_broken.json", "{");
    let list_path = list.to_str().expect("utf-8 path");
    let broken_path = broken.to_str().expect("utf-8 path");
    for engine in engines() {
        let refused = |args: &[&str], message: &str| {
            let run = event(engine, &file, &[&["--type", "x"], args].concat());
            run.fails(2, message);
            assert_eq!(run.stderr, format!("{message}\n"), "{run:#?}");
        };
        refused(
            &["--config", "novalue"],
            "error: bad arguments: --config `novalue` is not KEY=VALUE",
        );
        refused(
            &["--config", "=1"],
            "error: bad arguments: --config `=1` is not KEY=VALUE",
        );
        refused(
            &["--config-file", list_path],
            &format!("error: bad arguments: --config-file {list_path} must hold a JSON object"),
        );
        refused(
            &["--host-fn", "f"],
            "error: bad arguments: --host-fn `f` is not NAME=JSON",
        );
        refused(
            &["--host-fn", "f=1", "--host-fn", "f=2"],
            "error: bad arguments: --host-fn f is given more than once",
        );
        event(
            engine,
            &file,
            &["--type", "x", "--config-file", broken_path],
        )
        .fails(
            2,
            &format!("error: bad arguments: --config-file {broken_path} is not JSON: "),
        );
        event(
            engine,
            &file,
            &["--type", "x", "--config-file", "/no/such/config.json"],
        )
        .fails(
            2,
            "error: bad arguments: cannot read --config-file /no/such/config.json: ",
        );
        event(engine, &file, &["--type", "x", "--host-fn", "f=not json"]).fails(
            2,
            "error: bad arguments: --host-fn f: the value is not JSON: ",
        );
        event(engine, &file, &["--type", "x", "--repeat", "0"]).code_is(2);
        event(engine, &file, &["--type", "x", "--repeat", "lots"]).code_is(2);
        // Refused before stdin is read.
        event(
            engine,
            &file,
            &["--type", "x", "--data", "-", "--data", "-"],
        )
        .fails(
            2,
            "error: bad arguments: --data - is given more than once; stdin is read once",
        );
    }
}

#[test]
fn host_functions_answer_their_value() {
    for engine in engines() {
        // word_count requires `editor.get_text` in its manifest.
        let text = json(&event(
            engine,
            &plugin("word_count"),
            &[
                "--type",
                "document.changed",
                "--host-fn",
                r#"editor.get_text="one two three""#,
            ],
        ));
        assert_eq!(text["data"]["words"], 3);
        let map = json(&event(
            engine,
            &plugin("word_count"),
            &[
                "--type",
                "count_words",
                "--host-fn",
                r#"editor.get_text={"text":"a\nb"}"#,
            ],
        ));
        assert_eq!(
            (&map["data"]["words"], &map["data"]["lines"]),
            (&2.into(), &2.into())
        );
        // Another function given: the one it calls is still not there.
        let missing = event(
            engine,
            &plugin("word_count"),
            &["--type", "document.changed", "--host-fn", "editor.other=1"],
        );
        missing.fails(1, "error: plugin failed in plugin_handle_event: ");
        assert!(
            missing
                .stderr
                .contains("no host function named `editor.get_text`"),
            "{missing:#?}"
        );
        // In MessagePack both ways.
        let asked = json(&event(
            engine,
            &plugin("echo_msgpack"),
            &[
                "--type",
                "ask_host",
                "--host-fn",
                r#"echo.host={"answer":[42,"x",null]}"#,
            ],
        ));
        assert_eq!(
            asked["data"]["result"],
            serde_json::json!({"answer": [42, "x", null]})
        );
    }
}

/// A plugin without a manifest that calls the host function `wat.answer`
/// with `{}` on each event and answers `{"success":true,"data":{"result":R}}`,
/// R what the host returned; a failed call is its failure, with the host's
/// message.
const CALLS_THE_HOST: &str = r#"(module
  (import "plugin_system" "host_call" (func $host_call (param i32 i32 i32 i32) (result i32)))
  (import "plugin_system" "host_result_len" (func $result_len (result i32)))
  (import "plugin_system" "host_result" (func $result (param i32)))
  (import "plugin_system" "set_error" (func $set_error (param i32 i32)))
  (memory (export "memory") 1)
  (global $heap (mut i32) (i32.const 1024))
  (data (i32.const 16) "wat.answer")
  (data (i32.const 32) "{}")
  (data (i32.const 48) "{\"success\":true,\"data\":{\"result\":")
  (data (i32.const 96) "}}")
  (func $alloc (export "alloc") (param $n i32) (result i32) (local $p i32)
    (local.set $p (global.get $heap))
    (global.set $heap (i32.add (local.get $p) (local.get $n)))
    (local.get $p))
  (func (export "dealloc") (param i32 i32))
  (func (export "plugin_handle_event") (param $p i32) (param $n i32) (result i64)
    (local $status i32) (local $len i32) (local $o i32)
    (local.set $status (call $host_call (i32.const 16) (i32.const 10) (i32.const 32) (i32.const 2)))
    (local.set $len (call $result_len))
    (local.set $o (call $alloc (i32.add (local.get $len) (i32.const 35))))
    (if (local.get $status)
      (then
        (call $result (local.get $o))
        (call $set_error (local.get $o) (local.get $len))
        (return (i64.const 0))))
    (memory.copy (local.get $o) (i32.const 48) (i32.const 33))
    (call $result (i32.add (local.get $o) (i32.const 33)))
    (memory.copy (i32.add (local.get $o) (i32.add (local.get $len) (i32.const 33))) (i32.const 96) (i32.const 2))
    (i64.or (i64.shl (i64.extend_i32_u (local.get $o)) (i64.const 32))
            (i64.extend_i32_u (i32.add (local.get $len) (i32.const 35))))))"#;

#[test]
fn host_functions_are_granted_to_a_plugin_without_a_manifest() {
    let file = fixture("calls_the_host.wat", CALLS_THE_HOST);
    let manifest = fixture(
        "asks_other.json",
        r#"{"id":"asks","name":"x","version":"1","description":"d","runtime":"wasm","requiredHostFunctions":["wat.other"]}"#,
    );
    let manifest = manifest.to_str().expect("utf-8 path");
    for engine in engines() {
        let out = json(&event(
            engine,
            &file,
            &["--type", "x", "--host-fn", r#"wat.answer={"x":[1,2.5]}"#],
        ));
        assert_eq!(out["data"]["result"], serde_json::json!({"x": [1, 2.5]}));
        // Besides those of a given manifest.
        let out = json(&event(
            engine,
            &file,
            &[
                "--type",
                "x",
                "--manifest",
                manifest,
                "--host-fn",
                "wat.answer=7",
            ],
        ));
        assert_eq!(out["data"]["result"], 7);
        // Not given: not granted either, as before.
        event(engine, &file, &["--type", "x"]).fails(
            1,
            "error: permission denied: host function `wat.answer` is not allowed for this plugin",
        );
        event(engine, &file, &["--type", "x", "--host-fn", "wat.other=1"])
            .fails(1, "error: permission denied: host function `wat.answer`");
    }
}

#[test]
fn several_events_reach_one_instance_in_order() {
    let file = fixture("counter_events.wat", counter());
    for engine in engines() {
        let repeated = event(engine, &file, &["--type", "x", "--repeat", "3"]);
        let empty = serde_json::json!({});
        assert_eq!(
            counted(&repeated),
            [(1, empty.clone()), (2, empty.clone()), (3, empty)]
        );

        let several = event(
            engine,
            &file,
            &[
                "--type",
                "x",
                "--data",
                r#"{"a":1}"#,
                "--data",
                r#"{"b":2}"#,
            ],
        );
        let (a, b) = (serde_json::json!({"a": 1}), serde_json::json!({"b": 2}));
        assert_eq!(counted(&several), [(1, a.clone()), (2, b.clone())]);

        // Each data N times in a row.
        let both = event(
            engine,
            &file,
            &[
                "--type",
                "x",
                "--data",
                r#"{"a":1}"#,
                "--repeat",
                "2",
                "--data",
                r#"{"b":2}"#,
            ],
        );
        assert_eq!(
            counted(&both),
            [(1, a.clone()), (2, a.clone()), (3, b.clone()), (4, b)]
        );
        // Each answer is a pretty-printed document of its own.
        assert_eq!(both.stdout.matches("\n}\n").count(), 4, "{both:#?}");

        // From a file and stdin too, in the order given.
        let data = fixture("event_c.json", r#"{"c":3}"#);
        let at_data = format!("@{}", data.to_str().expect("utf-8 path"));
        let path = file.to_str().expect("utf-8 path");
        let mixed = run_with_stdin(
            &[
                "event",
                "--engine",
                engine,
                path,
                "--type",
                "x",
                "--data",
                &at_data,
                "--data",
                "-",
                "--data",
                r#"{"a":1}"#,
            ],
            Some(br#"{"d":4}"#),
        );
        assert_eq!(
            counted(&mixed),
            [
                (1, serde_json::json!({"c": 3})),
                (2, serde_json::json!({"d": 4})),
                (3, a)
            ]
        );
    }
}

#[test]
fn the_answers_before_a_failure_are_printed() {
    let file = fixture(
        "counter_traps.wat",
        counter().replace(
            ";; TRAP",
            "(if (i32.eq (global.get $count) (i32.const 3)) (then unreachable))",
        ),
    );
    for engine in engines() {
        let run = event(engine, &file, &["--type", "x", "--repeat", "5"]);
        assert_eq!(run.code, 1, "{run:#?}");
        let counts: Vec<_> = documents(&run.stdout)
            .iter()
            .map(|doc| doc["data"]["n"].clone())
            .collect();
        assert_eq!(counts, [1, 2]);
        assert_eq!(
            run.stderr,
            "error: trap: unreachable (in plugin_handle_event)\n"
        );
        // A bad --data among several: nothing is sent.
        event(
            engine,
            &file,
            &["--type", "x", "--data", "{}", "--data", "[]"],
        )
        .fails(2, "error: bad arguments: --data must be a JSON object");
    }
}

#[test]
fn null_fields_are_left_out_unless_full() {
    let file = fixture("dart_abi_nulls.wat", DART_ABI);
    let failing = fixture(
        "dart_abi_unsuccessful.wat",
        // As long as before: `false` for `true`, `ech` for `echo`.
        DART_ABI.replace(r#"true,\"data\":{\"echo\":"#, r#"false,\"data\":{\"ech\":"#),
    );
    for engine in engines() {
        let short = event(engine, &file, &["--type", "x"]);
        assert_eq!(short.code, 0, "{short:#?}");
        let out = json(&short);
        let keys: Vec<&str> = out
            .as_object()
            .expect("an object")
            .keys()
            .map(String::as_str)
            .collect();
        let mut sorted = keys.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, ["data", "success"], "{short:#?}");
        assert!(
            short
                .stdout
                .starts_with("{\n  \"success\": true,\n  \"data\": {"),
            "{short:#?}"
        );
        // Nulls inside the data are the plugin's: kept.
        let nested = json(&event(
            engine,
            &file,
            &["--type", "x", "--data", r#"{"k":null}"#],
        ));
        assert!(nested["data"]["echo"]["data"]["k"].is_null());
        assert!(
            nested["data"]["echo"]["data"]
                .as_object()
                .expect("map")
                .contains_key("k")
        );

        let full = event(engine, &file, &["--type", "x", "--full"]);
        let out = json(&full);
        let fields = out.as_object().expect("an object");
        for key in [
            "success",
            "data",
            "message",
            "error",
            "stackTrace",
            "timestamp",
            "durationMs",
            "metadata",
        ] {
            assert!(fields.contains_key(key), "{key} missing: {full:#?}");
        }
        assert!(out["message"].is_null());

        // An answer with `success: false` is an answer: exit 0.
        let unsuccessful = event(engine, &failing, &["--type", "x"]);
        assert_eq!(json(&unsuccessful)["success"], false);
        assert_eq!(unsuccessful.stderr, "");
    }
}

/// The blocks `--wire` writes on stderr: each header line and the lines
/// indented under it.
fn wire_blocks(stderr: &str) -> Vec<(String, Vec<String>)> {
    let mut blocks: Vec<(String, Vec<String>)> = Vec::new();
    for line in stderr.lines() {
        if let Some(header) = line.strip_prefix("wire: ") {
            blocks.push((header.to_owned(), Vec::new()));
        } else if let Some(body) = line.strip_prefix("  ") {
            let (_, lines) = blocks.last_mut().expect("a header first");
            lines.push(body.to_owned());
        } else {
            panic!("unexpected line {line:?} in\n{stderr}");
        }
    }
    blocks
}

/// The bytes of a hex dump's lines: `00000010  8a 0b ...  |..|`.
fn undump(lines: &[String]) -> Vec<u8> {
    let mut bytes = Vec::new();
    for (at, line) in lines.iter().enumerate() {
        let (offset, rest) = line.split_once("  ").expect("offset, then bytes");
        assert_eq!(usize::from_str_radix(offset, 16), Ok(at * 16), "{line}");
        let (hex, _ascii) = rest.split_once("  |").expect("then the ASCII column");
        for pair in hex.split_whitespace() {
            bytes.push(u8::from_str_radix(pair, 16).expect("hex byte"));
        }
    }
    bytes
}

#[test]
fn wire_shows_the_bytes_on_stderr() {
    for engine in engines() {
        let args = ["--type", "x", "--data", r#"{"k":"v"}"#];
        let quiet = event(engine, &plugin("echo"), &args);
        let shown = event(
            engine,
            &plugin("echo"),
            &[&args[..], &["--wire", "--repeat", "2"]].concat(),
        );
        assert_eq!(shown.code, 0, "{shown:#?}");
        assert_eq!(
            shown.stdout,
            quiet.stdout.repeat(2),
            "stdout as without --wire"
        );
        let blocks = wire_blocks(&shown.stderr);
        let headers: Vec<&str> = blocks
            .iter()
            .map(|(header, _)| header.split(", json,").next().expect("a header"))
            .collect();
        assert_eq!(
            headers,
            [
                "event 1 to the plugin",
                "reply 1 from the plugin",
                "event 2 to the plugin",
                "reply 2 from the plugin"
            ],
            "{shown:#?}"
        );
        for (header, body) in &blocks {
            assert_eq!(body.len(), 1, "one line of JSON text: {shown:#?}");
            let size = format!(", json, {} bytes", body[0].len());
            assert!(header.ends_with(&size), "{header:?} vs {size:?}");
            serde_json::from_str::<serde_json::Value>(&body[0]).expect("the JSON sent");
        }
        let sent: serde_json::Value = serde_json::from_str(&blocks[0].1[0]).expect("JSON");
        assert_eq!(
            (&sent["type"], &sent["data"]["k"]),
            (&"x".into(), &"v".into())
        );
        let reply: serde_json::Value = serde_json::from_str(&blocks[1].1[0]).expect("JSON");
        assert_eq!(reply["success"], true);

        // MessagePack: a hex dump.
        let packed = event(
            engine,
            &plugin("echo_msgpack"),
            &["--type", "x", "--data", r#"{"k":"v"}"#, "--wire"],
        );
        assert_eq!(json(&packed)["data"]["k"], "v");
        let blocks = wire_blocks(&packed.stderr);
        assert_eq!(blocks.len(), 2, "{packed:#?}");
        for ((header, body), what) in blocks
            .iter()
            .zip(["event 1 to the plugin", "reply 1 from the plugin"])
        {
            let bytes = undump(body);
            assert_eq!(
                header,
                &format!("{what}, messagepack, {} bytes", bytes.len())
            );
            assert!(matches!(bytes[0], 0x80..=0x8f), "a fixmap: {packed:#?}");
        }
        assert!(blocks[1].1.concat().contains("success"), "{packed:#?}");
    }
}

#[test]
fn help_states_the_exit_codes() {
    let help = run(&["event", "--help"]);
    assert_eq!(help.code, 0, "{help:#?}");
    for part in [
        "Exit codes: 0 every event was answered, a response with `success: false` included; 1 ",
        "; 2 bad usage or invalid input (",
        "--host-fn <NAME=JSON>",
        "--config <KEY=VALUE>",
        "--config-file <FILE>",
        "--repeat <N>",
        "--full",
        "--wire",
    ] {
        assert!(
            help.stdout.contains(part),
            "{part:?} missing in\n{}",
            help.stdout
        );
    }
}

#[test]
fn a_panic_is_reported_with_its_message_and_its_trap() {
    let echo = plugin("echo");
    for engine in engines() {
        let panicked = event(
            engine,
            &echo,
            &[
                "--type",
                "panic",
                "--data",
                r#"{"message":"boom at document 0"}"#,
            ],
        );
        panicked.code_is(1);
        let line = panicked.stderr.trim_end();
        // The SDK's panic hook says where; the host adds the trap.
        assert!(
            line.starts_with("error: plugin panicked: boom at document 0 at ")
                && line.contains("echo/src/lib.rs:")
                && line.ends_with("(trap: unreachable in plugin_handle_event)"),
            "{engine}: {panicked:#?}"
        );
        assert_eq!(
            line.lines().count(),
            1,
            "{engine}: one line, no --log needed"
        );
    }
}

#[test]
fn a_typed_plugin_answers_through_its_host_functions() {
    // `share` reads its host calls' answers as serde types and answers with
    // one (`PluginResponse::success_from`), on wasm32-unknown-unknown, which
    // has no clock: the answer carries no timestamp rather than a trap.
    for engine in engines() {
        let shared = json(&event(
            engine,
            &plugin("share"),
            &[
                "--type",
                "share",
                "--host-fn",
                r#"editor.get_text="fn main() {}""#,
                "--host-fn",
                r#"net.post={"url":"https://paste.test/7"}"#,
                "--full",
            ],
        ));
        assert_eq!(shared["success"], true, "{engine}: {shared}");
        assert_eq!(shared["data"]["url"], "https://paste.test/7", "{engine}");
        assert_eq!(shared["data"]["bytes"], 12, "{engine}");
        assert_eq!(shared["timestamp"], serde_json::Value::Null, "{engine}");
        // An answer that does not fit its type is the plugin's error, named.
        let bad = event(
            engine,
            &plugin("share"),
            &[
                "--type",
                "share",
                "--host-fn",
                r#"editor.get_text="text""#,
                "--host-fn",
                r#"net.post={"where":"nowhere"}"#,
            ],
        );
        bad.fails(1, "error: plugin failed in plugin_handle_event: ");
        assert!(
            bad.stderr.contains("`net.post` answered what does not fit")
                && bad.stderr.contains("missing field `url`"),
            "{engine}: {bad:#?}"
        );
    }
}

/// A Dart-ABI plugin that imports WASI: `say` writes `said` to stderr and
/// answers; `die` writes `dying words` to stderr and traps.
const WASI_TALKER: &str = r#"(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "{\"success\":true}")
  (data (i32.const 64) "said\n")
  (data (i32.const 96) "dying words\n")
  (global $heap (mut i32) (i32.const 1024))
  (func $alloc (export "alloc") (param $n i32) (result i32) (local $p i32)
    (local.set $p (global.get $heap))
    (global.set $heap (i32.add (local.get $p) (local.get $n)))
    (local.get $p))
  (func (export "dealloc") (param i32 i32))
  (func $stderr (param $ptr i32) (param $len i32)
    (i32.store (i32.const 512) (local.get $ptr))
    (i32.store (i32.const 516) (local.get $len))
    (drop (call $fd_write (i32.const 2) (i32.const 512) (i32.const 1) (i32.const 520))))
  (func (export "plugin_handle_event") (param $p i32) (param $n i32) (result i64) (local $out i32)
    ;; {"type":"die"...: the byte after `"type":"` is `d`.
    (if (i32.eq (i32.load8_u (i32.add (local.get $p) (i32.const 9))) (i32.const 100))
      (then (call $stderr (i32.const 96) (i32.const 12)) unreachable))
    (call $stderr (i32.const 64) (i32.const 5))
    (local.set $out (call $alloc (i32.const 16)))
    (memory.copy (local.get $out) (i32.const 16) (i32.const 16))
    (i64.or (i64.shl (i64.extend_i32_u (local.get $out)) (i64.const 32)) (i64.const 16))))"#;

#[test]
fn a_wasi_plugins_stderr_is_shown_and_goes_with_its_trap() {
    let talker = fixture("wasi-talker.wat", WASI_TALKER);
    for engine in engines() {
        let said = event(engine, &talker, &["--type", "say", "--repeat", "2"]);
        said.code_is(0);
        assert_eq!(said.stderr, "said\nsaid\n", "{engine}: {said:#?}");
        let died = event(engine, &talker, &["--type", "die"]);
        died.fails(
            1,
            "error: trap: unreachable in plugin_handle_event; stderr: dying words",
        );
        assert_eq!(died.stderr.lines().count(), 1, "{engine}: {died:#?}");
    }
}
