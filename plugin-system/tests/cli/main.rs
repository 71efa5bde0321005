//! The `plugin-system` binary end to end, on every engine built in: output,
//! the one `error: ` line on stderr, and exit codes (0 success, 1 the guest
//! failed or a limit stopped it, 2 bad usage or invalid input).

mod before_compiling;
mod cache;
mod event;
mod host;
mod hostile;
mod inspect_bounds;
mod inspect_plugin;
mod limits;
mod new;
mod reftypes;
mod run;

use std::{
    ffi::OsStr,
    io::{Read, Write},
    path::{Path, PathBuf},
    process::{Command, Stdio},
    thread,
    time::{Duration, Instant},
};

/// Engines of this build, by their `--engine` names.
fn engines() -> Vec<&'static str> {
    let mut engines = Vec::new();
    if cfg!(feature = "wasmtime") {
        engines.push("wasmtime");
    }
    if cfg!(feature = "wasmi") {
        engines.push("wasmi");
    }
    assert!(!engines.is_empty(), "no engine built in");
    engines
}

/// A child that runs longer than this is a hung engine, not a slow machine.
const HANG: Duration = Duration::from_secs(120);

#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    /// Exit `code`, whatever the output (clap's own usage errors span lines).
    #[track_caller]
    fn code_is(&self, code: i32) {
        assert_eq!(self.code, code, "{self:#?}");
    }

    /// Exit 0, and `stdout` printed.
    #[track_caller]
    fn prints(&self, stdout: &str) {
        assert_eq!(
            (self.code, self.stdout.as_str(), self.stderr.as_str()),
            (0, stdout, ""),
            "{self:#?}"
        );
    }

    /// Exit `code`, nothing on stdout, and exactly one line on stderr that starts
    /// with `prefix`.
    #[track_caller]
    fn fails(&self, code: i32, prefix: &str) {
        assert_eq!(self.code, code, "{self:#?}");
        assert!(
            self.stderr.starts_with(prefix),
            "stderr should start with {prefix:?}: {self:#?}"
        );
        assert_eq!(
            self.stderr.lines().count(),
            1,
            "one line on stderr: {self:#?}"
        );
        assert!(self.stderr.ends_with('\n'), "{self:#?}");
        assert_eq!(self.stdout, "", "{self:#?}");
    }
}

/// Runs the binary with `args` and waits for it (at most [`HANG`]).
fn run(args: &[&str]) -> Run {
    run_with_stdin(args, None)
}

/// Runs the binary with `args`, and `stdin` (or none) as its stdin.
fn run_with_stdin(args: &[&str], stdin: Option<&[u8]>) -> Run {
    run_with(args, stdin, &[])
}

/// Runs the binary with `args`, `stdin` (or none) as its stdin, and the
/// environment variables `env` set. The compiled-module cache is a directory
/// under the target dir unless `env` sets `PLUGIN_SYSTEM_CACHE_DIR`: tests never
/// write to the user's own cache.
fn run_with(args: &[&str], stdin: Option<&[u8]>, env: &[(&str, &OsStr)]) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_plugin-system"));
    command
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::null());
    run_command(command, args, stdin)
}

