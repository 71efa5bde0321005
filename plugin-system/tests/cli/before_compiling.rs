//! `run`, `call` and `event` read what a module declares before compiling it,
//! and refuse one that cannot serve them at once, in the words they would use
//! after compiling (issue 14). Seen without timing: each module has a twin
//! whose one function body does not validate (so compiling it fails) while its
//! imports and exports read the same; both twins get the same answer.

use std::path::{Path, PathBuf};

use plugin_system::{
    EngineKind, WasmRuntimeConfig,
    core::{ErrorChain, PluginSource},
    new_runtime,
    wasm::{LoadOptions, WasmPluginRuntime},
};

use crate::{Run, engines, event::DART_ABI, fixture, run};

/// `i32.const 0x12345678` as it is encoded: an opcode, then the signed LEB128.
const MARKED: [u8; 6] = [0x41, 0xf8, 0xac, 0xd1, 0x91, 0x01];

/// `wat` with one more function, and the same module with that function's
/// body broken (it returns an i64 where it declares an i32), as two files.
fn twins(name: &str, wat: &str) -> (PathBuf, PathBuf) {
    let body = wat.trim_end().strip_suffix(')').expect("a module");
    let valid = wat::parse_str(format!(
        "{body}\n  (func $marked (result i32) (i32.const 0x12345678)))"
    ))
    .expect("valid WAT");
    let mut broken = valid.clone();
    let found: Vec<usize> = broken
        .windows(MARKED.len())
        .enumerate()
        .filter(|(_, bytes)| *bytes == MARKED)
        .map(|(at, _)| at)
        .collect();
    assert_eq!(found.len(), 1, "the marked body is found once");
    broken[found[0]] = 0x42; // i64.const
    (
        fixture(&format!("{name}.wasm"), valid),
        fixture(&format!("{name}.broken.wasm"), broken),
    )
}

fn path(file: &Path) -> &str {
    file.to_str().expect("utf-8 temp path")
}

/// Runs `args` with `{}` standing for the valid twin, then for the broken
/// one: both must fail with `code` and one line that starts with `prefix`,
/// the same line. Returns that line.
#[track_caller]
fn both_refused(twins: &(PathBuf, PathBuf), args: &[&str], code: i32, prefix: &str) -> String {
    let with = |file: &Path| -> Run {
        let args: Vec<&str> = args
            .iter()
            .map(|a| if *a == "{}" { path(file) } else { a })
            .collect();
        run(&args)
    };
    let (valid, broken) = (with(&twins.0), with(&twins.1));
    valid.fails(code, prefix);
    // The broken twin never reaches the compiler: same words, same code.
    let broken_stderr = broken
        .stderr
        .replace(path(&twins.1), path(&twins.0))
        .replace(".broken.wasm", ".wasm");
    assert_eq!(
        (broken.code, broken_stderr.as_str(), broken.stdout.as_str()),
        (valid.code, valid.stderr.as_str(), ""),
        "{broken:#?}"
    );
    valid.stderr
}

/// The broken twin does not compile: what a command says of it once the
/// module passes every check made before compiling.
#[track_caller]
fn does_not_compile(broken: &Path, args: &[&str]) {
    let args: Vec<&str> = args
        .iter()
        .map(|a| if *a == "{}" { path(broken) } else { a })
        .collect();
    run(&args).fails(2, "error: invalid module: ");
}

const NOT_A_COMMAND: &str = r#"(module
  (memory (export "memory") 1)
  (global (export "answer") i32 (i32.const 42))
  (func (export "f") (param i32) (result i32) local.get 0))"#;

#[test]
fn run_refuses_a_module_without_start_before_compiling_it() {
    let files = twins("no_start", NOT_A_COMMAND);
    for engine in engines() {
        let run_it = ["run", "--engine", engine, "{}"];
        both_refused(
            &files,
            &run_it,
            2,
            "error: bad usage: the module exports no `_start` (it is no WASI command); \
             name an export with --invoke",
        );
        let invoke = |name| ["run", "--engine", engine, "--invoke", name, "{}"];
        both_refused(
            &files,
            &invoke("nope"),
            2,
            "error: no exported function named `nope` (exported functions: f)",
        );
        both_refused(
            &files,
            &invoke("answer"),
            2,
            "error: no exported function named `answer` (`answer` is a global)",
        );
        both_refused(
            &files,
            &["run", "--engine", engine, "--invoke", "f", "{}", "--", "x"],
            2,
            "error: bad argument: `x` is not an i32",
        );
        // What passes every check goes on to the compiler.
        does_not_compile(
            &files.1,
            &["run", "--engine", engine, "--invoke", "f", "{}", "--", "1"],
        );
        run(&[
            "run",
            "--engine",
            engine,
            "--invoke",
            "f",
            path(&files.0),
            "--",
            "7",
        ])
        .prints("7\n");
    }
}

