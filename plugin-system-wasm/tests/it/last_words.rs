//! A trap carries the guest's last words, on both engines: what it said with
//! `set_error` before it trapped (a Rust SDK plugin's panic), and the end of
//! what it wrote to a stderr the host captures.

use plugin_system_core::{
    OutputBuffer, PluginError, PluginEvent, PluginManifest, PluginRuntimeType, PluginSource,
    WasiConfig, WasiOutput, WasmError, WasmRuntimeConfig,
};
use plugin_system_wasm::{LoadOptions, WasmPluginRuntime};
use plugin_system_wasm_run::{EngineKind, new_runtime};

const ENGINES: [EngineKind; 2] = [EngineKind::Wasmtime, EngineKind::Wasmi];

/// A plugin whose `plugin_handle_event` runs `body`, then traps; it may
/// write to WASI stderr (`$stderr` writes the `len` bytes at `ptr`).
fn plugin(body: &str) -> String {
    format!(
        r#"(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "plugin_system" "set_error" (func $set_error (param i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "boom at document 0")
  (data (i32.const 64) "thread 'main' panicked: the end\n")
  (data (i32.const 128) "first words, then no more\n")
  (global $heap (mut i32) (i32.const 1024))
  (func $stderr (param $ptr i32) (param $len i32)
    (i32.store (i32.const 512) (local.get $ptr))
    (i32.store (i32.const 516) (local.get $len))
    (drop (call $fd_write (i32.const 2) (i32.const 512) (i32.const 1) (i32.const 520))))
  (func (export "alloc") (param $n i32) (result i32) (local $p i32)
    (local.set $p (global.get $heap))
    (global.set $heap (i32.add (local.get $p) (local.get $n)))
    (local.get $p))
  (func (export "dealloc") (param i32 i32))
  (func (export "plugin_handle_event") (param $p i32) (param $n i32) (result i64)
    {body}
    unreachable))"#
    )
}

/// What the plugin with `body` fails its event with on `kind`, its stderr
/// captured into `stderr` when given.
fn failure(kind: EngineKind, body: &str, stderr: Option<&OutputBuffer>) -> PluginError {
    let runtime =
        new_runtime(kind, WasmRuntimeConfig::default().enable_wasi(true)).expect("engine built in");
    let manifest = PluginManifest::new("m", "m", "1.0.0", "d", PluginRuntimeType::Wasm);
    let mut options = LoadOptions::new().manifest(manifest);
    if let Some(buffer) = stderr {
        options = options.wasi(WasiConfig::new().stderr(WasiOutput::Capture(buffer.clone())));
    }
    let plugin = WasmPluginRuntime::new(runtime)
        .load(&PluginSource::bytes(plugin(body)), options)
        .expect("loads");
    plugin
        .handle_event_sync(&PluginEvent::new("x"))
        .expect_err("the plugin always traps")
}

const SAYS_WHY: &str = "(call $set_error (i32.const 16) (i32.const 18))";

#[test]
fn a_trap_after_set_error_reports_the_message() {
    for kind in ENGINES {
        let error = failure(kind, SAYS_WHY, None);
        assert_eq!(
            error.to_string(),
            "plugin panicked: boom at document 0 (trap: unreachable in plugin_handle_event)",
            "{kind:?}"
        );
        // Still a trap for whoever matches on kinds, and the instance is in
        // doubt as after any trap.
        assert_eq!(error.kind(), "trap", "{kind:?}");
        assert!(
            error.poisons_instance() && error.is_guest_failure(),
            "{kind:?}"
        );
        assert!(
            matches!(error.trap(), Some(WasmError::Trap { .. })),
            "{kind:?}: {error:?}"
        );
        let PluginError::Trapped(words) = &error else {
            panic!("{kind:?}: last words expected, not {error:?}");
        };
        assert_eq!(words.message.as_deref(), Some("boom at document 0"));
        assert_eq!(words.export, "plugin_handle_event");
        assert!(words.stderr.is_none(), "{kind:?}: no stderr captured");
        // The chain goes on to the trap.
        let words_error: &dyn std::error::Error = &**words;
        let source = words_error.source().expect("the trap");
        assert_eq!(source.to_string(), "trap: unreachable", "{kind:?}");
    }
}