/// Runs `command` (the binary, or a shell that runs it) with the environment
/// of [`run_with`] and `stdin` as its stdin (when `None`, the one `command`
/// has), and waits for it (at most [`HANG`]).
fn run_command(mut command: Command, args: &[&str], stdin: Option<&[u8]>) -> Run {
    let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("plugin-system-cli-cache");
    command.env_remove("PLUGIN_SYSTEM_ENGINE");
    if command
        .get_envs()
        .all(|(key, _)| key != "PLUGIN_SYSTEM_CACHE_DIR")
    {
        command.env("PLUGIN_SYSTEM_CACHE_DIR", cache);
    }
    if stdin.is_some() {
        command.stdin(Stdio::piped());
    }
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    if let (Some(bytes), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(bytes).expect("write stdin");
    }
    let mut stdout = child.stdout.take().expect("piped stdout");
    let mut stderr = child.stderr.take().expect("piped stderr");
    let out = thread::spawn(move || {
        let mut text = String::new();
        stdout.read_to_string(&mut text).map(|_| text)
    });
    let err = thread::spawn(move || {
        let mut text = String::new();
        stderr.read_to_string(&mut text).map(|_| text)
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the child") {
            break status;
        }
        if started.elapsed() > HANG {
            let _ = child.kill();
            let _ = child.wait();
            panic!("plugin-system {args:?} ran longer than {HANG:?}");
        }
        thread::sleep(Duration::from_millis(10));
    };
    Run {
        code: status
            .code()
            .unwrap_or_else(|| panic!("{args:?} ended by a signal: {status}")),
        stdout: out.join().expect("stdout reader").expect("utf-8 stdout"),
        stderr: err.join().expect("stderr reader").expect("utf-8 stderr"),
    }
}

/// `plugin-system call --engine ENGINE FILE ARGS...`
fn call(engine: &str, file: &Path, args: &[&str]) -> Run {
    let file = file.to_str().expect("utf-8 temp path");
    let mut all = vec!["call", "--engine", engine, file];
    all.extend_from_slice(args);
    run(&all)
}

/// Writes a fixture into this test binary's temp dir; names are unique per test.
fn fixture(name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("plugin-system-cli");
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(name);
    std::fs::write(&path, contents).expect("write fixture");
    path
}

const ARITHMETIC: &str = r#"(module
  (func (export "add") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add)
  (func (export "add64") (param i64 i64) (result i64) local.get 0 local.get 1 i64.add)
  (func (export "mul") (param f64 f64) (result f64) local.get 0 local.get 1 f64.mul)
  (func (export "div32") (param f32 f32) (result f32) local.get 0 local.get 1 f32.div)
  (func (export "pair") (param i32) (result i32 i64) local.get 0 local.get 0 i64.extend_i32_s)
  (func (export "nothing"))
  (global (export "answer") i32 (i32.const 42)))"#;

#[test]
fn add_prints_the_sum() {
    let wat = fixture("add.wat", ARITHMETIC);
    let wasm = fixture(
        "add.wasm",
        wat::parse_str(ARITHMETIC).expect("fixture is valid WAT"),
    );
    for engine in engines() {
        call(engine, &wat, &["add", "2", "3"]).prints("5\n");
        call(engine, &wasm, &["add", "2", "3"]).prints("5\n");
        call(engine, &wat, &["add", "2147483647", "1"]).prints("-2147483648\n");
        call(engine, &wat, &["add", "0xffffffff", "0x10"]).prints("15\n");
        call(engine, &wat, &["nothing"]).prints("");
        call(engine, &wat, &["pair", "-7"]).prints("-7\n-7\n");
    }
}

#[test]
fn i64_and_float_results() {
    let wat = fixture("numbers.wat", ARITHMETIC);
    for engine in engines() {
        call(engine, &wat, &["add64", "9007199254740993", "-1"]).prints("9007199254740992\n");
        call(engine, &wat, &["add64", "-9223372036854775808", "-1"])
            .prints("9223372036854775807\n");
        call(engine, &wat, &["mul", "1.5", "4"]).prints("6\n");
        call(engine, &wat, &["mul", "0.1", "3"]).prints("0.30000000000000004\n");
        call(engine, &wat, &["mul", "inf", "-1"]).prints("-inf\n");
        call(engine, &wat, &["mul", "nan", "1"]).prints("NaN\n");
        call(engine, &wat, &["div32", "1", "3"]).prints("0.33333334\n");
    }
}

