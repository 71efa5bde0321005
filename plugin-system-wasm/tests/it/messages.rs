//! The `set_error` and `log` imports on both engines: a (ptr, len) range that
//! leaves the guest's memory fails the import (ABI.md: a bad pointer given to
//! an import), and a huge range inside it keeps only the first 64 KiB, with a
//! count of what was left.

use std::sync::{Arc, Mutex};

use plugin_system_core::{
    PluginError, PluginEvent, PluginManifest, PluginRuntimeType, PluginSource, WasmError,
    WasmRuntimeConfig,
};
use plugin_system_wasm::{LoadOptions, WasmPluginRuntime, abi::MAX_MESSAGE_BYTES};
use plugin_system_wasm_run::{EngineKind, new_runtime};

const ENGINES: [EngineKind; 2] = [EngineKind::Wasmtime, EngineKind::Wasmi];

/// Pages of the plugin's memory: 128 KiB, twice the kept length.
const PAGES: usize = 2;
const MEMORY_BYTES: usize = PAGES * 65536;

/// A plugin of two pages, filled with `a` from offset 1024 on, whose
/// `plugin_handle_event` runs `body` and then fails with `set_error("done")`.
fn plugin(body: &str) -> String {
    format!(
        r#"(module
  (import "plugin_system" "set_error" (func $set_error (param i32 i32)))
  (import "plugin_system" "log" (func $log (param i32 i32 i32)))
  (memory (export "memory") {PAGES})
  (data (i32.const 16) "done")
  (global $heap (mut i32) (i32.const 64))
  (func (export "alloc") (param $n i32) (result i32) (local $p i32)
    (local.set $p (global.get $heap))
    (global.set $heap (i32.add (local.get $p) (local.get $n)))
    (local.get $p))
  (func (export "dealloc") (param i32 i32))
  (func (export "plugin_handle_event") (param $p i32) (param $n i32) (result i64)
    (memory.fill (i32.const 1024) (i32.const 0x61) (i32.const {fill}))
    {body}
    (call $set_error (i32.const 16) (i32.const 4))
    (i64.const 0)))"#,
        fill = MEMORY_BYTES - 1024,
    )
}

/// What `plugin_handle_event` of [`plugin`] with `body` fails with on `kind`.
fn failure(kind: EngineKind, body: &str) -> PluginError {
    let runtime = new_runtime(kind, WasmRuntimeConfig::default()).expect("engine built in");
    let manifest = PluginManifest::new("m", "m", "1.0.0", "d", PluginRuntimeType::Wasm);
    let plugin = WasmPluginRuntime::new(runtime)
        .load(
            &PluginSource::bytes(plugin(body)),
            LoadOptions::new().manifest(manifest),
        )
        .expect("loads");
    plugin
        .handle_event_sync(&PluginEvent::new("x"))
        .expect_err("the plugin always fails")
}

/// The message of a `set_error` failure.
#[track_caller]
fn guest_message(err: PluginError) -> String {
    match err {
        PluginError::Guest { message, .. } => message,
        other => panic!("a plugin failure with a message, not {other:?}"),
    }
}

/// Asserts that the import failed, as a host function's error.
#[track_caller]
fn import_failed(err: &PluginError, import: &str) {
    assert!(
        matches!(
            err,
            PluginError::Wasm(WasmError::Host { function, .. }) if function.ends_with(import)
        ),
        "{import} should fail: {err:?}"
    );
}

#[test]
fn a_range_past_the_memory_fails_the_import() {
    let bad_ranges = [
        // From inside the memory to far past it (cutting the length first
        // would have hidden this one).
        (0, i32::MAX),
        (1024, MEMORY_BYTES as i32),
        // One byte past the end.
        (MEMORY_BYTES as i32 - 10, 11),
        // A pointer past the end, with any length.
        (MEMORY_BYTES as i32, 1),
        (-1, 1),
        (-1, -1),
    ];
    for kind in ENGINES {
        for (ptr, len) in bad_ranges {
            let err = failure(
                kind,
                &format!("(call $set_error (i32.const {ptr}) (i32.const {len}))"),
            );
            import_failed(&err, "set_error");
            let err = failure(
                kind,
                &format!("(call $log (i32.const 2) (i32.const {ptr}) (i32.const {len}))"),
            );
            import_failed(&err, "log");
        }
        // The last byte of the memory is in range.
        let err = failure(
            kind,
            &format!(
                "(call $set_error (i32.const {}) (i32.const 1)) (return (i64.const 0))",
                MEMORY_BYTES - 1
            ),
        );
        assert_eq!(guest_message(err), "a", "{kind:?}");
    }
}

#[test]
fn a_long_message_keeps_its_first_64_kib() {
    let len = MEMORY_BYTES - 1024;
    for kind in ENGINES {
        let err = failure(
            kind,
            &format!("(call $set_error (i32.const 1024) (i32.const {len})) (return (i64.const 0))"),
        );
        let message = guest_message(err);
        let kept = "a".repeat(MAX_MESSAGE_BYTES);
        assert_eq!(
            message,
            format!("{kept}… ({} more bytes)", len - MAX_MESSAGE_BYTES),
            "{kind:?}"
        );
        // A message of exactly the limit is kept whole, with no marker.
        let err = failure(
            kind,
            &format!(
                "(call $set_error (i32.const 1024) (i32.const {MAX_MESSAGE_BYTES})) (return (i64.const 0))"
            ),
        );
        assert_eq!(guest_message(err), kept, "{kind:?}");
    }
}

#[test]
fn a_long_log_line_is_kept_cut_and_the_call_goes_on() {
    let len = MEMORY_BYTES - 1024;
    for kind in ENGINES {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let subscriber = Capture(Arc::clone(&lines));
        let err = tracing::subscriber::with_default(subscriber, || {
            failure(
                kind,
                &format!("(call $log (i32.const 3) (i32.const 1024) (i32.const {len}))"),
            )
        });
        // The log call returned: the handler went on to its own failure.
        assert_eq!(guest_message(err), "done", "{kind:?}");
        let lines = lines.lock().expect("lines").clone();
        let expected = format!(
            "{}… ({} more bytes)",
            "a".repeat(MAX_MESSAGE_BYTES),
            len - MAX_MESSAGE_BYTES
        );
        assert!(lines.contains(&expected), "{kind:?}: {} lines", lines.len());
    }
}

/// A tracing subscriber that keeps the message of every event of the target
/// `plugin` (the plugins' log lines).
struct Capture(Arc<Mutex<Vec<String>>>);

struct Message(Option<String>);

impl tracing::field::Visit for Message {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0 = Some(format!("{value:?}"));
        }
    }
}

impl tracing::Subscriber for Capture {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }

    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }

    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}

    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}

    fn event(&self, event: &tracing::Event<'_>) {
        if event.metadata().target() != "plugin" {
            return;
        }
        let mut message = Message(None);
        event.record(&mut message);
        if let Some(text) = message.0 {
            self.0.lock().expect("lines").push(text);
        }
    }

    fn enter(&self, _: &tracing::span::Id) {}

    fn exit(&self, _: &tracing::span::Id) {}
}