#[test]
fn a_trap_with_nothing_said_is_a_bare_trap() {
    for kind in ENGINES {
        let error = failure(kind, "", None);
        assert!(
            matches!(error, PluginError::Wasm(WasmError::Trap { .. })),
            "{kind:?}: {error:?}"
        );
        // A captured stderr with nothing written in the call adds nothing.
        let stderr = OutputBuffer::new(4096);
        let error = failure(kind, "", Some(&stderr));
        assert!(
            matches!(error, PluginError::Wasm(WasmError::Trap { .. })),
            "{kind:?}: {error:?}"
        );
    }
}

#[test]
fn a_trap_carries_the_end_of_the_captured_stderr() {
    for kind in ENGINES {
        let stderr = OutputBuffer::new(4096);
        let error = failure(
            kind,
            "(call $stderr (i32.const 64) (i32.const 32))",
            Some(&stderr),
        );
        assert_eq!(
            error.to_string(),
            "trap: unreachable in plugin_handle_event; stderr: thread 'main' panicked: the end",
            "{kind:?}"
        );
        // Both: the message first, then the stderr.
        let stderr = OutputBuffer::new(4096);
        let error = failure(
            kind,
            &format!("{SAYS_WHY} (call $stderr (i32.const 64) (i32.const 32))"),
            Some(&stderr),
        );
        assert_eq!(
            error.to_string(),
            "plugin panicked: boom at document 0 (trap: unreachable in plugin_handle_event); \
             stderr: thread 'main' panicked: the end",
            "{kind:?}"
        );
    }
}

#[test]
fn only_the_end_of_a_long_stderr_is_kept() {
    // 26 bytes a write, written 200 times: 5,200 bytes, of which the error
    // keeps the last 1,024 (`LastWords::STDERR_TAIL`).
    let body = "(local.set $p (i32.const 200))
        (loop $again
          (call $stderr (i32.const 128) (i32.const 26))
          (local.set $p (i32.sub (local.get $p) (i32.const 1)))
          (br_if $again (local.get $p)))";
    for kind in ENGINES {
        let stderr = OutputBuffer::new(1 << 16);
        let PluginError::Trapped(words) = failure(kind, body, Some(&stderr)) else {
            panic!("{kind:?}: last words expected");
        };
        let tail = words.stderr.expect("stderr kept");
        assert_eq!(
            tail.len(),
            plugin_system_core::LastWords::STDERR_TAIL,
            "{kind:?}"
        );
        assert!(tail.ends_with("first words, then no more\n"), "{kind:?}");
        assert_eq!(stderr.len(), 5200, "{kind:?}: the buffer keeps it all");
    }
}

#[test]
fn a_stderr_kept_by_its_end_gives_the_last_words_of_every_trap() {
    // A buffer that keeps the last 100 bytes: long full, it still holds what
    // the trapping call wrote last.
    let body = "(local.set $p (i32.const 200))
        (loop $again
          (call $stderr (i32.const 128) (i32.const 26))
          (local.set $p (i32.sub (local.get $p) (i32.const 1)))
          (br_if $again (local.get $p)))";
    for kind in ENGINES {
        let stderr = OutputBuffer::keeping_last(100);
        for _ in 0..2 {
            let error = failure(kind, body, Some(&stderr));
            let PluginError::Trapped(words) = error else {
                panic!("{kind:?}: last words expected, not {error:?}");
            };
            let tail = words.stderr.expect("stderr kept");
            assert_eq!(tail.len(), 100, "{kind:?}");
            assert!(tail.ends_with("first words, then no more\n"), "{kind:?}");
        }
        assert_eq!(stderr.written(), 2 * 5200, "{kind:?}");
    }
}
