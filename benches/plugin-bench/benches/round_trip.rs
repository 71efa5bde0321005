//! One event round trip (serialize, copy in, call, copy out, deserialize) with
//! a 200-byte event, on both engines and both wire formats, beside Extism's
//! `Plugin::call` on an equivalent echo plugin, in the same run.
//!
//! `cargo xtask bench plugins` builds the plugins and runs this; the results
//! are in BENCHMARKS.md ("Plugin round trip"). Groups:
//!
//! - `round_trip/<engine>/sdk-json` and `sdk-msgpack`:
//!   `WasmPlugin::handle_event_sync` with the SDK echo plugins
//!   (`guests/plugins/echo`, `guests/plugins/echo-msgpack`), which declare their
//!   format and decode the event and encode their reply inside the guest.
//! - `round_trip/<engine>/canned-<format>` (json, msgpack, postcard): the same
//!   call with a WAT plugin that declares no format (so the host's serializer of
//!   that format is used) and answers with the echo's reply, pre-encoded in that
//!   format, without reading the event: the host's full path, no guest codec.
//! - `round_trip/<engine>/bytes-<format>`: the canned plugins through
//!   `WasmPlugin::handle_event_bytes_sync`, with the event serialized once
//!   beforehand and the reply left undecoded: bytes in, bytes out, as
//!   `extism/call` does it.
//! - `extism/sdk-json`: the counterpart of `sdk-json`: the host serializes the
//!   event with `JsonSerializer`, calls the Extism plugin's `echo_event`, which
//!   reads it with extism-pdk's `Json` into the same models and answers with its
//!   data, and deserializes the response. The `sdk-*` rows are compared with it.
//! - `extism/call`: `extism::Plugin::call::<&[u8], &[u8]>("echo", ..)` with the
//!   event's JSON bytes, pre-serialized: Extism does no codec work at all. Run
//!   with `RUST_LIB_BACKTRACE=0` (set here unless given): with `RUST_BACKTRACE=1`
//!   every Extism call captures backtraces (the unwinder took over a fifth of
//!   its profile) and took twice as long.
//! - `bridge/<engine>`: `handle_event_sync` with a pass-through serializer (the
//!   event's bytes are ready, the response is a constant) and the WAT echo:
//!   the bridge (lock, fuel, link, buffers) without the codec.
//! - `raw/<engine>`: the ABI path through the engine API (`WasmInstance`):
//!   alloc, write, `plugin_handle_event`, read, two deallocs, with the WAT echo
//!   and the plugin's 5 s deadline; no codec, no bridge.
//! - `codec/<format>`: serialize the event and deserialize the reply alone;
//!   `codec/<format>/event` (into a reused buffer, as the bridge does) and
//!   `codec/<format>/response` each alone.
//!
//! At the end a summary prints each median, against its Extism row (`sdk-*`
//! against `extism/sdk-json`, the rest against `extism/call`) and the 2 µs
//! target.
//! Time is the wall clock; `PLUGIN_BENCH_CLOCK=cpu` measures the thread's CPU
//! time instead, which leaves out the time other processes hold the cores (on a
//! shared 2-core machine the wall clock of a row can double with the load).

#![allow(missing_docs, clippy::print_stdout, reason = "a benchmark reports")]

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use criterion::Criterion;
use criterion::measurement::{Measurement, ValueFormatter, WallTime};
use plugin_system_core::{
    Imports, PluginEvent, PluginManifest, PluginPermissions, PluginResponse, PluginRuntimeType,
    PluginSerializer, PluginSource, SerializationError, Timestamp, TypedFunc, Value, WasmInstance,
    WasmRuntime, WasmRuntimeConfig, WireFormat,
};
use plugin_system_wasm::{
    JsonSerializer, LoadOptions, MessagePackSerializer, PostcardSerializer, WasmPlugin,
    WasmPluginRuntime,
};
use plugin_system_wasm_run::{EngineKind, new_runtime};