#[test]
fn negative_arguments_and_options_anywhere() {
    let wat = fixture("negative.wat", ARITHMETIC);
    let file = wat.to_str().expect("utf-8 temp path");
    for engine in engines() {
        call(engine, &wat, &["add", "-2", "-3"]).prints("-5\n");
        call(engine, &wat, &["add", "-0x10", "1"]).prints("-15\n");
        call(engine, &wat, &["mul", "-inf", "-2.5e0"]).prints("inf\n");
        call(engine, &wat, &["add", "--", "-2", "-3"]).prints("-5\n");
        run(&[
            "call", file, "add", "-2", "--fuel", "1000", "-3", "--engine", engine,
        ])
        .prints("-5\n");
        run(&[
            "call",
            file,
            "add",
            "-2",
            "-3",
            &format!("--engine={engine}"),
        ])
        .prints("-5\n");
    }
}

#[test]
fn bad_arguments_are_usage_errors() {
    let wat = fixture("usage.wat", ARITHMETIC);
    for engine in engines() {
        call(engine, &wat, &["add", "1"]).fails(2, "error: bad arguments: `add`");
        call(engine, &wat, &["add", "1", "2", "3"]).fails(2, "error: bad arguments: `add`");
        call(engine, &wat, &["add", "1", "two"])
            .fails(2, "error: bad argument: `two` is not an i32");
        call(engine, &wat, &["add", "1", "4294967296"]).fails(2, "error: bad argument");
        call(engine, &wat, &["add", "1", "1.5"]).fails(2, "error: bad argument");
        call(engine, &wat, &["mul", "1", "x"]).fails(2, "error: bad argument: `x` is not an f64");
        call(engine, &wat, &["nope"]).fails(2, "error: no exported function named `nope`");
        call(engine, &wat, &["answer"]).fails(2, "error: no exported function named `answer`");
        call(engine, &wat, &["add", "1", "2", "--fuel", "lots"]).code_is(2);
    }
    run(&["call", "--engine", "v8", "x.wat", "f"]).code_is(2);
    run(&["call"]).code_is(2);
    run(&["frobnicate"]).code_is(2);
}

#[test]
fn missing_and_invalid_files_exit_2() {
    let missing =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join("plugin-system-cli/no-such-file.wasm");
    let garbage = fixture("garbage.wasm", b"\0asm\x01\0\0\0\x01\xff\xff\xff");
    let text = fixture("garbage.wat", "(this is not a module");
    let neither = fixture("notes.txt", "this is neither wasm nor WAT");
    let linked = fixture(
        "imports.wat",
        r#"(module (import "env" "f" (func)) (func (export "g")))"#,
    );
    for engine in engines() {
        call(engine, &missing, &["f"]).fails(2, "error: cannot read");
        call(engine, &garbage, &["f"]).fails(2, "error: invalid module");
        let wat_error = call(engine, &text, &["f"]);
        wat_error.fails(2, "error: invalid module");
        assert!(
            wat_error.stderr.contains("garbage.wat"),
            "names the file: {wat_error:#?}"
        );
        call(engine, &linked, &["g"]).fails(2, "error: link error");
        // Neither wasm nor WAT: said so, by every command that reads a module.
        let not_a_module = "error: not a WebAssembly module: no `\\0asm` header, and not WAT text";
        call(engine, &neither, &["f"]).fails(2, not_a_module);
        let file = neither.to_str().expect("utf-8 temp path");
        run(&["run", "--engine", engine, file]).fails(2, not_a_module);
        for file in [&missing, &garbage, &text] {
            let file = file.to_str().expect("utf-8 temp path");
            run(&["inspect", "--engine", engine, file]).fails(2, "error: ");
        }
    }
}