#[test]
fn call_refuses_a_missing_function_before_compiling() {
    let files = twins("call_checks", NOT_A_COMMAND);
    for engine in engines() {
        let call = |args: &[&'static str]| {
            let mut all = vec!["call", "--engine", engine, "{}"];
            all.extend_from_slice(args);
            all
        };
        both_refused(
            &files,
            &call(&["nope"]),
            2,
            "error: no exported function named `nope` (exported functions: f)",
        );
        both_refused(
            &files,
            &call(&["memory"]),
            2,
            "error: no exported function named `memory` (`memory` is a memory)",
        );
        both_refused(
            &files,
            &call(&["f"]),
            2,
            "error: bad arguments: `f` (i32) -> (i32) takes 1 argument, 0 given",
        );
        both_refused(
            &files,
            &call(&["--invoke-start", "f", "1"]),
            2,
            "error: bad usage: --invoke-start needs",
        );
        does_not_compile(&files.1, &call(&["f", "1"]));
        crate::call(engine, &files.0, &["f", "3"]).prints("3\n");
    }
}

#[test]
fn call_refuses_imports_before_compiling() {
    let env = twins(
        "call_env_import",
        r#"(module (import "env" "log" (func (param i32))) (func (export "f")))"#,
    );
    let wasi = twins(
        "call_wasi_import",
        r#"(module
          (import "wasi_snapshot_preview1" "proc_exit" (func (param i32)))
          (func (export "f")))"#,
    );
    let big = twins(
        "call_big_memory",
        r#"(module (import "env" "log" (func)) (memory 20) (func (export "f")))"#,
    );
    for engine in engines() {
        both_refused(
            &env,
            &["call", "--engine", engine, "{}", "f"],
            2,
            "error: link error: import `env::log`: missing, the module expects func (i32) -> ()",
        );
        both_refused(
            &wasi,
            &["call", "--engine", engine, "{}", "f"],
            2,
            "error: link error: the module imports `wasi_snapshot_preview1`, but it was given \
             no WASI world",
        );
        // The limits are checked first, as instantiating checks them.
        both_refused(
            &big,
            &[
                "call",
                "--engine",
                engine,
                "--max-memory-pages",
                "10",
                "{}",
                "f",
            ],
            1,
            "error: memory limit: memory needs 20 pages at start, the limit is 10",
        );
        // A missing function is told before the imports.
        both_refused(
            &env,
            &["call", "--engine", engine, "{}", "g"],
            2,
            "error: no exported function named `g`",
        );
    }
}

const COMMAND_WITH_IMPORTS: &str = r#"(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (import "editor" "answer" (func $answer (result i32)))
  (memory (export "memory") 1)
  (func (export "_start") (call $exit (call $answer))))"#;

