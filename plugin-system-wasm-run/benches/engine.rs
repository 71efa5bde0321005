//! The engine layer against the raw engines, in the same run: typed and dynamic
//! calls, instantiation, 1 KiB memory access and loading a 1 MB module.
//!
//! `cargo bench -p plugin-system-wasm-run --bench engine`; the ratios are in
//! BENCHMARKS.md.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use plugin_system_core::{Imports, WasmRuntime, WasmRuntimeConfig, WasmValue};
use plugin_system_wasm_run::{EngineKind, WasmtimeRuntime, new_runtime};

const ADD: &str = r#"(module
    (memory (export "memory") 1)
    (func (export "add") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add))"#;

/// A module of about 1 MB: many functions with arithmetic bodies.
fn big_module() -> Vec<u8> {
    let mut wat = String::from("(module (memory (export \"memory\") 1)\n");
    for f in 0..2000 {
        wat.push_str(&format!(
            "(func (export \"f{f}\") (param i32) (result i32) (local i32)\n"
        ));
        for k in 0..60 {
            wat.push_str(&format!(
                "local.get 0 i32.const {k} i32.add local.get 1 i32.xor local.set 1\n"
            ));
        }
        wat.push_str("local.get 1)\n");
    }
    wat.push(')');
    wat::parse_str(&wat).expect("generated module")
}

fn calls(c: &mut Criterion) {
    let mut g = c.benchmark_group("typed_call_add");
    // Raw wasmtime, configured as the API configures it (epoch interruption on).
    {
        let mut config = wasmtime::Config::new();
        config.epoch_interruption(true);
        let engine = wasmtime::Engine::new(&config).unwrap();
        let module = wasmtime::Module::new(&engine, ADD).unwrap();
        let mut store = wasmtime::Store::new(&engine, ());
        store.set_epoch_deadline(u64::MAX / 2);
        let instance = wasmtime::Instance::new(&mut store, &module, &[]).unwrap();
        let add = instance
            .get_typed_func::<(i32, i32), i32>(&mut store, "add")
            .unwrap();
        g.bench_function("wasmtime/raw", |b| {
            b.iter(|| add.call(&mut store, black_box((1, 2))).unwrap())
        });
    }
    {
        let engine = wasmi::Engine::default();
        let module = wasmi::Module::new(&engine, wat::parse_str(ADD).unwrap()).unwrap();
        let mut store = wasmi::Store::new(&engine, ());
        let instance = wasmi::Linker::new(&engine)
            .instantiate_and_start(&mut store, &module)
            .unwrap();
        let add = instance
            .get_typed_func::<(i32, i32), i32>(&store, "add")
            .unwrap();
        g.bench_function("wasmi/raw", |b| {
            b.iter(|| add.call(&mut store, black_box((1, 2))).unwrap())
        });
    }
    for kind in [EngineKind::Wasmtime, EngineKind::Wasmi] {
        let rt = new_runtime(kind, WasmRuntimeConfig::default()).unwrap();
        let module = rt.load_module(ADD.as_bytes()).unwrap();
        let mut instance = rt.instantiate(&module, &Imports::new()).unwrap();
        let add = instance.typed::<(i32, i32), i32>("add").unwrap();
        g.bench_function(format!("{kind}/api"), |b| {
            b.iter(|| add.call(instance.as_mut(), black_box((1, 2))).unwrap())
        });
    }
    g.finish();

    let mut g = c.benchmark_group("dynamic_call_add");
    {
        let mut config = wasmtime::Config::new();
        config.epoch_interruption(true);
        let engine = wasmtime::Engine::new(&config).unwrap();
        let module = wasmtime::Module::new(&engine, ADD).unwrap();
        let mut store = wasmtime::Store::new(&engine, ());
        store.set_epoch_deadline(u64::MAX / 2);
        let instance = wasmtime::Instance::new(&mut store, &module, &[]).unwrap();
        let add = instance.get_func(&mut store, "add").unwrap();
        let mut out = [wasmtime::Val::I32(0)];
        g.bench_function("wasmtime/raw", |b| {
            b.iter(|| {
                add.call(
                    &mut store,
                    black_box(&[wasmtime::Val::I32(1), wasmtime::Val::I32(2)]),
                    &mut out,
                )
                .unwrap()
            })
        });
    }
    {
        let engine = wasmi::Engine::default();
        let module = wasmi::Module::new(&engine, wat::parse_str(ADD).unwrap()).unwrap();
        let mut store = wasmi::Store::new(&engine, ());
        let instance = wasmi::Linker::new(&engine)
            .instantiate_and_start(&mut store, &module)
            .unwrap();
        let add = instance.get_func(&store, "add").unwrap();
        let mut out = [wasmi::Val::I32(0)];
        g.bench_function("wasmi/raw", |b| {
            b.iter(|| {
                add.call(
                    &mut store,
                    black_box(&[wasmi::Val::I32(1), wasmi::Val::I32(2)]),
                    &mut out,
                )
                .unwrap()
            })
        });
    }
    for kind in [EngineKind::Wasmtime, EngineKind::Wasmi] {
        let rt = new_runtime(kind, WasmRuntimeConfig::default()).unwrap();
        let module = rt.load_module(ADD.as_bytes()).unwrap();
        let mut instance = rt.instantiate(&module, &Imports::new()).unwrap();
        let add = instance.func("add").unwrap();
        let mut out = [WasmValue::I32(0)];
        g.bench_function(format!("{kind}/api"), |b| {
            b.iter(|| {
                instance
                    .call_func(
                        &add,
                        black_box(&[WasmValue::I32(1), WasmValue::I32(2)]),
                        &mut out,
                    )
                    .unwrap()
            })
        });
        g.bench_function(format!("{kind}/api-by-name"), |b| {
            b.iter(|| {
                instance
                    .call(black_box("add"), &[WasmValue::I32(1), WasmValue::I32(2)])
                    .unwrap()
            })
        });
    }
    g.finish();
}

