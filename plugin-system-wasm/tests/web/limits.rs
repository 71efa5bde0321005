//! What bounds a plugin in a browser: no deadline (nothing interrupts a call
//! on the page's thread), so fuel, given afresh to each exchange, alone stops
//! a plugin that loops, and the plugin says its time limit is not enforced.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use plugin_system_core::{
    PluginError, PluginEvent, PluginManifest, PluginPermissions, PluginRuntimeType, PluginSource,
    WasmError, WasmRuntimeConfig,
};
use plugin_system_wasm::{LoadOptions, TimeLimit, WasmPlugin, WasmPluginRuntime};
use plugin_system_wasm_run::{EngineKind, new_runtime};
use wasm_bindgen_test::wasm_bindgen_test;

use crate::examples::live_buffers;

/// A plugin to the bare ABI whose handler loops forever on an event whose
/// type starts with `s` (`{"type":"s...`: the byte at offset 9 of the JSON)
/// and answers `{"success":true}` to any other; a bump allocator that counts
/// live buffers; `start_body` as its start function.
fn looping_plugin(start_body: &str) -> PluginSource {
    let wat = format!(
        r#"(module
  (memory (export "memory") 1)
  (data (i32.const 16) "{{\"success\":true}}")
  (global $heap (mut i32) (i32.const 1024))
  (global $live (mut i32) (i32.const 0))
  (func $start {start_body})
  (start $start)
  (func $alloc (export "alloc") (param $len i32) (result i32) (local $p i32)
    (local.set $p (global.get $heap))
    (global.set $heap (i32.add (local.get $p) (i32.add (local.get $len) (i32.const 8))))
    (global.set $live (i32.add (global.get $live) (i32.const 1)))
    (local.get $p))
  (func (export "dealloc") (param i32 i32)
    (global.set $live (i32.sub (global.get $live) (i32.const 1))))
  (func (export "plugin_live_buffers") (result i32) (global.get $live))
  (func (export "plugin_handle_event") (param $p i32) (param $n i32) (result i64) (local $out i32)
    (if (i32.eq (i32.load8_u offset=9 (local.get $p)) (i32.const 115))
      (then (loop $spin (br $spin))))
    (local.set $out (call $alloc (i32.const 16)))
    (memory.copy (local.get $out) (i32.const 16) (i32.const 16))
    (i64.or (i64.shl (i64.extend_i32_u (local.get $out)) (i64.const 32)) (i64.const 16))))"#
    );
    PluginSource::bytes(wat::parse_str(&wat).expect("valid WAT"))
}

fn manifest() -> PluginManifest {
    PluginManifest::new("spin", "Spin", "1.0.0", "loops", PluginRuntimeType::Wasm)
}

fn plugins(config: WasmRuntimeConfig) -> WasmPluginRuntime {
    WasmPluginRuntime::new(new_runtime(EngineKind::Web, config).expect("the web engine"))
}

fn load(rt: &WasmPluginRuntime, options: LoadOptions) -> Result<WasmPlugin, PluginError> {
    rt.load(&looping_plugin(""), options.manifest(manifest()))
}

#[wasm_bindgen_test]
fn a_looping_plugin_is_stopped_by_fuel_and_answers_the_next_event() {
    let rt = plugins(WasmRuntimeConfig::default().fuel_limit(100_000));
    let plugin = load(&rt, LoadOptions::new()).expect("loads");
    assert_eq!(
        plugin.time_limit(),
        TimeLimit::FuelOnly {
            max_execution_time: PluginPermissions::DEFAULT_MAX_EXECUTION_TIME,
            fuel_per_exchange: 100_000,
        }
    );
    assert!(!plugin.time_limit().is_enforced());
    for round in 0..3 {
        let err = plugin
            .handle_event_sync(&PluginEvent::new("spin"))
            .expect_err("the loop runs dry");
        assert!(
            matches!(err, PluginError::Wasm(WasmError::FuelExhausted)),
            "round {round}: {err}"
        );
        assert!(err.poisons_instance(), "{err}");
        // The input was freed on the way out, with the little fuel `dealloc` gets.
        assert_eq!(live_buffers(&plugin), 0);
        // Each exchange has its own budget: the next event is answered.
        let answer = plugin
            .handle_event_sync(&PluginEvent::new("ping"))
            .expect("answers");
        assert!(answer.success);
        assert_eq!(live_buffers(&plugin), 0);
    }
    let stats = plugin.stats();
    assert_eq!((stats.events, stats.failures), (6, 3));
}

