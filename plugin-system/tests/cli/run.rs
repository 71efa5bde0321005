//! `plugin-system run`: WASI programs built from source in `guests/`, on every
//! engine, with the terminal's streams, preopened directories and exit codes.

use std::path::{Path, PathBuf};

use crate::{Run, engines, fixture, run, run_with_stdin};

/// A guest module built by `cargo xtask guests`; missing is a loud failure.
pub(crate) fn guest(relative: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../guests/target")
        .join(relative);
    assert!(
        path.exists(),
        "guest {} is not built: run `cargo xtask guests` (scripts/setup.sh installs what it needs)",
        path.display()
    );
    path
}

fn rust_probe() -> PathBuf {
    guest("wasm32-wasip1/release/wasi-probe.wasm")
}

fn probes() -> [PathBuf; 2] {
    [rust_probe(), guest("c/wasi_probe.wasm")]
}

/// `plugin-system run --engine ENGINE OPTIONS... PROBE -- ARGS...`
fn run_probe(engine: &str, options: &[&str], probe: &Path, args: &[&str]) -> Run {
    let probe = probe.to_str().expect("utf-8 path");
    let mut all = vec!["run", "--engine", engine];
    all.extend_from_slice(options);
    all.push(probe);
    all.push("--");
    all.extend_from_slice(args);
    run(&all)
}

/// A fresh directory under this test binary's temp dir.
fn temp_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("plugin-system-run")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

#[test]
fn arguments_reach_the_guest_after_its_path() {
    for engine in engines() {
        for probe in probes() {
            let name = probe.file_name().unwrap().to_str().unwrap();
            run_probe(engine, &[], &probe, &["args", "-x", "b c"])
                .prints(&format!("{name}\nargs\n-x\nb c\n"));
        }
    }
}

#[test]
fn stdin_goes_through_to_stdout() {
    let input: Vec<u8> = (0..=255u8).cycle().take(100_000).collect();
    for engine in engines() {
        let probe = rust_probe();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_plugin-system"))
            .args([
                "run",
                "--engine",
                engine,
                probe.to_str().unwrap(),
                "--",
                "cat",
            ])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .and_then(|mut child| {
                use std::io::Write;
                let mut stdin = child.stdin.take().expect("piped");
                let data = input.clone();
                let writer = std::thread::spawn(move || stdin.write_all(&data));
                let out = child.wait_with_output();
                writer.join().expect("writer").expect("stdin written");
                out
            })
            .expect("runs");
        assert!(out.status.success(), "{engine}: {:?}", out.status);
        assert!(out.stdout == input, "{engine}: stdout differs from stdin");
        let text = run_with_stdin(
            &[
                "run",
                "--engine",
                engine,
                guest("c/wasi_probe.wasm").to_str().unwrap(),
                "--",
                "cat",
            ],
            Some(b"from C\n"),
        );
        text.prints("from C\n");
    }
}

#[test]
fn the_environment_is_empty_unless_given() {
    for engine in engines() {
        for probe in probes() {
            run_probe(engine, &[], &probe, &["env"]).prints("");
            run_probe(engine, &["--env", "B=2", "--env", "A=1"], &probe, &["env"])
                .prints("A=1\nB=2\n");
            // A KEY alone passes the host's value; cargo sets CARGO_PKG_NAME for tests.
            run_probe(engine, &["--env", "CARGO_PKG_NAME"], &probe, &["env"])
                .prints("CARGO_PKG_NAME=plugin-system\n");
            let inherited = run_probe(engine, &["--inherit-env"], &probe, &["env"]);
            assert!(
                inherited.stdout.contains("CARGO_PKG_NAME=plugin-system\n"),
                "{inherited:#?}"
            );
        }
    }
}

#[test]
fn exit_codes_are_the_guests() {
    for engine in engines() {
        for probe in probes() {
            for code in ["0", "3", "125"] {
                run_probe(engine, &[], &probe, &["exit", code]).code_is(code.parse().unwrap());
            }
        }
    }
}

#[test]
fn preopened_directories_read_write_and_read_only() {
    for engine in engines() {
        let dir = temp_dir(&format!("rw-{engine}"));
        let rw = format!("{}::/data", dir.display());
        let probe = rust_probe();
        run_probe(
            engine,
            &["--dir", &rw],
            &probe,
            &["write", "/data/a.txt", "hi"],
        )
        .prints("");
        assert_eq!(std::fs::read_to_string(dir.join("a.txt")).unwrap(), "hi");
        run_probe(engine, &["--dir", &rw], &probe, &["read", "/data/a.txt"]).prints("hi");
        run_probe(engine, &["--dir", &rw], &probe, &["ls", "/data"]).prints("a.txt\n");
        // Without ::GUEST the directory keeps its path inside.
        let same = dir.display().to_string();
        run_probe(
            engine,
            &["--dir", &same],
            &probe,
            &["read", &format!("{same}/a.txt")],
        )
        .prints("hi");

        let ro = format!("{}::/data", dir.display());
        let refused = run_probe(
            engine,
            &["--dir-ro", &ro],
            &probe,
            &["write", "/data/a.txt", "no"],
        );
        refused.code_is(1);
        assert!(refused.stderr.starts_with("error: "), "{refused:#?}");
        assert_eq!(std::fs::read_to_string(dir.join("a.txt")).unwrap(), "hi");
        run_probe(engine, &["--dir-ro", &ro], &probe, &["read", "/data/a.txt"]).prints("hi");
    }
}

