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
const DART_ABI: &str = r#"(module
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