#[wasm_bindgen_test]
fn a_plugins_own_fuel_bounds_it_and_its_time_limit_is_reported_not_enforced() {
    let rt = plugins(WasmRuntimeConfig::default().fuel_limit(1_000_000_000));
    let permissions =
        PluginPermissions::default().with_max_execution_time(Duration::from_millis(1));
    let plugin = load(
        &rt,
        LoadOptions::new().fuel(50_000).permissions(permissions),
    )
    .expect("loads");
    assert_eq!(
        plugin.time_limit(),
        TimeLimit::FuelOnly {
            max_execution_time: Duration::from_millis(1),
            fuel_per_exchange: 50_000,
        }
    );
    let err = plugin
        .handle_event_sync(&PluginEvent::new("spin"))
        .unwrap_err();
    assert!(
        matches!(err, PluginError::Wasm(WasmError::FuelExhausted)),
        "{err}"
    );
    assert_eq!(live_buffers(&plugin), 0);
    // Burnt: the plugin's 50,000, and what `dealloc` needed, not the engine's billion.
    let burnt = plugin_system_core::Plugin::usage(&plugin)
        .fuel_consumed
        .expect("fuel is metered");
    assert!((50_000..2_000_000).contains(&burnt), "{burnt}");
}

#[wasm_bindgen_test]
fn without_fuel_nothing_would_stop_a_plugin_so_none_loads() {
    // Its start function loops: refused before it is compiled, it never runs.
    let rt = plugins(WasmRuntimeConfig::default());
    let err = rt
        .load(
            &looping_plugin("(loop $l (br $l))"),
            LoadOptions::new().manifest(manifest()),
        )
        .unwrap_err();
    assert!(
        matches!(err, PluginError::Wasm(WasmError::Unsupported { ref feature }) if feature.contains("fuel_limit")),
        "{err}"
    );
    assert_eq!(rt.runtime().stats().modules_loaded, 0);
    // With fuel, the same start function is stopped by it at load.
    let rt = plugins(WasmRuntimeConfig::default().fuel_limit(100_000));
    let err = rt
        .load(
            &looping_plugin("(loop $l (br $l))"),
            LoadOptions::new().manifest(manifest()),
        )
        .unwrap_err();
    assert!(
        matches!(err, PluginError::Wasm(WasmError::FuelExhausted)),
        "{err}"
    );
}

/// The warnings logged while it is the default subscriber, by message.
#[derive(Clone, Default)]
struct Warnings(Arc<Mutex<Vec<String>>>);

impl tracing::Subscriber for Warnings {
    fn enabled(&self, metadata: &tracing::Metadata<'_>) -> bool {
        *metadata.level() == tracing::Level::WARN
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        struct Message<'a>(&'a mut String);
        impl tracing::field::Visit for Message<'_> {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                if field.name() == "message" {
                    *self.0 = format!("{value:?}");
                }
            }
        }
        let mut message = String::new();
        event.record(&mut Message(&mut message));
        self.0.lock().unwrap().push(message);
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

#[wasm_bindgen_test]
fn the_unenforced_time_limit_is_logged_once_per_plugin() {
    let warnings = Warnings::default();
    tracing::subscriber::with_default(warnings.clone(), || {
        let rt = plugins(WasmRuntimeConfig::default().fuel_limit(100_000));
        let plugin = load(&rt, LoadOptions::new()).expect("loads");
        for event in ["spin", "ping", "spin"] {
            let _outcome = plugin.handle_event_sync(&PluginEvent::new(event));
        }
        plugin.restart_sync().expect("restarts");
        plugin
            .handle_event_sync(&PluginEvent::new("ping"))
            .expect("answers");
        load(&rt, LoadOptions::new()).expect("a second plugin loads");
    });
    let logged = warnings.0.lock().unwrap();
    assert_eq!(logged.len(), 2, "{logged:?}");
    for message in logged.iter() {
        assert!(
            message.contains(
                "plugin spin: its max_execution_time of 5s is not enforced on the web engine"
            ),
            "{message}"
        );
    }
}