fn instantiate(c: &mut Criterion) {
    let mut g = c.benchmark_group("instantiate");
    {
        let engine = wasmtime::Engine::default();
        let module = wasmtime::Module::new(&engine, ADD).unwrap();
        g.bench_function("wasmtime/raw-default", |b| {
            b.iter(|| {
                let mut store = wasmtime::Store::new(&engine, ());
                wasmtime::Instance::new(&mut store, &module, &[]).unwrap()
            })
        });
        let mut pool = wasmtime::PoolingAllocationConfig::new();
        pool.total_core_instances(100)
            .total_memories(100)
            .total_tables(100);
        let mut config = wasmtime::Config::new();
        config.allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(pool));
        let engine = wasmtime::Engine::new(&config).unwrap();
        let module = wasmtime::Module::new(&engine, ADD).unwrap();
        let pre = wasmtime::Linker::new(&engine)
            .instantiate_pre(&module)
            .unwrap();
        g.bench_function("wasmtime/raw-pooled-pre", |b| {
            b.iter(|| {
                let mut store = wasmtime::Store::new(&engine, ());
                pre.instantiate(&mut store).unwrap()
            })
        });
    }
    {
        let engine = wasmi::Engine::default();
        let module = wasmi::Module::new(&engine, wat::parse_str(ADD).unwrap()).unwrap();
        let linker = wasmi::Linker::<()>::new(&engine);
        g.bench_function("wasmi/raw", |b| {
            b.iter(|| {
                let mut store = wasmi::Store::new(&engine, ());
                linker.instantiate_and_start(&mut store, &module).unwrap()
            })
        });
    }
    for kind in [EngineKind::Wasmtime, EngineKind::Wasmi] {
        let rt = new_runtime(kind, WasmRuntimeConfig::default()).unwrap();
        let module = rt.load_module(ADD.as_bytes()).unwrap();
        let imports = Imports::new();
        g.bench_function(format!("{kind}/api"), |b| {
            b.iter(|| rt.instantiate(&module, &imports).unwrap())
        });
    }
    {
        let rt = WasmtimeRuntime::with_pooling(WasmRuntimeConfig::default(), 100).unwrap();
        let module = rt.load_module(ADD.as_bytes()).unwrap();
        let imports = Imports::new();
        g.bench_function("wasmtime/api-pooled", |b| {
            b.iter(|| rt.instantiate(&module, &imports).unwrap())
        });
    }
    g.finish();
}