#[test]
fn nothing_outside_the_preopens_is_visible() {
    for engine in engines() {
        let root = temp_dir(&format!("escape-{engine}"));
        let inside = root.join("inside");
        std::fs::create_dir_all(&inside).unwrap();
        std::fs::write(root.join("secret.txt"), "secret").unwrap();
        let dir = format!("{}::/box", inside.display());
        let probe = rust_probe();
        for path in [
            "/box/../secret.txt".to_owned(),
            root.join("secret.txt").display().to_string(),
            "/etc/passwd".to_owned(),
        ] {
            let r = run_probe(engine, &["--dir", &dir], &probe, &["read", &path]);
            r.code_is(1);
            assert!(!r.stdout.contains("secret"), "{path}: {r:#?}");
        }
        run_probe(engine, &[], &probe, &["ls", "/"]).code_is(1);
    }
}

#[test]
fn invoke_calls_an_export_of_a_reactor() {
    for engine in engines() {
        let reactor = guest("c/wasi_reactor.wasm");
        let path = reactor.to_str().unwrap();
        run(&[
            "run",
            "--engine",
            engine,
            "--invoke",
            "was_initialized",
            path,
        ])
        .prints("1\n");
        run(&["run", "--engine", engine, "--invoke", "greet", path])
            .prints("hello from reactor\n42\n");
        // No `_start` and no --invoke: say what to do.
        run(&["run", "--engine", engine, path]).fails(2, "error: bad usage: ");
    }
}

#[test]
fn guest_failures_and_limits_exit_1() {
    for engine in engines() {
        let probe = rust_probe();
        let panic = run_probe(engine, &[], &probe, &["panic"]);
        panic.code_is(1);
        assert!(panic.stderr.contains("probe panic"), "{panic:#?}");
        assert!(
            panic.stderr.ends_with("error: trap: unreachable\n"),
            "{panic:#?}"
        );
        run_probe(engine, &["--fuel", "1000000"], &probe, &["spin"])
            .fails(1, "error: fuel exhausted");
        run_probe(engine, &["--timeout-ms", "200"], &probe, &["spin"]).fails(1, "error: timeout");
    }
}

const EXTRA_IMPORTS: &str = r#"(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (import "editor" "answer" (func $answer (result i32)))
  (import "editor" "shout" (func $shout))
  (memory (export "memory") 1)
  (func (export "_start") (call $exit (call $answer)))
  (func (export "loud") (call $shout)))"#;

#[test]
fn unknown_imports_trap_or_return_zeros() {
    let file = fixture("extra_imports.wat", EXTRA_IMPORTS);
    let file = file.to_str().unwrap();
    for engine in engines() {
        run(&["run", "--engine", engine, file]).fails(2, "error: link error: ");
        run(&[
            "run",
            "--engine",
            engine,
            "--unknown-imports",
            "default",
            file,
        ])
        .code_is(0);
        run(&[
            "run",
            "--engine",
            engine,
            "--unknown-imports",
            "trap",
            "--invoke",
            "loud",
            file,
        ])
        .fails(1, "error: host function editor::shout failed: ");
    }
}

#[test]
fn unsupported_features_are_named() {
    // Exception handling: wasmtime runs it, wasmi does not implement it.
    let file = fixture(
        "throws.wat",
        r#"(module (tag $e) (func (export "_start") (block $h (try_table (catch $e $h) (throw $e)))))"#,
    );
    let legacy = fixture(
        "throws_legacy.wat",
        r#"(module (tag $e) (func (export "_start") try throw $e catch $e end))"#,
    );
    for engine in engines() {
        let r = run(&["run", "--engine", engine, file.to_str().unwrap()]);
        if engine == "wasmi" {
            r.fails(2, "error: unsupported feature: exceptions");
        } else {
            r.prints("");
        }
        // The legacy `try`/`catch` instructions run on neither engine.
        run(&["run", "--engine", engine, legacy.to_str().unwrap()])
            .fails(2, "error: unsupported feature: legacy exceptions");
    }
}