/// The round-trip target of the issue, on wasmtime.
const TARGET_NS: f64 = 2000.0;

/// A bump allocator that starts over once every buffer is freed (the host frees
/// both buffers of each call), in the shape the ABI asks for.
const ALLOCATOR: &str = r#"
  (global $top (mut i32) (i32.const 65536))
  (global $live (mut i32) (i32.const 0))
  (func $alloc (export "alloc") (param $len i32) (result i32)
    (local $p i32) (local $end i32) (local $have i32)
    global.get $top
    local.set $p
    local.get $p
    local.get $len
    i32.const 7
    i32.add
    i32.const -8
    i32.and
    i32.add
    local.set $end
    memory.size
    i32.const 16
    i32.shl
    local.set $have
    local.get $end
    local.get $have
    i32.gt_u
    if
      local.get $end
      local.get $have
      i32.sub
      i32.const 65535
      i32.add
      i32.const 16
      i32.shr_u
      memory.grow
      i32.const -1
      i32.eq
      if
        i32.const 0
        return
      end
    end
    local.get $end
    global.set $top
    global.get $live
    i32.const 1
    i32.add
    global.set $live
    local.get $p)
  (func $dealloc (export "dealloc") (param i32 i32)
    global.get $live
    i32.const 1
    i32.sub
    global.set $live
    global.get $live
    i32.eqz
    if
      i32.const 65536
      global.set $top
    end)
"#;

/// The raw echo: replies with a copy of its input. No codec, no format section.
fn wat_echo() -> Vec<u8> {
    let wat = format!(
        r#"(module
  (memory (export "memory") 2)
  {ALLOCATOR}
  (func (export "plugin_handle_event") (param $ptr i32) (param $len i32) (result i64)
    (local $r i32)
    local.get $len
    call $alloc
    local.tee $r
    i32.eqz
    if
      i64.const 0
      return
    end
    local.get $r
    local.get $ptr
    local.get $len
    memory.copy
    local.get $r
    i64.extend_i32_u
    i64.const 32
    i64.shl
    local.get $len
    i64.extend_i32_u
    i64.or))"#
    );
    wat::parse_str(wat).expect("the WAT echo")
}

/// A plugin that answers every event with `reply` (copied into a fresh buffer),
/// without reading the event; declares no wire format.
fn wat_canned(reply: &[u8]) -> Vec<u8> {
    assert!(reply.len() < 60_000, "the reply must fit below the heap");
    let escaped: String = reply.iter().map(|b| format!("\\{b:02x}")).collect();
    let wat = format!(
        r#"(module
  (memory (export "memory") 2)
  (data (i32.const 1024) "{escaped}")
  {ALLOCATOR}
  (func (export "plugin_handle_event") (param $ptr i32) (param $len i32) (result i64)
    (local $r i32)
    i32.const {len}
    call $alloc
    local.tee $r
    i32.eqz
    if
      i64.const 0
      return
    end
    local.get $r
    i32.const 1024
    i32.const {len}
    memory.copy
    local.get $r
    i64.extend_i32_u
    i64.const 32
    i64.shl
    i64.const {len}
    i64.or))"#,
        len = reply.len()
    );
    wat::parse_str(wat).expect("the WAT canned-reply plugin")
}

/// The benchmark's event: its JSON is about 200 bytes.
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

/// What the echo plugins answer: `success` and the event's data.
fn reply(event: &PluginEvent) -> PluginResponse {
    let mut response = PluginResponse::new(true);
    response.data = event.data.clone();
    response
}

/// The bridge without a codec: the event's bytes are ready, the response is a
/// constant. Only for `bridge/*`.
#[derive(Debug)]
struct PassThrough {
    event: Vec<u8>,
}

