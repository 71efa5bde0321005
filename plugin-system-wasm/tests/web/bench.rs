//! The browser benchmark (`cargo xtask bench web`, results in BENCHMARKS.md):
//! the web engine beside wasmi compiled into the same page, which is what a
//! page can run plugins on without this engine, and beside the browser's
//! WebAssembly called directly.
//!
//! Rows: a typed call of a tiny `add` export (raw JS, the web engine with and
//! without fuel, wasmi through the API and raw), a call of a 1,000-turn loop
//! (what fuel costs guest code on the web engine), and the plugin round trip of
//! BENCHMARKS.md's native rows (`handle_event_sync`, the 200-byte event, the
//! SDK echo plugins in JSON and MessagePack) on both engines.
//!
//! criterion does not run in a page (wasm-bindgen-test's port of it prints
//! its estimates but hands none back, so no ratios), hence this small
//! harness: each row is warmed up and sized to ~20 ms batches (Chromium
//! coarsens `performance.now()` to 100 µs on a page that is not cross-origin
//! isolated), then sampled in turns, every row once per round, so that all
//! rows see the machine in the same state. The table gives the
//! median and the fastest batch per iteration; ratios are of medians.
//!
//! Marked `#[ignore]`: timings never run as a test (`cargo xtask test-web`
//! skips it); the command runs it with `--include-ignored` in release.

use std::hint::black_box;
use std::sync::Arc;

use js_sys::{Function, Reflect, Uint8Array, WebAssembly};
use plugin_system_core::{
    Imports, PluginContext, PluginEvent, PluginSource, Timestamp, WasmRuntimeConfig,
};
use plugin_system_core::{Instant, Plugin};
use plugin_system_wasm::{LoadOptions, WasmPlugin, WasmPluginRuntime};
use plugin_system_wasm_run::{EngineKind, new_runtime};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::{console_log, wasm_bindgen_test};

use crate::{FUEL, guest};

