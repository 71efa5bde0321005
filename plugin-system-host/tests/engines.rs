//! The PluginManager over WebAssembly plugins on both engines: a Dart-ABI
//! plugin in WAT with no manifest export (its plugin.toml is its manifest), a
//! plugin that loops, and a denied host function.

use std::{path::Path, sync::Arc};

use plugin_system_core::{HostFunction, PluginEvent, Value, WasmRuntime, WasmRuntimeConfig};
use plugin_system_host::{ManagerError, PluginManager, PluginPackage, PluginState};
use plugin_system_wasm::WasmPluginRuntime;
use plugin_system_wasm_run::{EngineKind, ModuleCache, new_runtime};

/// A Dart-ABI plugin with no manifest export: each event answers `reply`
/// (WAT string text of `len` bytes), after running `work`.
fn plugin_wat(reply: &str, len: usize, work: &str) -> String {
    format!(
        r#"(module
  (import "plugin_system" "host_call" (func $host_call (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "{reply}")
  (data (i32.const 512) "editor.get_text{{}}")
  (data (i32.const 600) "events.emit{{\"type\":\"chain\"}}")
  (global $heap (mut i32) (i32.const 1024))
  (func $alloc (export "alloc") (param $len i32) (result i32) (local $p i32)
    (local.set $p (global.get $heap))
    (global.set $heap (i32.add (local.get $p) (local.get $len)))
    ;; A bump allocator that starts over: the host frees each buffer before
    ;; the next event.
    (if (i32.gt_u (global.get $heap) (i32.const 60000)) (then (global.set $heap (i32.const 1024))))
    (local.get $p))
  (func (export "dealloc") (param i32 i32))
  (func (export "plugin_handle_event") (param i32 i32) (result i64) (local $out i32)
    {work}
    (local.set $out (call $alloc (i32.const {len})))
    (memory.copy (local.get $out) (i32.const 16) (i32.const {len}))
    (i64.or (i64.shl (i64.extend_i32_u (local.get $out)) (i64.const 32)) (i64.const {len}))))"#
    )
}

const OK: (&str, usize) = (r#"{\"success\":true}"#, 16);

/// A plugin folder in `root`: `plugin.toml` with `extra` lines, and
/// `plugin.wat`.
fn package(root: &Path, id: &str, wat: &str, extra: &str) -> PluginPackage {
    let dir = root.join(id);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("plugin.wat"), wat).unwrap();
    let toml = format!(
        "id = \"{id}\"\nname = \"{id}\"\nversion = \"1.0.0\"\ndescription = \"wat\"\n\
         runtime = \"wasm\"\nmodule = \"plugin.wat\"\n{extra}\n"
    );
    std::fs::write(dir.join("plugin.toml"), toml).unwrap();
    PluginPackage::read(&dir).unwrap_or_else(|e| panic!("{e}"))
}

/// A fresh folder for the test `name` on `kind`.
fn temp_root(name: &str, kind: EngineKind) -> std::path::PathBuf {
    let root = std::env::temp_dir().join(format!(
        "plugin-system-host-{name}-{kind:?}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&root);
    root
}

/// A manager over the WebAssembly runtime of `kind`, to configure further.
fn builder(kind: EngineKind) -> plugin_system_host::ManagerBuilder {
    let engine = new_runtime(kind, WasmRuntimeConfig::default()).expect("engine built in");
    PluginManager::builder().runtime(Arc::new(WasmPluginRuntime::new(engine)))
}

fn manager(kind: EngineKind) -> PluginManager {
    builder(kind)
        .host_function(
            "editor.get_text",
            HostFunction::new(|_, _| Ok(Value::from("text"))),
        )
        .build()
}

async fn on(kind: EngineKind) {
    let root = temp_root("engines", kind);
    let m = manager(kind);
    let (reply, len) = OK;
    // host_call(name, name_len, args, args_len): status 0 when answered; on
    // any other the plugin fails the event (returns 0), as the ABI says.
    let ask = "(if (call $host_call (i32.const 512) (i32.const 15) (i32.const 527) (i32.const 2))
                 (then (return (i64.const 0))))";
    let report = m
        .load_packages(vec![
            package(
                &root,
                "plugin.quick",
                &plugin_wat(reply, len, ""),
                r#"subscribesTo = ["doc.*"]"#,
            ),
            package(
                &root,
                "plugin.loops",
                &plugin_wat(reply, len, "(loop $l (br $l))"),
                "subscribesTo = [\"doc.*\"]\n[permissions]\nmaxExecutionTimeMs = 200",
            ),
            package(
                &root,
                "plugin.asks",
                &plugin_wat(reply, len, ask),
                r#"requiredHostFunctions = ["editor.get_text"]"#,
            ),
            package(&root, "plugin.sneaky", &plugin_wat(reply, len, ask), ""),
        ])
        .await;
    assert_eq!(report.failed.len(), 0, "{kind:?}: {:?}", report.failed);
    assert_eq!(m.state("plugin.quick"), Some(PluginState::Ready));
    let manifest = m.manifest("plugin.loops").expect("known");
    assert_eq!(manifest.subscribes_to, ["doc.*"]);
    assert!(m.manifest("plugin.none").is_none());

    // A plugin that loops ends at its deadline and delays no other.
    let answers = m.dispatch_event(PluginEvent::new("doc.saved")).await;
    let by_id = |id: &str| {
        answers
            .iter()
            .find(|(i, _)| i == id)
            .map(|(_, a)| a)
            .unwrap()
    };
    assert!(by_id("plugin.quick").is_ok(), "{kind:?}");
    let looped = by_id("plugin.loops").as_ref().unwrap_err();
    assert_eq!(looped.kind(), "timeout", "{kind:?}: {looped}");
    // Its deadline poisoned its instance: it is restarted, and serves again.
    for _ in 0..300 {
        if m.plugin_stats("plugin.loops").unwrap().restarts == 1
            && m.state("plugin.loops") == Some(PluginState::Ready)
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(
        m.plugin_stats("plugin.loops").unwrap().restarts,
        1,
        "{kind:?}"
    );
    assert_eq!(
        m.state("plugin.loops"),
        Some(PluginState::Ready),
        "{kind:?}"
    );

    // The host function granted works; the one not declared is denied.
    assert!(
        m.send_event("plugin.asks", PluginEvent::new("x"))
            .await
            .is_ok(),
        "{kind:?}"
    );
    let denied = m
        .send_event("plugin.sneaky", PluginEvent::new("x"))
        .await
        .unwrap_err();
    assert!(
        matches!(&denied, ManagerError::Plugin { .. }) && denied.kind() == "permission denied",
        "{kind:?}: {denied}"
    );
    m.shutdown().await;
    assert_eq!(m.state("plugin.quick"), Some(PluginState::Disposed));
}

/// Plugins send events to each other through `events.emit`, within the
/// depth bound, and only when they declared it.
async fn plugin_to_plugin(kind: EngineKind) {
    let root = temp_root("emit", kind);
    let m = builder(kind).max_event_depth(4).build();
    let (reply, len) = OK;
    // events.emit({"type":"chain"}); a refusal fails the event.
    let emit = "(if (call $host_call (i32.const 600) (i32.const 11) (i32.const 611) (i32.const 16))
                  (then (return (i64.const 0))))";
    let report = m
        .load_packages(vec![
            package(
                &root,
                "plugin.starter",
                &plugin_wat(reply, len, emit),
                "requiredHostFunctions = [\"events.emit\"]\nsubscribesTo = [\"start\"]",
            ),
            // Answers every `chain` with another: only the bound stops it.
            package(
                &root,
                "plugin.echo",
                &plugin_wat(reply, len, emit),
                "requiredHostFunctions = [\"events.emit\"]\nsubscribesTo = [\"chain\"]",
            ),
            package(
                &root,
                "plugin.undeclared",
                &plugin_wat(reply, len, emit),
                r#"subscribesTo = ["start"]"#,
            ),
        ])
        .await;
    assert!(report.failed.is_empty(), "{kind:?}: {:?}", report.failed);
    let answers = m.dispatch_event(PluginEvent::new("start")).await;
    let starter = answers
        .iter()
        .find(|(id, _)| id == "plugin.starter")
        .unwrap();
    assert!(starter.1.is_ok(), "{kind:?}: {answers:?}");
    let undeclared = answers
        .iter()
        .find(|(id, _)| id == "plugin.undeclared")
        .unwrap();
    assert_eq!(
        undeclared.1.as_ref().unwrap_err().kind(),
        "permission denied",
        "{kind:?}"
    );
    // Hops 1 to 4 reach plugin.echo; its emit at hop 4 is refused, which
    // fails that event. Nothing is waited for: poll the counts.
    let echo = |m: &PluginManager| m.plugin_stats("plugin.echo").unwrap();
    for _ in 0..3000 {
        if echo(&m).events_handled >= 4 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let stats = echo(&m);
    assert_eq!((stats.events_handled, stats.failures), (4, 1), "{kind:?}");
    let errors = m.errors("plugin.echo");
    assert_eq!(errors.len(), 1, "{kind:?}: {errors:?}");
    m.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugins_emit_events_to_each_other_on_wasmtime() {
    plugin_to_plugin(EngineKind::Wasmtime).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugins_emit_events_to_each_other_on_wasmi() {
    plugin_to_plugin(EngineKind::Wasmi).await;
}

/// An async host function runs on the runtime while the guest waits on its
/// own thread: here it waits for a task that needs an executor worker, of
/// which the runtime has one.
async fn async_host_function(kind: EngineKind) {
    let root = temp_root("async", kind);
    let (release, released) = tokio::sync::oneshot::channel::<()>();
    let released = Arc::new(tokio::sync::Mutex::new(Some(released)));
    let m = builder(kind)
        .async_host_function("editor.get_text", move |plugin, _args| {
            let released = Arc::clone(&released);
            async move {
                if let Some(wait) = released.lock().await.take() {
                    wait.await.map_err(|_| {
                        plugin_system_core::HostFunctionError::new("never released")
                    })?;
                }
                Ok(Value::from(format!("text for {plugin}")))
            }
        })
        .build();
    let (reply, len) = OK;
    let ask = "(if (call $host_call (i32.const 512) (i32.const 15) (i32.const 527) (i32.const 2))
                 (then (return (i64.const 0))))";
    let report = m
        .load_packages(vec![package(
            &root,
            "plugin.asks",
            &plugin_wat(reply, len, ask),
            r#"requiredHostFunctions = ["editor.get_text"]"#,
        )])
        .await;
    assert!(report.failed.is_empty(), "{kind:?}: {:?}", report.failed);
    let answer = m
        .post_event("plugin.asks", PluginEvent::new("x"))
        .expect("queued");
    // Runs on the only worker only if the waiting guest does not hold it.
    tokio::spawn(async move {
        let _ = release.send(());
    });
    assert!(answer.await.is_ok(), "{kind:?}");
    m.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn an_async_host_function_blocks_no_worker_on_wasmtime() {
    async_host_function(EngineKind::Wasmtime).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn an_async_host_function_blocks_no_worker_on_wasmi() {
    async_host_function(EngineKind::Wasmi).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_manager_runs_wasm_plugins_on_wasmtime() {
    on(EngineKind::Wasmtime).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_manager_runs_wasm_plugins_on_wasmi() {
    on(EngineKind::Wasmi).await;
}

/// The blocking calls over wasm plugins, and 100,000 events sent and
/// broadcast from several threads at once: every one answered or refused
/// with `Busy`, none lost, none counted twice.
fn blocking_calls_under_load(kind: EngineKind) {
    let root = temp_root("load", kind);
    let tokio = tokio::runtime::Runtime::new().unwrap();
    let m = builder(kind).mailbox_capacity(4).build();
    let (reply, len) = OK;
    let ids: Vec<String> = (0..8).map(|i| format!("plugin.p{i}")).collect();
    let mut packages: Vec<_> = ids
        .iter()
        .map(|id| {
            package(
                &root,
                id,
                &plugin_wat(reply, len, ""),
                r#"subscribesTo = ["tick"]"#,
            )
        })
        .collect();
    packages.push(package(
        &root,
        "plugin.loops",
        &plugin_wat(reply, len, "(loop $l (br $l))"),
        "subscribesTo = [\"doc.*\"]\n[permissions]\nmaxExecutionTimeMs = 200",
    ));
    packages.push(package(
        &root,
        "plugin.quick",
        &plugin_wat(reply, len, ""),
        r#"subscribesTo = ["doc.*"]"#,
    ));
    let report = tokio.block_on(m.load_packages(packages));
    assert!(report.failed.is_empty(), "{kind:?}: {:?}", report.failed);

    assert!(
        m.send_event_blocking("plugin.p0", PluginEvent::new("tick"))
            .is_ok()
    );
    let answers = m.dispatch_event_blocking(PluginEvent::new("doc.saved"));
    let by_id = |id: &str| &answers.iter().find(|(i, _)| i == id).unwrap().1;
    assert!(by_id("plugin.quick").is_ok(), "{kind:?}");
    assert_eq!(
        by_id("plugin.loops").as_ref().unwrap_err().kind(),
        "timeout",
        "{kind:?}"
    );
    let stats = m.plugin_stats("plugin.p0").unwrap();
    assert_eq!(stats.memory_pages, Some(1), "{kind:?}");
    assert_eq!(stats.fuel_consumed, None, "no fuel metered");

    const THREADS: usize = 4;
    const PER_THREAD: usize = 25_000;
    let outcomes: Vec<(usize, usize)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..THREADS)
            .map(|t| {
                let (m, ids) = (&m, &ids);
                scope.spawn(move || {
                    let (mut answered, mut busy) = (0, 0);
                    let mut count = |answer: Result<_, ManagerError>| match answer {
                        Ok(_) => answered += 1,
                        Err(ManagerError::Busy { .. }) => busy += 1,
                        Err(other) => panic!("thread {t}: {other}"),
                    };
                    let mut n = 0;
                    while n < PER_THREAD {
                        if n % 10 == 0 {
                            let answers = m.dispatch_event_blocking(PluginEvent::new("tick"));
                            assert_eq!(answers.len(), ids.len());
                            answers.into_iter().for_each(|(_, a)| count(a));
                            n += ids.len();
                        } else {
                            let target = &ids[(t + n) % ids.len()];
                            count(m.send_event_blocking(target, PluginEvent::new("tick")));
                            n += 1;
                        }
                    }
                    (answered, busy)
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    let answered: usize = outcomes.iter().map(|o| o.0).sum();
    let refused: usize = outcomes.iter().map(|o| o.1).sum();
    let expected: usize = (0..THREADS)
        .map(|_| {
            let mut n = 0;
            let mut events = 0;
            while n < PER_THREAD {
                let step = if n % 10 == 0 { ids.len() } else { 1 };
                n += step;
                events += step;
            }
            events
        })
        .sum();
    assert_eq!(answered + refused, expected, "{kind:?}: none lost");
    let handled: u64 = ids
        .iter()
        .map(|id| m.plugin_stats(id).unwrap().events_handled)
        .sum();
    assert_eq!(
        handled as usize,
        answered + 1,
        "{kind:?}: each answer is one event handled (and the first one)"
    );
    tokio.block_on(m.shutdown());
}

#[test]
fn blocking_calls_under_load_on_wasmtime() {
    blocking_calls_under_load(EngineKind::Wasmtime);
}

#[test]
fn blocking_calls_under_load_on_wasmi() {
    blocking_calls_under_load(EngineKind::Wasmi);
}

/// A plugin that opens `hello.txt` to read and creates `out.txt` to write in
/// its first preopened folder (WASI fd 3), and answers
/// `{"data":{"r":R,"w":W}}` with 0 for each that worked, 1 for each refused.
const FOLDER_PLUGIN: &str = r#"(module
  (import "wasi_snapshot_preview1" "path_open"
    (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_close" (func $fd_close (param i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "{\"success\":true,\"data\":{\"r\":0,\"w\":0}}")
  (data (i32.const 700) "hello.txt")
  (data (i32.const 720) "out.txt")
  (global $heap (mut i32) (i32.const 1024))
  (func $alloc (export "alloc") (param $len i32) (result i32) (local $p i32)
    (local.set $p (global.get $heap))
    (global.set $heap (i32.add (local.get $p) (local.get $len)))
    (if (i32.gt_u (global.get $heap) (i32.const 60000)) (then (global.set $heap (i32.const 1024))))
    (local.get $p))
  (func (export "dealloc") (param i32 i32))
  ;; 0 when `path` opens with `oflags` and `rights` (and closes it), else 1.
  (func $tries (param $path i32) (param $len i32) (param $oflags i32) (param $rights i64) (result i32)
    (if (call $path_open (i32.const 3) (i32.const 0) (local.get $path) (local.get $len)
          (local.get $oflags) (local.get $rights) (i64.const 0) (i32.const 0) (i32.const 800))
      (then (return (i32.const 1))))
    (drop (call $fd_close (i32.load (i32.const 800))))
    (i32.const 0))
  (func (export "plugin_handle_event") (param i32 i32) (result i64) (local $out i32)
    ;; FD_READ is right 1 << 1; FD_WRITE 1 << 6; O_CREAT is oflag 1.
    (i32.store8 (i32.const 44) (i32.add (i32.const 48)
      (call $tries (i32.const 700) (i32.const 9) (i32.const 0) (i64.const 2))))
    (i32.store8 (i32.const 50) (i32.add (i32.const 48)
      (call $tries (i32.const 720) (i32.const 7) (i32.const 1) (i64.const 64))))
    (local.set $out (call $alloc (i32.const 37)))
    (memory.copy (local.get $out) (i32.const 16) (i32.const 37))
    (i64.or (i64.shl (i64.extend_i32_u (local.get $out)) (i64.const 32)) (i64.const 37))))"#;

/// Folders are exactly what was granted: all that was declared, less, or
/// none, each under the plugin's own data folder.
async fn folders(kind: EngineKind) {
    use plugin_system_core::FilesystemAccessLevel::{ReadOnly, ReadWrite};
    use plugin_system_host::{Decision, Grant, PolicyTable};
    let root = temp_root("folders", kind);
    let data = root.join("data");
    let engine =
        new_runtime(kind, WasmRuntimeConfig::default().enable_wasi(true)).expect("engine built in");
    let policy = PolicyTable::new(Decision::GrantAll)
        .with(
            "plugin.narrowed",
            // Read-only, and a folder it never asked for, which it does not get.
            Decision::Grant(
                Grant::default()
                    .with_folder("notes", ReadOnly)
                    .with_folder("secrets", ReadWrite),
            ),
        )
        .with("plugin.denied", Decision::Grant(Grant::default()));
    let m = PluginManager::builder()
        .runtime(Arc::new(WasmPluginRuntime::new(engine)))
        .policy(policy)
        .data_dir(&data)
        .build();
    let asks = "[permissions]\nfilesystem = { \"notes\" = \"readWrite\" }";
    let ids = ["plugin.trusted", "plugin.narrowed", "plugin.denied"];
    let packages = ids
        .iter()
        .map(|id| package(&root.join("plugins"), id, FOLDER_PLUGIN, asks))
        .collect();
    let report = m.load_packages(packages).await;
    assert!(report.failed.is_empty(), "{kind:?}: {:?}", report.failed);
    for id in ids {
        let notes = data.join(id).join("notes");
        if notes.exists() {
            std::fs::write(notes.join("hello.txt"), "hi").unwrap();
        }
    }
    let granted = |id: &str| m.permissions(id).unwrap().granted.filesystem;
    assert_eq!(granted("plugin.trusted")["notes"], ReadWrite);
    assert_eq!(
        granted("plugin.narrowed").into_iter().collect::<Vec<_>>(),
        [("notes".to_owned(), ReadOnly)]
    );
    assert!(granted("plugin.denied").is_empty());
    assert!(!data.join("plugin.denied").exists(), "no folder made");

    let tried = |answer: plugin_system_core::PluginResponse| {
        let read = answer.get("r").cloned();
        let write = answer.get("w").cloned();
        (read, write)
    };
    let can = |read: i64, write: i64| (Some(Value::from(read)), Some(Value::from(write)));
    for (id, expected) in [
        ("plugin.trusted", can(0, 0)),
        ("plugin.narrowed", can(0, 1)),
        ("plugin.denied", can(1, 1)),
    ] {
        let answer = m.send_event(id, PluginEvent::new("open")).await;
        let answer = answer.unwrap_or_else(|e| panic!("{kind:?} {id}: {e}"));
        assert_eq!(tried(answer), expected, "{kind:?} {id}");
    }
    assert!(data.join("plugin.trusted/notes/out.txt").exists());
    assert!(!data.join("plugin.narrowed/notes/out.txt").exists());
    m.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn folders_are_exactly_the_grant_on_wasmtime() {
    folders(EngineKind::Wasmtime).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn folders_are_exactly_the_grant_on_wasmi() {
    folders(EngineKind::Wasmi).await;
}

/// Answers `{"data":{"n":N}}`, N the events this instance has taken (its
/// last digit), and
/// traps on an event whose type starts with `c` (`crash`).
const CRASHY: &str = r#"(module
  (memory (export "memory") 1)
  (data (i32.const 16) "{\"success\":true,\"data\":{\"n\":0}}")
  (global $heap (mut i32) (i32.const 1024))
  (global $n (mut i32) (i32.const 0))
  (func $alloc (export "alloc") (param $len i32) (result i32) (local $p i32)
    (local.set $p (global.get $heap))
    (global.set $heap (i32.add (local.get $p) (local.get $len)))
    (if (i32.gt_u (global.get $heap) (i32.const 60000)) (then (global.set $heap (i32.const 1024))))
    (local.get $p))
  (func (export "dealloc") (param i32 i32))
  (func (export "plugin_handle_event") (param $at i32) (param $len i32) (result i64) (local $out i32)
    (global.set $n (i32.add (global.get $n) (i32.const 1)))
    ;; The event is `{"type":"...`: its type's first letter is byte 9.
    (if (i32.eq (i32.load8_u (i32.add (local.get $at) (i32.const 9))) (i32.const 99))
      (then unreachable))
    (i32.store8 (i32.const 44)
      (i32.add (i32.const 48) (i32.rem_u (global.get $n) (i32.const 10))))
    (local.set $out (call $alloc (i32.const 31)))
    (memory.copy (local.get $out) (i32.const 16) (i32.const 31))
    (i64.or (i64.shl (i64.extend_i32_u (local.get $out)) (i64.const 32)) (i64.const 31))))"#;

/// A fault poisons only the instance: a fresh one takes the events queued
/// behind it; faults past the breaker quarantine the plugin, whose queued
/// and later events are refused at once; `revive` brings it back.
async fn faults(kind: EngineKind) {
    use plugin_system_host::RestartPolicy;
    use std::time::Duration;
    let root = temp_root("faults", kind);
    let m = builder(kind)
        .restart_policy(
            RestartPolicy::default()
                .backoff(Duration::from_millis(1), 2.0, Duration::from_millis(10))
                .breaker(3, Duration::from_secs(600)),
        )
        .build();
    let report = m
        .load_packages(vec![package(&root, "plugin.crashy", CRASHY, "")])
        .await;
    assert!(report.failed.is_empty(), "{kind:?}: {:?}", report.failed);
    let mut changes = m.subscribe();
    let n = |answer: Result<plugin_system_core::PluginResponse, ManagerError>| {
        answer
            .unwrap_or_else(|e| panic!("{kind:?}: {e}"))
            .get("n")
            .and_then(Value::as_i64)
    };
    let post = |t: &str| m.post_event("plugin.crashy", PluginEvent::new(t));
    assert_eq!(
        n(m.send_event("plugin.crashy", PluginEvent::new("a")).await),
        Some(1)
    );

    // One trap: the events queued behind it go to a fresh instance.
    let (crash, a, b) = (
        post("crash").unwrap(),
        post("a").unwrap(),
        post("b").unwrap(),
    );
    let trapped = crash.await.unwrap_err();
    assert_eq!(trapped.kind(), "trap", "{kind:?}: {trapped}");
    assert_eq!(n(a.await), Some(1), "{kind:?}: a fresh instance");
    assert_eq!(n(b.await), Some(2));
    let change = changes.recv().await.unwrap();
    assert_eq!(
        (change.from, change.to),
        (PluginState::Ready, PluginState::Initializing)
    );
    assert!(
        change.reason.as_deref().unwrap_or("").contains("trap"),
        "{change:?}"
    );
    let change = changes.recv().await.unwrap();
    assert_eq!(change.to, PluginState::Ready);
    assert_eq!(m.plugin_stats("plugin.crashy").unwrap().restarts, 1);

    // Two more faults within the window: quarantine. What was queued behind
    // the last is refused, and so is what comes after, without the guest.
    assert!(
        m.send_event("plugin.crashy", PluginEvent::new("crash"))
            .await
            .is_err()
    );
    let (crash, queued) = (post("crash").unwrap(), post("a").unwrap());
    assert_eq!(crash.await.unwrap_err().kind(), "trap");
    let refused = queued.await.unwrap_err();
    assert!(
        matches!(refused, ManagerError::Quarantined { .. }),
        "{kind:?}: {refused}"
    );
    assert_eq!(m.state("plugin.crashy"), Some(PluginState::Quarantined));
    let handled = m.plugin_stats("plugin.crashy").unwrap().events_handled;
    let later = m.send_event("plugin.crashy", PluginEvent::new("a")).await;
    assert!(
        matches!(later, Err(ManagerError::Quarantined { .. })),
        "{later:?}"
    );
    assert!(matches!(
        m.send_event_blocking("plugin.crashy", PluginEvent::new("a")),
        Err(ManagerError::Quarantined { .. })
    ));
    assert_eq!(
        m.plugin_stats("plugin.crashy").unwrap().events_handled,
        handled,
        "the guest was not touched"
    );
    assert!(
        m.errors("plugin.crashy")
            .iter()
            .any(|e| e.kind == "quarantined"),
        "{kind:?}"
    );

    // Revived: a fresh instance, serving again.
    m.revive("plugin.crashy").await.unwrap();
    assert_eq!(m.state("plugin.crashy"), Some(PluginState::Ready));
    assert_eq!(
        n(m.send_event("plugin.crashy", PluginEvent::new("a")).await),
        Some(1)
    );
    assert!(matches!(
        m.revive("plugin.crashy").await,
        Err(ManagerError::WrongState { .. })
    ));

    // In quarantine again, and fixed on disk: a reload brings it back.
    for _ in 0..3 {
        let _ = m
            .send_event("plugin.crashy", PluginEvent::new("crash"))
            .await;
    }
    assert_eq!(m.state("plugin.crashy"), Some(PluginState::Quarantined));
    m.reload("plugin.crashy").await.unwrap();
    assert_eq!(m.state("plugin.crashy"), Some(PluginState::Ready));
    assert_eq!(
        n(m.send_event("plugin.crashy", PluginEvent::new("a")).await),
        Some(1)
    );
    m.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_restart_then_quarantine_then_revive_on_wasmtime() {
    faults(EngineKind::Wasmtime).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_restart_then_quarantine_then_revive_on_wasmi() {
    faults(EngineKind::Wasmi).await;
}

/// A plugin that answers `{"data":{"v":V}}`; `init` is the status its
/// `plugin_initialize` returns (0 for success).
fn versioned(v: u32, init: u32) -> String {
    format!(
        r#"(module
  (memory (export "memory") 1)
  (data (i32.const 16) "{{\"success\":true,\"data\":{{\"v\":{v}}}}}")
  (global $heap (mut i32) (i32.const 1024))
  (func $alloc (export "alloc") (param $len i32) (result i32) (local $p i32)
    (local.set $p (global.get $heap))
    (global.set $heap (i32.add (local.get $p) (local.get $len)))
    (if (i32.gt_u (global.get $heap) (i32.const 60000)) (then (global.set $heap (i32.const 1024))))
    (local.get $p))
  (func (export "dealloc") (param i32 i32))
  (func (export "plugin_initialize") (result i32) (i32.const {init}))
  (func (export "plugin_handle_event") (param i32 i32) (result i64) (local $out i32)
    (local.set $out (call $alloc (i32.const 31)))
    (memory.copy (local.get $out) (i32.const 16) (i32.const 31))
    (i64.or (i64.shl (i64.extend_i32_u (local.get $out)) (i64.const 32)) (i64.const 31))))"#
    )
}

/// Writes the folder of `plugin.reloaded` at `version` with `wat`.
fn write_version(root: &Path, version: &str, wat: &str, extra: &str) {
    let dir = root.join("plugin.reloaded");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("plugin.wat"), wat).unwrap();
    std::fs::write(
        dir.join("plugin.toml"),
        format!(
            "id = \"plugin.reloaded\"\nname = \"r\"\nversion = \"{version}\"\n\
             description = \"r\"\nruntime = \"wasm\"\nmodule = \"plugin.wat\"\n{extra}\n"
        ),
    )
    .unwrap();
}

/// A reload swaps versions with the old one serving until the new one is
/// ready; a reload that fails at any step leaves the old one serving.
async fn reloads(kind: EngineKind) {
    let root = temp_root("reload", kind);
    let m = manager(kind);
    write_version(&root, "1.0.0", &versioned(1, 0), "");
    let report = m
        .load_packages(vec![
            PluginPackage::read(&root.join("plugin.reloaded")).unwrap(),
            package(
                &root,
                "plugin.needs",
                &plugin_wat(OK.0, OK.1, ""),
                r#"dependencies = ["plugin.reloaded@^1.0"]"#,
            ),
        ])
        .await;
    assert!(report.failed.is_empty(), "{kind:?}: {:?}", report.failed);
    let version = || async {
        m.send_event("plugin.reloaded", PluginEvent::new("v"))
            .await
            .unwrap_or_else(|e| panic!("{kind:?}: {e}"))
            .get("v")
            .and_then(Value::as_i64)
    };
    assert_eq!(version().await, Some(1));

    // A good reload, with events queued before it: all answered.
    let mut changes = m.subscribe();
    write_version(&root, "1.1.0", &versioned(2, 0), "");
    let queued: Vec<_> = (0..5)
        .map(|_| {
            m.post_event("plugin.reloaded", PluginEvent::new("v"))
                .unwrap()
        })
        .collect();
    m.reload("plugin.reloaded").await.unwrap();
    for answer in queued {
        let v = answer.await.unwrap().get("v").and_then(Value::as_i64);
        assert!(matches!(v, Some(1 | 2)), "{kind:?}: answered by a version");
    }
    assert_eq!(version().await, Some(2));
    assert_eq!(
        m.manifest("plugin.reloaded").unwrap().version.to_string(),
        "1.1.0"
    );
    let change = changes.recv().await.unwrap();
    assert_eq!(change.reason.as_deref(), Some("reloaded: 1.0.0 -> 1.1.0"));
    // What needs it is reloaded after it.
    let change = changes.recv().await.unwrap();
    assert_eq!(change.plugin_id, "plugin.needs", "{kind:?}");
    assert_eq!(change.reason.as_deref(), Some("reloaded: 1.0.0 -> 1.0.0"));

    // Each failing step leaves version 2 in service.
    let digest = format!("sha256 = \"{}\"", "0".repeat(64));
    for (number, wat, extra, step) in [
        ("1.2.0", "not a module".to_owned(), "", "compile"),
        ("1.2.0", versioned(3, 0), digest.as_str(), "verify"),
        ("1.2.0", versioned(3, 1), "", "initialize"),
        ("2.0.0", versioned(3, 0), "", "dependencies"),
        ("not-semver", versioned(3, 0), "", "read"),
    ] {
        write_version(&root, number, &wat, extra);
        let failed = m.reload("plugin.reloaded").await.unwrap_err();
        assert!(
            matches!(&failed, ManagerError::ReloadFailed { step: s, .. } if *s == step),
            "{kind:?} {step}: {failed}"
        );
        assert_eq!(version().await, Some(2), "{kind:?}: after a failed {step}");
        assert_eq!(m.state("plugin.reloaded"), Some(PluginState::Ready));
    }
    assert!(
        m.send_event("plugin.needs", PluginEvent::new("x"))
            .await
            .is_ok()
    );
    m.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reloads_are_atomic_on_wasmtime() {
    reloads(EngineKind::Wasmtime).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reloads_are_atomic_on_wasmi() {
    reloads(EngineKind::Wasmi).await;
}

/// Chaos: 8 plugins that trap on `crash`, events from four tasks, one in 25
/// a crash, while a fifth task reloads plugins and revives those in
/// quarantine. Every event is answered or refused with a typed error, none
/// is lost, and the plugins' counts add up to what reached them.
async fn chaos(kind: EngineKind) {
    use plugin_system_host::RestartPolicy;
    use std::{
        sync::atomic::{AtomicBool, Ordering},
        time::Duration,
    };
    let root = temp_root("chaos", kind);
    let m = builder(kind)
        .mailbox_capacity(8)
        .restart_policy(
            RestartPolicy::default()
                .backoff(Duration::ZERO, 2.0, Duration::from_millis(2))
                .breaker(4, Duration::from_secs(600)),
        )
        .build();
    let ids: Vec<String> = (0..8).map(|i| format!("plugin.c{i}")).collect();
    let packages = ids
        .iter()
        .map(|id| package(&root, id, CRASHY, r#"subscribesTo = ["tick"]"#))
        .collect();
    let report = m.load_packages(packages).await;
    assert!(report.failed.is_empty(), "{kind:?}: {:?}", report.failed);

    const TASKS: u64 = 4;
    const PER_TASK: u64 = 3_000;
    let done = Arc::new(AtomicBool::new(false));
    let senders: Vec<_> = (0..TASKS)
        .map(|t| {
            let (m, ids) = (m.clone(), ids.clone());
            tokio::spawn(async move {
                // (sent, answered, trapped, refused)
                let mut counts = [0u64; 4];
                let mut seed = t * 7919 + 17;
                for n in 0..PER_TASK {
                    seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                    let event = if (seed >> 33) % 5 == 0 {
                        "crash"
                    } else {
                        "tick"
                    };
                    let answers = if n % 50 == 0 {
                        m.dispatch_event(PluginEvent::new(event)).await
                    } else {
                        let target = &ids[((seed >> 40) % ids.len() as u64) as usize];
                        vec![(
                            target.clone(),
                            m.send_event(target, PluginEvent::new(event)).await,
                        )]
                    };
                    for (id, answer) in answers {
                        counts[0] += 1;
                        match answer {
                            Ok(_) => counts[1] += 1,
                            Err(e) if e.kind() == "trap" => counts[2] += 1,
                            Err(
                                ManagerError::Busy { .. }
                                | ManagerError::Quarantined { .. }
                                | ManagerError::WrongState { .. },
                            ) => counts[3] += 1,
                            Err(other) => panic!("{id}: an untyped refusal: {other}"),
                        }
                    }
                }
                counts
            })
        })
        .collect();
    let operator = {
        let (m, ids, done) = (m.clone(), ids.clone(), Arc::clone(&done));
        tokio::spawn(async move {
            let (mut reloads, mut revivals) = (0u32, 0u32);
            let mut i = 0;
            while !done.load(Ordering::SeqCst) {
                let id = &ids[i % ids.len()];
                i += 1;
                match m.state(id) {
                    Some(PluginState::Quarantined) if m.revive(id).await.is_ok() => {
                        revivals += 1;
                    }
                    Some(PluginState::Ready) if m.reload(id).await.is_ok() => reloads += 1,
                    _ => {}
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            (reloads, revivals)
        })
    };
    let mut totals = [0u64; 4];
    for sender in senders {
        let counts = sender.await.expect("no sender panicked");
        for (total, count) in totals.iter_mut().zip(counts) {
            *total += count;
        }
    }
    done.store(true, Ordering::SeqCst);
    let (reloads, revivals) = operator.await.expect("the operator did not panic");
    let [sent, answered, trapped, refused] = totals;
    assert_eq!(sent, answered + trapped + refused, "{kind:?}: none lost");
    assert!(answered > 0 && trapped > 0, "{kind:?}: {totals:?}");
    let handled: u64 = ids
        .iter()
        .map(|id| m.plugin_stats(id).unwrap().events_handled)
        .sum();
    assert_eq!(
        handled,
        answered + trapped,
        "{kind:?}: each event that reached a plugin counted once \
         ({reloads} reloads, {revivals} revivals)"
    );
    assert!(reloads > 0, "{kind:?}: the operator reloaded");
    m.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_loses_no_event_on_wasmtime() {
    chaos(EngineKind::Wasmtime).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_loses_no_event_on_wasmi() {
    chaos(EngineKind::Wasmi).await;
}

/// A watched folder: a module replaced on disk is reloaded, a half-written
/// one keeps the old version until the next change, a new plugin folder is
/// loaded, and a removed one unloaded.
async fn watching(kind: EngineKind) {
    use std::time::Duration;
    let root = temp_root("watch", kind);
    let m = manager(kind);
    write_version(&root, "1.0.0", &versioned(1, 0), "");
    let report = m.load_dir(&root).await;
    assert!(report.failed.is_empty(), "{kind:?}: {:?}", report.failed);
    let _watch = m.watch(&root).expect("watchable");
    let version = || async {
        m.send_event("plugin.reloaded", PluginEvent::new("v"))
            .await
            .ok()
            .and_then(|r| r.get("v").and_then(Value::as_i64))
    };
    // Up to 30 s for the watcher to act: a loaded machine is slow, and
    // nothing here measures how fast.
    async fn eventually<F: Future<Output = bool>>(mut check: impl FnMut() -> F) -> bool {
        for _ in 0..300 {
            if check().await {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        false
    }

    write_version(&root, "1.1.0", &versioned(2, 0), "");
    assert!(
        eventually(|| async { version().await == Some(2) }).await,
        "{kind:?}: reloaded"
    );

    // Half written: the reload fails, version 2 stays; the next write retries.
    std::fs::write(root.join("plugin.reloaded/plugin.wat"), "(module (memory").unwrap();
    assert!(
        eventually(|| async {
            m.errors("plugin.reloaded")
                .iter()
                .any(|e| e.context == "reload after a change")
        })
        .await,
        "{kind:?}: the failed reload is recorded"
    );
    assert_eq!(version().await, Some(2));
    write_version(&root, "1.2.0", &versioned(3, 0), "");
    assert!(
        eventually(|| async { version().await == Some(3) }).await,
        "{kind:?}: retried"
    );

    // A new folder is loaded; a removed one unloaded.
    package(&root, "plugin.new", &plugin_wat(OK.0, OK.1, ""), "");
    assert!(
        eventually(|| async { m.state("plugin.new") == Some(PluginState::Ready) }).await,
        "{kind:?}: loaded"
    );
    std::fs::remove_dir_all(root.join("plugin.new")).unwrap();
    assert!(
        eventually(|| async { m.state("plugin.new") == Some(PluginState::Disposed) }).await,
        "{kind:?}: unloaded"
    );
    m.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watched_folder_reloads_loads_and_unloads_on_wasmtime() {
    watching(EngineKind::Wasmtime).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watched_folder_reloads_loads_and_unloads_on_wasmi() {
    watching(EngineKind::Wasmi).await;
}

/// An event type that fails open gives its sender the host's fallback when
/// the plugin fails it; others fail closed, with the error.
async fn failing_open(kind: EngineKind) {
    use plugin_system_host::{FailurePolicy, RestartPolicy};
    use std::time::Duration;
    let root = temp_root("open", kind);
    let engine = new_runtime(kind, WasmRuntimeConfig::default()).expect("engine built in");
    let fallback = plugin_system_core::PluginResponse::success(
        [("text".to_owned(), Value::from("unformatted"))]
            .into_iter()
            .collect(),
    );
    let m = PluginManager::builder()
        .runtime(Arc::new(WasmPluginRuntime::new(engine)))
        .restart_policy(
            RestartPolicy::default()
                .backoff(Duration::ZERO, 1.0, Duration::ZERO)
                .breaker(100, Duration::from_secs(60)),
        )
        .on_failure("crash.format", FailurePolicy::Open(fallback.clone()))
        .build();
    let report = m
        .load_packages(vec![package(
            &root,
            "plugin.crashy",
            CRASHY,
            r#"subscribesTo = ["crash.*"]"#,
        )])
        .await;
    assert!(report.failed.is_empty(), "{kind:?}: {:?}", report.failed);
    let open = m
        .send_event("plugin.crashy", PluginEvent::new("crash.format"))
        .await;
    assert_eq!(open.as_ref().ok(), Some(&fallback), "{kind:?}: {open:?}");
    let blocking = m.send_event_blocking("plugin.crashy", PluginEvent::new("crash.format"));
    assert_eq!(blocking.ok(), Some(fallback.clone()));
    let broadcast = m.dispatch_event(PluginEvent::new("crash.format")).await;
    assert_eq!(broadcast[0].1.as_ref().ok(), Some(&fallback));
    let closed = m
        .send_event("plugin.crashy", PluginEvent::new("crash"))
        .await;
    assert_eq!(closed.unwrap_err().kind(), "trap", "{kind:?}");
    // Not the plugin's failing: no fallback for a plugin that is not there.
    assert!(matches!(
        m.send_event("plugin.none", PluginEvent::new("crash.format"))
            .await,
        Err(ManagerError::NotFound { .. })
    ));
    assert_eq!(
        m.errors("plugin.crashy").len(),
        4,
        "{kind:?}: still recorded"
    );
    m.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_open_gives_the_fallback_on_wasmtime() {
    failing_open(EngineKind::Wasmtime).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_open_gives_the_fallback_on_wasmi() {
    failing_open(EngineKind::Wasmi).await;
}

/// Counts its events (`{"data":{"n":N}}`, the last digit, `V` its version)
/// and hands the count over a reload: `plugin_snapshot` gives it as 4 bytes,
/// `plugin_restore` takes them.
fn stateful(version: u32) -> String {
    format!(
        r#"(module
  (memory (export "memory") 1)
  (data (i32.const 16) "{{\"success\":true,\"data\":{{\"n\":0,\"v\":{version}}}}}")
  (global $n (mut i32) (i32.const 0))
  (func (export "alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "dealloc") (param i32 i32))
  (func (export "plugin_snapshot") (result i64)
    (i32.store (i32.const 900) (global.get $n))
    (i64.const 0x0000038400000004))
  (func (export "plugin_restore") (param $at i32) (param $len i32) (result i32)
    (if (i32.ne (local.get $len) (i32.const 4)) (then (return (i32.const 1))))
    (global.set $n (i32.load (local.get $at)))
    (i32.const 0))
  (func (export "plugin_handle_event") (param i32 i32) (result i64)
    (global.set $n (i32.add (global.get $n) (i32.const 1)))
    (i32.store8 (i32.const 44)
      (i32.add (i32.const 48) (i32.rem_u (global.get $n) (i32.const 10))))
    (i64.const 0x0000001000000025)))"#
    )
}

/// A reload hands the old version's state to the new one, after the old
/// one has answered every event queued to it.
async fn state_hand_over(kind: EngineKind) {
    let root = temp_root("state", kind);
    let m = manager(kind);
    write_version(&root, "1.0.0", &stateful(1), "");
    let report = m
        .load_packages(vec![
            PluginPackage::read(&root.join("plugin.reloaded")).unwrap(),
        ])
        .await;
    assert!(report.failed.is_empty(), "{kind:?}: {:?}", report.failed);
    let ask = || async {
        let answer = m
            .send_event("plugin.reloaded", PluginEvent::new("tick"))
            .await
            .unwrap_or_else(|e| panic!("{kind:?}: {e}"));
        (
            answer.get("n").and_then(Value::as_i64),
            answer.get("v").and_then(Value::as_i64),
        )
    };
    assert_eq!(ask().await, (Some(1), Some(1)));
    assert_eq!(ask().await, (Some(2), Some(1)));
    let queued: Vec<_> = (0..3)
        .map(|_| {
            m.post_event("plugin.reloaded", PluginEvent::new("tick"))
                .unwrap()
        })
        .collect();
    write_version(&root, "1.1.0", &stateful(2), "");
    m.reload("plugin.reloaded").await.unwrap();
    for answer in queued {
        assert!(answer.await.is_ok(), "{kind:?}");
    }
    // Five events before: the new version counts on from there.
    assert_eq!(ask().await, (Some(6), Some(2)), "{kind:?}");
    assert!(m.errors("plugin.reloaded").is_empty(), "{kind:?}");
    m.shutdown().await;
}

/// Tiered, a plugin answers on wasmi while wasmtime compiles it, and moves
/// between two of its queued events with its count handed over: every event
/// answered once, in order, through the move.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tiered_plugin_moves_to_wasmtime_while_it_serves() {
    let root = temp_root("tiered", EngineKind::Tiered);
    let cache = ModuleCache::open(root.join("cache")).unwrap();
    let tiered = Arc::new(
        cache
            .new_tiered_runtime(WasmRuntimeConfig::default())
            .unwrap(),
    );
    let m = PluginManager::builder()
        .runtime(Arc::new(WasmPluginRuntime::new(
            Arc::clone(&tiered) as Arc<dyn WasmRuntime>
        )))
        .build();
    write_version(&root, "1.0.0", &stateful(1), "");
    let report = m
        .load_packages(vec![
            PluginPackage::read(&root.join("plugin.reloaded")).unwrap(),
        ])
        .await;
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    let mut sent = 0;
    for round in 0..5 {
        let queued: Vec<_> = (0..20)
            .map(|_| {
                m.post_event("plugin.reloaded", PluginEvent::new("tick"))
                    .unwrap()
            })
            .collect();
        if round == 2 {
            // The compile ends while these wait in the mailbox.
            let compiling = Arc::clone(&tiered);
            tokio::task::spawn_blocking(move || compiling.wait_for_compiles())
                .await
                .unwrap();
        }
        for answer in queued {
            sent += 1;
            let answer = answer.await.unwrap();
            assert_eq!(answer.get("n").and_then(Value::as_i64), Some(sent % 10));
        }
    }
    // Moved: the one wasmtime instance is the plugin's.
    assert_eq!(tiered.optimized().stats().instances_created, 1);
    assert!(m.errors("plugin.reloaded").is_empty());
    m.shutdown().await;
    let _ = std::fs::remove_dir_all(&root);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_hands_the_state_over_on_wasmtime() {
    state_hand_over(EngineKind::Wasmtime).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_hands_the_state_over_on_wasmi() {
    state_hand_over(EngineKind::Wasmi).await;
}

/// A manifest's `maxRestarts` makes the host's breaker stricter, never
/// looser; the host may give one plugin a policy of its own.
async fn manifest_breakers(kind: EngineKind) {
    use plugin_system_host::RestartPolicy;
    use std::time::Duration;
    let root = temp_root("breakers", kind);
    let m = builder(kind)
        .restart_policy(
            RestartPolicy::default()
                .backoff(Duration::ZERO, 1.0, Duration::ZERO)
                .breaker(2, Duration::from_secs(600)),
        )
        .restart_policy_for(
            "plugin.patient",
            RestartPolicy::default()
                .backoff(Duration::ZERO, 1.0, Duration::ZERO)
                .breaker(4, Duration::from_secs(600)),
        )
        .build();
    let report = m
        .load_packages(vec![
            package(&root, "plugin.patient", CRASHY, ""),
            package(
                &root,
                "plugin.strict",
                CRASHY,
                "[permissions]\nmaxRestarts = 1",
            ),
            package(
                &root,
                "plugin.greedy",
                CRASHY,
                "[permissions]\nmaxRestarts = 10",
            ),
        ])
        .await;
    assert!(report.failed.is_empty(), "{kind:?}: {:?}", report.failed);
    let crash = |id: &'static str| m.send_event(id, PluginEvent::new("crash"));
    assert!(crash("plugin.strict").await.is_err());
    assert_eq!(
        m.state("plugin.strict"),
        Some(PluginState::Quarantined),
        "{kind:?}"
    );
    assert!(crash("plugin.greedy").await.is_err());
    assert!(crash("plugin.greedy").await.is_err());
    assert_eq!(
        m.state("plugin.greedy"),
        Some(PluginState::Quarantined),
        "{kind:?}: the host's 2, not the manifest's 10"
    );
    // The host's own policy for one plugin: 4 faults, not 2.
    for _ in 0..3 {
        assert!(crash("plugin.patient").await.is_err());
    }
    assert_ne!(
        m.state("plugin.patient"),
        Some(PluginState::Quarantined),
        "{kind:?}"
    );
    assert!(crash("plugin.patient").await.is_err());
    assert_eq!(
        m.state("plugin.patient"),
        Some(PluginState::Quarantined),
        "{kind:?}"
    );
    m.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manifest_can_only_tighten_the_breaker_on_wasmtime() {
    manifest_breakers(EngineKind::Wasmtime).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manifest_can_only_tighten_the_breaker_on_wasmi() {
    manifest_breakers(EngineKind::Wasmi).await;
}

/// A WASI plugin that writes `dying words` to stderr and traps.
const DIES_TALKING: &str = r#"(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 96) "dying words\n")
  (func (export "alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "dealloc") (param i32 i32))
  (func (export "plugin_handle_event") (param i32 i32) (result i64)
    (i32.store (i32.const 512) (i32.const 96))
    (i32.store (i32.const 516) (i32.const 12))
    (drop (call $fd_write (i32.const 2) (i32.const 512) (i32.const 1) (i32.const 520)))
    unreachable))"#;

/// The manager keeps the end of a WASI plugin's stderr: a trap's error says
/// what the plugin wrote last.
async fn last_words(kind: EngineKind) {
    let root = temp_root("last-words", kind);
    let m = manager(kind);
    m.load_package(package(&root, "plugin.talker", DIES_TALKING, ""))
        .await
        .unwrap_or_else(|e| panic!("{kind:?}: {e}"));
    let error = m
        .send_event("plugin.talker", PluginEvent::new("x"))
        .await
        .unwrap_err();
    assert_eq!(error.kind(), "trap", "{kind:?}: {error}");
    assert!(
        error.to_string().ends_with("; stderr: dying words"),
        "{kind:?}: {error}"
    );
    m.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_trap_says_what_the_plugin_wrote_to_stderr_on_wasmtime() {
    last_words(EngineKind::Wasmtime).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_trap_says_what_the_plugin_wrote_to_stderr_on_wasmi() {
    last_words(EngineKind::Wasmi).await;
}