impl PluginSerializer for PassThrough {
    fn format(&self) -> WireFormat {
        WireFormat::Json
    }
    fn serialize_event(&self, _: &PluginEvent) -> Result<Vec<u8>, SerializationError> {
        Ok(self.event.clone())
    }
    fn deserialize_event(&self, bytes: &[u8]) -> Result<PluginEvent, SerializationError> {
        JsonSerializer::new().deserialize_event(bytes)
    }
    fn serialize_response(&self, r: &PluginResponse) -> Result<Vec<u8>, SerializationError> {
        JsonSerializer::new().serialize_response(r)
    }
    fn deserialize_response(&self, bytes: &[u8]) -> Result<PluginResponse, SerializationError> {
        black_box(bytes);
        Ok(PluginResponse::new(true))
    }
    fn serialize_manifest(&self, m: &PluginManifest) -> Result<Vec<u8>, SerializationError> {
        JsonSerializer::new().serialize_manifest(m)
    }
    fn deserialize_manifest(&self, bytes: &[u8]) -> Result<PluginManifest, SerializationError> {
        JsonSerializer::new().deserialize_manifest(bytes)
    }
    fn serialize_value(&self, v: &Value) -> Result<Vec<u8>, SerializationError> {
        JsonSerializer::new().serialize_value(v)
    }
    fn deserialize_value(&self, bytes: &[u8]) -> Result<Value, SerializationError> {
        JsonSerializer::new().deserialize_value(bytes)
    }
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A built plugin, or a panic that says how to build it.
fn read_plugin(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| {
        panic!(
            "cannot read {}: {e}; `cargo xtask bench plugins` builds it",
            path.display()
        )
    })
}

/// A plugin of `guests/plugins`, built by `cargo xtask guests`.
fn sdk_plugin_path(file_stem: &str) -> PathBuf {
    root().join(format!(
        "guests/target/wasm32-unknown-unknown/release/{file_stem}.wasm"
    ))
}

fn extism_echo_path() -> PathBuf {
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root().join("target"), PathBuf::from);
    target.join("wasm32-unknown-unknown/release/extism_echo.wasm")
}

fn runtime(kind: EngineKind) -> Arc<dyn WasmRuntime> {
    new_runtime(kind, WasmRuntimeConfig::default()).expect("an engine")
}

fn manifest() -> PluginManifest {
    PluginManifest::new(
        "bench.wat",
        "WAT",
        "0.1.0",
        "benchmark plugin",
        PluginRuntimeType::Wasm,
    )
}

fn load(
    kind: EngineKind,
    serializer: Arc<dyn PluginSerializer>,
    wasm: &[u8],
    options: LoadOptions,
) -> WasmPlugin {
    WasmPluginRuntime::new(runtime(kind))
        .with_serializer(serializer)
        .load_and_initialize(&PluginSource::bytes(wasm.to_vec()), options)
        .expect("the plugin loads")
}

/// One row of `round_trip`: name, serializer, plugin, load options.
type Row = (String, Arc<dyn PluginSerializer>, Vec<u8>, LoadOptions);

/// The raw ABI path through the engine API, on the WAT echo.
struct RawEcho {
    instance: Box<dyn WasmInstance>,
    alloc: TypedFunc<i32, i32>,
    dealloc: TypedFunc<(i32, i32), ()>,
    handle: TypedFunc<(i32, i32), i64>,
    out: Vec<u8>,
}

impl RawEcho {
    fn new(kind: EngineKind, wasm: &[u8]) -> Self {
        let rt = runtime(kind);
        let module = rt.load_module(wasm).unwrap();
        let mut instance = rt.instantiate(&module, &Imports::new()).unwrap();
        // As a plugin runs: under its deadline (on wasmi, the sliced call path).
        instance.set_timeout(Some(PluginPermissions::default().max_execution_time));
        RawEcho {
            alloc: instance.typed("alloc").unwrap(),
            dealloc: instance.typed("dealloc").unwrap(),
            handle: instance.typed("plugin_handle_event").unwrap(),
            instance,
            out: Vec::new(),
        }
    }

