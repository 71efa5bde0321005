//! The PluginManager with plugins of a runtime written here, as a third party
//! would write one: plain Rust plugins behind the core `PluginRuntime` trait.
//! Every behaviour that does not depend on an engine is tested here.

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::Duration,
};

use async_trait::async_trait;
use plugin_system_core::{
    BlockingPlugin, Plugin, PluginContext, PluginError, PluginEvent, PluginLoadOptions,
    PluginManifest, PluginResponse, PluginRuntime, PluginRuntimeType, PluginSource, Value,
};
use plugin_system_host::{
    Decision, Grant, ManagerError, PluginManager, PluginPackage, PluginState, PolicyTable,
};
use tokio::sync::Semaphore;

/// What a test plugin does.
#[derive(Clone, Default)]
struct Behaviour {
    /// Fails `initialize` while set.
    fail_init: Arc<AtomicBool>,
    /// Each event waits for a permit (a plugin stuck in a loop).
    gate: Option<Arc<Semaphore>>,
    /// Counts the events begun.
    started: Arc<AtomicUsize>,
    /// Counts the events handled.
    handled: Arc<AtomicUsize>,
    /// Offers the blocking calls, whose events wait at this gate (a plugin
    /// stuck in a loop on whichever thread runs it).
    blocking: Option<Arc<StdGate>>,
    /// The threads that ran its events, by name.
    threads: Arc<Mutex<Vec<String>>>,
    /// The same threads, by id: tokio names its blocking threads as it
    /// names its workers.
    thread_ids: Arc<Mutex<Vec<std::thread::ThreadId>>>,
    /// Its load waits here for others (plugins that load side by side).
    load_gate: Option<Arc<std::sync::Barrier>>,
    /// Each blocking event takes this long (a plugin that works).
    work: Option<Duration>,
}

/// Permits that a blocking event takes one of, waiting for it.
#[derive(Default)]
struct StdGate {
    permits: Mutex<u32>,
    opened: std::sync::Condvar,
}

impl StdGate {
    /// A gate that lets `permits` events through before it waits.
    fn new(permits: u32) -> Arc<Self> {
        Arc::new(StdGate {
            permits: Mutex::new(permits),
            opened: std::sync::Condvar::new(),
        })
    }

    fn pass(&self) {
        let mut permits = self.permits.lock().unwrap();
        while *permits == 0 {
            permits = self.opened.wait(permits).unwrap();
        }
        *permits -= 1;
    }

    fn open(&self, permits: u32) {
        *self.permits.lock().unwrap() += permits;
        self.opened.notify_all();
    }
}

/// A log of what the plugins did, in order: `init <id>`, `dispose <id>`.
type Log = Arc<Mutex<Vec<String>>>;

struct NativePlugin {
    manifest: PluginManifest,
    behaviour: Behaviour,
    log: Log,
    config: Mutex<Option<PluginContext>>,
}

#[async_trait]
impl Plugin for NativePlugin {
    fn manifest(&self) -> &PluginManifest {
        &self.manifest
    }

    async fn initialize(&self, context: PluginContext) -> Result<(), PluginError> {
        self.log
            .lock()
            .unwrap()
            .push(format!("init {}", self.manifest.id));
        if self.behaviour.fail_init.load(Ordering::SeqCst) {
            return Err(PluginError::Guest {
                export: "initialize",
                message: "the plugin refuses to start".into(),
            });
        }
        *self.config.lock().unwrap() = Some(context);
        Ok(())
    }

    async fn handle_event(&self, event: PluginEvent) -> Result<PluginResponse, PluginError> {
        self.behaviour.started.fetch_add(1, Ordering::SeqCst);
        if let Some(gate) = &self.behaviour.gate {
            let _permit = gate.acquire().await.expect("gate open");
        }
        self.answer(event)
    }

    async fn dispose(&self) -> Result<(), PluginError> {
        self.log
            .lock()
            .unwrap()
            .push(format!("dispose {}", self.manifest.id));
        Ok(())
    }

    fn blocking(&self) -> Option<&dyn BlockingPlugin> {
        self.behaviour.blocking.as_ref().map(|_| self as _)
    }
}

impl BlockingPlugin for NativePlugin {
    fn initialize_blocking(&self, context: &PluginContext) -> Result<(), PluginError> {
        *self.config.lock().unwrap() = Some(context.clone());
        Ok(())
    }

    fn handle_event_blocking(&self, event: &PluginEvent) -> Result<PluginResponse, PluginError> {
        self.behaviour.started.fetch_add(1, Ordering::SeqCst);
        let thread = std::thread::current().name().unwrap_or("").to_owned();
        self.behaviour.threads.lock().unwrap().push(thread);
        self.behaviour
            .thread_ids
            .lock()
            .unwrap()
            .push(std::thread::current().id());
        if let Some(gate) = &self.behaviour.blocking {
            gate.pass();
        }
        if let Some(work) = self.behaviour.work {
            std::thread::sleep(work);
        }
        self.answer(event.clone())
    }

    fn dispose_blocking(&self) -> Result<(), PluginError> {
        Ok(())
    }
}

impl NativePlugin {
    fn answer(&self, event: PluginEvent) -> Result<PluginResponse, PluginError> {
        self.behaviour.handled.fetch_add(1, Ordering::SeqCst);
        let config = self.config.lock().unwrap().clone().unwrap_or_default();
        Ok(PluginResponse::success(
            [
                ("plugin".to_owned(), Value::from(self.manifest.id.clone())),
                ("type".to_owned(), Value::from(event.event_type)),
                ("config".to_owned(), Value::Map(config.config)),
            ]
            .into_iter()
            .collect(),
        ))
    }
}

/// Loads plugins whose module file is named after a behaviour registered here.
#[derive(Default, Clone)]
struct NativeRuntime {
    behaviours: Arc<Mutex<HashMap<String, Behaviour>>>,
    log: Log,
    /// Loads under way now, and the most there were at once.
    loading: Arc<AtomicUsize>,
    most_loading: Arc<AtomicUsize>,
}

impl NativeRuntime {
    /// Gives `id` blocking calls, whose events wait at `gate`.
    fn with_blocking(&self, id: &str, gate: Arc<StdGate>) {
        self.behaviours.lock().unwrap().insert(
            id.into(),
            Behaviour {
                blocking: Some(gate),
                ..Behaviour::default()
            },
        );
    }

