//! One deadline per exchange: every guest call of an event (`alloc`, the
//! handler, both `dealloc`s) shares the plugin's `max_execution_time`, and time
//! spent in WASI counts. Bounds on wall-clock time are generous (many times
//! the deadline): they only fire when the deadline does not hold at all.

use std::time::{Duration, Instant};

use plugin_system_core::{
    PluginError, PluginEvent, PluginManifest, PluginPermissions, PluginRuntimeType, PluginSource,
    WasmError, WasmRuntimeConfig,
};
use plugin_system_wasm::{LoadOptions, WasmPlugin, WasmPluginRuntime};
use plugin_system_wasm_run::{EngineKind, new_runtime};

const ENGINES: [EngineKind; 2] = [EngineKind::Wasmtime, EngineKind::Wasmi];

const LIMIT: Duration = Duration::from_millis(200);

/// A plugin that answers `{"success":true}`, with `imports`, `dealloc` running
/// `dealloc_body`, and the handler running `handler_body` first.
fn plugin(imports: &str, dealloc_body: &str, handler_body: &str) -> Vec<u8> {
    format!(
        r#"(module
  {imports}
  (memory (export "memory") 1)
  (data (i32.const 16) "{{\"success\":true}}")
  (global $heap (mut i32) (i32.const 1024))
  (func $alloc (export "alloc") (param $len i32) (result i32) (local $p i32)
    (local.set $p (global.get $heap))
    (global.set $heap (i32.add (local.get $p) (local.get $len)))
    (local.get $p))
  (func (export "dealloc") (param i32 i32) {dealloc_body})
  (func (export "plugin_handle_event") (param i32 i32) (result i64) (local $out i32)
    {handler_body}
    (local.set $out (call $alloc (i32.const 16)))
    (memory.copy (local.get $out) (i32.const 16) (i32.const 16))
    (i64.or (i64.shl (i64.extend_i32_u (local.get $out)) (i64.const 32)) (i64.const 16))))"#
    )
    .into_bytes()
}

fn load(kind: EngineKind, wasm: Vec<u8>, wasi: bool) -> WasmPlugin {
    load_with(kind, wasm, WasmRuntimeConfig::default().enable_wasi(wasi))
}

fn load_with(kind: EngineKind, wasm: Vec<u8>, config: WasmRuntimeConfig) -> WasmPlugin {
    let engine = new_runtime(kind, config).unwrap();
    let manifest = PluginManifest::new("slow", "Slow", "1.0.0", "slow", PluginRuntimeType::Wasm);
    WasmPluginRuntime::new(engine)
        .load(
            &PluginSource::bytes(wasm),
            LoadOptions::new()
                .manifest(manifest)
                .permissions(PluginPermissions::default().with_max_execution_time(LIMIT)),
        )
        .expect("loads")
}

/// Sends one event and checks that it ended in a timeout, within a generous
/// bound of the deadline.
fn assert_times_out(plugin: &WasmPlugin, what: &str) {
    let started = Instant::now();
    let outcome = plugin.handle_event_sync(&PluginEvent::new("go"));
    assert!(
        matches!(
            outcome,
            Err(PluginError::Wasm(WasmError::Timeout { limit })) if limit == LIMIT
        ),
        "{what}: {outcome:?}"
    );
    assert!(
        started.elapsed() < LIMIT * 10,
        "{what}: took {:?}",
        started.elapsed()
    );
}

#[test]
fn a_looping_dealloc_does_not_get_a_deadline_of_its_own() {
    // Before, each guest call had a deadline of its own, and a `dealloc` cut
    // by its deadline was only logged: the event reported success after
    // several deadlines.
    for kind in ENGINES {
        let endless = plugin("", "(loop $l (br $l))", "");
        assert_times_out(&load(kind, endless, false), "an endless dealloc");
    }
}

#[test]
fn a_failing_dealloc_fails_the_event() {
    for kind in ENGINES {
        let trapping = load(kind, plugin("", "unreachable", ""), false);
        let outcome = trapping.handle_event_sync(&PluginEvent::new("go"));
        assert!(
            matches!(outcome, Err(PluginError::Wasm(WasmError::Trap { .. }))),
            "{kind:?}: {outcome:?}"
        );
    }
}

#[test]
fn a_plugin_sleeping_in_wasi_times_out_at_its_deadline() {
    let poll = r#"(import "wasi_snapshot_preview1" "poll_oneoff"
        (func $poll (param i32 i32 i32 i32) (result i32)))"#;
    // A relative sleep of 10 s on the monotonic clock.
    let sleep = "(i32.store8 (i32.const 520) (i32.const 0))
        (i32.store (i32.const 528) (i32.const 1))
        (i64.store (i32.const 536) (i64.const 10000000000))
        (i64.store (i32.const 544) (i64.const 0))
        (i32.store16 (i32.const 552) (i32.const 0))
        (drop (call $poll (i32.const 512) (i32.const 576) (i32.const 1) (i32.const 640)))";
    for kind in ENGINES {
        let sleeper = load(kind, plugin(poll, "", sleep), true);
        assert_times_out(&sleeper, "a 10 s WASI sleep");
        // The plugin is still usable for the host: its next event times out the
        // same way rather than hanging.
        assert_times_out(&sleeper, "the next event");
    }
}

/// Logs 64 KiB (from the start of memory) in an endless loop.
const LOG_FLOOD: (&str, &str) = (
    r#"(import "plugin_system" "log" (func $log (param i32 i32 i32)))"#,
    "(loop $l (call $log (i32.const 2) (i32.const 0) (i32.const 65536)) (br $l))",
);

#[test]
fn a_plugin_flooding_the_log_stops_at_its_deadline() {
    // wasmi charges no fuel for the host's copying: this ran 8-27 times past
    // its deadline there, since the clock was only read between fuel slices.
    for kind in ENGINES {
        let flood = load(kind, plugin(LOG_FLOOD.0, "", LOG_FLOOD.1), false);
        assert_times_out(&flood, "a log flood");
    }
}

#[test]
fn a_plugin_flooding_the_log_pays_for_it_in_fuel() {
    // 10,000,000 fuel pays for about 150 log calls of 64 KiB, not for ever.
    for kind in ENGINES {
        let config = WasmRuntimeConfig::default().fuel_limit(10_000_000);
        let flood = load_with(kind, plugin(LOG_FLOOD.0, "", LOG_FLOOD.1), config);
        let outcome = flood.handle_event_sync(&PluginEvent::new("go"));
        assert!(
            matches!(outcome, Err(PluginError::Wasm(WasmError::FuelExhausted))),
            "{kind:?}: {outcome:?}"
        );
    }
}