    /// alloc, write, call, read, two deallocs; the reply lands in `out`.
    fn round_trip(&mut self, input: &[u8]) {
        let instance = self.instance.as_mut();
        let len = input.len() as i32;
        let ptr = self.alloc.call(instance, len).unwrap();
        instance
            .memory()
            .unwrap()
            .write(u64::from(ptr as u32), input)
            .unwrap();
        let packed = self.handle.call(instance, (ptr, len)).unwrap();
        self.dealloc.call(instance, (ptr, len)).unwrap();
        let (rptr, rlen) = ((packed >> 32) as u32, packed as u32);
        let data = instance.memory().unwrap().data();
        self.out.clear();
        self.out
            .extend_from_slice(&data[rptr as usize..][..rlen as usize]);
        self.dealloc
            .call(instance, (rptr as i32, rlen as i32))
            .unwrap();
    }
}

/// A wire format the rows use, with the benchmark's messages in it.
struct Format {
    name: &'static str,
    serializer: Arc<dyn PluginSerializer>,
    /// The benchmark's event, encoded.
    event: Vec<u8>,
    /// The reply of the echo plugins, encoded.
    reply: Vec<u8>,
}

/// Everything the rows run, set up once.
struct Fixtures {
    event: PluginEvent,
    event_json: Vec<u8>,
    formats: Vec<Format>,
    /// `round_trip/<engine>/<plugin>`.
    plugins: Vec<(String, WasmPlugin)>,
    extism: extism::Plugin,
    /// `extism/sdk-json`: another instance of the same plugin.
    extism_sdk: extism::Plugin,
    /// `bridge/<engine>`.
    bridges: Vec<(String, WasmPlugin)>,
    /// `raw/<engine>`.
    raw: Vec<(String, RawEcho)>,
}

impl Fixtures {
    fn new() -> Self {
        let event = event();
        let formats: Vec<Format> = [
            (
                "json",
                Arc::new(JsonSerializer::new()) as Arc<dyn PluginSerializer>,
            ),
            ("msgpack", Arc::new(MessagePackSerializer::new())),
            ("postcard", Arc::new(PostcardSerializer::new())),
        ]
        .into_iter()
        .map(|(name, serializer)| {
            let event_bytes = serializer.serialize_event(&event).unwrap();
            let reply = serializer.serialize_response(&reply(&event)).unwrap();
            println!(
                "{name}: event {} bytes, reply {} bytes",
                event_bytes.len(),
                reply.len()
            );
            Format {
                name,
                serializer,
                event: event_bytes,
                reply,
            }
        })
        .collect();
        let event_json = JsonSerializer::new().serialize_event(&event).unwrap();
        println!("event JSON: {}", String::from_utf8_lossy(&event_json));

        let sdk_echo = read_plugin(&sdk_plugin_path("echo"));
        let sdk_echo_msgpack = read_plugin(&sdk_plugin_path("echo_msgpack"));
        let echo = wat_echo();

        let mut plugins = Vec::new();
        for kind in [EngineKind::Wasmtime, EngineKind::Wasmi] {
            // The SDK plugins declare their format: the host picks its
            // serializer from the section, whatever is given here.
            let mut rows: Vec<Row> = vec![
                (
                    "sdk-json".to_owned(),
                    Arc::new(JsonSerializer::new()),
                    sdk_echo.clone(),
                    LoadOptions::new(),
                ),
                (
                    "sdk-msgpack".to_owned(),
                    Arc::new(JsonSerializer::new()),
                    sdk_echo_msgpack.clone(),
                    LoadOptions::new(),
                ),
            ];
            for format in &formats {
                rows.push((
                    format!("canned-{}", format.name),
                    Arc::clone(&format.serializer),
                    wat_canned(&format.reply),
                    LoadOptions::new().manifest(manifest()),
                ));
            }
            for (row, serializer, wasm, options) in rows {
                let plugin = load(kind, serializer, &wasm, options);
                let before = plugin.stats();
                let first = plugin.handle_event_sync(&event).expect("the round trip");
                assert!(first.success);
                assert_eq!(first.data, event.data, "{kind}/{row}: the data comes back");
                let stats = plugin.stats();
                println!(
                    "{kind}/{row}: {} bytes in, {} bytes out per event",
                    stats.bytes_in - before.bytes_in,
                    stats.bytes_out - before.bytes_out
                );
                plugins.push((format!("{kind}/{row}"), plugin));
            }
        }

        let extism_manifest =
            extism::Manifest::new([extism::Wasm::data(read_plugin(&extism_echo_path()))]);
        let mut extism =
            extism::Plugin::new(&extism_manifest, [], false).expect("the Extism plugin");
        let out = extism
            .call::<&[u8], &[u8]>("echo", &event_json)
            .expect("the Extism echo");
        assert_eq!(out, &event_json[..]);
        let mut extism_sdk =
            extism::Plugin::new(&extism_manifest, [], false).expect("the Extism plugin");
        let response = extism_sdk_round_trip(&mut extism_sdk, &event);
        assert!(response.success);
        assert_eq!(
            response.data, event.data,
            "extism/sdk-json: the data comes back"
        );

        let mut bridges = Vec::new();
        let mut raw = Vec::new();
        for kind in [EngineKind::Wasmtime, EngineKind::Wasmi] {
            let serializer = Arc::new(PassThrough {
                event: event_json.clone(),
            });
            let options = LoadOptions::new().manifest(manifest());
            bridges.push((kind.to_string(), load(kind, serializer, &echo, options)));
            let mut echo = RawEcho::new(kind, &echo);
            echo.round_trip(&event_json);
            assert_eq!(echo.out, event_json);
            raw.push((kind.to_string(), echo));
        }

        Fixtures {
            event,
            event_json,
            formats,
            plugins,
            extism,
            extism_sdk,
            bridges,
            raw,
        }
    }
}