#[test]
fn endless_loop_hits_the_timeout_or_the_fuel() {
    let wat = fixture("spin.wat", r#"(module (func (export "spin") (loop br 0)))"#);
    for engine in engines() {
        call(engine, &wat, &["spin", "--timeout-ms", "200"]).fails(1, "error: timeout");
        call(engine, &wat, &["spin", "--fuel", "10000"]).fails(1, "error: fuel exhausted");
    }
}

#[test]
fn enough_fuel_and_time_let_a_call_finish() {
    let wat = fixture("fuel-ok.wat", ARITHMETIC);
    for engine in engines() {
        call(
            engine,
            &wat,
            &["add", "2", "3", "--fuel", "10000", "--timeout-ms", "60000"],
        )
        .prints("5\n");
    }
}

#[test]
fn a_long_call_finishes() {
    let wat = fixture(
        "count.wat",
        r#"(module
          (func (export "count") (param i32) (result i32) (local i32)
            (loop $l
              (local.set 1 (i32.add (local.get 1) (i32.const 1)))
              (br_if $l (i32.lt_u (local.get 1) (local.get 0))))
            local.get 1))"#,
    );
    for engine in engines() {
        call(engine, &wat, &["count", "3000000"]).prints("3000000\n");
        call(engine, &wat, &["count", "3000000", "--timeout-ms", "60000"]).prints("3000000\n");
        call(engine, &wat, &["count", "3000000", "--fuel", "1000000000"]).prints("3000000\n");
    }
}

const MEMORY: &str = r#"(module
  (memory 1)
  (func (export "grow") (param i32) (result i32) local.get 0 memory.grow)
  (func $bomb (export "bomb") (result i32) (local $r i32)
    (loop $again
      (local.set $r (memory.grow (i32.const 1)))
      (br_if $again (i32.ne (local.get $r) (i32.const -1))))
    local.get $r)
  (func (export "bomb_then_size") (result i32) call $bomb drop memory.size))"#;

#[test]
fn memory_growth_stops_at_the_limit() {
    let wat = fixture("bomb.wat", MEMORY);
    for engine in engines() {
        call(engine, &wat, &["bomb", "--max-memory-pages", "10"]).prints("-1\n");
        call(
            engine,
            &wat,
            &["bomb_then_size", "--max-memory-pages", "10"],
        )
        .prints("10\n");
        call(engine, &wat, &["grow", "5", "--max-memory-pages", "10"]).prints("1\n");
        call(engine, &wat, &["grow", "20", "--max-memory-pages", "10"]).prints("-1\n");
        call(engine, &wat, &["grow", "9", "--max-memory-pages", "10"]).prints("1\n");
        call(engine, &wat, &["grow", "10", "--max-memory-pages", "10"]).prints("-1\n");
    }
}

#[test]
fn a_memory_over_the_limit_does_not_instantiate() {
    let wat = fixture(
        "big-memory.wat",
        r#"(module (memory 100) (func (export "f") (result i32) i32.const 1))"#,
    );
    for engine in engines() {
        call(engine, &wat, &["f", "--max-memory-pages", "10"]).fails(1, "error: memory limit");
        call(engine, &wat, &["f", "--max-memory-pages", "100"]).prints("1\n");
    }
}

#[test]
fn deep_recursion_is_a_stack_overflow() {
    let wat = fixture(
        "recursion.wat",
        r#"(module
          (func $down (export "down") (param i32) (result i32)
            (if (result i32) (i32.eqz (local.get 0))
              (then (i32.const 0))
              (else (i32.add (i32.const 1)
                (call $down (i32.sub (local.get 0) (i32.const 1))))))))"#,
    );
    for engine in engines() {
        call(
            engine,
            &wat,
            &["down", "100000", "--max-stack-depth", "1000"],
        )
        .fails(1, "error: stack overflow");
        call(engine, &wat, &["down", "100", "--max-stack-depth", "1000"]).prints("100\n");
    }
}

#[test]
fn traps_exit_1() {
    let wat = fixture(
        "traps.wat",
        r#"(module
          (func (export "boom") unreachable)
          (func (export "div") (param i32 i32) (result i32) local.get 0 local.get 1 i32.div_s))"#,
    );
    for engine in engines() {
        call(engine, &wat, &["boom"]).fails(1, "error: trap: unreachable");
        call(engine, &wat, &["div", "1", "0"]).fails(1, "error: trap: integer divide by zero");
        call(engine, &wat, &["div", "-2147483648", "-1"]).fails(1, "error: trap: integer overflow");
        call(engine, &wat, &["div", "-6", "3"]).prints("-2\n");
    }
}