    /// Gives `id` blocking calls that take `work` each.
    fn with_blocking_work(&self, id: &str, work: Duration) {
        self.behaviours.lock().unwrap().insert(
            id.into(),
            Behaviour {
                blocking: Some(StdGate::new(u32::MAX)),
                work: Some(work),
                ..Behaviour::default()
            },
        );
    }

    fn behaviour(&self, id: &str) -> Behaviour {
        self.behaviours
            .lock()
            .unwrap()
            .entry(id.to_owned())
            .or_default()
            .clone()
    }
}

impl PluginRuntime for NativeRuntime {
    fn runtime_type(&self) -> PluginRuntimeType {
        PluginRuntimeType::Native
    }

    fn load(
        &self,
        source: &PluginSource,
        options: &PluginLoadOptions,
    ) -> Result<Arc<dyn Plugin>, PluginError> {
        // The digest is checked as any runtime must.
        source.load()?;
        let now = self.loading.fetch_add(1, Ordering::SeqCst) + 1;
        self.most_loading.fetch_max(now, Ordering::SeqCst);
        let id = options.manifest.as_ref().map(|m| m.id.clone());
        if let Some(gate) = id.and_then(|id| self.behaviour(&id).load_gate) {
            gate.wait();
        }
        self.loading.fetch_sub(1, Ordering::SeqCst);
        let manifest = options
            .manifest
            .clone()
            .ok_or(PluginError::InvalidManifest {
                message: "a native plugin needs its plugin.toml".into(),
            })?;
        Ok(Arc::new(NativePlugin {
            behaviour: self.behaviour(&manifest.id),
            manifest,
            log: Arc::clone(&self.log),
            config: Mutex::new(None),
        }))
    }
}

/// A plugin folder with `plugin.toml` (its `[extra]` lines appended) and a
/// module file, in `root`.
fn package(root: &Path, id: &str, extra: &str) -> PluginPackage {
    let dir = root.join(id);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("plugin.native"), id).unwrap();
    let toml = format!(
        r#"id = "{id}"
name = "{id}"
version = "1.2.0"
description = "test plugin"
runtime = "native"
module = "plugin.native"
{extra}
"#
    );
    let path = dir.join("plugin.toml");
    std::fs::write(&path, toml).unwrap();
    PluginPackage::read(&path).unwrap_or_else(|e| panic!("{e}"))
}