/// One event through the Extism plugin's `echo_event`, with the host's JSON
/// codec on this side, as `round_trip/*/sdk-json` does it.
fn extism_sdk_round_trip(plugin: &mut extism::Plugin, event: &PluginEvent) -> PluginResponse {
    let json = JsonSerializer::new();
    let input = json.serialize_event(event).unwrap();
    let output = plugin
        .call::<&[u8], &[u8]>("echo_event", &input)
        .expect("the Extism echo_event");
    json.deserialize_response(output).unwrap()
}

/// The Extism row a row is compared with: the one that does the same codec
/// work (`sdk-*`: JSON in the guest and on the host), or the bare echo.
fn counterpart(id: &str) -> &'static str {
    if id.contains("/sdk-") {
        "extism/sdk-json"
    } else {
        "extism/call"
    }
}

/// A benchmark: its full id and one iteration.
type Bench<'a> = (String, Box<dyn FnMut() + 'a>);

/// Every row, in the order of the summary.
fn rows(fx: &mut Fixtures) -> Vec<Bench<'_>> {
    let Fixtures {
        event,
        event_json,
        formats,
        plugins,
        extism,
        extism_sdk,
        bridges,
        raw,
    } = fx;
    let (event, event_json) = (&*event, &*event_json);
    let mut rows: Vec<Bench<'_>> = Vec::new();
    for (name, plugin) in plugins.iter() {
        rows.push((
            format!("round_trip/{name}"),
            Box::new(move || {
                black_box(plugin.handle_event_sync(black_box(event)).unwrap());
            }),
        ));
    }
    // The canned plugins again, through the bytes API: the event serialized
    // once (as a host does for a broadcast), the reply left undecoded.
    for (name, plugin) in plugins.iter() {
        let Some((kind, format)) = name.split_once("/canned-") else {
            continue;
        };
        let Some(format) = formats.iter().find(|f| f.name == format) else {
            continue;
        };
        let bytes = &format.event;
        rows.push((
            format!("round_trip/{kind}/bytes-{}", format.name),
            Box::new(move || {
                black_box(plugin.handle_event_bytes_sync(black_box(bytes)).unwrap());
            }),
        ));
    }
    rows.push((
        "extism/call".to_owned(),
        Box::new(move || {
            let out = extism
                .call::<&[u8], &[u8]>("echo", black_box(&event_json[..]))
                .unwrap();
            black_box(out);
        }),
    ));
    rows.push((
        "extism/sdk-json".to_owned(),
        Box::new(move || {
            black_box(extism_sdk_round_trip(extism_sdk, black_box(event)));
        }),
    ));
    for (name, plugin) in bridges.iter() {
        rows.push((
            format!("bridge/{name}"),
            Box::new(move || {
                black_box(plugin.handle_event_sync(black_box(event)).unwrap());
            }),
        ));
    }
    for (name, echo) in raw.iter_mut() {
        rows.push((
            format!("raw/{name}"),
            Box::new(move || echo.round_trip(black_box(event_json))),
        ));
    }
    for Format {
        name,
        serializer,
        reply,
        ..
    } in formats.iter()
    {
        let serializer = &**serializer;
        rows.push((
            format!("codec/{name}"),
            Box::new(move || {
                black_box(serializer.serialize_event(black_box(event)).unwrap());
                black_box(serializer.deserialize_response(black_box(reply)).unwrap());
            }),
        ));
        let mut buffer = Vec::new();
        rows.push((
            format!("codec/{name}/event"),
            Box::new(move || {
                buffer.clear();
                serializer
                    .serialize_event_into(black_box(event), &mut buffer)
                    .unwrap();
                black_box(&buffer);
            }),
        ));
        rows.push((
            format!("codec/{name}/response"),
            Box::new(move || {
                black_box(serializer.deserialize_response(black_box(reply)).unwrap());
            }),
        ));
    }
    rows
}