/// The engine layer's benchmark module (`plugin-system-wasm-run/benches/engine.rs`),
/// and a loop of 1,000 turns, where fuel is charged once per turn.
const MODULE: &str = r#"(module
    (memory (export "memory") 1)
    (func (export "add") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add)
    (func (export "sum") (param $n i32) (result i32) (local $acc i32)
        (loop $turn
            (local.set $acc (i32.add (local.get $acc) (local.get $n)))
            (br_if $turn (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
        (local.get $acc)))"#;

/// The argument of `sum`: its number of turns.
const TURNS: i32 = 1000;

/// Wall time one batch of a row aims at: 200 times the timer's resolution.
const BATCH_MS: f64 = 20.0;
/// Warm-up per row, which also sizes its batches.
const WARM_UP_MS: f64 = 300.0;
/// Rounds of batches: each row's sample count.
const ROUNDS: usize = 31;

/// Milliseconds since `start`, on the page's clock.
fn ms_since(start: Instant) -> f64 {
    start.elapsed().as_secs_f64() * 1e3
}

/// One measured row: what it runs, how many iterations a batch holds, and the
/// batches' times per iteration, in nanoseconds.
struct Row {
    name: &'static str,
    run: Box<dyn FnMut()>,
    iterations: u32,
    samples: Vec<f64>,
}

impl Row {
    fn new(name: &'static str, run: impl FnMut() + 'static) -> Self {
        Row {
            name,
            run: Box::new(run),
            iterations: 1,
            samples: Vec::with_capacity(ROUNDS),
        }
    }

    /// Milliseconds that `iterations` runs take.
    fn batch(&mut self, iterations: u32) -> f64 {
        let start = Instant::now();
        for _ in 0..iterations {
            (self.run)();
        }
        ms_since(start)
    }

    /// Warms up for [`WARM_UP_MS`] in batches that double until they take half
    /// of [`BATCH_MS`] (the first calls compile, in wasmi and in the browser's
    /// tiers), then sizes the row's batches by the last one.
    fn calibrate(&mut self) {
        let start = Instant::now();
        let mut iterations = 1u32;
        loop {
            let ms = self.batch(iterations);
            if ms_since(start) >= WARM_UP_MS && ms >= BATCH_MS / 2.0 {
                self.iterations = ((f64::from(iterations) * BATCH_MS / ms) as u32).max(1);
                return;
            }
            if ms < BATCH_MS / 2.0 {
                iterations = iterations.saturating_mul(2);
            }
        }
    }

    fn sample(&mut self) {
        let ms = self.batch(self.iterations);
        self.samples.push(ms * 1e6 / f64::from(self.iterations));
    }

    /// Median and fastest batch, per iteration, in nanoseconds.
    fn median_min(&self) -> (f64, f64) {
        let mut sorted = self.samples.clone();
        sorted.sort_by(f64::total_cmp);
        (sorted[sorted.len() / 2], sorted[0])
    }
}

/// `export` (`add` or `sum`, `(i32, i32)` or `i32` to `i32`) through the typed
/// handle API on `kind`, with `config`.
fn api_call(kind: EngineKind, config: WasmRuntimeConfig, export: &str) -> impl FnMut() {
    let runtime = new_runtime(kind, config).expect("engine is built in");
    let module = runtime.load_module(MODULE.as_bytes()).expect("compiles");
    let mut instance = runtime
        .instantiate(&module, &Imports::new())
        .expect("instantiates");
    let add = instance.typed::<(i32, i32), i32>("add").expect("add");
    let sum = instance.typed::<i32, i32>("sum").expect("sum");
    let is_add = export == "add";
    move || {
        let result = if is_add {
            add.call(instance.as_mut(), black_box((1, 2)))
        } else {
            sum.call(instance.as_mut(), black_box(TURNS))
        };
        black_box(result.expect("runs"));
    }
}

/// `export` of a `WebAssembly.Instance`, called through js-sys with its
/// arguments made into JS numbers per call, as any Rust host must.
fn raw_js_call(export: &str) -> impl FnMut() {
    let bytes = Uint8Array::from(&wat::parse_str(MODULE).expect("valid WAT")[..]);
    let module = WebAssembly::Module::new(&bytes).expect("compiles");
    let instance =
        WebAssembly::Instance::new(&module, &js_sys::Object::new()).expect("instantiates");
    let function: Function = Reflect::get(&instance.exports(), &JsValue::from_str(export))
        .expect("the export")
        .dyn_into()
        .expect("a function");
    let is_add = export == "add";
    move || {
        let result = if is_add {
            let (a, b) = black_box((1, 2));
            function.call2(&JsValue::UNDEFINED, &JsValue::from(a), &JsValue::from(b))
        } else {
            function.call1(&JsValue::UNDEFINED, &JsValue::from(black_box(TURNS)))
        };
        black_box(result.expect("runs").as_f64());
    }
}

/// `add` through wasmi's own `TypedFunc`, as `engine.rs` measures raw wasmi.
fn raw_wasmi_add() -> impl FnMut() {
    let engine = wasmi::Engine::default();
    let module =
        wasmi::Module::new(&engine, wat::parse_str(MODULE).expect("valid WAT")).expect("compiles");
    let mut store = wasmi::Store::new(&engine, ());
    let instance = wasmi::Linker::new(&engine)
        .instantiate_and_start(&mut store, &module)
        .expect("instantiates");
    let add = instance
        .get_typed_func::<(i32, i32), i32>(&store, "add")
        .expect("add");
    move || {
        black_box(add.call(&mut store, black_box((1, 2))).expect("adds"));
    }
}

/// BENCHMARKS.md's event: 202 bytes of JSON, 160 of MessagePack.
fn event() -> PluginEvent {
    PluginEvent::new("document.changed")
        .with_target("plugin.echo")
        .with_field("path", "/src/app.rs")
        .with_field("text", "hello")
        .with_field("line", 42)
        .with_timestamp(
            "2025-11-18T10:00:00.000Z"
                .parse::<Timestamp>()
                .expect("a timestamp"),
        )
}

/// One `handle_event_sync` of the event to the SDK echo plugin `name` on
/// `kind` with `config`, loaded and initialized as a host does it.
fn round_trip(kind: EngineKind, config: WasmRuntimeConfig, name: &str) -> impl FnMut() {
    let engine = new_runtime(kind, config).expect("engine is built in");
    let source: PluginSource = guest(&format!("wasm32-unknown-unknown/release/{name}.wasm"));
    let plugin: WasmPlugin = WasmPluginRuntime::new(Arc::clone(&engine))
        .load(&source, LoadOptions::new())
        .expect("loads");
    let id = plugin.manifest().id.clone();
    plugin
        .initialize_sync(&PluginContext::new(id))
        .expect("initializes");
    let event = event();
    move || {
        let response = plugin.handle_event_sync(black_box(&event)).expect("echoes");
        black_box(response);
    }
}

/// `numerator / denominator` of two rows' medians, by name.
fn ratio(rows: &[Row], numerator: &str, denominator: &str) -> f64 {
    let median = |name: &str| {
        rows.iter()
            .find(|row| row.name == name)
            .unwrap_or_else(|| panic!("no row {name}"))
            .median_min()
            .0
    };
    median(numerator) / median(denominator)
}

/// Nanoseconds, as BENCHMARKS.md writes them.
fn time(ns: f64) -> String {
    if ns >= 1000.0 {
        format!("{:.2} µs", ns / 1000.0)
    } else {
        format!("{ns:.1} ns")
    }
}

#[wasm_bindgen_test]
#[ignore = "a benchmark, not a test: `cargo xtask bench web` runs it"]
fn web_engine_beside_wasmi() {
    let plain = WasmRuntimeConfig::default;
    // A plugin's budget per exchange; and for the call rows, whose instance
    // has one budget for all its calls, metering that never runs out.
    let fuel = || WasmRuntimeConfig::default().fuel_limit(FUEL);
    let metered = || WasmRuntimeConfig::default().fuel_limit(u64::MAX);
    let mut rows = vec![
        Row::new("add/raw-js", raw_js_call("add")),
        Row::new("add/web", api_call(EngineKind::Web, plain(), "add")),
        Row::new("add/web-fuel", api_call(EngineKind::Web, metered(), "add")),
        Row::new("add/wasmi", api_call(EngineKind::Wasmi, plain(), "add")),
        Row::new("add/wasmi-raw", raw_wasmi_add()),
        Row::new("sum/raw-js", raw_js_call("sum")),
        Row::new("sum/web", api_call(EngineKind::Web, plain(), "sum")),
        Row::new("sum/web-fuel", api_call(EngineKind::Web, metered(), "sum")),
        Row::new("sum/wasmi", api_call(EngineKind::Wasmi, plain(), "sum")),
    ];
    // The plugin layer needs fuel on the web engine (no deadlines); wasmi runs
    // as natively, under the plugin's deadline, and once more with a fuel
    // budget per exchange as well, as the web engine has.
    for (name, kind, config, plugin) in [
        ("echo-json/web-fuel", EngineKind::Web, fuel(), "echo"),
        ("echo-json/wasmi", EngineKind::Wasmi, plain(), "echo"),
        (
            "echo-msgpack/web-fuel",
            EngineKind::Web,
            fuel(),
            "echo_msgpack",
        ),
        (
            "echo-msgpack/wasmi",
            EngineKind::Wasmi,
            plain(),
            "echo_msgpack",
        ),
        ("echo-json/wasmi-fuel", EngineKind::Wasmi, fuel(), "echo"),
    ] {
        rows.push(Row::new(name, round_trip(kind, config, plugin)));
    }
    for row in &mut rows {
        row.calibrate();
    }
    for _ in 0..ROUNDS {
        for row in &mut rows {
            row.sample();
        }
    }

    let navigator = Reflect::get(&js_sys::global(), &JsValue::from_str("navigator"))
        .and_then(|navigator| Reflect::get(&navigator, &JsValue::from_str("userAgent")))
        .ok()
        .and_then(|agent| agent.as_string())
        .unwrap_or_default();
    let mut table = format!(
        "\n{navigator}\n{ROUNDS} rounds of ~{BATCH_MS} ms batches\n| row | median | min | iterations per batch |\n|---|---|---|---|\n"
    );
    for row in &rows {
        let (median, min) = row.median_min();
        table.push_str(&format!(
            "| `{}` | {} | {} | {} |\n",
            row.name,
            time(median),
            time(min),
            row.iterations
        ));
    }
    table.push_str("\n| ratio of medians | value |\n|---|---|\n");
    for (numerator, denominator) in [
        ("add/web", "add/raw-js"),
        ("add/web-fuel", "add/raw-js"),
        ("add/web", "add/wasmi"),
        ("add/web-fuel", "add/wasmi"),
        ("add/wasmi", "add/wasmi-raw"),
        ("sum/web", "sum/raw-js"),
        ("sum/web-fuel", "sum/web"),
        ("sum/web", "sum/wasmi"),
        ("sum/web-fuel", "sum/wasmi"),
        ("echo-json/web-fuel", "echo-json/wasmi"),
        ("echo-msgpack/web-fuel", "echo-msgpack/wasmi"),
        ("echo-json/wasmi-fuel", "echo-json/wasmi"),
    ] {
        let r = ratio(&rows, numerator, denominator);
        // A small ratio reads better the other way up as well.
        let shown = if r < 0.5 {
            format!("{r:.3}× (1/{:.1})", 1.0 / r)
        } else {
            format!("{r:.2}×")
        };
        table.push_str(&format!("| `{numerator}` / `{denominator}` | {shown} |\n"));
    }
    console_log!("{table}");
}
