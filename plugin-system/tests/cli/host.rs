//! `plugin-system host DIR`: a plugins folder loaded through the
//! PluginManager, events as JSON lines in, answers as JSON lines out, with
//! hand-written Dart-ABI plugins that export no manifest, and with the
//! example plugins of `examples/plugins/` (their modules built by
//! `cargo xtask guests`).

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

#[test]
fn a_module_that_is_neither_wasm_nor_wat_says_so() {
    for engine in engines() {
        let dir = plugins(&format!("not-a-module-{engine}"));
        let notes = dir.join("plugin.notes");
        std::fs::create_dir_all(&notes).unwrap();
        std::fs::write(notes.join("notes.wasm"), "just some notes").unwrap();
        std::fs::write(
            notes.join("plugin.toml"),
            "id = \"plugin.notes\"\nname = \"n\"\nversion = \"1.0.0\"\n\
             description = \"d\"\nruntime = \"wasm\"\nmodule = \"notes.wasm\"\n",
        )
        .unwrap();
        let out = run(&["host", "--list", "--engine", engine, dir.to_str().unwrap()]);
        assert_eq!(out.code, 0, "{engine}: {out:#?}");
        let line = out
            .stderr
            .lines()
            .find(|line| line.starts_with("plugin.notes"))
            .unwrap_or_else(|| panic!("{engine}: {out:#?}"));
        assert!(
            line.contains("error")
                && line.ends_with("not a WebAssembly module: no `\\0asm` header, and not WAT text"),
            "{engine}: {line}"
        );
    }
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

/// Every plugin of `examples/plugins/` with its version, in id order (the
/// order of the table).
const EXAMPLES: [(&str, &str); 6] = [
    ("demo.runaway", "1.0.0"),
    ("plugin.file-icons-wasm", "0.1.0"),
    ("plugin.line-count-c", "1.0.0"),
    ("plugin.recount-on-save", "1.0.0"),
    ("plugin.share", "0.1.0"),
    ("plugin.word-count", "0.1.0"),
];

/// A plugins folder made of the example plugins (`examples/plugins/` and the
/// modules `cargo xtask guests` built): a module that is not built fails the
/// test, with the command that builds it.
fn example_plugins(name: &str) -> PathBuf {
    let root = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("plugin-system-cli-examples")
        .join(name);
    let _ = std::fs::remove_dir_all(&root);
    examples::stage_plugins(&root).unwrap_or_else(|e| panic!("{e:#}"));
    root
}

#[test]
fn list_shows_the_example_plugins() {
    for engine in engines() {
        let dir = example_plugins(&format!("list-{engine}"));
        let out = run(&["host", "--list", "--engine", engine, dir.to_str().unwrap()]);
        assert_eq!((out.code, out.stdout.as_str()), (0, ""), "{out:#?}");
        // The table is in id order, whatever the load order: every example
        // is ready, recount-on-save because word-count, which it needs, is.
        let expected: Vec<String> = EXAMPLES
            .iter()
            .map(|(id, version)| format!("{id} {version} ready"))
            .collect();
        assert_eq!(out.stderr.lines().collect::<Vec<_>>(), expected, "{engine}");

        // Without word-count, recount-on-save is not started; the rest are.
        std::fs::remove_dir_all(dir.join("word-count")).unwrap();
        let out = run(&["host", "--list", "--engine", engine, dir.to_str().unwrap()]);
        assert_eq!((out.code, out.stdout.as_str()), (0, ""), "{out:#?}");
        let table: Vec<&str> = out.stderr.lines().collect();
        assert_eq!(table.len(), 5, "{engine}: {out:#?}");
        for (line, (id, version)) in table
            .iter()
            .zip(EXAMPLES.iter().filter(|(id, _)| *id != "plugin.word-count"))
        {
            if *id == "plugin.recount-on-save" {
                assert!(
                    line.starts_with("plugin.recount-on-save 1.0.0 error: ")
                        && line.contains("plugin.word-count"),
                    "{engine}: {table:?}"
                );
            } else {
                assert_eq!(*line, format!("{id} {version} ready"), "{engine}");
            }
        }
    }
}

#[test]
fn the_example_plugins_answer_events() {
    for engine in engines() {
        let dir = example_plugins(&format!("events-{engine}"));
        let input = [
            // 1. word-count counts the text of the event.
            r#"{"type":"count_words","data":{"text":"one two three\nfour"},"targetPluginId":"plugin.word-count"}"#,
            // 2. Without text it asks the editor, and the CLI has no editor.
            r#"{"type":"count_words","targetPluginId":"plugin.word-count"}"#,
            // 3. The runaway subscribes to nothing: only a targeted event
            //    reaches it, and its deadline ends the call.
            r#"{"type":"tick","targetPluginId":"demo.runaway"}"#,
            // 4. Not an event.
            "this is not json",
            // 5. A broadcast to both counters, in id order.
            r#"{"type":"document.changed","data":{"text":"a b\nc\n"}}"#,
            // 6. file-icons.
            r#"{"type":"get_icon","data":{"extension":".RS"}}"#,
            // 7. recount-on-save answers, and emits count_words to word-count.
            r#"{"type":"document.saved"}"#,
            // 8. share reads the document first: no editor either.
            r#"{"type":"share"}"#,
        ]
        .join("\n");
        // The CLI's deadline is a ceiling; the runaway's manifest sets a
        // shorter one (100 ms), which wins.
        let out = run_with_stdin(
            &[
                "host",
                "--engine",
                engine,
                dir.to_str().unwrap(),
                "--timeout-ms",
                "5000",
                "--stats",
            ],
            Some(input.as_bytes()),
        );
        assert_eq!(out.code, 0, "{out:#?}");
        let lines: Vec<serde_json::Value> = out
            .stdout
            .lines()
            .map(|l| serde_json::from_str(l).expect("every line is JSON"))
            .collect();
        let ids: Vec<&str> = lines
            .iter()
            .map(|l| l["pluginId"].as_str().unwrap_or("-"))
            .collect();
        assert_eq!(
            ids,
            [
                "plugin.word-count",
                "plugin.word-count",
                "demo.runaway",
                "-",
                "plugin.line-count-c",
                "plugin.word-count",
                "plugin.file-icons-wasm",
                "plugin.recount-on-save",
                "plugin.share",
            ],
            "{engine}: {out:#?}"
        );
        let data = |i: usize| &lines[i]["response"]["data"];
        let error = |i: usize| lines[i]["error"].as_str().unwrap_or_default();
        assert_eq!(lines[0]["response"]["success"], true, "{engine}: {out:#?}");
        assert_eq!(
            data(0),
            &serde_json::json!({"words": 4, "lines": 2, "characters": 18})
        );
        // A host function the plugin requires but the CLI does not register:
        // the plugin loads and serves; the call fails, the event with it.
        assert_eq!(lines[1]["kind"], "plugin failed", "{engine}: {out:#?}");
        assert!(
            error(1).contains("no host function named `editor.get_text`"),
            "{engine}: {out:#?}"
        );
        assert_eq!(lines[2]["kind"], "timeout", "{engine}: {out:#?}");
        assert!(
            error(2).contains("timeout") && error(2).contains("100ms"),
            "{engine}: {out:#?}"
        );
        assert!(
            error(3).starts_with("line 4 is not a JSON event"),
            "{engine}: {out:#?}"
        );
        // The host carried on: the others answer after the runaway's timeout
        // and the bad line.
        assert_eq!(data(4), &serde_json::json!({"lines": 2}), "{engine}");
        assert_eq!(
            data(5),
            &serde_json::json!({"words": 3, "lines": 2, "characters": 6}),
            "{engine}"
        );
        assert_eq!(
            data(6),
            &serde_json::json!({"icon": "devicon-rust-plain", "extension": "rs"}),
            "{engine}"
        );
        assert_eq!(
            data(7),
            &serde_json::json!({"asked": "plugin.word-count"}),
            "{engine}"
        );
        assert_eq!(lines[8]["kind"], "plugin failed", "{engine}: {out:#?}");
        assert!(
            error(8).contains("no host function named `editor.get_text`"),
            "{engine}: {out:#?}"
        );

        // stderr: the table first, the statistics last (a line about the
        // runaway's restart may come between).
        let stderr: Vec<&str> = out.stderr.lines().collect();
        let expected: Vec<String> = EXAMPLES
            .iter()
            .map(|(id, version)| format!("{id} {version} ready"))
            .collect();
        assert_eq!(stderr[..6], expected, "{engine}: {out:#?}");
        let stats: serde_json::Value =
            serde_json::from_str(stderr.last().unwrap()).expect("stats JSON");
        for key in [
            "registry",
            "host_functions",
            "dispatcher",
            "permissions",
            "errors",
            "plugins",
        ] {
            assert!(stats[key].is_object(), "{engine}: no {key}: {stats}");
        }
        assert_eq!(stats["registry"]["total"], 6, "{engine}: {stats}");
        // Seven events from stdin, and the one recount-on-save emitted.
        assert_eq!(stats["dispatcher"]["total_dispatched"], 8, "{stats}");
        assert_eq!(stats["host_functions"]["most_called"], "events.emit");
        assert_eq!(stats["host_functions"]["total_calls"], 1, "{stats}");
        // The runaway, word-count and share.
        assert_eq!(stats["errors"]["plugins_with_errors"], 3, "{stats}");
        let plugins = stats["plugins"].as_object().unwrap();
        assert_eq!(
            plugins.keys().map(String::as_str).collect::<Vec<_>>(),
            EXAMPLES.map(|(id, _)| id),
            "{engine}"
        );
        let runaway = &stats["plugins"]["demo.runaway"];
        assert_eq!(
            (&runaway["events_handled"], &runaway["failures"]),
            (&1.into(), &1.into()),
            "{stats}"
        );
        let line_count = &stats["plugins"]["plugin.line-count-c"];
        assert_eq!(
            (&line_count["events_handled"], &line_count["failures"]),
            (&1.into(), &0.into()),
            "{stats}"
        );
    }
}