fn benches<M: Measurement + 'static>(c: &mut Criterion<M>, rows: &mut [Bench<'_>]) {
    for (id, run) in rows {
        c.bench_function(id.as_str(), |b| b.iter(&mut *run));
    }
}

/// The rows again, taking turns: each round times one batch of about 1 ms of
/// every row, so that all rows see the machine in the same state (on this
/// shared machine a row's speed can change by 2× from one second to the next).
/// Reports each row's median time per iteration and the median over rounds of
/// Extism's time divided by the row's, measured in the same round.
fn interleaved(rows: &mut [Bench<'_>], budget: Duration) {
    const BATCH: Duration = Duration::from_millis(1);
    let mut sizes = Vec::with_capacity(rows.len());
    for (_, run) in rows.iter_mut() {
        let mut iterations = 1u64;
        loop {
            let start = Instant::now();
            for _ in 0..iterations {
                run();
            }
            if start.elapsed() >= BATCH || iterations >= 1 << 20 {
                break;
            }
            iterations *= 2;
        }
        sizes.push(iterations);
    }
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); rows.len()];
    let started = Instant::now();
    let mut round = 0;
    while started.elapsed() < budget {
        // A different row goes first in each round.
        for k in 0..rows.len() {
            let i = (round + k) % rows.len();
            let start = Instant::now();
            for _ in 0..sizes[i] {
                (rows[i].1)();
            }
            times[i].push(start.elapsed().as_nanos() as f64 / sizes[i] as f64);
        }
        round += 1;
    }
    println!("\ninterleaved: {round} rounds of 1 ms batches over {budget:?}, medians");
    println!(
        "| benchmark | median | its Extism row / this (per round) | this / {} |",
        show(TARGET_NS)
    );
    println!("|---|---|---|---|");
    for (i, (id, _)) in rows.iter().enumerate() {
        let extism = rows.iter().position(|(other, _)| other == counterpart(id));
        let vs_extism = extism.map_or_else(
            || "–".to_owned(),
            |e| {
                let ratios = times[e].iter().zip(&times[i]).map(|(e, t)| e / t).collect();
                format!("{:.1}×", median(ratios))
            },
        );
        let ns = median(times[i].clone());
        println!(
            "| {id} | {} | {vs_extism} | {:.2} |",
            show(ns),
            ns / TARGET_NS
        );
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}