#[test]
fn invoke_start_runs_initialize_first() {
    let both = fixture(
        "reactor.wat",
        r#"(module
          (global $g (mut i32) (i32.const 0))
          (func (export "_initialize") (global.set $g (i32.add (global.get $g) (i32.const 42))))
          (func (export "_start") (global.set $g (i32.const 7)))
          (func (export "get") (result i32) global.get $g))"#,
    );
    let command = fixture(
        "command.wat",
        r#"(module
          (global $g (mut i32) (i32.const 0))
          (func (export "_start") (global.set $g (i32.const 7)))
          (func (export "get") (result i32) global.get $g))"#,
    );
    let neither = fixture("neither.wat", ARITHMETIC);
    let trapping = fixture(
        "bad-init.wat",
        r#"(module (func (export "_initialize") unreachable) (func (export "get") (result i32) i32.const 1))"#,
    );
    let reactor = fixture(
        "pure-reactor.wat",
        r#"(module
          (global $g (mut i32) (i32.const 0))
          (func (export "_initialize") (global.set $g (i32.add (global.get $g) (i32.const 42))))
          (func (export "get") (result i32) global.get $g))"#,
    );
    for engine in engines() {
        call(engine, &both, &["get"]).prints("0\n");
        call(engine, &both, &["get", "--invoke-start"]).prints("42\n");
        // A reactor was initialized when it was instantiated, once.
        call(engine, &reactor, &["get"]).prints("42\n");
        call(engine, &reactor, &["get", "--invoke-start"]).prints("42\n");
        call(engine, &command, &["--invoke-start", "get"]).prints("7\n");
        call(engine, &neither, &["add", "1", "2", "--invoke-start"])
            .fails(2, "error: bad usage: --invoke-start");
        call(engine, &trapping, &["get", "--invoke-start"]).fails(1, "error: trap: unreachable");
    }
}

const INSPECTED: &str = r#"(module
  (import "env" "log" (func (param i32)))
  (import "env" "limit" (global i64))
  (memory (export "memory") 1 4)
  (global (export "counter") (mut i32) (i32.const 0))
  (table (export "table") 2 funcref)
  (func (export "add") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add)
  (@custom "meta" "hello"))"#;

#[test]
fn inspect_prints_text() {
    let wat = fixture("inspect.wat", INSPECTED);
    for engine in engines() {
        let out = run(&[
            "inspect",
            "--engine",
            engine,
            wat.to_str().expect("utf-8 temp path"),
        ]);
        assert_eq!((out.code, out.stderr.as_str()), (0, ""), "{out:#?}");
        for expected in [
            &format!("engine:          {engine}") as &str,
            "binary version:  1",
            "imports (2):",
            "env::log    func (i32) -> ()",
            "env::limit  global i64",
            "exports (4):",
            "memory   memory 1 4",
            "counter  global (mut i32)",
            "table    table 2 funcref",
            "add      func (i32, i32) -> (i32)",
            "meta",
            "validation:      valid",
        ] {
            assert!(
                out.stdout.contains(expected),
                "{expected:?} missing in\n{}",
                out.stdout
            );
        }
    }
}

