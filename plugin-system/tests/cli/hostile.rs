//! Hostile input to the command line, on every engine: inputs that never end
//! or are too large (read up to a cap, refused with exit 2 and the memory of
//! the process bounded), an event too large to send (bad input, exit 2), and
//! guest text on stderr (escaped, one line, cut).

use std::path::Path;

use crate::{Run, engines, fixture, run, run::guest};

/// A plugin without a manifest whose `plugin_handle_event` logs `message` at
/// info and then fails with `message` through `set_error`.
fn failing_with(message: &[u8]) -> String {
    let escaped: String = message.iter().map(|b| format!("\\{b:02x}")).collect();
    format!(
        r#"(module
  (import "plugin_system" "set_error" (func $set_error (param i32 i32)))
  (import "plugin_system" "log" (func $log (param i32 i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 1024) "{escaped}")
  (global $heap (mut i32) (i32.const 32768))
  (func (export "alloc") (param $n i32) (result i32) (local $p i32)
    (local.set $p (global.get $heap))
    (global.set $heap (i32.add (local.get $p) (local.get $n)))
    (local.get $p))
  (func (export "dealloc") (param i32 i32))
  (func (export "plugin_handle_event") (param i32 i32) (result i64)
    (call $log (i32.const 2) (i32.const 1024) (i32.const {len}))
    (call $set_error (i32.const 1024) (i32.const {len}))
    (i64.const 0)))"#,
        len = message.len()
    )
}

/// What a guest might say to take over a terminal: clear the screen, go back
/// to the start of the line, reverse the text, forge a second error line, and
/// go on for 10 KB.
fn hostile_message() -> Vec<u8> {
    let mut message = "\u{1b}[2J\rforged: ok\u{202e}txt.exe\nerror: a second line\0"
        .as_bytes()
        .to_vec();
    message.extend(std::iter::repeat_n(b'x', 10 * 1024));
    message
}

/// What the start of the message looks like once escaped.
const ESCAPED: &str = "\\u{1b}[2J\\rforged: ok\\u{202e}txt.exe\\nerror: a second line\\0xxx";

/// Asserts that nothing in `text` but the ends of its lines can act on a
/// terminal, and that no line is longer than a few KB.
#[track_caller]
fn terminal_safe(run: &Run) {
    for line in run.stderr.lines() {
        let unsafe_char = line.chars().find(|&c| {
            c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
        });
        assert_eq!(unsafe_char, None, "{run:#?}");
        assert!(
            line.len() <= 4200,
            "a line of {} bytes: {run:#?}",
            line.len()
        );
    }
}

#[test]
fn a_guest_message_reaches_stderr_escaped_on_one_line() {
    let file = fixture("hostile-message.wat", failing_with(&hostile_message()));
    let file = file.to_str().expect("utf-8 path");
    for engine in engines() {
        let failed = run(&["event", "--engine", engine, file, "--type", "x"]);
        failed.fails(
            1,
            &format!("error: plugin failed in plugin_handle_event: {ESCAPED}"),
        );
        terminal_safe(&failed);
        assert!(failed.stderr.ends_with(" more bytes)\n"), "{failed:#?}");

        // The log line too, and the error after it.
        let logged = run(&[
            "event", "--engine", engine, file, "--type", "x", "--log", "info",
        ]);
        assert_eq!(logged.code, 1, "{logged:#?}");
        terminal_safe(&logged);
        let lines: Vec<&str> = logged.stderr.lines().collect();
        assert_eq!(lines.len(), 2, "{logged:#?}");
        assert!(
            lines[0].contains("INFO") && lines[0].contains("forged: ok"),
            "{logged:#?}"
        );
        assert!(lines[1].starts_with("error: plugin failed"), "{logged:#?}");
    }
}