#[test]
fn run_refuses_imports_it_cannot_serve_before_compiling() {
    let editor = twins("run_editor_import", COMMAND_WITH_IMPORTS);
    let mistyped = twins(
        "run_mistyped_wasi",
        r#"(module
          (import "wasi_snapshot_preview1" "fd_write" (func (param i32)))
          (func (export "_start")))"#,
    );
    let unknown = twins(
        "run_unknown_wasi",
        r#"(module
          (import "wasi_snapshot_preview1" "no_such_call" (func))
          (func (export "_start")))"#,
    );
    for engine in engines() {
        both_refused(
            &editor,
            &["run", "--engine", engine, "{}"],
            2,
            "error: link error: import `editor::answer`: missing, the module expects \
             func () -> (i32)",
        );
        both_refused(
            &mistyped,
            &["run", "--engine", engine, "{}"],
            2,
            "error: link error: import `wasi_snapshot_preview1::fd_write`: the host gives \
             func (i32, i32, i32, i32) -> (i32), the module expects func (i32) -> ()",
        );
        both_refused(
            &unknown,
            &["run", "--engine", engine, "{}"],
            2,
            "error: link error: import `wasi_snapshot_preview1::no_such_call`: missing",
        );
        // --unknown-imports serves `editor::answer`: the module goes on to
        // the compiler, and the unknown WASI call is still missing.
        does_not_compile(
            &editor.1,
            &[
                "run",
                "--engine",
                engine,
                "--unknown-imports",
                "default",
                "{}",
            ],
        );
        both_refused(
            &unknown,
            &["run", "--engine", engine, "--unknown-imports", "trap", "{}"],
            2,
            "error: link error: import `wasi_snapshot_preview1::no_such_call`: missing",
        );
        // `_start` is asked for before the imports.
        both_refused(
            &editor,
            &["run", "--engine", engine, "--invoke", "main", "{}"],
            2,
            "error: no exported function named `main`",
        );
        // As instantiating does, a directory for WASI that is not there is
        // told before the imports.
        let line = both_refused(
            &editor,
            &[
                "run",
                "--engine",
                engine,
                "--dir",
                "/no/such/directory/here",
                "{}",
            ],
            2,
            "error: cannot read /no/such/directory/here",
        );
        assert!(!line.contains("editor::answer"), "{line}");
    }
}

/// `DART_ABI` with `from` replaced by `to` (which must be there).
fn dart_abi_with(from: &str, to: &str) -> String {
    assert!(DART_ABI.contains(from), "{from}");
    DART_ABI.replace(from, to)
}

#[test]
fn event_refuses_a_module_without_the_plugin_exports_before_compiling() {
    let no_handler = dart_abi_with(
        r#"(func (export "plugin_handle_event")"#,
        r#"(func (export "handle_event")"#,
    );
    let cases = [
        (
            "event_no_handler",
            no_handler.clone(),
            "error: invalid plugin: the plugin does not export `plugin_handle_event` \
             (i32, i32) -> (i64)",
        ),
        (
            "event_no_memory",
            dart_abi_with(r#"(memory (export "memory") 1)"#, "(memory 1)"),
            "error: invalid plugin: the plugin exports no memory named `memory`",
        ),
        (
            "event_bad_alloc",
            dart_abi_with(
                r#"(func $alloc (export "alloc")"#,
                "(func (export \"alloc\") (param i64) (result i32) (i32.const 0))\n  (func $alloc",
            ),
            "error: invalid plugin: `alloc` is (i64) -> (i32), the ABI wants (i32) -> (i32)",
        ),
        (
            "event_abi_2",
            dart_abi_with(
                r#"(memory (export "memory") 1)"#,
                "(memory (export \"memory\") 1)\n  (@custom \"plugin_abi_version\" \"2\")",
            ),
            "error: ",
        ),
    ];
    for (name, wat, prefix) in cases {
        let files = twins(name, &wat);
        for engine in engines() {
            let line = both_refused(
                &files,
                &["event", "--engine", engine, "{}", "--type", "x"],
                2,
                prefix,
            );
            // The words the plugin loader gives, once it has compiled it.
            let runtime = new_runtime(
                engine.parse::<EngineKind>().expect("an engine"),
                WasmRuntimeConfig::default(),
            )
            .expect("a runtime");
            let bytes = std::fs::read(&files.0).expect("the fixture");
            let loaded = WasmPluginRuntime::new(runtime)
                .load(&PluginSource::bytes(bytes), LoadOptions::new())
                .expect_err("the module is no plugin");
            assert_eq!(line, format!("error: {}\n", ErrorChain(&loaded)), "{name}");
        }
    }
    // A plugin that is not the one expected is told so first (each twin with
    // its own digest in the words).
    let files = twins("event_no_handler_digest", &no_handler);
    for engine in engines() {
        for file in [&files.0, &files.1] {
            run(&[
                "event",
                "--engine",
                engine,
                path(file),
                "--type",
                "x",
                "--sha256",
                "abcd",
            ])
            .fails(2, "error: integrity check failed");
        }
        // A plugin with every export it needs goes on to the compiler.
        let whole = twins("event_whole", DART_ABI);
        does_not_compile(
            &whole.1,
            &["event", "--engine", engine, "{}", "--type", "x"],
        );
    }
}
