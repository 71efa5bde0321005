//! `plugin-system inspect` on plugins: the values of the plugin custom
//! sections and the manifest (or why it could not be read); and the one
//! message of a file that is neither binary WebAssembly nor WAT, for every
//! command that reads a module this way.

use std::path::Path;

use crate::{engines, event::DART_ABI, fixture, run, run::guest};

fn inspect(engine: &str, file: &Path, args: &[&str]) -> crate::Run {
    let mut all = vec![
        "inspect",
        "--engine",
        engine,
        file.to_str().expect("utf-8 path"),
    ];
    all.extend_from_slice(args);
    run(&all)
}

fn inspect_json(engine: &str, file: &Path, args: &[&str]) -> serde_json::Value {
    let out = inspect(engine, file, &[&["--json"], args].concat());
    assert_eq!((out.code, out.stderr.as_str()), (0, ""), "{out:#?}");
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {out:#?}"))
}

#[track_caller]
fn contains_all(out: &crate::Run, expected: &[&str]) {
    assert_eq!((out.code, out.stderr.as_str()), (0, ""), "{out:#?}");
    for line in expected {
        assert!(
            out.stdout.contains(line),
            "{line:?} missing in\n{}",
            out.stdout
        );
    }
}

#[test]
fn inspect_shows_the_sections_and_the_manifest_of_a_built_plugin() {
    let file = guest("wasm32-unknown-unknown/release/echo_msgpack.wasm");
    for engine in engines() {
        contains_all(
            &inspect(engine, &file, &[]),
            &[
                "custom sections: plugin_abi_version, plugin_wire_format",
                "abi version:     1\n",
                "wire format:     msgpack\n",
                "manifest:\n  {\n    \"id\": \"plugin.echo-msgpack\",\n    \"name\": \"Echo (MessagePack)\",",
                "    \"requiredHostFunctions\": [\n      \"echo.host\"\n    ],",
                "validation:      valid",
            ],
        );
        let json = inspect_json(engine, &file, &[]);
        assert_eq!(json["plugin_abi_version"], "1");
        assert_eq!(json["plugin_wire_format"], "msgpack");
        assert_eq!(json["manifest"]["id"], "plugin.echo-msgpack");
        assert_eq!(
            json["manifest"]["requiredHostFunctions"],
            serde_json::json!(["echo.host"])
        );
        assert!(json["manifest_error"].is_null(), "{json:#}");

        // Read, never run.
        contains_all(
            &inspect(engine, &file, &["--no-manifest"]),
            &[
                "wire format:     msgpack\n",
                "manifest:        not read (--no-manifest)\n",
            ],
        );
        let json = inspect_json(engine, &file, &["--no-manifest"]);
        assert!(json["manifest"].is_null() && json["manifest_error"].is_null());
        assert_eq!(json["plugin_abi_version"], "1");
    }
}

#[test]
fn inspect_shows_a_hand_written_plugin_manifest() {
    let wat = fixture("inspect_dart_abi.wat", DART_ABI);
    let declared = fixture(
        "inspect_declared.wat",
        DART_ABI.replace(
            "(memory (export \"memory\") 1)",
            "(memory (export \"memory\") 1)
  (@custom \"plugin_abi_version\" \" 1\\00\")
  (@custom \"plugin_wire_format\" \"json\\n\")",
        ),
    );
    for engine in engines() {
        contains_all(
            &inspect(engine, &wat, &[]),
            &[
                "abi version:     not declared\n",
                "wire format:     not declared\n",
                "manifest:\n  {\n    \"id\": \"dart.echo\",\n    \"name\": \"Echo\",\n    \"version\": \"1.0.0\",",
            ],
        );
        let json = inspect_json(engine, &wat, &[]);
        assert!(json["plugin_abi_version"].is_null() && json["plugin_wire_format"].is_null());
        assert_eq!(json["manifest"]["id"], "dart.echo");
        // The values as the host reads them: white space and NULs trimmed.
        let json = inspect_json(engine, &declared, &[]);
        assert_eq!(json["plugin_abi_version"], "1");
        assert_eq!(json["plugin_wire_format"], "json");
        assert_eq!(json["manifest"]["id"], "dart.echo");
    }
}

#[test]
fn inspect_says_why_a_manifest_cannot_be_read() {
    let cases = [
        (
            "inspect_abi2.wat",
            DART_ABI.replace(
                "(memory (export \"memory\") 1)",
                "(memory (export \"memory\") 1) (@custom \"plugin_abi_version\" \"2\")",
            ),
            "plugin needs ABI 2, host supports 1",
        ),
        (
            "inspect_manifest_traps.wat",
            DART_ABI.replace(
                "(result i64) (i64.const 0x0000005000000055))",
                "(result i64) unreachable)",
            ),
            "trap: unreachable",
        ),
        (
            "inspect_manifest_garbage.wat",
            DART_ABI.replace(
                "(i64.const 0x0000005000000055)",
                "(i64.const 0x0000001000000005)",
            ),
            "invalid manifest: ",
        ),
        (
            "inspect_no_alloc.wat",
            r#"(module (memory (export "memory") 1)
                 (func (export "plugin_get_manifest") (result i64) (i64.const 0)))"#
                .to_owned(),
            "invalid plugin: the plugin does not export `alloc`",
        ),
        (
            "inspect_unknown_import.wat",
            DART_ABI.replace(
                "(memory (export \"memory\") 1)",
                "(import \"env\" \"nope\" (func)) (memory (export \"memory\") 1)",
            ),
            "link error: ",
        ),
        (
            "inspect_bad_format.wat",
            DART_ABI.replace(
                "(memory (export \"memory\") 1)",
                "(memory (export \"memory\") 1) (@custom \"plugin_wire_format\" \"yaml\")",
            ),
            "invalid plugin: the plugin declares wire format `yaml`",
        ),
    ];
    for engine in engines() {
        for (name, wat, why) in &cases {
            let file = fixture(name, wat);
            let text = inspect(engine, &file, &[]);
            contains_all(&text, &[&format!("manifest:        unavailable: {why}")]);
            let json = inspect_json(engine, &file, &[]);
            assert!(json["manifest"].is_null(), "{name}: {json:#}");
            let error = json["manifest_error"].as_str().expect("why");
            assert!(error.starts_with(why), "{name}: {error:?} vs {why:?}");
        }
        // The section's value is shown whatever the host thinks of it.
        let file = fixture("inspect_bad_format_value.wat", &cases[5].1);
        assert_eq!(
            inspect_json(engine, &file, &[])["plugin_wire_format"],
            "yaml"
        );
        contains_all(&inspect(engine, &file, &[]), &["wire format:     yaml\n"]);
    }
}

#[test]
fn inspect_does_not_call_the_manifest_of_an_invalid_module() {
    let file = fixture(
        "inspect_invalid_plugin.wat",
        DART_ABI.replace(
            "(memory (export \"memory\") 1)",
            "(memory (export \"memory\") 100)",
        ),
    );
    for engine in engines() {
        let out = inspect(engine, &file, &["--max-memory-pages", "10"]);
        contains_all(
            &out,
            &[
                "validation:      invalid",
                "manifest:        unavailable: `plugin_get_manifest` not called: the module does not validate",
            ],
        );
    }
}

#[test]
fn a_module_without_plugin_exports_has_no_manifest() {
    let file = fixture(
        "inspect_plain.wat",
        r#"(module (func (export "f")) (@custom "plugin_abi_version" "1"))"#,
    );
    for engine in engines() {
        contains_all(
            &inspect(engine, &file, &[]),
            &[
                "abi version:     1\n",
                "wire format:     not declared\n",
                "manifest:        none (the module exports no `plugin_get_manifest`)\n",
            ],
        );
        let json = inspect_json(engine, &file, &[]);
        assert!(json["manifest"].is_null() && json["manifest_error"].is_null());
    }
}

#[test]
fn section_values_are_escaped_and_cut() {
    let long = "9".repeat(5000);
    let file = fixture(
        "inspect_odd_sections.wat",
        format!(
            r#"(module (@custom "plugin_abi_version" "1\1b[2J\e2\80\ae") (@custom "plugin_wire_format" "{long}"))"#
        ),
    );
    for engine in engines() {
        contains_all(
            &inspect(engine, &file, &[]),
            &[
                "abi version:     1\\u{1b}[2J\\u{202e}\n",
                &format!("wire format:     {}… (904 more bytes)\n", "9".repeat(4096)),
            ],
        );
        let json = inspect_json(engine, &file, &[]);
        assert_eq!(json["plugin_abi_version"], "1\u{1b}[2J\u{202e}");
        assert_eq!(
            json["plugin_wire_format"],
            format!("{}… (904 more bytes)", "9".repeat(4096))
        );
    }
}

const NOT_A_MODULE: &str =
    "error: not a WebAssembly module: no `\\0asm` header, and not WAT text\n";

#[test]
fn neither_wasm_nor_wat_says_so() {
    let files = [
        fixture("neither_text.txt", "hello, world\n"),
        fixture("neither_empty.wasm", ""),
        fixture("neither_comment.wat", ";; only a comment\n"),
        fixture("neither_elf.wasm", b"\x7fELF\x02\x01\x01\0\0\0"),
        fixture("neither_json.wat", r#"{"module": true}"#),
        fixture("neither_latin1.wat", b"(modul\xe9)"),
        fixture("neither_short_magic.wasm", b"\0as"),
    ];
    for engine in engines() {
        for file in &files {
            for args in [&["--type", "x"][..], &[]] {
                let path = file.to_str().expect("utf-8 path");
                let out = if args.is_empty() {
                    run(&["inspect", "--engine", engine, path])
                } else {
                    run(&[&["event", "--engine", engine, path], args].concat())
                };
                out.fails(2, NOT_A_MODULE);
                assert_eq!(out.stderr, NOT_A_MODULE, "{out:#?}");
            }
        }
    }
}

#[test]
fn wasm_and_wat_errors_are_as_before() {
    let binary = fixture("bad_binary.wasm", b"\0asm\x01\0\0\0\x01\xff\xff\xff");
    let text = fixture(
        "bad_text.wat",
        "  ;; a comment\n(module (func (export \"f\") nonsense))",
    );
    let named = fixture("bad_text_named.txt", "(this is not (a module");
    for engine in engines() {
        for file in [&binary, &text, &named] {
            let path = file.to_str().expect("utf-8 path");
            run(&["inspect", "--engine", engine, path]).fails(2, "error: invalid module");
            run(&["event", "--engine", engine, path, "--type", "x"])
                .fails(2, "error: invalid module");
        }
        let out = run(&["inspect", "--engine", engine, text.to_str().expect("utf-8")]);
        assert!(
            out.stderr.contains("bad_text.wat"),
            "names the file: {out:#?}"
        );
    }
}

#[test]
fn inspect_help_states_the_exit_codes() {
    let help = run(&["inspect", "--help"]);
    assert_eq!(help.code, 0, "{help:#?}");
    for part in [
        "Exit codes: 0 the module was read, whatever the report says of it",
        "; 2 bad usage, a file that cannot be read, is not a module,",
        "--no-manifest",
    ] {
        assert!(
            help.stdout.contains(part),
            "{part:?} missing in\n{}",
            help.stdout
        );
    }
}
