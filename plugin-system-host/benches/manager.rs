//! The PluginManager's cost beside the plugin it calls, in the same run:
//!
//! - `manager/<engine>/direct`: `WasmPlugin::handle_event_sync` on a WAT
//!   plugin that answers `{"success":true}` (the floor);
//! - `manager/<engine>/send_event_blocking`: the same event to the same
//!   plugin through `PluginManager::send_event_blocking` from the bench's own
//!   thread (the plugin is idle, so the event runs on that thread);
//! - `manager/<engine>/send_event`: the same through the async
//!   `PluginManager::send_event`, awaited through `block_on` of a
//!   multi-thread runtime (the plugin is idle, so the event runs in a
//!   blocking section of the sender's thread: `async_in_place`, the
//!   default); each iteration also pays a `block_on`, which `block_on` alone
//!   measures;
//! - `manager/<engine>/send_event_in_task`: the same awaited in a loop by a
//!   task of the runtime, as an async host sends its events;
//! - `..._mailbox`: those rows, and `dispatch_10`, on a manager built with
//!   `async_in_place(false)` (the mailbox, a hand-off to the plugin's thread,
//!   the answer back; for broadcasts, the manager's broadcast thread);
//! - `manager/<engine>/dispatch_blocking_10` and `dispatch_10`: one
//!   `dispatch_event_blocking` / `dispatch_event` to 10 subscribers of that
//!   plugin, against 10 direct calls (`direct_10`) and against the floor of
//!   a broadcast, `direct_shared_10`: ten plugins called directly with the
//!   event encoded once (`handle_shared_event_blocking`), no manager.
//!
//! - `resilience/<engine>/trap_to_answer`: a trap, the restart on a fresh
//!   instance (no backoff), and the next answer;
//!   `resilience/<engine>/reload`: `reload` of a small plugin from its folder;
//!   `resilience/<engine>/cold_load`: `load_package` of it, and its unload.
//!
//! Results and ratios are in BENCHMARKS.md ("PluginManager").

#![allow(missing_docs, clippy::print_stdout, reason = "a benchmark reports")]

use std::{hint::black_box, path::PathBuf, sync::Arc, time::Duration};

use criterion::Criterion;
use plugin_system_core::{
    BlockingPlugin, PluginEvent, PluginSource, SharedEvent, WasmRuntimeConfig,
};
use plugin_system_host::{PluginManager, PluginPackage, RestartPolicy};
use plugin_system_wasm::{LoadOptions, WasmPluginRuntime};
use plugin_system_wasm_run::{EngineKind, new_runtime};

/// A Dart-ABI plugin with no manifest export that answers `{"success":true}`.
const PLUGIN: &str = r#"(module
  (memory (export "memory") 1)
  (data (i32.const 16) "{\"success\":true}")
  (global $heap (mut i32) (i32.const 1024))
  (func $alloc (export "alloc") (param $len i32) (result i32) (local $p i32)
    (local.set $p (global.get $heap))
    (global.set $heap (i32.add (local.get $p) (local.get $len)))
    (if (i32.gt_u (global.get $heap) (i32.const 60000)) (then (global.set $heap (i32.const 1024))))
    (local.get $p))
  (func (export "dealloc") (param i32 i32))
  (func (export "plugin_handle_event") (param i32 i32) (result i64) (local $out i32)
    (local.set $out (call $alloc (i32.const 16)))
    (memory.copy (local.get $out) (i32.const 16) (i32.const 16))
    (i64.or (i64.shl (i64.extend_i32_u (local.get $out)) (i64.const 32)) (i64.const 16))))"#;