/// Whether the command line names benchmarks (a filter) or only lists them;
/// then the interleaved pass is left out.
fn filtered_or_listing() -> bool {
    const WITH_VALUE: &[&str] = &[
        "--warm-up-time",
        "--measurement-time",
        "--sample-size",
        "--nresamples",
        "--noise-threshold",
        "--confidence-level",
        "--significance-level",
        "--save-baseline",
        "--baseline",
        "--baseline-lenient",
        "--load-baseline",
        "--profile-time",
        "--plotting-backend",
        "--output-format",
        "--color",
        "--format",
    ];
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if matches!(arg.as_str(), "--list" | "--test" | "--profile-time") {
            return true;
        }
        if WITH_VALUE.contains(&arg.as_str()) {
            args.next();
        } else if !arg.starts_with('-') {
            return true;
        }
    }
    false
}

/// Criterion's output directory, found as criterion finds it.
fn criterion_dir() -> Option<PathBuf> {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .or_else(|| {
            let output = std::process::Command::new(std::env::var_os("CARGO")?)
                .args(["metadata", "--format-version", "1", "--no-deps"])
                .output()
                .ok()?;
            let metadata: serde_json::Value = serde_json::from_slice(&output.stdout).ok()?;
            Some(PathBuf::from(metadata["target_directory"].as_str()?))
        })?;
    Some(target.join("criterion"))
}

/// The medians criterion wrote during this run, by full id.
fn medians(since: SystemTime) -> Vec<(String, f64)> {
    let Some(dir) = criterion_dir() else {
        return Vec::new();
    };
    let mut found = Vec::new();
    let mut stack = vec![dir];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.file_name().is_none_or(|n| n != "estimates.json")
                || path
                    .parent()
                    .and_then(Path::file_name)
                    .is_none_or(|n| n != "new")
            {
                continue;
            }
            let fresh = entry
                .metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|t| t >= since);
            let read = |p: &Path| -> Option<serde_json::Value> {
                serde_json::from_slice(&std::fs::read(p).ok()?).ok()
            };
            let (Some(estimates), Some(benchmark)) =
                (read(&path), read(&path.with_file_name("benchmark.json")))
            else {
                continue;
            };
            if let (true, Some(id), Some(median)) = (
                fresh,
                benchmark["full_id"].as_str(),
                estimates["median"]["point_estimate"].as_f64(),
            ) {
                found.push((id.to_owned(), median));
            }
        }
    }
    found
}

fn show(ns: f64) -> String {
    if ns >= 1000.0 {
        format!("{:.2} µs", ns / 1000.0)
    } else {
        format!("{ns:.1} ns")
    }
}

fn summary(since: SystemTime, clock: &str) {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let mut rows = medians(since);
    if rows.is_empty() {
        return;
    }
    let order = [
        "round_trip/wasmtime/sdk-json",
        "round_trip/wasmtime/sdk-msgpack",
        "round_trip/wasmtime/canned-json",
        "round_trip/wasmtime/canned-msgpack",
        "round_trip/wasmtime/canned-postcard",
        "round_trip/wasmtime/bytes-json",
        "round_trip/wasmtime/bytes-msgpack",
        "round_trip/wasmtime/bytes-postcard",
        "round_trip/wasmi/sdk-json",
        "round_trip/wasmi/sdk-msgpack",
        "round_trip/wasmi/canned-json",
        "round_trip/wasmi/canned-msgpack",
        "round_trip/wasmi/canned-postcard",
        "round_trip/wasmi/bytes-json",
        "round_trip/wasmi/bytes-msgpack",
        "round_trip/wasmi/bytes-postcard",
        "extism/sdk-json",
        "extism/call",
        "bridge/wasmtime",
        "bridge/wasmi",
        "raw/wasmtime",
        "raw/wasmi",
        "codec/json",
        "codec/msgpack",
    ];
    rows.sort_by_key(|(id, _)| order.iter().position(|o| o == id).unwrap_or(order.len()));
    let extism = |id: &str| {
        rows.iter()
            .find(|(other, _)| other == counterpart(id))
            .map(|&(_, ns)| ns)
    };
    println!("\nsummary (criterion medians of this run, {clock})");
    println!(
        "| benchmark | median | its Extism row / this | this / {} |",
        show(TARGET_NS)
    );
    println!("|---|---|---|---|");
    for (id, ns) in &rows {
        let ns = *ns;
        let vs_extism = extism(id).map_or_else(|| "–".to_owned(), |e| format!("{:.1}×", e / ns));
        println!(
            "| {id} | {} | {vs_extism} | {:.2} |",
            show(ns),
            ns / TARGET_NS
        );
    }
}