#[test]
fn inspect_json_has_the_stable_keys() {
    let binary = wat::parse_str(INSPECTED).expect("fixture is valid WAT");
    let wasm = fixture("inspect.wasm", &binary);
    let wat = fixture("inspect-json.wat", INSPECTED);
    let mut reports = Vec::new();
    for engine in engines() {
        for file in [&wasm, &wat] {
            let out = run(&[
                "inspect",
                "--json",
                "--engine",
                engine,
                file.to_str().expect("utf-8"),
            ]);
            assert_eq!((out.code, out.stderr.as_str()), (0, ""), "{out:#?}");
            assert_eq!(out.stdout.lines().count(), 1, "one JSON object on one line");
            let json: serde_json::Value = serde_json::from_str(&out.stdout).expect("valid JSON");
            let keys: Vec<&str> = json
                .as_object()
                .expect("an object")
                .keys()
                .map(String::as_str)
                .collect();
            let mut expected_keys = [
                "binary_version",
                "custom_sections",
                "exports",
                "imports",
                "manifest",
                "manifest_error",
                "plugin_abi_version",
                "plugin_wire_format",
                "sha256",
                "size",
                "validation",
            ];
            expected_keys.sort_unstable();
            let mut keys = keys;
            keys.sort_unstable();
            assert_eq!(keys, expected_keys);

            assert_eq!(json["size"], binary.len());
            let sha = json["sha256"].as_str().expect("hex string");
            assert_eq!(sha.len(), 64);
            assert!(
                sha.chars()
                    .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
            );
            assert_eq!(json["binary_version"], 1);
            assert_eq!(
                json["imports"],
                serde_json::json!([
                    {"module": "env", "name": "log", "kind": "function", "type": "func (i32) -> ()"},
                    {"module": "env", "name": "limit", "kind": "global", "type": "global i64"},
                ])
            );
            assert_eq!(
                json["exports"],
                serde_json::json!([
                    {"name": "memory", "kind": "memory", "type": "memory 1 4"},
                    {"name": "counter", "kind": "global", "type": "global (mut i32)"},
                    {"name": "table", "kind": "table", "type": "table 2 funcref"},
                    {"name": "add", "kind": "function", "type": "func (i32, i32) -> (i32)"},
                ])
            );
            let sections = json["custom_sections"].as_array().expect("array");
            assert!(
                sections.contains(&serde_json::json!("meta")),
                "{sections:?}"
            );
            // No plugin: no plugin sections, no manifest.
            for key in [
                "plugin_abi_version",
                "plugin_wire_format",
                "manifest",
                "manifest_error",
            ] {
                assert!(json[key].is_null(), "{key}: {json:#}");
            }
            assert_eq!(json["validation"]["valid"], true);
            assert_eq!(json["validation"]["errors"], serde_json::json!([]));
            assert!(json["validation"]["warnings"].is_array());
            reports.push(json);
        }
    }
    // The .wat and the .wasm are the same module, and every engine reads it alike.
    assert!(reports.windows(2).all(|w| w[0] == w[1]), "{reports:#?}");
}

#[test]
fn inspect_validates_wasi_imports_as_run_and_event_serve_them() {
    let wat = fixture(
        "inspect-wasi.wat",
        r#"(module (import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32))) (memory (export "memory") 1))"#,
    );
    let file = wat.to_str().expect("utf-8 temp path");
    for engine in engines() {
        let out = run(&["inspect", "--json", "--engine", engine, file]);
        assert_eq!(out.code, 0, "{out:#?}");
        let json: serde_json::Value = serde_json::from_str(&out.stdout).expect("valid JSON");
        assert_eq!(json["validation"]["valid"], true, "{json:#}");
    }
}

#[test]
fn inspect_reports_validation_errors_and_warnings() {
    let wat = fixture("inspect-big.wat", r#"(module (memory 100))"#);
    let file = wat.to_str().expect("utf-8 temp path");
    for engine in engines() {
        let out = run(&[
            "inspect",
            "--json",
            "--engine",
            engine,
            "--max-memory-pages",
            "10",
            file,
        ]);
        assert_eq!(out.code, 0, "{out:#?}");
        let json: serde_json::Value = serde_json::from_str(&out.stdout).expect("valid JSON");
        assert_eq!(json["validation"]["valid"], false);
        let errors = json["validation"]["errors"].as_array().expect("array");
        assert!(!errors.is_empty());
        let warnings = json["validation"]["warnings"].as_array().expect("array");
        assert!(
            warnings.contains(&serde_json::json!("module exports nothing")),
            "{warnings:?}"
        );

        let text = run(&[
            "inspect",
            "--engine",
            engine,
            "--max-memory-pages",
            "10",
            file,
        ]);
        assert!(
            text.stdout.contains("validation:      invalid"),
            "{text:#?}"
        );
        assert!(text.stdout.contains("  error: memory limit"), "{text:#?}");
    }
}