/// `count` plugin folders subscribed to `bench`, under a fresh folder.
fn plugins(engine: &str, count: usize) -> Vec<PluginPackage> {
    let root: PathBuf = std::env::temp_dir().join(format!(
        "plugin-system-bench-{engine}-{count}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&root);
    (0..count)
        .map(|i| {
            let dir = root.join(format!("p{i}"));
            std::fs::create_dir_all(&dir).expect("bench folder");
            std::fs::write(dir.join("plugin.wat"), PLUGIN).expect("plugin");
            std::fs::write(
                dir.join("plugin.toml"),
                format!(
                    "id = \"plugin.p{i}\"\nname = \"p\"\nversion = \"1.0.0\"\n\
                     description = \"bench\"\nruntime = \"wasm\"\nmodule = \"plugin.wat\"\n\
                     subscribesTo = [\"bench\"]\n"
                ),
            )
            .expect("manifest");
            PluginPackage::read(&dir).expect("a valid package")
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let event = PluginEvent::new("bench").with_field("path", "/project/src/main.rs");
    for (kind, name) in [
        (EngineKind::Wasmtime, "wasmtime"),
        (EngineKind::Wasmi, "wasmi"),
    ] {
        let engine = new_runtime(kind, WasmRuntimeConfig::default()).expect("engine");
        let wasm = WasmPluginRuntime::new(Arc::clone(&engine));
        let manifest = plugin_system_core::PluginManifest::new(
            "plugin.direct",
            "d",
            "1.0.0",
            "d",
            plugin_system_core::PluginRuntimeType::Wasm,
        );
        let direct = wasm
            .load(
                &PluginSource::bytes(PLUGIN),
                LoadOptions::new().manifest(manifest),
            )
            .expect("loads");
        let ten: Vec<_> = (0..10)
            .map(|i| {
                let manifest = plugin_system_core::PluginManifest::new(
                    format!("plugin.direct{i}"),
                    "d",
                    "1.0.0",
                    "d",
                    plugin_system_core::PluginRuntimeType::Wasm,
                );
                wasm.load(
                    &PluginSource::bytes(PLUGIN),
                    LoadOptions::new().manifest(manifest),
                )
                .expect("loads")
            })
            .collect();
        // The same plugin set twice: as built by default, where async senders
        // run idle plugins on their own threads, and behind the mailboxes
        // (`async_in_place(false)`).
        let managers = [("", true), ("_mailbox", false)].map(|(suffix, in_place)| {
            let manager = PluginManager::builder()
                .runtime(Arc::new(WasmPluginRuntime::new(Arc::clone(&engine))))
                .async_in_place(in_place)
                .build();
            let folder = format!("{name}{suffix}");
            let report = tokio.block_on(manager.load_packages(plugins(&folder, 10)));
            assert_eq!(report.loaded.len(), 10, "{:?}", report.failed);
            (suffix, manager)
        });
        let manager = &managers[0].1;

        let mut group = c.benchmark_group(format!("manager/{name}"));
        group.bench_function("direct", |b| {
            b.iter(|| black_box(direct.handle_event_sync(black_box(&event)).expect("answer")));
        });
        group.bench_function("send_event_blocking", |b| {
            b.iter(|| {
                manager
                    .send_event_blocking("plugin.p0", event.clone())
                    .expect("answer")
            });
        });
        group.bench_function("block_on", |b| {
            b.iter(|| tokio.block_on(black_box(async {})));
        });
        for (suffix, manager) in &managers {
            group.bench_function(format!("send_event{suffix}"), |b| {
                b.iter(|| {
                    tokio
                        .block_on(manager.send_event("plugin.p0", event.clone()))
                        .expect("answer")
                });
            });
            group.bench_function(format!("send_event_in_task{suffix}"), |b| {
                b.iter_custom(|iterations| {
                    let manager = manager.clone();
                    let event = event.clone();
                    let task = tokio.spawn(async move {
                        let started = std::time::Instant::now();
                        for _ in 0..iterations {
                            let answer = manager.send_event("plugin.p0", event.clone()).await;
                            black_box(answer.expect("answer"));
                        }
                        started.elapsed()
                    });
                    tokio.block_on(task).expect("the task ran")
                });
            });
        }
        group.bench_function("direct_10", |b| {
            b.iter(|| {
                for _ in 0..10 {
                    black_box(direct.handle_event_sync(&event).expect("answer"));
                }
            });
        });
        group.bench_function("direct_shared_10", |b| {
            b.iter(|| {
                let shared = SharedEvent::new(event.clone());
                for plugin in &ten {
                    black_box(
                        plugin
                            .handle_shared_event_blocking(&shared)
                            .expect("answer"),
                    );
                }
            });
        });
        group.bench_function("dispatch_blocking_10", |b| {
            b.iter(|| {
                let answers = manager.dispatch_event_blocking(event.clone());
                assert_eq!(answers.len(), 10);
                answers
            });
        });
        for (suffix, manager) in &managers {
            group.bench_function(format!("dispatch_10{suffix}"), |b| {
                b.iter(|| {
                    let answers = tokio.block_on(manager.dispatch_event(event.clone()));
                    assert_eq!(answers.len(), 10);
                    answers
                });
            });
        }
        group.finish();
        for (suffix, manager) in &managers {
            // Where the events ran: a row on the fast path that fell off it
            // shows here, not only as a slower time.
            let stats = manager.statistics();
            let (handled, in_place) = stats.plugins.values().fold((0, 0), |(h, p), s| {
                (h + s.events_handled, p + s.events_in_place)
            });
            println!(
                "manager/{name}{suffix}: {in_place} of {handled} events in place, {} recipients helped",
                stats.dispatcher.recipients_helped
            );
            tokio.block_on(manager.shutdown());
        }
    }
}

/// Traps on an event whose type starts with `c`, answers the others.
const CRASHY: &str = r#"(module
  (memory (export "memory") 1)
  (data (i32.const 16) "{\"success\":true}")
  (func (export "alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "dealloc") (param i32 i32))
  (func (export "plugin_handle_event") (param $at i32) (param i32) (result i64)
    (if (i32.eq (i32.load8_u (i32.add (local.get $at) (i32.const 9))) (i32.const 99))
      (then unreachable))
    (i64.const 0x0000001000000010)))"#;

fn resilience(c: &mut Criterion) {
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    for (kind, name) in [
        (EngineKind::Wasmtime, "wasmtime"),
        (EngineKind::Wasmi, "wasmi"),
    ] {
        let engine = new_runtime(kind, WasmRuntimeConfig::default()).expect("engine");
        let manager = PluginManager::builder()
            .runtime(Arc::new(WasmPluginRuntime::new(engine)))
            .restart_policy(
                RestartPolicy::default()
                    .backoff(Duration::ZERO, 1.0, Duration::ZERO)
                    .breaker(u32::MAX, Duration::from_secs(1)),
            )
            .build();
        let root = std::env::temp_dir().join(format!(
            "plugin-system-bench-resilience-{name}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&root);
        let crashy = root.join("crashy");
        std::fs::create_dir_all(&crashy).expect("bench folder");
        std::fs::write(crashy.join("plugin.wat"), CRASHY).expect("plugin");
        std::fs::write(
            crashy.join("plugin.toml"),
            "id = \"plugin.crashy\"\nname = \"c\"\nversion = \"1.0.0\"\n\
             description = \"bench\"\nruntime = \"wasm\"\nmodule = \"plugin.wat\"\n",
        )
        .expect("manifest");
        let package = PluginPackage::read(&crashy).expect("a valid package");
        tokio
            .block_on(manager.load_package(package.clone()))
            .expect("loads");

        let mut group = c.benchmark_group(format!("resilience/{name}"));
        group.bench_function("trap_to_answer", |b| {
            b.iter(|| {
                let trapped =
                    manager.send_event_blocking("plugin.crashy", PluginEvent::new("crash"));
                assert!(trapped.is_err());
                manager
                    .send_event_blocking("plugin.crashy", PluginEvent::new("after"))
                    .expect("a fresh instance answers")
            });
        });
        group.bench_function("reload", |b| {
            b.iter(|| {
                tokio
                    .block_on(manager.reload("plugin.crashy"))
                    .expect("reloads")
            });
        });
        group.bench_function("cold_load", |b| {
            b.iter(|| {
                tokio.block_on(async {
                    manager
                        .unload("plugin.crashy", false)
                        .await
                        .expect("unloads");
                    manager.load_package(package.clone()).await.expect("loads");
                });
            });
        });
        group.finish();
        tokio.block_on(manager.shutdown());
    }
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c);
    resilience(&mut c);
    c.final_summary();
}
