//! Hostile guests through the command line: each limit stops them, with one
//! `error:` line and exit 1, within a bound that never fires on a healthy run.

use std::{
    io::Read,
    process::{Command, Stdio},
    thread,
    time::{Duration, Instant},
};

use crate::{call, engines, fixture, run};

#[test]
fn a_table_bomb_stops_at_the_table_limit() {
    let wat = fixture(
        "table-bomb.wat",
        r#"(module
          (table $t 1 funcref)
          (func (export "grow") (param i32) (result i32)
            (table.grow $t (ref.null func) (local.get 0))))"#,
    );
    for engine in engines() {
        // One instruction, 2^31 elements: refused at once (the default limit).
        call(
            engine,
            &wat,
            &["grow", "2147483647", "--max-memory-pages", "1"],
        )
        .prints("-1\n");
        call(engine, &wat, &["grow", "9", "--max-table-elements", "10"]).prints("1\n");
        call(engine, &wat, &["grow", "10", "--max-table-elements", "10"]).prints("-1\n");
    }
}

/// A WASI command that sleeps 10 s through `poll_oneoff`.
const SLEEP: &str = r#"(module
  (import "wasi_snapshot_preview1" "poll_oneoff" (func $poll (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "_start")
    (i32.store8 (i32.const 8) (i32.const 0))
    (i32.store (i32.const 16) (i32.const 1))
    (i64.store (i32.const 24) (i64.const 10000000000))
    (drop (call $poll (i32.const 0) (i32.const 64) (i32.const 1) (i32.const 128)))))"#;

/// A WASI command that reads stdin once.
const READ: &str = r#"(module
  (import "wasi_snapshot_preview1" "fd_read" (func $read (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "_start")
    (i32.store (i32.const 0) (i32.const 64))
    (i32.store (i32.const 4) (i32.const 64))
    (drop (call $read (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 8)))))"#;

#[test]
fn a_wasi_sleep_ends_at_the_deadline() {
    let wasm = fixture("sleep.wat", SLEEP);
    for engine in engines() {
        let started = Instant::now();
        let file = wasm.to_str().unwrap();
        run(&["run", "--engine", engine, "--timeout-ms", "300", file]).fails(1, "error: timeout");
        assert!(started.elapsed() < Duration::from_secs(8), "{engine}");
    }
}

#[test]
fn a_read_of_a_stdin_that_stays_open_ends_at_the_deadline() {
    let wasm = fixture("read.wat", READ);
    for engine in engines() {
        // stdin is a pipe nobody writes to or closes while the command runs.
        let mut child = Command::new(env!("CARGO_BIN_EXE_plugin-system"))
            .args([
                "run",
                "--no-cache",
                "--engine",
                engine,
                "--timeout-ms",
                "300",
            ])
            .arg(&wasm)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starts");
        let stdin = child.stdin.take();
        let started = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().expect("waits") {
                break status;
            }
            if started.elapsed() > Duration::from_secs(30) {
                let _ = child.kill();
                panic!("{engine}: the read outlived its deadline by far");
            }
            thread::sleep(Duration::from_millis(10));
        };
        drop(stdin);
        let mut stderr = String::new();
        child
            .stderr
            .take()
            .expect("piped")
            .read_to_string(&mut stderr)
            .expect("utf-8");
        assert_eq!(status.code(), Some(1), "{engine}: {stderr}");
        assert!(stderr.starts_with("error: timeout"), "{engine}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{engine}: {stderr}");
    }
}