fn temp_root(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("plugin-system-host-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A manager for which slow means longer than 200 ms (2 ms by default), so
/// that a busy machine cannot make a quick event slow.
fn patient_manager(runtime: &NativeRuntime) -> PluginManager {
    PluginManager::builder()
        .runtime(Arc::new(runtime.clone()))
        .slow_event(Duration::from_millis(200))
        .build()
}

fn manager(runtime: &NativeRuntime) -> PluginManager {
    PluginManager::builder()
        .runtime(Arc::new(runtime.clone()))
        .build()
}

#[tokio::test]
async fn plugins_load_in_dependency_order_and_failures_name_their_chain() {
    let root = temp_root("order");
    let runtime = NativeRuntime::default();
    let m = manager(&runtime);
    let packages = vec![
        package(
            &root,
            "plugin.icons",
            r#"dependencies = ["plugin.base@^1.1"]"#,
        ),
        package(&root, "plugin.base", ""),
        package(&root, "plugin.old", r#"dependencies = ["plugin.base@^2"]"#),
        package(&root, "plugin.orphan", r#"dependencies = ["plugin.gone"]"#),
        package(
            &root,
            "plugin.needs-orphan",
            r#"dependencies = ["plugin.orphan"]"#,
        ),
        package(&root, "plugin.future", r#"minHostVersion = "99.0.0""#),
    ];
    let report = m.load_packages(packages).await;
    assert_eq!(report.loaded, ["plugin.base", "plugin.icons"]);
    let failed: HashMap<_, _> = report
        .failed
        .iter()
        .map(|(id, e)| (id.as_str(), e.to_string()))
        .collect();
    assert!(failed["plugin.old"].contains("^2"), "{failed:?}");
    assert!(
        failed["plugin.orphan"].contains("plugin.gone"),
        "{failed:?}"
    );
    let chain = &failed["plugin.needs-orphan"];
    assert!(
        chain.contains("plugin.orphan") && chain.contains("plugin.gone"),
        "{chain}"
    );
    assert!(failed["plugin.future"].contains("99.0.0"), "{failed:?}");
    assert_eq!(
        *runtime.log.lock().unwrap(),
        ["init plugin.base", "init plugin.icons"]
    );
    for id in ["plugin.old", "plugin.orphan", "plugin.needs-orphan"] {
        let info = m.plugins().into_iter().find(|p| p.id == id).unwrap();
        assert_eq!(info.state, PluginState::Error, "{id}");
        assert!(info.reason.is_some(), "{id}");
    }

    // The base is needed: refused, then unloaded with its dependents first.
    let refused = m.unload("plugin.base", false).await.unwrap_err();
    assert!(
        matches!(&refused, ManagerError::HasDependents { dependents, .. } if dependents == &["plugin.icons"]),
        "{refused}"
    );
    assert_eq!(m.state("plugin.base"), Some(PluginState::Ready));
    let gone = m.unload("plugin.base", true).await.unwrap();
    assert_eq!(gone, ["plugin.icons", "plugin.base"]);
    let log = runtime.log.lock().unwrap().clone();
    assert_eq!(log[2..], ["dispose plugin.icons", "dispose plugin.base"]);
    assert_eq!(m.state("plugin.base"), Some(PluginState::Disposed));
}

#[tokio::test]
async fn every_transition_is_published_and_a_failed_initialize_can_be_retried() {
    let root = temp_root("states");
    let runtime = NativeRuntime::default();
    let m = manager(&runtime);
    let mut changes = m.subscribe();
    runtime
        .behaviour("plugin.flaky")
        .fail_init
        .store(true, Ordering::SeqCst);
    let flaky = package(&root, "plugin.flaky", "");
    let error = m.load_package(flaky.clone()).await.unwrap_err();
    assert!(error.to_string().contains("refuses to start"), "{error}");
    assert_eq!(m.state("plugin.flaky"), Some(PluginState::Error));
    // Disposed after its failed initialize.
    assert_eq!(
        *runtime.log.lock().unwrap(),
        ["init plugin.flaky", "dispose plugin.flaky"]
    );
    // A call in the wrong state is a typed error.
    let wrong = m
        .send_event("plugin.flaky", PluginEvent::new("x"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            wrong,
            ManagerError::WrongState {
                state: PluginState::Error,
                ..
            }
        ),
        "{wrong}"
    );

    runtime
        .behaviour("plugin.flaky")
        .fail_init
        .store(false, Ordering::SeqCst);
    m.load_package(flaky).await.unwrap();
    m.unload("plugin.flaky", false).await.unwrap();
    let mut seen = Vec::new();
    while let Ok(change) = changes.try_recv() {
        assert_eq!(change.plugin_id, "plugin.flaky");
        assert_eq!(
            change.reason.is_some(),
            change.to == PluginState::Error,
            "{change:?}"
        );
        seen.push(format!("{}>{}", change.from, change.to));
    }
    assert_eq!(
        seen,
        [
            "unloaded>loading",
            "loading>loaded",
            "loaded>initializing",
            "initializing>error",
            "error>loading",
            "loading>loaded",
            "loaded>initializing",
            "initializing>ready",
            "ready>disposed",
        ]
    );
    assert!(matches!(
        m.send_event("plugin.nobody", PluginEvent::new("x")).await,
        Err(ManagerError::NotFound { .. })
    ));
}

#[tokio::test]
async fn the_config_defaults_come_from_the_schema_and_the_toml_overrides_them() {
    let root = temp_root("config");
    let runtime = NativeRuntime::default();
    let m = manager(&runtime);
    let p = package(
        &root,
        "plugin.cfg",
        r#"configSchema = { properties = { tabs = { default = 4 }, theme = { default = "dark" } } }

[config]
theme = "light"
"#,
    );
    m.load_package(p).await.unwrap();
    let response = m
        .send_event("plugin.cfg", PluginEvent::new("x"))
        .await
        .unwrap();
    let config = response.get("config").unwrap();
    assert_eq!(config.get("tabs"), Some(&Value::from(4)));
    assert_eq!(config.get("theme"), Some(&Value::from("light")));
}

#[tokio::test]
async fn grants_are_narrowed_to_the_declaration_and_refusals_stop_the_load() {
    let root = temp_root("grants");
    let runtime = NativeRuntime::default();
    let narrow = Grant::default().with_host_functions(["log", "fs.wipe"]);
    let policy = PolicyTable::new(Decision::GrantAll)
        .with("plugin.narrow", Decision::Grant(narrow))
        .with("plugin.shady", Decision::Refuse("not signed".into()));
    let m = PluginManager::builder()
        .runtime(Arc::new(runtime.clone()))
        .policy(policy)
        .build();
    let asks = r#"requiredHostFunctions = ["editor.get_text", "log"]

[permissions]
maxMemoryBytes = 1048576
"#;
    let report = m
        .load_packages(vec![
            package(&root, "plugin.narrow", asks),
            package(&root, "plugin.full", asks),
            package(&root, "plugin.shady", asks),
        ])
        .await;
    assert_eq!(report.loaded, ["plugin.full", "plugin.narrow"]);
    let record = m.permissions("plugin.narrow").unwrap();
    assert_eq!(record.declared.host_functions, ["editor.get_text", "log"]);
    // Never more than declared: fs.wipe was not asked for.
    assert_eq!(record.granted.host_functions, ["log"]);
    assert_eq!(record.granted.max_memory_bytes, Some(1_048_576));
    let full = m.permissions("plugin.full").unwrap();
    assert_eq!(full.granted, full.declared);
    let (_, refused) = &report.failed[0];
    assert!(
        matches!(refused, ManagerError::PermissionRefused { reason, .. } if reason == "not signed"),
        "{refused}"
    );
    assert_eq!(m.state("plugin.shady"), Some(PluginState::Error));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_mailbox_is_busy_and_a_stuck_plugin_delays_no_other() {
    let root = temp_root("busy");
    let runtime = NativeRuntime::default();
    let gate = Arc::new(Semaphore::new(0));
    runtime.behaviours.lock().unwrap().insert(
        "plugin.stuck".into(),
        Behaviour {
            gate: Some(Arc::clone(&gate)),
            ..Behaviour::default()
        },
    );
    let m = PluginManager::builder()
        .runtime(Arc::new(runtime.clone()))
        .mailbox_capacity(1)
        .build();
    let report = m
        .load_packages(vec![
            package(&root, "plugin.stuck", r#"subscribesTo = ["doc.*"]"#),
            package(&root, "plugin.quick", r#"subscribesTo = ["doc.saved"]"#),
        ])
        .await;
    assert_eq!(report.loaded.len(), 2, "{:?}", report.failed);

    // One event in the plugin, one in its mailbox: the third is refused at once.
    let first = m
        .post_event("plugin.stuck", PluginEvent::new("doc.a"))
        .unwrap();
    let started = &runtime.behaviour("plugin.stuck").started;
    for _ in 0..3000 {
        if started.load(Ordering::SeqCst) == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        started.load(Ordering::SeqCst),
        1,
        "the plugin took the first"
    );
    let second = m
        .post_event("plugin.stuck", PluginEvent::new("doc.b"))
        .unwrap();
    let third = m.post_event("plugin.stuck", PluginEvent::new("doc.c"));
    assert!(
        matches!(third, Err(ManagerError::Busy { capacity: 1, .. })),
        "the third event must be refused"
    );

    // The other plugin answers while this one is stuck, broadcast or direct.
    let answers = m.dispatch_event(PluginEvent::new("doc.saved")).await;
    let quick = answers.iter().find(|(id, _)| id == "plugin.quick").unwrap();
    assert!(quick.1.is_ok(), "{answers:?}");
    let stuck = answers.iter().find(|(id, _)| id == "plugin.stuck").unwrap();
    assert!(
        matches!(stuck.1, Err(ManagerError::Busy { .. })),
        "{answers:?}"
    );
    assert!(
        m.send_event("plugin.quick", PluginEvent::new("doc.saved"))
            .await
            .is_ok()
    );

    gate.add_permits(10);
    assert!(first.await.is_ok());
    assert!(second.await.is_ok());
    let stats = m.plugin_stats("plugin.stuck").unwrap();
    assert_eq!(stats.events_handled, 2);
    m.shutdown().await;
}

#[tokio::test]
async fn dispatch_reaches_exact_and_prefix_subscribers_only() {
    let root = temp_root("dispatch");
    let runtime = NativeRuntime::default();
    let m = manager(&runtime);
    m.load_packages(vec![
        package(&root, "plugin.exact", r#"subscribesTo = ["file.opened"]"#),
        package(&root, "plugin.prefix", r#"subscribesTo = ["file.*"]"#),
        package(&root, "plugin.all", r#"subscribesTo = ["*"]"#),
        package(&root, "plugin.none", r#"subscribesTo = ["editor.*"]"#),
        package(&root, "plugin.lookalike", r#"subscribesTo = ["file"]"#),
    ])
    .await;
    let ids = |answers: Vec<(String, Result<PluginResponse, ManagerError>)>| {
        answers
            .into_iter()
            .map(|(id, answer)| {
                assert!(answer.is_ok(), "{id}: {answer:?}");
                id
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(
        ids(m.dispatch_event(PluginEvent::new("file.opened")).await),
        ["plugin.all", "plugin.exact", "plugin.prefix"]
    );
    assert_eq!(
        ids(m.dispatch_event(PluginEvent::new("files.x")).await),
        ["plugin.all"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_thousand_events_from_many_tasks_are_all_answered_or_refused() {
    let root = temp_root("load");
    let runtime = NativeRuntime::default();
    let m = PluginManager::builder()
        .runtime(Arc::new(runtime.clone()))
        .mailbox_capacity(16)
        .build();
    let ids: Vec<String> = (0..8).map(|i| format!("plugin.p{i}")).collect();
    // Half have blocking calls: their senders run them in place when idle,
    // and go through the mailbox when not, side by side with the others.
    for id in ids.iter().step_by(2) {
        runtime.with_blocking(id, StdGate::new(u32::MAX));
    }
    let packages = ids
        .iter()
        .map(|id| package(&root, id, r#"subscribesTo = ["tick"]"#))
        .collect();
    assert_eq!(m.load_packages(packages).await.loaded.len(), 8);

    const TASKS: usize = 10;
    const PER_TASK: usize = 10_000;
    let mut tasks = Vec::new();
    for t in 0..TASKS {
        let m = m.clone();
        let ids = ids.clone();
        tasks.push(tokio::spawn(async move {
            let (mut answered, mut busy) = (0usize, 0usize);
            for n in 0..PER_TASK {
                let target = &ids[(t + n) % ids.len()];
                match m.send_event(target, PluginEvent::new("tick")).await {
                    Ok(r) => {
                        assert_eq!(r.get("plugin").and_then(Value::as_str), Some(&**target));
                        answered += 1;
                    }
                    Err(ManagerError::Busy { .. }) => busy += 1,
                    Err(other) => panic!("event {n} of task {t}: {other}"),
                }
            }
            (answered, busy)
        }));
    }
    let (mut answered, mut busy) = (0, 0);
    for task in tasks {
        let (a, b) = task.await.expect("no task panicked");
        answered += a;
        busy += b;
    }
    assert_eq!(answered + busy, TASKS * PER_TASK, "none lost");
    let handled: usize = ids
        .iter()
        .map(|id| runtime.behaviour(id).handled.load(Ordering::SeqCst))
        .sum();
    assert_eq!(handled, answered, "every answer is one handled event");
    let counted: u64 = ids
        .iter()
        .map(|id| m.plugin_stats(id).unwrap().events_handled)
        .sum();
    assert_eq!(counted as usize, answered);
    m.shutdown().await;
    assert!(
        ids.iter()
            .all(|id| m.state(id) == Some(PluginState::Disposed))
    );
}

#[tokio::test]
async fn statistics_count_with_the_dart_keys_and_errors_are_tracked() {
    use plugin_system_core::HostFunction;
    let root = temp_root("stats");
    let runtime = NativeRuntime::default();
    let m = PluginManager::builder()
        .runtime(Arc::new(runtime.clone()))
        .host_function("log", HostFunction::new(|_, _| Ok(Value::Null)))
        .host_function(
            "explode",
            HostFunction::new(|_, _| panic!("a host function that panics")),
        )
        .build();
    let mut published = m.subscribe_errors();
    runtime
        .behaviour("plugin.flaky")
        .fail_init
        .store(true, Ordering::SeqCst);
    m.load_packages(vec![
        package(
            &root,
            "plugin.a",
            "requiredHostFunctions = [\"log\", \"explode\"]\nsubscribesTo = [\"doc.*\"]",
        ),
        package(&root, "plugin.b", r#"subscribesTo = ["doc.saved"]"#),
        package(&root, "plugin.flaky", ""),
    ])
    .await;
    for _ in 0..2 {
        m.dispatch_event(PluginEvent::new("doc.saved")).await;
    }
    m.send_event("plugin.a", PluginEvent::new("doc.opened"))
        .await
        .unwrap();
    for _ in 0..3 {
        m.call_host_function("plugin.a", "log", Value::Null)
            .unwrap();
    }
    // A panic in a host function is its error; the host carries on.
    let panicked = m
        .call_host_function("plugin.a", "explode", Value::Null)
        .unwrap_err();
    assert!(
        matches!(panicked, ManagerError::HostFunctionFailed { .. }),
        "{panicked}"
    );
    let denied = m
        .call_host_function("plugin.b", "log", Value::Null)
        .unwrap_err();
    assert!(
        matches!(denied, ManagerError::HostFunctionDenied { .. }),
        "{denied}"
    );

    let s = m.statistics();
    assert_eq!(
        (s.registry.total, s.registry.ready, s.registry.error),
        (3, 2, 1)
    );
    // The two registered, and events.emit.
    assert_eq!(s.host_functions.total_functions, 3);
    assert_eq!(s.host_functions.total_calls, 4);
    assert_eq!(s.host_functions.most_called.as_deref(), Some("log"));
    assert_eq!(s.host_functions.most_called_count, 3);
    assert_eq!(s.dispatcher.total_dispatched, 3);
    assert_eq!(s.dispatcher.unique_types, 2);
    assert_eq!(s.dispatcher.most_common.as_deref(), Some("doc.saved"));
    assert_eq!(s.dispatcher.most_common_count, 2);
    assert_eq!(s.permissions.total_plugins, 3);
    assert!((s.permissions.avg_host_functions - 2.0 / 3.0).abs() < 1e-9);
    assert_eq!(s.errors.total_errors, 1);
    assert_eq!(s.errors.most_errors_plugin.as_deref(), Some("plugin.flaky"));
    assert_eq!(s.plugins["plugin.a"].events_handled, 3);
    assert_eq!(s.plugins["plugin.b"].events_handled, 2);

    // The Dart keys, as a host would print them.
    let json = serde_json::to_value(&s).unwrap();
    for (group, key) in [
        ("registry", "initializing"),
        ("host_functions", "most_called_count"),
        ("dispatcher", "most_common_count"),
        ("permissions", "plugins_with_filesystem"),
        ("errors", "by_severity"),
    ] {
        assert!(json[group].get(key).is_some(), "{group}.{key} in {json}");
    }
    assert_eq!(json["errors"]["by_severity"]["error"], 1);
    assert!(json["plugins"]["plugin.a"]["median_us"].is_u64());

    let record = published.try_recv().expect("the failure was published");
    assert_eq!(record.plugin_id, "plugin.flaky");
    assert!(record.message.contains("refuses to start"));
    assert_eq!(m.errors("plugin.flaky").len(), 1);
}

#[tokio::test]
async fn host_function_arguments_are_checked_against_the_signature() {
    use plugin_system_core::HostFunction;
    use plugin_system_host::{HostFunctionParam, HostFunctionSignature, ValueType};
    let root = temp_root("signatures");
    let runtime = NativeRuntime::default();
    let signature = HostFunctionSignature::new("editor.get_line", "one line of the document")
        .param(HostFunctionParam::new("line", ValueType::Int, "0-based"))
        .param(
            HostFunctionParam::new("trim", ValueType::Bool, "strip whitespace")
                .optional(Some(Value::Bool(false))),
        )
        .returns(ValueType::Map);
    let m = PluginManager::builder()
        .runtime(Arc::new(runtime.clone()))
        // Answers with the arguments it got.
        .host_function_with(signature, HostFunction::new(|_, args| Ok(args)))
        .build();
    m.load_package(package(
        &root,
        "plugin.lines",
        r#"requiredHostFunctions = ["editor.get_line"]"#,
    ))
    .await
    .unwrap();
    let got = m
        .call_host_function(
            "plugin.lines",
            "editor.get_line",
            Value::from_iter([("line".to_owned(), Value::from(7))]),
        )
        .unwrap();
    assert_eq!(
        got.get("trim"),
        Some(&Value::Bool(false)),
        "default filled in"
    );
    let wrong = m
        .call_host_function(
            "plugin.lines",
            "editor.get_line",
            Value::from_iter([("line".to_owned(), Value::from("seven"))]),
        )
        .unwrap_err();
    assert!(
        matches!(&wrong, ManagerError::HostFunctionFailed { .. })
            && wrong
                .to_string()
                .contains("argument `line` must be int, not string"),
        "{wrong}"
    );
    let listed = m.host_function_signatures();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].params[1].name, "trim");
}

/// An async sender on a multi-thread runtime runs an idle plugin's event on
/// its own thread, in a blocking section (`async_in_place`, the default): a
/// plugin stuck there holds up neither the runtime's other tasks nor another
/// plugin, and once it has been slow its events go to its own thread. On a
/// current-thread runtime, which has no other thread for its tasks, and with
/// the option off, the event goes to the plugin's own thread.
#[test]
fn async_senders_run_idle_plugins_in_place_only_where_the_runtime_can_spare_the_thread() {
    let root = temp_root("in-place");
    let runtime = NativeRuntime::default();
    let stuck_gate = StdGate::new(0);
    runtime.with_blocking("plugin.stuck", Arc::clone(&stuck_gate));
    runtime.with_blocking("plugin.quick", StdGate::new(u32::MAX));
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("sender")
        .enable_all()
        .build()
        .unwrap();
    // The slow ones are held 300 ms.
    let m = patient_manager(&runtime);
    let report = tokio.block_on(m.load_packages(vec![
        package(&root, "plugin.stuck", ""),
        package(&root, "plugin.quick", r#"subscribesTo = ["doc.*"]"#),
    ]));
    assert_eq!(report.loaded.len(), 2, "{:?}", report.failed);
    let quick = runtime.behaviour("plugin.quick");
    let stuck = runtime.behaviour("plugin.stuck");
    // A plugin's first event goes to its own thread (it may be slow, cold):
    // one each first, from this thread, which may block.
    stuck_gate.open(1);
    for id in ["plugin.quick", "plugin.stuck"] {
        assert!(m.send_event_blocking(id, PluginEvent::new("warm")).is_ok());
    }
    for behaviour in [&quick, &stuck] {
        behaviour.threads.lock().unwrap().clear();
        behaviour.thread_ids.lock().unwrap().clear();
    }

    // From a task: handled on the task's own thread (its id, taken before
    // the first await, names it: tokio's blocking threads share the name).
    let sent = {
        let m = m.clone();
        tokio.spawn(async move {
            let task = std::thread::current().id();
            (
                task,
                m.send_event("plugin.quick", PluginEvent::new("a")).await,
            )
        })
    };
    let (task, answer) = tokio.block_on(sent).unwrap();
    assert!(answer.is_ok());
    assert_eq!(*quick.threads.lock().unwrap(), ["sender"]);
    assert_eq!(*quick.thread_ids.lock().unwrap(), [task]);
    let dispatched = {
        let m = m.clone();
        tokio.spawn(async move {
            let task = std::thread::current().id();
            (task, m.dispatch_event(PluginEvent::new("doc.saved")).await)
        })
    };
    let (task, answers) = tokio.block_on(dispatched).unwrap();
    assert!(answers.len() == 1 && answers[0].1.is_ok(), "{answers:?}");
    assert_eq!(*quick.threads.lock().unwrap(), ["sender", "sender"]);
    assert_eq!(quick.thread_ids.lock().unwrap()[1], task);

    // A plugin stuck in place: the other tasks and plugins go on.
    let (held_on, held_on_rx) = std::sync::mpsc::channel();
    let held = {
        let m = m.clone();
        tokio.spawn(async move {
            held_on.send(std::thread::current().id()).unwrap();
            m.send_event("plugin.stuck", PluginEvent::new("b")).await
        })
    };
    for _ in 0..3000 {
        if stuck.started.load(Ordering::SeqCst) == 2 {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(
        stuck.started.load(Ordering::SeqCst),
        2,
        "the plugin took it (after the first event)"
    );
    assert_eq!(*stuck.threads.lock().unwrap(), ["sender"]);
    assert_eq!(
        *stuck.thread_ids.lock().unwrap(),
        [held_on_rx.recv().unwrap()]
    );
    for n in 0..20 {
        let m = m.clone();
        let answer =
            tokio
                .block_on(tokio.spawn(async move {
                    m.send_event("plugin.quick", PluginEvent::new("c")).await
                }))
                .unwrap();
        assert!(answer.is_ok(), "event {n}: {answer:?}");
    }
    let stats = m.plugin_stats("plugin.quick").unwrap();
    assert_eq!((stats.events_handled, stats.events_in_place), (23, 23));
    // A second event for the stuck plugin waits its turn in the mailbox.
    let queued = m.post_event("plugin.stuck", PluginEvent::new("d")).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    stuck_gate.open(2);
    assert!(tokio.block_on(held).unwrap().is_ok());
    assert!(tokio.block_on(queued).is_ok());
    let threads = stuck.threads.lock().unwrap().clone();
    assert_eq!(threads[0], "sender");
    assert!(threads[1].starts_with("plugin "), "{threads:?}");
    assert_eq!(m.plugin_stats("plugin.stuck").unwrap().events_handled, 3);

    // "b" was slow (held past 200 ms), "d" quick. A plugin runs in an
    // async sender's task only while its last event was quick and it has
    // been slow fewer than three times: the sender's other futures, and a
    // timeout around it, would wait as long.
    let send = |event: &'static str| {
        let m = m.clone();
        tokio.spawn(async move { m.send_event("plugin.stuck", PluginEvent::new(event)).await })
    };
    let slow = |event: &'static str| {
        let before = stuck.started.load(Ordering::SeqCst);
        let sent = send(event);
        for _ in 0..3000 {
            if stuck.started.load(Ordering::SeqCst) > before {
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        // Held at the gate past 200 ms.
        std::thread::sleep(Duration::from_millis(300));
        stuck_gate.open(1);
        assert!(tokio.block_on(sent).unwrap().is_ok());
    };
    let quick_one = |event: &'static str| {
        stuck_gate.open(1);
        assert!(tokio.block_on(send(event)).unwrap().is_ok());
    };
    slow("e"); // the second slow one, in place
    quick_one("f"); // after a slow one: its own thread
    slow("g"); // the third, in place
    quick_one("h"); // after a slow one: its own thread
    quick_one("i"); // three slow ones: its own thread from now on
    let threads = stuck.threads.lock().unwrap().clone();
    assert_eq!(
        threads[2..],
        [
            "sender",
            "plugin plugin.stuck",
            "sender",
            "plugin plugin.stuck",
            "plugin plugin.stuck"
        ],
        "{threads:?}"
    );
    let stats = m.plugin_stats("plugin.stuck").unwrap();
    assert_eq!((stats.events_handled, stats.events_in_place), (8, 4));
    // The 1024 events after its third slow one go to its own thread; after
    // them (a busy machine may have slowed it) it is forgiven: in place
    // again.
    stuck_gate.open(1022);
    let sent = {
        let m = m.clone();
        tokio.spawn(async move {
            for _ in 0..1022 {
                m.send_event("plugin.stuck", PluginEvent::new("j")).await?;
            }
            Ok::<_, ManagerError>(())
        })
    };
    tokio.block_on(sent).unwrap().unwrap();
    let threads = stuck.threads.lock().unwrap().clone();
    assert!(
        threads[7..].iter().all(|t| t == "plugin plugin.stuck"),
        "{threads:?}"
    );
    quick_one("k");
    let last = stuck.threads.lock().unwrap().last().cloned().unwrap();
    assert_eq!(last, "sender");
    let stats = m.plugin_stats("plugin.stuck").unwrap();
    assert_eq!((stats.events_handled, stats.events_in_place), (1031, 5));

    // A current-thread runtime cannot spare its thread.
    let single = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    assert!(
        single
            .block_on(m.send_event("plugin.quick", PluginEvent::new("e")))
            .is_ok()
    );
    let last = quick.threads.lock().unwrap().last().cloned().unwrap();
    assert_eq!(last, "plugin plugin.quick");
    let answers = single.block_on(m.dispatch_event(PluginEvent::new("doc.closed")));
    assert!(answers.len() == 1 && answers[0].1.is_ok(), "{answers:?}");
    let last = quick.threads.lock().unwrap().last().cloned().unwrap();
    assert_eq!(last, "plugin broadcasts", "the manager's broadcast thread");
    tokio.block_on(m.shutdown());

    // With the option off, the mailbox, from the same runtime's tasks.
    let m = PluginManager::builder()
        .runtime(Arc::new(runtime.clone()))
        .async_in_place(false)
        .build();
    let report = tokio.block_on(m.load_packages(vec![package(
        &root,
        "plugin.quick",
        r#"subscribesTo = ["doc.*"]"#,
    )]));
    assert_eq!(report.loaded.len(), 1, "{:?}", report.failed);
    let sent = {
        let m = m.clone();
        tokio.spawn(async move { m.send_event("plugin.quick", PluginEvent::new("f")).await })
    };
    assert!(tokio.block_on(sent).unwrap().is_ok());
    let last = quick.threads.lock().unwrap().last().cloned().unwrap();
    assert_eq!(last, "plugin plugin.quick");
    tokio.block_on(m.shutdown());
}

/// tokio refuses a blocking section (with a panic) on a current-thread
/// runtime's thread that entered a multi-thread runtime's context, which it
/// gives its callers no way to tell: the manager catches the refusal and
/// sends through the mailbox, and asks that thread no more.
#[test]
fn a_blocking_section_tokio_refuses_falls_back_to_the_mailbox() {
    let root = temp_root("refused");
    let runtime = NativeRuntime::default();
    runtime.with_blocking("plugin.quick", StdGate::new(u32::MAX));
    let multi = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    // Quick enough to run in place, however busy the machine.
    let m = patient_manager(&runtime);
    let report = multi.block_on(m.load_packages(vec![package(
        &root,
        "plugin.quick",
        r#"subscribesTo = ["doc.*"]"#,
    )]));
    assert_eq!(report.loaded.len(), 1, "{:?}", report.failed);
    let quick = runtime.behaviour("plugin.quick");
    // Its first event, cold, goes to its own thread: after it, the plugin
    // may run in place, so only the refusal keeps the events below off this
    // thread.
    assert!(
        multi
            .block_on(m.send_event("plugin.quick", PluginEvent::new("warm")))
            .is_ok()
    );
    let single = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    single.block_on(async {
        let _inside = multi.handle().enter();
        for n in 0..3 {
            let answer = m
                .send_event("plugin.quick", PluginEvent::new("doc.a"))
                .await;
            assert!(answer.is_ok(), "event {n}: {answer:?}");
            let answers = m.dispatch_event(PluginEvent::new("doc.b")).await;
            assert!(answers.len() == 1 && answers[0].1.is_ok(), "{answers:?}");
        }
    });
    let threads = quick.threads.lock().unwrap().clone();
    assert_eq!(threads.len(), 7);
    assert!(
        threads[1..].iter().all(|t| t.starts_with("plugin ")),
        "{threads:?}"
    );
    // The broadcasts ran on the broadcast thread, which counts as in place;
    // the sent events all went through the mailbox.
    let stats = m.plugin_stats("plugin.quick").unwrap();
    assert_eq!((stats.events_handled, stats.events_in_place), (7, 3));
    multi.block_on(m.shutdown());
}

/// A run of blocking broadcasts gets the manager's broadcast thread's help
/// (on more than one core): it takes recipients beside the broadcaster, its
/// answers land in their places, and the statistics count them. On one core
/// nobody helps.
#[test]
fn a_run_of_blocking_broadcasts_is_helped_by_the_broadcast_thread() {
    let root = temp_root("helped");
    let runtime = NativeRuntime::default();
    let ids: Vec<String> = (0..8).map(|i| format!("plugin.h{i}")).collect();
    // Each takes a little while (sleeping: the other core stays free), so
    // that the broadcast thread, once woken, finds recipients left to take.
    for id in &ids {
        runtime.with_blocking_work(id, Duration::from_micros(100));
    }
    let tokio = tokio::runtime::Runtime::new().unwrap();
    let m = manager(&runtime);
    let packages = ids
        .iter()
        .map(|id| package(&root, id, r#"subscribesTo = ["tick"]"#))
        .collect();
    assert_eq!(tokio.block_on(m.load_packages(packages)).loaded.len(), 8);
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let mut broadcasts = 0;
    while broadcasts < 2_000 && m.statistics().dispatcher.recipients_helped == 0 {
        let answers = m.dispatch_event_blocking(PluginEvent::new("tick"));
        broadcasts += 1;
        let answered: Vec<&str> = answers
            .iter()
            .map(|(id, answer)| {
                let answer = answer.as_ref().expect("answered");
                assert_eq!(
                    answer.get("plugin").and_then(Value::as_str),
                    Some(id.as_str())
                );
                id.as_str()
            })
            .collect();
        assert_eq!(answered, ids);
    }
    let helped = m.statistics().dispatcher.recipients_helped;
    let by_helper: usize = ids
        .iter()
        .map(|id| {
            let threads = runtime.behaviour(id).threads.lock().unwrap().clone();
            threads.iter().filter(|t| *t == "plugin broadcasts").count()
        })
        .sum();
    if cores > 1 {
        assert!(helped > 0, "no help in {broadcasts} broadcasts");
        assert!(by_helper > 0);
    } else {
        assert_eq!((helped, by_helper), (0, 0));
    }
    // Every recipient answered every broadcast.
    for id in &ids {
        assert_eq!(m.plugin_stats(id).unwrap().events_handled, broadcasts);
    }
    tokio.block_on(m.shutdown());
}

/// The blocking calls, from threads that are not async tasks: an idle
/// plugin's event runs on the caller's thread; a broadcast whose caller is
/// stuck in one plugin hands the others to their own threads.
#[test]
fn blocking_callers_run_idle_plugins_and_a_stuck_one_delays_no_other() {
    let root = temp_root("blocking");
    let runtime = NativeRuntime::default();
    let stuck_gate = StdGate::new(1);
    runtime.with_blocking("plugin.a-stuck", Arc::clone(&stuck_gate));
    runtime.with_blocking("plugin.b-quick", StdGate::new(u32::MAX));
    let tokio = tokio::runtime::Runtime::new().unwrap();
    let m = manager(&runtime);
    let report = tokio.block_on(m.load_packages(vec![
        package(&root, "plugin.a-stuck", r#"subscribesTo = ["doc.*"]"#),
        package(&root, "plugin.b-quick", r#"subscribesTo = ["doc.*"]"#),
    ]));
    assert_eq!(report.loaded.len(), 2, "{:?}", report.failed);
    let here = std::thread::current().name().unwrap_or("").to_owned();
    let quick = runtime.behaviour("plugin.b-quick");
    let stuck = runtime.behaviour("plugin.a-stuck");

    // Idle: handled right here.
    let answer = m
        .send_event_blocking("plugin.b-quick", PluginEvent::new("doc.opened"))
        .unwrap();
    assert_eq!(
        answer.get("type").and_then(Value::as_str),
        Some("doc.opened")
    );
    assert_eq!(*quick.threads.lock().unwrap(), std::slice::from_ref(&here));
    // A broadcast: each recipient here, or on the manager's broadcast
    // thread, which may take some beside this one (it is woken for a
    // plugin's first event, which may be slow); never on their own threads.
    let answers = m.dispatch_event_blocking(PluginEvent::new("doc.saved"));
    assert_eq!(answers.len(), 2);
    assert!(answers.iter().all(|(_, a)| a.is_ok()), "{answers:?}");
    let ran_by_broadcast = |thread: &String| *thread == here || thread == "plugin broadcasts";
    assert!(ran_by_broadcast(&quick.threads.lock().unwrap()[1]));
    let stuck_threads = stuck.threads.lock().unwrap().clone();
    assert!(
        stuck_threads.len() == 1 && ran_by_broadcast(&stuck_threads[0]),
        "{stuck_threads:?}"
    );

    // The broadcaster (or the broadcast thread helping it) gets stuck in
    // one plugin; the other is answered meanwhile.
    let broadcaster = {
        let m = m.clone();
        std::thread::spawn(move || m.dispatch_event_blocking(PluginEvent::new("doc.closed")))
    };
    for _ in 0..3000 {
        if quick.handled.load(Ordering::SeqCst) == 3 {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    // Whoever reached it (the rescuer's hand-over to its own thread, or the
    // manager's broadcast thread helping), it was not held up.
    assert_eq!(quick.handled.load(Ordering::SeqCst), 3, "not held up");
    assert_eq!(stuck.handled.load(Ordering::SeqCst), 1, "still stuck");
    // A direct call to the quick plugin is not held up either.
    assert!(
        m.send_event_blocking("plugin.b-quick", PluginEvent::new("doc.x"))
            .is_ok()
    );

    stuck_gate.open(1);
    let answers = broadcaster.join().expect("no panic");
    assert!(answers.iter().all(|(_, a)| a.is_ok()), "{answers:?}");
    assert_eq!(stuck.handled.load(Ordering::SeqCst), 2);
    assert_eq!(m.plugin_stats("plugin.b-quick").unwrap().events_handled, 4);
    tokio.block_on(m.shutdown());
}

/// A blocking call to a plugin that is not ready, or to none, is refused
/// as the async one is; one to a busy plugin waits its turn in the mailbox.
#[test]
fn blocking_calls_are_refused_as_the_async_ones_are() {
    let root = temp_root("blocking-refused");
    let runtime = NativeRuntime::default();
    let gate = StdGate::new(0);
    runtime.behaviours.lock().unwrap().insert(
        "plugin.gated".into(),
        Behaviour {
            blocking: Some(Arc::clone(&gate)),
            ..Behaviour::default()
        },
    );
    let tokio = tokio::runtime::Runtime::new().unwrap();
    let m = PluginManager::builder()
        .runtime(Arc::new(runtime.clone()))
        .mailbox_capacity(1)
        .build();
    tokio.block_on(m.load_packages(vec![package(&root, "plugin.gated", "")]));
    assert!(matches!(
        m.send_event_blocking("plugin.none", PluginEvent::new("x")),
        Err(ManagerError::NotFound { .. })
    ));
    // One event running, one queued: the next is refused at once.
    let behaviour = runtime.behaviour("plugin.gated");
    let wait_started = |n: usize| {
        for _ in 0..3000 {
            if behaviour.started.load(Ordering::SeqCst) == n {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(behaviour.started.load(Ordering::SeqCst), n);
    };
    let post =
        |t: &str| tokio.block_on(async { m.post_event("plugin.gated", PluginEvent::new(t)) });
    let first = post("a").unwrap();
    wait_started(1);
    let second = post("b").unwrap();
    assert!(matches!(
        m.send_event_blocking("plugin.gated", PluginEvent::new("c")),
        Err(ManagerError::Busy { capacity: 1, .. })
    ));
    let refused = m.dispatch_event_blocking(PluginEvent::new("c"));
    assert!(refused.is_empty(), "no subscriber: {refused:?}");

    // A blocking call to a busy plugin waits its turn.
    gate.open(1);
    wait_started(2);
    let waiting = {
        let m = m.clone();
        std::thread::spawn(move || m.send_event_blocking("plugin.gated", PluginEvent::new("d")))
    };
    gate.open(2);
    assert!(tokio.block_on(first).is_ok());
    assert!(tokio.block_on(second).is_ok());
    let answer = waiting.join().unwrap().unwrap();
    assert_eq!(answer.get("type").and_then(Value::as_str), Some("d"));
    assert_eq!(behaviour.handled.load(Ordering::SeqCst), 3);
    tokio.block_on(m.unload("plugin.gated", false)).unwrap();
    assert!(matches!(
        m.send_event_blocking("plugin.gated", PluginEvent::new("d")),
        Err(ManagerError::WrongState { .. })
    ));
}

#[tokio::test(flavor = "multi_thread")]
async fn independent_plugins_load_side_by_side_after_what_they_need() {
    let root = temp_root("side-by-side");
    let runtime = NativeRuntime::default();
    // The three that need nothing pass their gate only together: loaded one
    // after another, they would wait for ever.
    let gate = Arc::new(std::sync::Barrier::new(3));
    for id in ["plugin.a", "plugin.b", "plugin.c"] {
        runtime.behaviours.lock().unwrap().insert(
            id.to_owned(),
            Behaviour {
                load_gate: Some(Arc::clone(&gate)),
                ..Behaviour::default()
            },
        );
    }
    let m = PluginManager::builder()
        .runtime(Arc::new(runtime.clone()))
        .load_concurrency(3)
        .build();
    let packages = vec![
        package(&root, "plugin.d", r#"dependencies = ["plugin.a"]"#),
        package(&root, "plugin.c", ""),
        package(&root, "plugin.b", ""),
        package(&root, "plugin.a", ""),
    ];
    let report = m.load_packages(packages).await;
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    assert_eq!(
        report.loaded,
        ["plugin.a", "plugin.b", "plugin.c", "plugin.d"]
    );
    assert_eq!(runtime.most_loading.load(Ordering::SeqCst), 3);
    // The one that needs `plugin.a` started after it was ready.
    let log = runtime.log.lock().unwrap().clone();
    assert_eq!(
        log.last().map(String::as_str),
        Some("init plugin.d"),
        "{log:?}"
    );
    let timed: Vec<&str> = report
        .time_to_ready
        .iter()
        .map(|(id, _)| id.as_str())
        .collect();
    assert_eq!(timed, report.loaded);
    m.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn no_more_plugins_compile_at_once_than_the_host_allows() {
    let root = temp_root("bounded-loads");
    let runtime = NativeRuntime::default();
    // Pairs pass the gate: two at once, never more than the bound of two.
    let gate = Arc::new(std::sync::Barrier::new(2));
    let ids = ["plugin.a", "plugin.b", "plugin.c", "plugin.d"];
    for id in ids {
        runtime.behaviours.lock().unwrap().insert(
            id.to_owned(),
            Behaviour {
                load_gate: Some(Arc::clone(&gate)),
                ..Behaviour::default()
            },
        );
    }
    let m = PluginManager::builder()
        .runtime(Arc::new(runtime.clone()))
        .load_concurrency(2)
        .build();
    let report = m
        .load_packages(ids.iter().map(|id| package(&root, id, "")).collect())
        .await;
    assert_eq!(report.loaded, ids);
    assert_eq!(runtime.most_loading.load(Ordering::SeqCst), 2);
    m.shutdown().await;
}
