//! `plugin-system host DIR`: a plugins folder loaded through the
//! PluginManager, events as JSON lines in, answers as JSON lines out, with
//! hand-written Dart-ABI plugins that export no manifest.

use std::path::{Path, PathBuf};

use super::{engines, run, run_with_stdin};

/// A Dart-ABI plugin that answers every event with `{"success":true}`.
const PLUGIN: &str = r#"(module
  (memory (export "memory") 1)
  (data (i32.const 16) "{\"success\":true}")
  (global $heap (mut i32) (i32.const 1024))
  (func $alloc (export "alloc") (param $len i32) (result i32) (local $p i32)
    (local.set $p (global.get $heap))
    (global.set $heap (i32.add (local.get $p) (local.get $len)))
    (local.get $p))
  (func (export "dealloc") (param i32 i32))
  (func (export "plugin_handle_event") (param i32 i32) (result i64) (local $out i32)
    (local.set $out (call $alloc (i32.const 16)))
    (memory.copy (local.get $out) (i32.const 16) (i32.const 16))
    (i64.or (i64.shl (i64.extend_i32_u (local.get $out)) (i64.const 32)) (i64.const 16))))"#;

/// A plugins folder with `plugin.a`, `plugin.b` (needs `plugin.a`) and
/// `plugin.broken` (needs a plugin that is not there).
fn plugins(name: &str) -> PathBuf {
    let root = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("plugin-system-cli-host")
        .join(name);
    let _ = std::fs::remove_dir_all(&root);
    for (id, extra) in [
        ("plugin.a", r#"subscribesTo = ["doc.*"]"#),
        (
            "plugin.b",
            "dependencies = [\"plugin.a@^1\"]\nsubscribesTo = [\"doc.saved\"]",
        ),
        ("plugin.broken", r#"dependencies = ["plugin.missing"]"#),
    ] {
        let dir = root.join(id);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("plugin.wat"), PLUGIN).unwrap();
        std::fs::write(
            dir.join("plugin.toml"),
            format!(
                "id = \"{id}\"\nname = \"{id}\"\nversion = \"1.0.0\"\ndescription = \"d\"\n\
                 runtime = \"wasm\"\nmodule = \"plugin.wat\"\n{extra}\n"
            ),
        )
        .unwrap();
    }
    root
}

#[test]
fn events_in_answers_out_one_json_line_each() {
    for engine in engines() {
        let dir = plugins(engine);
        let input = [
            r#"{"type":"doc.saved","data":{"path":"a.rs"}}"#,
            r#"{"type":"doc.opened","targetPluginId":"plugin.b"}"#,
            "this is not json",
            r#"{"type":"doc.opened","targetPluginId":"plugin.broken"}"#,
            r#"{"type":"nobody.listens"}"#,
        ]
        .join("\n");
        let out = run_with_stdin(
            &["host", "--engine", engine, dir.to_str().unwrap(), "--stats"],
            Some(input.as_bytes()),
        );
        assert_eq!(out.code, 0, "{out:#?}");
        let lines: Vec<serde_json::Value> = out
            .stdout
            .lines()
            .map(|l| serde_json::from_str(l).expect("every line is JSON"))
            .collect();
        assert_eq!(lines.len(), 5, "{engine}: {out:#?}");
        // The broadcast: both subscribers, in id order.
        assert_eq!(lines[0]["pluginId"], "plugin.a");
        assert_eq!(lines[0]["response"]["success"], true);
        assert_eq!(lines[1]["pluginId"], "plugin.b");
        // The targeted event.
        assert_eq!(lines[2]["pluginId"], "plugin.b");
        assert_eq!(lines[2]["response"]["success"], true);
        // A bad line is answered with an error, and the host carries on.
        assert!(
            lines[3]["error"]
                .as_str()
                .unwrap()
                .starts_with("line 3 is not a JSON event"),
            "{lines:?}"
        );
        assert_eq!(lines[4]["pluginId"], "plugin.broken");
        assert_eq!(lines[4]["kind"], "wrong state");
        // The table on stderr, then the statistics.
        let stderr: Vec<&str> = out.stderr.lines().collect();
        assert_eq!(stderr[0], "plugin.a 1.0.0 ready", "{out:#?}");
        assert_eq!(stderr[1], "plugin.b 1.0.0 ready");
        assert!(
            stderr[2].starts_with("plugin.broken 1.0.0 error: ")
                && stderr[2].contains("plugin.missing"),
            "{stderr:?}"
        );
        let stats: serde_json::Value = serde_json::from_str(stderr[3]).expect("stats JSON");
        assert_eq!(stats["plugins"]["plugin.a"]["events_handled"], 1);
        assert_eq!(stats["plugins"]["plugin.b"]["events_handled"], 2);
        assert_eq!(stats["registry"]["total"], 3);
        assert_eq!(stats["dispatcher"]["total_dispatched"], 4);
        assert_eq!(stats["errors"]["plugins_with_errors"], 1);
    }
}

#[test]
fn list_prints_the_table_and_a_missing_folder_is_bad_usage() {
    let dir = plugins("list");
    let out = run(&["host", "--list", dir.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{out:#?}");
    assert_eq!(out.stdout, "");
    assert_eq!(out.stderr.lines().count(), 3, "{out:#?}");
    let missing = run(&["host", "/nonexistent/plugins"]);
    missing.fails(
        2,
        "error: bad arguments: /nonexistent/plugins is not a folder",
    );
}

/// A plugin that answers `{"success":true,"data":{"v":V}}`.
fn versioned(v: u32) -> String {
    format!(
        r#"(module
  (memory (export "memory") 1)
  (data (i32.const 16) "{{\"success\":true,\"data\":{{\"v\":{v}}}}}")
  (func (export "alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "dealloc") (param i32 i32))
  (func (export "plugin_handle_event") (param i32 i32) (result i64)
    (i64.const 0x000000100000001f)))"#
    )
}

#[test]
fn watch_reloads_a_replaced_plugin_while_events_flow() {
    use std::{
        io::{BufRead, BufReader, Write},
        process::{Command, Stdio},
    };
    for engine in engines() {
        let root = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join("plugin-system-cli-host")
            .join(format!("watch-{engine}"));
        let _ = std::fs::remove_dir_all(&root);
        let dir = root.join("plugin.v");
        std::fs::create_dir_all(&dir).unwrap();
        let manifest = |version: &str| {
            format!(
                "id = \"plugin.v\"\nname = \"v\"\nversion = \"{version}\"\ndescription = \"d\"\n\
                 runtime = \"wasm\"\nmodule = \"plugin.wat\"\n"
            )
        };
        std::fs::write(dir.join("plugin.wat"), versioned(1)).unwrap();
        std::fs::write(dir.join("plugin.toml"), manifest("1.0.0")).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_plugin-system"))
            .args(["host", "--watch", "--engine", engine])
            .arg(&root)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the CLI runs");
        let mut stdin = child.stdin.take().unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut ask = || {
            writeln!(stdin, r#"{{"type":"v","targetPluginId":"plugin.v"}}"#).unwrap();
            stdin.flush().unwrap();
            let mut line = String::new();
            stdout.read_line(&mut line).unwrap();
            let answer: serde_json::Value = serde_json::from_str(&line).expect("a JSON line");
            answer["response"]["data"]["v"].as_i64()
        };
        assert_eq!(ask(), Some(1), "{engine}");
        std::fs::write(dir.join("plugin.wat"), versioned(2)).unwrap();
        std::fs::write(dir.join("plugin.toml"), manifest("1.1.0")).unwrap();
        // Events keep flowing; within 30 s the new version answers them.
        let mut seen = Vec::new();
        for _ in 0..300 {
            let v = ask();
            seen.push(v);
            if v == Some(2) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        assert_eq!(seen.last(), Some(&Some(2)), "{engine}: {seen:?}");
        assert!(
            seen.iter().all(|v| matches!(v, Some(1 | 2))),
            "{engine}: every event answered by a version: {seen:?}"
        );
        drop(stdin);
        let output = child.wait_with_output().unwrap();
        assert!(output.status.success(), "{engine}: {output:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("plugin.v ready: reloaded: 1.0.0 -> 1.1.0"),
            "{engine}: {stderr}"
        );
    }
}