fn memory(c: &mut Criterion) {
    let mut g = c.benchmark_group("memory_1k_write_read");
    let data = [7u8; 1024];
    {
        let engine = wasmtime::Engine::default();
        let module = wasmtime::Module::new(&engine, ADD).unwrap();
        let mut store = wasmtime::Store::new(&engine, ());
        let instance = wasmtime::Instance::new(&mut store, &module, &[]).unwrap();
        let mem = instance.get_memory(&mut store, "memory").unwrap();
        let mut buf = [0u8; 1024];
        g.bench_function("wasmtime/raw", |b| {
            b.iter(|| {
                mem.write(&mut store, 64, black_box(&data)).unwrap();
                mem.read(&store, 64, &mut buf).unwrap();
            })
        });
    }
    {
        let engine = wasmi::Engine::default();
        let module = wasmi::Module::new(&engine, wat::parse_str(ADD).unwrap()).unwrap();
        let mut store = wasmi::Store::new(&engine, ());
        let instance = wasmi::Linker::new(&engine)
            .instantiate_and_start(&mut store, &module)
            .unwrap();
        let mem = instance.get_memory(&store, "memory").unwrap();
        let mut buf = [0u8; 1024];
        g.bench_function("wasmi/raw", |b| {
            b.iter(|| {
                mem.write(&mut store, 64, black_box(&data)).unwrap();
                mem.read(&store, 64, &mut buf).unwrap();
            })
        });
    }
    for kind in [EngineKind::Wasmtime, EngineKind::Wasmi] {
        let rt = new_runtime(kind, WasmRuntimeConfig::default()).unwrap();
        let module = rt.load_module(ADD.as_bytes()).unwrap();
        let mut instance = rt.instantiate(&module, &Imports::new()).unwrap();
        let mut buf = [0u8; 1024];
        g.bench_function(format!("{kind}/api"), |b| {
            b.iter(|| {
                let m = instance.memory().unwrap();
                m.write(64, black_box(&data)).unwrap();
                m.read(64, &mut buf).unwrap();
            })
        });
    }
    g.finish();
}

fn load(c: &mut Criterion) {
    let bytes = big_module();
    let mut g = c.benchmark_group("load_1mb_module");
    g.sample_size(10);
    {
        let engine = wasmtime::Engine::default();
        g.bench_with_input(
            BenchmarkId::new("wasmtime/raw", bytes.len()),
            &bytes,
            |b, bytes| b.iter(|| wasmtime::Module::new(&engine, bytes).unwrap()),
        );
    }
    {
        let engine = wasmi::Engine::default();
        g.bench_with_input(
            BenchmarkId::new("wasmi/raw", bytes.len()),
            &bytes,
            |b, bytes| b.iter(|| wasmi::Module::new(&engine, bytes).unwrap()),
        );
    }
    for kind in [EngineKind::Wasmtime, EngineKind::Wasmi] {
        let rt = new_runtime(kind, WasmRuntimeConfig::default()).unwrap();
        g.bench_with_input(
            BenchmarkId::new(format!("{kind}/api"), bytes.len()),
            &bytes,
            |b, bytes| b.iter(|| rt.load_module(bytes).unwrap()),
        );
    }
    if let Ok(rt) = new_runtime(EngineKind::Wasmtime, WasmRuntimeConfig::default()) {
        let pre = rt.precompile(&bytes).unwrap();
        g.bench_with_input(
            BenchmarkId::new("wasmtime/api-precompiled", bytes.len()),
            &pre,
            |b, pre| b.iter(|| rt.load_precompiled(pre).unwrap()),
        );
    }
    g.finish();
}

criterion_group!(benches, calls, instantiate, memory, load);
criterion_main!(benches);