/// The CPU time of the calling thread: what a benchmark costs, without the time
/// the thread waits for a core that other processes hold (`PLUGIN_BENCH_CLOCK=cpu`).
struct ThreadCpuTime;

/// Durations are formatted as the wall clock's are.
static WALL_TIME: WallTime = WallTime;

fn thread_cpu_time() -> Duration {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid, writable timespec; the clock id is a constant.
    let status = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) };
    assert_eq!(status, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
    Duration::new(now.tv_sec as u64, now.tv_nsec as u32)
}

impl Measurement for ThreadCpuTime {
    type Intermediate = Duration;
    type Value = Duration;

    fn start(&self) -> Duration {
        thread_cpu_time()
    }
    fn end(&self, start: Duration) -> Duration {
        thread_cpu_time().saturating_sub(start)
    }
    fn add(&self, a: &Duration, b: &Duration) -> Duration {
        *a + *b
    }
    fn zero(&self) -> Duration {
        Duration::ZERO
    }
    fn to_f64(&self, value: &Duration) -> f64 {
        value.as_nanos() as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        WALL_TIME.formatter()
    }
}

fn main() {
    // Under `RUST_BACKTRACE=1` (set in some shells and CI) every Extism call
    // captures backtraces, which doubled its time here; a host in production
    // does not run that way. Panics keep their backtraces: only library
    // captures are turned off.
    if std::env::var_os("RUST_LIB_BACKTRACE").is_none() {
        // SAFETY: nothing else runs yet; no other thread reads the environment.
        unsafe { std::env::set_var("RUST_LIB_BACKTRACE", "0") };
    }
    // Criterion rewrites a benchmark's estimates when it runs it; the summary
    // reads the ones written from here on (the clock of the file system may be
    // coarse, hence the second of slack).
    let since = SystemTime::now() - Duration::from_secs(1);
    let mut fixtures = Fixtures::new();
    let mut rows = rows(&mut fixtures);
    let clock = std::env::var("PLUGIN_BENCH_CLOCK").unwrap_or_default();
    if clock == "cpu" {
        let mut c = Criterion::default()
            .with_measurement(ThreadCpuTime)
            .configure_from_args();
        benches(&mut c, &mut rows);
        c.final_summary();
        summary(since, "thread CPU time");
    } else {
        let mut c = Criterion::default().configure_from_args();
        benches(&mut c, &mut rows);
        c.final_summary();
        summary(since, "wall clock");
    }
    // `PLUGIN_BENCH_INTERLEAVED=<seconds>`: the interleaved pass's length (0: none),
    // run even with a filter; by default 10 s, without a filter only.
    let seconds = match std::env::var("PLUGIN_BENCH_INTERLEAVED") {
        Ok(seconds) => seconds.parse().expect("PLUGIN_BENCH_INTERLEAVED: seconds"),
        Err(_) if filtered_or_listing() => 0,
        Err(_) => 10,
    };
    if seconds > 0 {
        interleaved(&mut rows, Duration::from_secs(seconds));
    }
}