#[test]
fn export_names_are_escaped() {
    let file = fixture(
        "hostile-exports.wat",
        r#"(module (func (export "\1b[2J\u{202e}evil\0a\0d")))"#,
    );
    for engine in engines() {
        let missing = crate::call(engine, &file, &["nope"]);
        missing.fails(2, "error: no exported function named `nope` (exported functions: \\u{1b}[2J\\u{202e}evil\\n\\r)");
        terminal_safe(&missing);
    }
}

/// Runs the binary with `args` under a cap on its address space: enough for
/// a module of 1 GiB, far from what reading `/dev/zero` to the end takes.
/// With `zero_stdin`, its stdin is `/dev/zero`.
#[cfg(unix)]
fn run_in_bounded_memory(args: &[&str], zero_stdin: bool) -> Run {
    use std::process::{Command, Stdio};
    const KIB: u64 = 3_500_000;
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg(format!(r#"ulimit -v {KIB} && exec "$0" "$@""#))
        .arg(env!("CARGO_BIN_EXE_plugin-system"))
        .args(args)
        .stdin(if zero_stdin {
            Stdio::from(std::fs::File::open("/dev/zero").expect("/dev/zero"))
        } else {
            Stdio::null()
        });
    crate::run_command(command, args, None)
}

#[cfg(unix)]
#[test]
fn inputs_that_never_end_are_read_up_to_a_cap() {
    let echo = guest("wasm32-unknown-unknown/release/echo.wasm");
    let echo = echo.to_str().expect("utf-8 path");
    let module = "error: invalid module: /dev/zero is larger than 1073741824 bytes";
    for engine in engines() {
        for args in [
            &["inspect", "--engine", engine, "/dev/zero"][..],
            &["call", "--engine", engine, "/dev/zero", "f"],
            &["run", "--engine", engine, "/dev/zero"],
            &["event", "--engine", engine, "/dev/zero", "--type", "x"],
        ] {
            run_in_bounded_memory(args, false).fails(2, module);
        }
        let event = ["event", "--engine", engine, echo, "--type", "x"];
        run_in_bounded_memory(&[&event[..], &["--data", "@/dev/zero"]].concat(), false).fails(
            2,
            "error: bad arguments: --data @/dev/zero is larger than 104857600 bytes",
        );
        run_in_bounded_memory(&[&event[..], &["--data", "-"]].concat(), true).fails(
            2,
            "error: bad arguments: --data - is larger than 104857600 bytes",
        );
        run_in_bounded_memory(&[&event[..], &["--manifest", "/dev/zero"]].concat(), false).fails(
            2,
            "error: bad arguments: --manifest /dev/zero is larger than 1048576 bytes",
        );
    }
}

/// `{"a":[1E15,...]}` of `count` numbers: each 5 bytes here, 19 once
/// serialized (`1000000000000000.0,`).
fn expanding_data(count: usize) -> String {
    let mut data = String::with_capacity(count * 5 + 8);
    data.push_str(r#"{"a":["#);
    for i in 0..count {
        if i > 0 {
            data.push(',');
        }
        data.push_str("1E15");
    }
    data.push_str("]}");
    data
}

#[test]
fn an_event_too_large_to_send_is_bad_input() {
    let echo = guest("wasm32-unknown-unknown/release/echo.wasm");
    // 110 MB of data: over the cap of --data.
    let huge = fixture(
        "huge-data.json",
        format!(r#"{{"text":"{}"}}"#, "x".repeat(110_000_000)),
    );
    // 30 MB that is over 100 MiB once serialized.
    let expanding = fixture("expanding-data.json", expanding_data(6_000_000));
    for engine in engines() {
        let event = |data: &Path| {
            let data = format!("@{}", data.to_str().expect("utf-8 path"));
            let echo = echo.to_str().expect("utf-8 path");
            run(&[
                "event", "--engine", engine, echo, "--type", "x", "--data", &data,
            ])
        };
        event(&huge).fails(2, "error: bad arguments: --data @");
        event(&expanding).fails(
            2,
            "error: bad arguments: the event cannot be sent: json message of",
        );
    }
    let _ = std::fs::remove_file(huge);
    let _ = std::fs::remove_file(expanding);
}
