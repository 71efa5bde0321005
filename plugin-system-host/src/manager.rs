//! [`PluginManager`]: loads plugin folders in dependency order, grants their
//! permissions, keeps their lifecycle, and routes events to them.

use std::{
    collections::{BTreeMap, HashMap},
    panic::{AssertUnwindSafe, catch_unwind},
    path::PathBuf,
    sync::{Arc, Mutex, MutexGuard},
    time::Duration,
};

use plugin_system_core::{
    DirAccess, FilesystemAccessLevel, HostFunction, HostFunctions, Instant, OutputBuffer,
    PluginContext, PluginEvent, PluginLoadOptions, PluginManifest, PluginPermissions,
    PluginResponse, PluginRuntime, PluginSource, SharedEvent, Value, ValueMap, WasiConfig,
    WasiOutput,
};
use tokio::sync::{Semaphore, broadcast};

// Folder watching needs the file system and a thread: not in a page.
#[cfg(not(all(target_family = "wasm", target_os = "unknown")))]
mod watch;

#[cfg(not(all(target_family = "wasm", target_os = "unknown")))]
pub use watch::{FolderWatch, WATCH_DEBOUNCE};

use crate::{
    ManagerError, PluginState, StateChange,
    actor::{
        Answer, Broadcast, Mailbox, Payload, Rescuer, Runner, SLOW_EVENT, Supervisor, Worker,
        WorkerSetup, await_answers,
    },
    dependencies,
    errors::{ErrorRecord, ErrorSeverity, ErrorTracker},
    exec::{self, Driver},
    package::{self, PluginPackage},
    permissions::{Decision, Grant, GrantDeclared, PermissionPolicy, PermissionRecord},
    restart::RestartPolicy,
    signature::HostFunctionSignature,
    statistics::{
        DispatcherStats, HostFunctionStats, PermissionStats, RegistryStats, Statistics, Tally,
    },
    stats::{PluginCounters, PluginStats},
};

/// Events a plugin's mailbox holds before senders get [`ManagerError::Busy`].
pub const DEFAULT_MAILBOX_CAPACITY: usize = 64;

/// The host function through which a plugin sends events to other plugins
/// (granted as any other: the plugin must declare it).
pub const EMIT_FUNCTION: &str = "events.emit";

/// How many plugin-to-plugin hops from the host an event may be, by default.
pub const DEFAULT_MAX_EVENT_DEPTH: u32 = 8;

/// How state changes the broadcast channel keeps for a slow listener.
const CHANGES_KEPT: usize = 1024;

/// What the sender of an event gets when a plugin fails it
/// ([`ManagerBuilder::on_failure`]).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum FailurePolicy {
    /// The error.
    Closed,
    /// This answer instead.
    Open(PluginResponse),
}

/// The plugins an `event_type` event goes to, with their mailboxes: `target`
/// alone, or every subscriber. A plugin that restarts takes it after its
/// restart.
fn recipients(
    plugins: &BTreeMap<String, Entry>,
    event_type: &str,
    target: Option<&str>,
) -> Vec<(String, Mailbox)> {
    plugins
        .iter()
        .filter(|(id, e)| {
            matches!(e.state, PluginState::Ready | PluginState::Initializing)
                && match target {
                    Some(target) => id.as_str() == target,
                    None => subscribes(&e.manifest.subscribes_to, event_type),
                }
        })
        .filter_map(|(id, e)| Some((id.clone(), e.mailbox.as_ref()?.mailbox().clone())))
        .collect()
}

/// Whether `error` is the plugin's failing, which a fail-open event hides
/// from its sender (not a plugin that is unknown or not loaded).
fn fails_open(error: &ManagerError) -> bool {
    matches!(
        error,
        ManagerError::Plugin { .. }
            | ManagerError::Panicked { .. }
            | ManagerError::Quarantined { .. }
            | ManagerError::Stopped { .. }
            | ManagerError::Busy { .. }
    )
}

/// `answer`, or `fallback` in place of a plugin's failure (cloned only then).
fn open_or(
    answer: Result<PluginResponse, ManagerError>,
    fallback: Option<&PluginResponse>,
) -> Result<PluginResponse, ManagerError> {
    match (answer, fallback) {
        (Err(error), Some(fallback)) if fails_open(&error) => Ok(fallback.clone()),
        (answer, _) => answer,
    }
}

/// A broadcast's answers by recipient, with `fallback` in place of their
/// failures (if the event fails open).
fn with_fallback(
    ids: Vec<String>,
    answers: Vec<Result<PluginResponse, ManagerError>>,
    fallback: Option<PluginResponse>,
) -> Vec<(String, Result<PluginResponse, ManagerError>)> {
    match fallback {
        None => ids.into_iter().zip(answers).collect(),
        Some(fallback) => ids
            .into_iter()
            .zip(answers)
            .map(|(id, answer)| (id, open_or(answer, Some(&fallback))))
            .collect(),
    }
}

/// The end of a WASI plugin's stderr the manager keeps, for its errors.
const STDERR_KEPT: usize = 16 << 10;

/// One plugin as the manager knows it.
struct Entry {
    manifest: PluginManifest,
    state: PluginState,
    reason: Option<String>,
    mailbox: Option<Worker>,
    /// The folder it was loaded from, for a reload.
    package: Option<PluginPackage>,
    permissions: Option<PermissionRecord>,
    counters: Arc<PluginCounters>,
}

impl Entry {
    /// What the plugin holds, while it has a worker.
    fn usage(&self) -> plugin_system_core::PluginUsage {
        self.mailbox
            .as_ref()
            .map(|worker| worker.mailbox().usage())
            .unwrap_or_default()
    }
}

/// What a host sees of one plugin.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PluginInfo {
    /// Its id.
    pub id: String,
    /// Its version.
    pub version: String,
    /// Its state.
    pub state: PluginState,
    /// Why it is in `error` or `quarantined`.
    pub reason: Option<String>,
}

/// What [`PluginManager::load_dir`] and [`PluginManager::load_packages`] did.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct LoadReport {
    /// The plugins now ready, in the order they were loaded.
    pub loaded: Vec<String>,
    /// The plugins that failed, with why; the others loaded regardless.
    pub failed: Vec<(String, ManagerError)>,
    /// Folders whose `plugin.toml` could not be read.
    pub unreadable: Vec<package::ManifestError>,
    /// How long each plugin now ready took from the start of its load
    /// (reading, granting, compiling, initializing) to `ready`.
    pub time_to_ready: Vec<(String, Duration)>,
}

/// Builds a [`PluginManager`].
pub struct ManagerBuilder {
    runtimes: Vec<Arc<dyn PluginRuntime>>,
    policy: Box<dyn PermissionPolicy>,
    host_functions: HostFunctions,
    host_version: semver::Version,
    mailbox_capacity: usize,
    load_concurrency: usize,
    restart_policy: RestartPolicy,
    /// Policies for some plugins, by id, in place of `restart_policy`.
    restart_policies: HashMap<String, RestartPolicy>,
    data_dir: Option<PathBuf>,
    max_event_depth: u32,
    /// The fallback answers of events that fail open, by event type.
    fail_open: HashMap<String, PluginResponse>,
    signatures: Vec<HostFunctionSignature>,
    async_in_place: bool,
    slow_event: Duration,
}

impl ManagerBuilder {
    /// Whether `send_event` and `dispatch_event` handle an idle plugin's
    /// event on the sender's own thread, in a blocking section
    /// (`tokio::task::block_in_place`: tokio first moves the thread's other
    /// tasks to another thread), instead of handing it to the plugin's
    /// thread and back (a round trip that costs several times a quick event:
    /// BENCHMARKS.md, "PluginManager"). On by default, where tokio allows it:
    /// on a multi-thread runtime (its tasks, or its `block_on`); under a
    /// current-thread runtime the event goes through the mailbox. tokio also
    /// lets a thread that only entered a multi-thread runtime's handle
    /// (`Handle::enter`) block, so an event sent from another executor
    /// there runs on that executor's thread: turn this off for such a host.
    /// On a current-thread runtime's thread that entered a multi-thread
    /// runtime's handle tokio refuses with a panic, which the manager
    /// catches (the event goes through the mailbox) unless the host is
    /// built with `panic = "abort"`: turn this off there too.
    ///
    /// What it costs the sending task: while the plugin runs, that task runs
    /// nothing else (the other futures it joins or selects beside the event,
    /// a `timeout` around it, which fires when the plugin has answered,
    /// within the plugin's own deadline). So a plugin runs in place only
    /// while its last event took at most 2 ms
    /// ([`slow_event`](Self::slow_event)) and it has taken longer fewer than
    /// three times (a cold start may be slow once or twice) or not in its
    /// last 1024 events: its first event (and a restarted or reloaded
    /// one's), one after a slow one, and, from the third slow one on, the
    /// 1024 events after each slow one go through its mailbox. Turn it off
    /// for a host whose tasks wait on several plugins at once, or must be
    /// cancellable at any moment. The guest runs on the sender's stack
    /// (tokio's default of 2 MiB is enough for the engines' default wasm
    /// stack).
    #[must_use]
    pub fn async_in_place(mut self, enabled: bool) -> Self {
        self.async_in_place = enabled;
        self
    }

    /// How long an event may take and still count as quick (default 2 ms):
    /// a plugin runs in an async sender's task only while it is quick
    /// ([`async_in_place`](Self::async_in_place)).
    #[must_use]
    pub fn slow_event(mut self, after: Duration) -> Self {
        self.slow_event = after;
        self
    }

    /// How many plugin-to-plugin hops from the host an event may be (default
    /// [`DEFAULT_MAX_EVENT_DEPTH`]): a plugin that emits past it gets an
    /// error from [`EMIT_FUNCTION`], so that two plugins answering each other
    /// cannot loop forever.
    #[must_use]
    pub fn max_event_depth(mut self, depth: u32) -> Self {
        self.max_event_depth = depth;
        self
    }

    /// Loads plugins of the runtime's type through `runtime`; several runtimes
    /// may be registered (the first compatible one loads a plugin).
    #[must_use]
    pub fn runtime(mut self, runtime: Arc<dyn PluginRuntime>) -> Self {
        self.runtimes.push(runtime);
        self
    }

    /// Decides the permissions of each plugin (default: [`GrantDeclared`]).
    #[must_use]
    pub fn policy(mut self, policy: impl PermissionPolicy + 'static) -> Self {
        self.policy = Box::new(policy);
        self
    }

    /// Offers `function` as `name` to the plugins granted it.
    #[must_use]
    pub fn host_function(mut self, name: impl Into<String>, function: HostFunction) -> Self {
        self.host_functions.register(name, function);
        self
    }

    /// Offers `function` under `signature.name`, its arguments checked against
    /// `signature` before it runs (a plugin that passes wrong ones gets the
    /// function's failure, naming the argument); the signature is listed by
    /// [`PluginManager::host_function_signatures`].
    #[must_use]
    pub fn host_function_with(
        mut self,
        signature: HostFunctionSignature,
        function: HostFunction,
    ) -> Self {
        let name = signature.name.clone();
        let checked = signature.clone();
        let description = signature.description.clone();
        let wrapped = HostFunction::new(move |call, args| {
            let args = checked
                .check(args)
                .map_err(plugin_system_core::HostFunctionError::new)?;
            function.call(call, args)
        })
        .with_description(description);
        self.host_functions.register(name, wrapped);
        self.signatures.push(signature);
        self
    }

    /// Offers an async host function as `name`: the guest waits for it on its
    /// own thread (plugins run off the executor), so the future runs on the
    /// manager's tokio runtime without blocking any of its workers. It gets the
    /// calling plugin's id and the arguments. In a web page, where the guest
    /// runs on the page's one thread, the future must finish without waiting;
    /// one that would wait fails the call.
    #[must_use]
    pub fn async_host_function<F, Fut>(mut self, name: impl Into<String>, function: F) -> Self
    where
        F: Fn(String, Value) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Value, plugin_system_core::HostFunctionError>> + Send + 'static,
    {
        let runtime = Driver::try_current();
        let function = Arc::new(function);
        let blocking = HostFunction::new(move |call, args| {
            use plugin_system_core::HostFunctionError;
            let runtime = runtime
                .clone()
                .or_else(Driver::try_current)
                .ok_or_else(|| HostFunctionError::new("no tokio runtime to run it on"))?;
            // Plugins call it from their blocking threads. Called on a runtime
            // worker instead (a host calling it from async code), `block_on`
            // refuses with a panic, which `HostFunction::call` turns into the
            // function's error: the executor is never stalled.
            exec::drive(&runtime, function(call.plugin_id.to_owned(), args), |e| {
                HostFunctionError::new(e.to_string())
            })
        });
        self.host_functions.register(name, blocking);
        self
    }

    /// The host's version, checked against `minHostVersion`/`maxHostVersion`
    /// (default: this crate's version).
    #[must_use]
    pub fn host_version(mut self, version: semver::Version) -> Self {
        self.host_version = version;
        self
    }

    /// What the sender of an `event_type` event gets when a plugin fails it
    /// (an error, a panic, a quarantine, a full mailbox, a plugin that
    /// stopped), as Envoy's filters fail open or closed. Closed, the default,
    /// gives the error; open gives the sender `fallback` instead (the
    /// unformatted text, say), and the failure is still recorded.
    #[must_use]
    pub fn on_failure(mut self, event_type: impl Into<String>, policy: FailurePolicy) -> Self {
        let event_type = event_type.into();
        match policy {
            FailurePolicy::Closed => {
                self.fail_open.remove(&event_type);
            }
            FailurePolicy::Open(fallback) => {
                self.fail_open.insert(event_type, fallback);
            }
        }
        self
    }

    /// How a plugin whose instance a fault left in doubt is restarted, and
    /// when it is put in quarantine (default [`RestartPolicy::default`]: 100 ms
    /// doubling to 30 s; 3 faults in 5 minutes).
    #[must_use]
    pub fn restart_policy(mut self, policy: RestartPolicy) -> Self {
        self.restart_policy = policy;
        self
    }

    /// The restart policy of the plugin `id`, in place of the one every
    /// other plugin has ([`restart_policy`](Self::restart_policy)). Its
    /// manifest's `maxRestarts` still only makes the breaker stricter.
    #[must_use]
    pub fn restart_policy_for(mut self, id: impl Into<String>, policy: RestartPolicy) -> Self {
        self.restart_policies.insert(id.into(), policy);
        self
    }

    /// How many plugins compile at once while a set loads (default: the
    /// machine's cores). Plugins that need none of the others load side by
    /// side; a plugin still loads after those it depends on.
    #[must_use]
    pub fn load_concurrency(mut self, plugins: usize) -> Self {
        self.load_concurrency = plugins.max(1);
        self
    }

    /// How many events each plugin's mailbox holds (default
    /// [`DEFAULT_MAILBOX_CAPACITY`]).
    #[must_use]
    pub fn mailbox_capacity(mut self, capacity: usize) -> Self {
        self.mailbox_capacity = capacity.max(1);
        self
    }

    /// Where each plugin's own data folder is made: `DIR/<plugin id>/`. The
    /// folders a plugin is granted live in it; without a data folder, a
    /// plugin that is granted folders does not load.
    #[must_use]
    pub fn data_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.data_dir = Some(dir.into());
        self
    }

    /// The manager.
    pub fn build(self) -> PluginManager {
        let (changes, _) = broadcast::channel(CHANGES_KEPT);
        let inner = Arc::new_cyclic(|manager: &std::sync::Weak<Inner>| {
            // Every call counts, from a plugin or from the host.
            let host_calls = Tally::default();
            let mut registered = self.host_functions.clone();
            let manager = manager.clone();
            registered.register(
                EMIT_FUNCTION,
                HostFunction::new(move |call, args| emit(&manager, call, args)).with_description(
                    "sends an event to other plugins: {type, data, targetPluginId?}",
                ),
            );
            let mut host_functions = HostFunctions::new();
            for name in registered.names() {
                let Some(function) = registered.get(name).cloned() else {
                    continue;
                };
                let calls = host_calls.counter(name);
                let description = function.description().to_owned();
                let counted = HostFunction::new(move |call, args| {
                    calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    function.call(call, args)
                })
                .with_description(description);
                host_functions.register(name, counted);
            }
            let rescuer = Rescuer::start();
            Inner {
                runtimes: self.runtimes,
                policy: self.policy,
                host_functions,
                host_calls,
                event_types: Tally::default(),
                errors: Arc::default(),
                runner: Runner::start(Arc::clone(&rescuer)),
                rescuer,
                host_version: self.host_version,
                mailbox_capacity: self.mailbox_capacity,
                compile_slots: Arc::new(Semaphore::new(self.load_concurrency)),
                restart_policy: self.restart_policy,
                restart_policies: self.restart_policies,
                data_dir: self.data_dir,
                max_event_depth: self.max_event_depth,
                fail_open: self.fail_open,
                signatures: self.signatures,
                async_in_place: self.async_in_place,
                slow_event: self.slow_event,
                changes,
                plugins: Mutex::new(BTreeMap::new()),
            }
        });
        PluginManager { inner }
    }
}

/// [`EMIT_FUNCTION`]: queues `args` (`{type, data, targetPluginId?}`) for its
/// target or every subscriber, one hop further from the host than the event
/// the caller is handling, and answers how many took it. It never waits for
/// an answer: a plugin answering another cannot deadlock on it.
fn emit(
    manager: &std::sync::Weak<Inner>,
    call: plugin_system_core::HostCall<'_>,
    args: Value,
) -> Result<Value, plugin_system_core::HostFunctionError> {
    use plugin_system_core::HostFunctionError;
    let inner = manager
        .upgrade()
        .ok_or_else(|| HostFunctionError::new("the host is shutting down"))?;
    let event_type = args
        .get("type")
        .and_then(Value::as_str)
        .ok_or_else(|| HostFunctionError::new("an event needs a string `type`"))?;
    let data = match args.get("data") {
        None | Some(Value::Null) => ValueMap::new(),
        Some(Value::Map(data)) => data.clone(),
        Some(_) => return Err(HostFunctionError::new("an event's `data` must be a map")),
    };
    let target = args.get("targetPluginId").and_then(Value::as_str);
    let manager = PluginManager {
        inner: Arc::clone(&inner),
    };
    let (depth, recipients) = {
        let plugins = manager.plugins_lock();
        let depth = plugins
            .get(call.plugin_id)
            .map_or(0, |e| e.counters.depth())
            .saturating_add(1);
        let recipients = recipients(&plugins, event_type, target);
        (depth, recipients)
    };
    if depth > inner.max_event_depth {
        return Err(HostFunctionError::new(format!(
            "`{event_type}` would be {depth} hops from the host, past the limit of {}",
            inner.max_event_depth
        )));
    }
    let mut event = plugin_system_core::PluginEvent::new(event_type).with_data(data);
    event.source_plugin_id = Some(call.plugin_id.to_owned());
    event.target_plugin_id = target.map(str::to_owned);
    inner.event_types.add(event_type);
    let payload = if recipients.len() == 1 {
        Payload::One(event)
    } else {
        Payload::Shared(Arc::new(plugin_system_core::SharedEvent::new(event)))
    };
    let (mut queued, mut refused) = (0u64, 0u64);
    // Nobody waits for the answers; a failure is still recorded.
    for (_, mailbox) in recipients {
        match mailbox.event_detached(payload.clone(), depth) {
            Ok(()) => queued += 1,
            Err(_) => refused += 1,
        }
    }
    Ok(Value::from_iter([
        ("queued".to_owned(), Value::from(queued)),
        ("refused".to_owned(), Value::from(refused)),
    ]))
}

struct Inner {
    runtimes: Vec<Arc<dyn PluginRuntime>>,
    policy: Box<dyn PermissionPolicy>,
    host_functions: HostFunctions,
    host_version: semver::Version,
    mailbox_capacity: usize,
    restart_policy: RestartPolicy,
    /// Policies for some plugins, by id, in place of `restart_policy`.
    restart_policies: HashMap<String, RestartPolicy>,
    data_dir: Option<PathBuf>,
    max_event_depth: u32,
    /// The fallback answers of events that fail open, by event type.
    fail_open: HashMap<String, PluginResponse>,
    signatures: Vec<HostFunctionSignature>,
    /// [`ManagerBuilder::async_in_place`].
    async_in_place: bool,
    /// [`ManagerBuilder::slow_event`].
    slow_event: Duration,
    changes: broadcast::Sender<StateChange>,
    /// Calls of each host function.
    host_calls: Tally,
    /// Events sent or broadcast, by type.
    event_types: Tally,
    errors: Arc<ErrorTracker>,
    /// Hands a broadcast's recipients to their workers when the caller is
    /// slow to reach them.
    rescuer: Arc<Rescuer>,
    /// Runs the async callers' broadcasts.
    runner: Arc<Runner>,
    /// Compilations under way at once, while a set of plugins loads.
    compile_slots: Arc<Semaphore>,
    /// Never held across an `await`.
    plugins: Mutex<BTreeMap<String, Entry>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.rescuer.end();
        self.runner.end();
    }
}

/// The plugins of a host application: loads them in dependency order, grants
/// their permissions, keeps their lifecycle, and routes events to them, each
/// plugin behind its own bounded mailbox and thread. Cheap to clone; needs a
/// tokio runtime (in a web page, the page's executor: see the crate docs).
///
/// ```no_run
/// # async fn demo(runtime: std::sync::Arc<dyn plugin_system_core::PluginRuntime>) {
/// use plugin_system_core::PluginEvent;
/// use plugin_system_host::PluginManager;
///
/// let manager = PluginManager::builder().runtime(runtime).build();
/// let report = manager.load_dir("plugins".as_ref()).await;
/// for (id, error) in &report.failed {
///     eprintln!("{id}: {error}");
/// }
/// for (id, answer) in manager.dispatch_event(PluginEvent::new("file.opened")).await {
///     println!("{id}: {answer:?}");
/// }
/// manager.shutdown().await;
/// # }
/// ```
#[derive(Clone)]
pub struct PluginManager {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for PluginManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginManager")
            .field("plugins", &self.plugins())
            .finish_non_exhaustive()
    }
}

/// The plugin's settings: the defaults of its `configSchema` (each
/// `properties.<key>.default`, as Dart's `PluginConfig.fromManifest`), with
/// the values of its `[config]` over them.
pub fn plugin_config(manifest: &PluginManifest, values: &ValueMap) -> ValueMap {
    let mut config = ValueMap::new();
    if let Some(Value::Map(properties)) = manifest
        .config_schema
        .as_ref()
        .and_then(|schema| schema.get("properties"))
    {
        for (key, property) in properties {
            if let Some(default) = property.get("default") {
                config.insert(key.clone(), default.clone());
            }
        }
    }
    config.extend(values.iter().map(|(k, v)| (k.clone(), v.clone())));
    config
}

/// Whether a plugin that subscribes to `patterns` takes `event_type`: an
/// exact type, `prefix.*` for every type under `prefix.`, or `*`.
pub fn subscribes(patterns: &[String], event_type: &str) -> bool {
    patterns.iter().any(|pattern| {
        pattern == "*"
            || pattern == event_type
            || pattern.strip_suffix(".*").is_some_and(|prefix| {
                event_type
                    .strip_prefix(prefix)
                    .is_some_and(|rest| rest.starts_with('.'))
            })
    })
}

impl PluginManager {
    /// A builder with no runtime, [`GrantDeclared`], and the defaults.
    pub fn builder() -> ManagerBuilder {
        ManagerBuilder {
            runtimes: Vec::new(),
            policy: Box::new(GrantDeclared),
            host_functions: HostFunctions::new(),
            host_version: semver::Version::parse(env!("CARGO_PKG_VERSION"))
                .unwrap_or_else(|_| semver::Version::new(0, 0, 0)),
            mailbox_capacity: DEFAULT_MAILBOX_CAPACITY,
            load_concurrency: std::thread::available_parallelism().map_or(1, usize::from),
            restart_policy: RestartPolicy::default(),
            restart_policies: HashMap::new(),
            data_dir: None,
            max_event_depth: DEFAULT_MAX_EVENT_DEPTH,
            fail_open: HashMap::new(),
            signatures: Vec::new(),
            async_in_place: true,
            slow_event: SLOW_EVENT,
        }
    }

    fn plugins_lock(&self) -> MutexGuard<'_, BTreeMap<String, Entry>> {
        // A panic while the lock was held left no half-made entry: every
        // change under it is one assignment.
        self.inner
            .plugins
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Every state change from now on, as it happens.
    pub fn subscribe(&self) -> broadcast::Receiver<StateChange> {
        self.inner.changes.subscribe()
    }

    /// Moves `id` to `to`, checked against [`PluginState::can_become`], and
    /// publishes the change. A plugin the manager does not know starts as
    /// `unloaded`.
    fn transition(
        &self,
        id: &str,
        manifest: &PluginManifest,
        to: PluginState,
        reason: Option<String>,
    ) -> Result<(), ManagerError> {
        let change = {
            let mut plugins = self.plugins_lock();
            let entry = plugins.entry(id.to_owned()).or_insert_with(|| Entry {
                manifest: manifest.clone(),
                state: PluginState::Unloaded,
                reason: None,
                mailbox: None,
                package: None,
                permissions: None,
                counters: Arc::default(),
            });
            let from = entry.state;
            if !from.can_become(to) {
                return Err(ManagerError::WrongState {
                    id: id.to_owned(),
                    state: from,
                    wanted: to.as_str(),
                });
            }
            entry.state = to;
            entry.reason.clone_from(&reason);
            if to == PluginState::Loading {
                entry.manifest = manifest.clone();
            }
            // A quarantined plugin keeps its worker, to be revived.
            if matches!(to, PluginState::Error | PluginState::Disposed) {
                entry.mailbox = None;
            }
            StateChange {
                plugin_id: id.to_owned(),
                from,
                to,
                reason,
            }
        };
        tracing::debug!(plugin = id, from = %change.from, to = %change.to, "plugin state");
        // Nobody listening is no error.
        let _ = self.inner.changes.send(change);
        Ok(())
    }

    /// Discovers every plugin folder under `dir` and loads them
    /// ([`load_packages`](Self::load_packages)).
    pub async fn load_dir(&self, dir: &std::path::Path) -> LoadReport {
        let discovery = package::discover(dir);
        let mut report = self.load_packages(discovery.packages).await;
        report.unreadable = discovery.errors;
        report
    }

    /// Loads and initializes `packages` in dependency order. A plugin whose
    /// dependencies, host version, permissions, code or initialization fail is
    /// left in `error` with the reason (and so is every plugin that needs
    /// it); the others load.
    pub async fn load_packages(&self, packages: Vec<PluginPackage>) -> LoadReport {
        let mut report = LoadReport::default();
        let mut by_id: BTreeMap<String, PluginPackage> = BTreeMap::new();
        for package in packages {
            let id = package.manifest.id.clone();
            if self.state(&id).is_some_and(|s| !s.is_terminal()) || by_id.contains_key(&id) {
                report
                    .failed
                    .push((id.clone(), ManagerError::AlreadyLoaded { id }));
                continue;
            }
            by_id.insert(id, package);
        }
        // Dependencies may be plugins loaded before, as well as these.
        let loaded: Vec<PluginManifest> = self
            .plugins_lock()
            .values()
            .filter(|e| e.state.is_usable() && !by_id.contains_key(&e.manifest.id))
            .map(|e| e.manifest.clone())
            .collect();
        let manifests: Vec<&PluginManifest> = by_id
            .values()
            .map(|p| &p.manifest)
            .chain(loaded.iter())
            .collect();
        let resolution = dependencies::resolve(&manifests, &self.inner.host_version);
        for (id, error) in resolution.failed {
            if let Some(package) = by_id.remove(&id) {
                self.fail(&id, &package.manifest, error.to_string());
                report.failed.push((id, ManagerError::Dependency(error)));
            }
        }
        // Waves: a plugin goes in the wave after the last of those it needs
        // in this set; each wave's plugins load side by side.
        let mut wave_of: HashMap<String, usize> = HashMap::new();
        let mut waves: Vec<Vec<PluginPackage>> = Vec::new();
        for id in resolution.order {
            let Some(package) = by_id.remove(&id) else {
                continue; // loaded before
            };
            let wave = package
                .manifest
                .dependencies
                .iter()
                .filter_map(|spec| spec.parse::<dependencies::Dependency>().ok())
                .filter_map(|dependency| wave_of.get(&dependency.id))
                .map(|wave| wave + 1)
                .max()
                .unwrap_or(0);
            wave_of.insert(id, wave);
            if waves.len() <= wave {
                waves.resize_with(wave + 1, Vec::new);
            }
            waves[wave].push(package);
        }
        for wave in waves {
            let mut loads = Vec::with_capacity(wave.len());
            let mut order = Vec::with_capacity(wave.len());
            let mut outcomes = HashMap::with_capacity(wave.len());
            for package in wave {
                let id = package.manifest.id.clone();
                order.push(id.clone());
                // A dependency that resolved may still have failed to load.
                if let Some((dependency, state)) =
                    package.manifest.dependencies.iter().find_map(|spec| {
                        let needed = spec.parse::<dependencies::Dependency>().ok()?.id;
                        let state = self.state(&needed).unwrap_or(PluginState::Unloaded);
                        (!state.is_usable()).then_some((needed, state))
                    })
                {
                    let error = ManagerError::DependencyNotReady {
                        id: id.clone(),
                        dependency,
                        state,
                    };
                    self.fail(&id, &package.manifest, error.to_string());
                    outcomes.insert(id, (Err(error), Duration::ZERO));
                    continue;
                }
                let manager = self.clone();
                loads.push(async move {
                    let started = Instant::now();
                    let outcome = manager.load_package(package).await;
                    (
                        id,
                        outcome,
                        Instant::now().saturating_duration_since(started),
                    )
                });
            }
            // Side by side as tasks (one after another in a page); a load
            // that panicked is missing here and named below.
            for (id, outcome, took) in exec::join_all(loads).await {
                outcomes.insert(id, (outcome, took));
            }
            // Reported in the order of the resolution, whatever finished first.
            for id in order {
                match outcomes.remove(&id) {
                    Some((Ok(()), took)) => {
                        report.time_to_ready.push((id.clone(), took));
                        report.loaded.push(id);
                    }
                    Some((Err(error), _)) => report.failed.push((id, error)),
                    None => report
                        .failed
                        .push((id.clone(), ManagerError::Panicked { id, during: "load" })),
                }
            }
        }
        report
    }

    /// Puts a plugin in `error` with `reason`; one that had not started
    /// loading goes through `loading`, as every failure to load does.
    fn fail(&self, id: &str, manifest: &PluginManifest, reason: String) {
        let state = self.state(id).unwrap_or(PluginState::Unloaded);
        if !state.can_become(PluginState::Error)
            && let Err(e) = self.transition(id, manifest, PluginState::Loading, None)
        {
            tracing::warn!(plugin = id, "cannot record the failure: {e}");
            return;
        }
        self.inner.errors.record(ErrorRecord::now(
            id,
            reason.clone(),
            "load",
            ErrorSeverity::Error,
            "load",
        ));
        if let Err(e) = self.transition(id, manifest, PluginState::Error, Some(reason)) {
            tracing::warn!(plugin = id, "cannot record the failure: {e}");
        }
    }

    /// Loads, grants and initializes one plugin, whose dependencies are ready.
    ///
    /// # Errors
    /// Whatever failed; the plugin is left in `error` with the reason.
    pub async fn load_package(&self, package: PluginPackage) -> Result<(), ManagerError> {
        let id = package.manifest.id.clone();
        let manifest = package.manifest.clone();
        self.transition(&id, &manifest, PluginState::Loading, None)?;
        if let Some(entry) = self.plugins_lock().get_mut(&id) {
            // Known from now on, for a reload or a watcher's retry.
            entry.package = Some(package.clone());
        }
        match self.start(package).await {
            Ok(()) => Ok(()),
            Err(error) => {
                self.fail(&id, &manifest, error.to_string());
                Err(error)
            }
        }
    }

    /// The steps of [`load_package`](Self::load_package) after `loading`.
    async fn start(&self, package: PluginPackage) -> Result<(), ManagerError> {
        let id = package.manifest.id.clone();
        let manifest = package.manifest.clone();
        let (declared, granted) = self.grant(&package)?;
        let plugin = self.compile(&package, &granted).await?;
        let worker_grant = granted.clone();
        let counters = {
            let mut plugins = self.plugins_lock();
            let entry = plugins
                .get_mut(&id)
                .ok_or_else(|| ManagerError::NotFound { id: id.clone() })?;
            entry.permissions = Some(PermissionRecord { declared, granted });
            entry.counters = Arc::default();
            Arc::clone(&entry.counters)
        };
        let worker = self.spawn_worker(&id, plugin, counters, &worker_grant)?;
        self.transition(&id, &manifest, PluginState::Loaded, None)?;
        self.transition(&id, &manifest, PluginState::Initializing, None)?;
        Self::initialize(&worker, &package).await?;
        if let Some(entry) = self.plugins_lock().get_mut(&id) {
            entry.mailbox = Some(worker);
            entry.package = Some(package);
        }
        self.transition(&id, &manifest, PluginState::Ready, None)
    }

    /// What the plugin of `package` declares, and what the host's policy
    /// grants it (never more).
    ///
    /// # Errors
    /// [`ManagerError::PermissionRefused`].
    fn grant(&self, package: &PluginPackage) -> Result<(Grant, Grant), ManagerError> {
        let manifest = &package.manifest;
        let declared = Grant::declared(manifest, &package.permissions);
        let granted = match self.inner.policy.decide(manifest, &declared) {
            Decision::GrantAll => declared.clone(),
            Decision::Grant(grant) => grant.within(&declared),
            Decision::Refuse(reason) => {
                return Err(ManagerError::PermissionRefused {
                    id: manifest.id.clone(),
                    reason,
                });
            } // `Decision` is ours: no other variant exists.
        };
        Ok((declared, granted))
    }

    /// Reads, verifies and compiles the plugin of `package` through the first
    /// runtime that takes it, granted `granted`.
    async fn compile(
        &self,
        package: &PluginPackage,
        granted: &Grant,
    ) -> Result<Arc<dyn plugin_system_core::Plugin>, ManagerError> {
        let manifest = &package.manifest;
        let id = manifest.id.clone();
        let runtime = self
            .inner
            .runtimes
            .iter()
            .find(|r| r.is_compatible(manifest))
            .cloned()
            .ok_or_else(|| ManagerError::NoRuntime {
                id: id.clone(),
                runtime: manifest.runtime.to_string(),
            })?;
        let options = self.load_options(&id, manifest, granted)?;
        let mut source = match package.module_bytes() {
            Some(bytes) => PluginSource::bytes(bytes),
            None => PluginSource::file(&package.module),
        };
        if let Some(sha256) = &package.sha256 {
            source = source.with_sha256(sha256.clone());
        }
        // Compiling a large module takes a while: off the executor, and no
        // more at once than the host allows.
        let _slot = Arc::clone(&self.inner.compile_slots)
            .acquire_owned()
            .await
            .map_err(|_| ManagerError::Stopped { id: id.clone() })?;
        exec::run_in_place_or_blocking(move || runtime.load(&source, &options))
            .await
            .ok_or_else(|| ManagerError::Panicked {
                id: id.clone(),
                during: "load",
            })?
            .map_err(|source| ManagerError::Plugin { id, source })
    }

    /// Starts the worker thread of a loaded plugin.
    fn spawn_worker(
        &self,
        id: &str,
        plugin: Arc<dyn plugin_system_core::Plugin>,
        counters: Arc<PluginCounters>,
        granted: &Grant,
    ) -> Result<Worker, ManagerError> {
        // The manifest may make the breaker stricter, never looser.
        let mut policy = self
            .inner
            .restart_policies
            .get(id)
            .copied()
            .unwrap_or(self.inner.restart_policy);
        if let Some(max) = granted.max_restarts {
            policy.max_faults = policy.max_faults.min(max.max(1));
        }
        Mailbox::start(
            id,
            plugin,
            WorkerSetup {
                capacity: self.inner.mailbox_capacity,
                counters,
                errors: Arc::clone(&self.inner.errors),
                runtime: Driver::current(),
                policy,
                supervisor: self.supervisor(id),
                slow_event: self.inner.slow_event,
            },
        )
    }

    /// Initializes the plugin of `worker` with its configuration; on a
    /// failure it is disposed.
    async fn initialize(worker: &Worker, package: &PluginPackage) -> Result<(), ManagerError> {
        let manifest = &package.manifest;
        let context = PluginContext::new(manifest.id.clone())
            .with_config(plugin_config(manifest, &package.config));
        let mailbox = worker.mailbox();
        if let Err(error) = mailbox.initialize(context).await {
            if let Err(e) = mailbox.dispose().await {
                tracing::warn!(plugin = %manifest.id, "dispose after a failed initialize: {e}");
            }
            return Err(error);
        }
        Ok(())
    }

    /// Replaces the plugin `id` with what its folder holds now, atomically:
    /// the new version is read, verified, compiled, granted its permissions
    /// (never more than it declares) and initialized while the old one keeps
    /// serving; then new events go to the new version, the old one answers
    /// what it had queued and is disposed. No event is dropped, and none is
    /// answered by neither version. A new version that a loaded dependent's
    /// range no longer takes, or whose own dependencies or host range fail,
    /// is refused. The plugins that need it are reloaded after it, in
    /// dependency order. The reload is published as a change from `ready` to
    /// `ready` with the versions as the reason.
    ///
    /// # Errors
    /// [`ManagerError::NotFound`], [`ManagerError::WrongState`] for a plugin
    /// not in service, [`ManagerError::ReloadFailed`] naming the step that
    /// failed (`read`, `dependencies`, `permissions`, `verify`, `compile`,
    /// `initialize`); the old version is still in service.
    pub async fn reload(&self, id: &str) -> Result<(), ManagerError> {
        self.reload_one(id).await?;
        // Then what needs it, each after what it needs; a dependent whose
        // reload fails keeps its version, and the failure is recorded.
        let manifests: Vec<PluginManifest> = self
            .plugins_lock()
            .values()
            .filter(|e| e.package.is_some() && e.mailbox.is_some())
            .map(|e| e.manifest.clone())
            .collect();
        let refs: Vec<&PluginManifest> = manifests.iter().collect();
        let needing = dependencies::dependents(&refs, id);
        let order = dependencies::resolve(&refs, &self.inner.host_version).order;
        for dependent in order.iter().filter(|d| needing.contains(d)) {
            if let Err(e) = self.reload_one(dependent).await {
                self.record(dependent, &e, "reload after a dependency's");
            }
        }
        Ok(())
    }

    /// [`reload`](Self::reload) of `id` alone.
    async fn reload_one(&self, id: &str) -> Result<(), ManagerError> {
        let (dir, in_memory) = {
            let plugins = self.plugins_lock();
            let entry = plugins
                .get(id)
                .ok_or_else(|| ManagerError::NotFound { id: id.to_owned() })?;
            match (&entry.package, &entry.mailbox, entry.state) {
                // A plugin in quarantine may be fixed on disk.
                (Some(package), Some(_), PluginState::Ready | PluginState::Quarantined) => {
                    (package.dir.clone(), package.module_bytes().is_some())
                }
                (_, _, state) => {
                    return Err(ManagerError::WrongState {
                        id: id.to_owned(),
                        state,
                        wanted: "ready",
                    });
                }
            }
        };
        let failed = |step: &'static str, source: ManagerError| ManagerError::ReloadFailed {
            id: id.to_owned(),
            step,
            source: Box::new(source),
        };
        if in_memory {
            let unsupported = ManagerError::Unsupported {
                what: "reloading a plugin whose module was given in memory".into(),
            };
            return Err(failed("read", unsupported));
        }
        let package = PluginPackage::read(&dir).map_err(|e| failed("read", e.into()))?;
        if package.manifest.id != id {
            return Err(failed(
                "read",
                ManagerError::Manifest(crate::ManifestError::invalid(
                    &package.manifest_path,
                    "id",
                    format!("the plugin's id changed to `{}`", package.manifest.id),
                )),
            ));
        }
        self.check_replacement(&package.manifest)
            .map_err(|e| failed("dependencies", e))?;
        let (declared, granted) = self.grant(&package).map_err(|e| failed("permissions", e))?;
        let plugin = self.compile(&package, &granted).await.map_err(|e| {
            let step = match &e {
                ManagerError::Plugin {
                    source: plugin_system_core::PluginError::Integrity { .. },
                    ..
                } => "verify",
                ManagerError::Plugin {
                    source: plugin_system_core::PluginError::Io { .. },
                    ..
                } => "read",
                _ => "compile",
            };
            failed(step, e)
        })?;
        let counters = match self.plugins_lock().get(id) {
            Some(entry) => Arc::clone(&entry.counters),
            None => return Err(ManagerError::NotFound { id: id.to_owned() }),
        };
        let worker = self.spawn_worker(id, plugin, counters, &granted)?;
        Self::initialize(&worker, &package)
            .await
            .map_err(|e| failed("initialize", e))?;
        let swapped = {
            let mut plugins = self.plugins_lock();
            match plugins
                .get_mut(id)
                .filter(|e| matches!(e.state, PluginState::Ready | PluginState::Quarantined))
            {
                Some(entry) => {
                    // A version in quarantine may be broken: no state from it.
                    if let (Some(old), PluginState::Ready) = (&entry.mailbox, entry.state) {
                        old.mailbox().hand_state_to(worker.mailbox());
                    }
                    let from_version = (entry.manifest.version.clone(), entry.state);
                    entry.manifest = package.manifest.clone();
                    entry.permissions = Some(PermissionRecord { declared, granted });
                    entry.package = Some(package.clone());
                    Ok((entry.mailbox.replace(worker), from_version))
                }
                None => Err(worker),
            }
        };
        let (old, from_version) = match swapped {
            Ok(swapped) => swapped,
            Err(worker) => {
                // Unloaded meanwhile: the new version goes too.
                let _ = worker.mailbox().dispose().await;
                return Err(ManagerError::NotFound { id: id.to_owned() });
            }
        };
        let (from_version, from_state) = from_version;
        let reason = format!("reloaded: {from_version} -> {}", package.manifest.version);
        tracing::info!(plugin = id, "{reason}");
        if from_state == PluginState::Quarantined {
            // Out of quarantine, through the table like any change.
            let manifest = package.manifest.clone();
            self.transition(id, &manifest, PluginState::Initializing, None)?;
            self.transition(id, &manifest, PluginState::Ready, Some(reason))?;
        } else {
            // The version changed, not the state: published as ready -> ready.
            let _ = self.inner.changes.send(StateChange {
                plugin_id: id.to_owned(),
                from: PluginState::Ready,
                to: PluginState::Ready,
                reason: Some(reason),
            });
        }
        if let Some(old) = old {
            let new = self
                .plugins_lock()
                .get(id)
                .and_then(|e| Some(e.mailbox.as_ref()?.mailbox().clone()));
            let old_mailbox = old.mailbox();
            if let Some(new) = new {
                // Whoever still holds the old mailbox reaches the new one.
                old_mailbox.hand_over_to(new);
            }
            if let Err(e) = old_mailbox.dispose().await {
                self.inner.errors.record(ErrorRecord::now(
                    id,
                    e.to_string(),
                    e.kind(),
                    ErrorSeverity::Warning,
                    "dispose after a reload",
                ));
            }
        }
        Ok(())
    }

    /// Logs and records a failure of `id` that no caller is told of.
    fn record(&self, id: &str, error: &ManagerError, context: &str) {
        tracing::warn!(plugin = id, "{context}: {error}");
        self.inner.errors.record(ErrorRecord::now(
            id,
            error.to_string(),
            error.kind(),
            ErrorSeverity::Warning,
            context,
        ));
    }

    /// Refuses `manifest` as the new version of its plugin when a loaded
    /// plugin's range no longer takes it, or its own dependencies or host
    /// range fail among the plugins loaded now.
    fn check_replacement(&self, manifest: &PluginManifest) -> Result<(), ManagerError> {
        let others: Vec<PluginManifest> = self
            .plugins_lock()
            .iter()
            .filter(|(id, e)| **id != manifest.id && e.state.is_usable())
            .map(|(_, e)| e.manifest.clone())
            .collect();
        let mut all: Vec<&PluginManifest> = others.iter().collect();
        all.push(manifest);
        let resolution = dependencies::resolve(&all, &self.inner.host_version);
        match resolution
            .failed
            .into_iter()
            .find(|(id, _)| *id == manifest.id || others.iter().any(|o| o.id == *id))
        {
            Some((_, error)) => Err(ManagerError::Dependency(error)),
            None => Ok(()),
        }
    }

    /// What the runtime is told to enforce for a plugin granted `granted`.
    fn load_options(
        &self,
        id: &str,
        manifest: &PluginManifest,
        granted: &Grant,
    ) -> Result<PluginLoadOptions, ManagerError> {
        let mut permissions =
            PluginPermissions::default().with_host_functions(granted.host_functions.clone());
        if let Some(time) = granted.max_execution_time {
            permissions.max_execution_time = time;
        }
        if let Some(bytes) = granted.max_memory_bytes {
            permissions.max_memory_bytes = bytes;
        }
        permissions.filesystem_access = granted
            .filesystem
            .values()
            .copied()
            .max()
            .unwrap_or(FilesystemAccessLevel::None);
        let mut functions = HostFunctions::new();
        for name in &granted.host_functions {
            if let Some(function) = self.inner.host_functions.get(name) {
                functions.register(name.clone(), function.clone());
            }
        }
        let mut options = PluginLoadOptions::new()
            .manifest(manifest.clone())
            .permissions(permissions)
            .host_functions(functions);
        options.fuel = granted.fuel;
        // A WASI plugin's stderr is kept, its end only: it goes with a trap.
        let mut wasi =
            WasiConfig::new().stderr(WasiOutput::Capture(OutputBuffer::keeping_last(STDERR_KEPT)));
        if !granted.filesystem.is_empty() {
            let data =
                self.inner
                    .data_dir
                    .as_ref()
                    .ok_or_else(|| ManagerError::PermissionRefused {
                        id: id.to_owned(),
                        reason: "it is granted folders, and the host set no data folder".into(),
                    })?;
            for (guest, level) in &granted.filesystem {
                let host = data.join(id).join(guest);
                std::fs::create_dir_all(&host).map_err(|e| ManagerError::PermissionRefused {
                    id: id.to_owned(),
                    reason: format!("cannot make its folder {}: {e}", host.display()),
                })?;
                let access = if *level == FilesystemAccessLevel::ReadWrite {
                    DirAccess::ReadWrite
                } else {
                    DirAccess::ReadOnly
                };
                wasi = wasi.preopen(host, guest.clone(), access);
            }
        }
        options.wasi = Some(wasi);
        Ok(options)
    }

    /// Publishes the state changes the worker of `id` decides.
    fn supervisor(&self, id: &str) -> Supervisor {
        let manager = Arc::downgrade(&self.inner);
        let id = id.to_owned();
        Arc::new(move |worker, to, reason| {
            let Some(inner) = manager.upgrade() else {
                return;
            };
            let manager = PluginManager { inner };
            let current = manager
                .plugins_lock()
                .get(&id)
                .and_then(|e| Some(e.mailbox.as_ref()?.mailbox().key()));
            if current.is_some_and(|key| key != worker) {
                // A version a reload retired: not the plugin's state.
                return;
            }
            let Some(manifest) = manager.manifest(&id) else {
                return;
            };
            if let Err(e) = manager.transition(&id, &manifest, to, Some(reason)) {
                // Unloaded meanwhile, or already there.
                tracing::debug!(plugin = %id, "no move to {to}: {e}");
            }
        })
    }

    /// Takes `id` out of quarantine: its faults are forgotten, and it gets a
    /// fresh instance, initialized again (nothing is compiled again).
    ///
    /// # Errors
    /// [`ManagerError::NotFound`], [`ManagerError::WrongState`] for a plugin
    /// not in quarantine, the restart's error (it is back in quarantine).
    pub async fn revive(&self, id: &str) -> Result<(), ManagerError> {
        let (mailbox, manifest) = {
            let plugins = self.plugins_lock();
            let entry = plugins
                .get(id)
                .ok_or_else(|| ManagerError::NotFound { id: id.to_owned() })?;
            match (&entry.mailbox, entry.state) {
                (Some(worker), PluginState::Quarantined) => {
                    (worker.mailbox().clone(), entry.manifest.clone())
                }
                (_, state) => {
                    return Err(ManagerError::WrongState {
                        id: id.to_owned(),
                        state,
                        wanted: "quarantined",
                    });
                }
            }
        };
        self.transition(
            id,
            &manifest,
            PluginState::Initializing,
            Some("revived by the host".into()),
        )?;
        mailbox.revive().await
    }

    /// The manifest of `id` as the manager loaded it (its `plugin.toml`), if
    /// the manager knows it.
    pub fn manifest(&self, id: &str) -> Option<PluginManifest> {
        Some(self.plugins_lock().get(id)?.manifest.clone())
    }

    /// The state of `id`, if the manager knows it.
    pub fn state(&self, id: &str) -> Option<PluginState> {
        self.plugins_lock().get(id).map(|e| e.state)
    }

    /// Every plugin the manager knows, by id.
    pub fn plugins(&self) -> Vec<PluginInfo> {
        self.plugins_lock()
            .iter()
            .map(|(id, e)| PluginInfo {
                id: id.clone(),
                version: e.manifest.version.clone(),
                state: e.state,
                reason: e.reason.clone(),
            })
            .collect()
    }

    /// What `id` declared and what it was granted.
    pub fn permissions(&self, id: &str) -> Option<PermissionRecord> {
        self.plugins_lock().get(id)?.permissions.clone()
    }

    /// The event statistics of `id`.
    pub fn plugin_stats(&self, id: &str) -> Option<PluginStats> {
        let plugins = self.plugins_lock();
        let entry = plugins.get(id)?;
        Some(entry.counters.snapshot(entry.usage()))
    }

    /// The mailbox of a ready plugin.
    fn mailbox(&self, id: &str) -> Result<Mailbox, ManagerError> {
        let plugins = self.plugins_lock();
        let entry = plugins
            .get(id)
            .ok_or_else(|| ManagerError::NotFound { id: id.to_owned() })?;
        match (&entry.mailbox, entry.state) {
            // While it restarts, its events wait in its mailbox.
            (Some(worker), PluginState::Ready | PluginState::Initializing) => {
                Ok(worker.mailbox().clone())
            }
            (_, PluginState::Quarantined) => Err(ManagerError::Quarantined {
                id: id.to_owned(),
                reason: entry.reason.clone().unwrap_or_default(),
            }),
            (_, state) => Err(ManagerError::WrongState {
                id: id.to_owned(),
                state,
                wanted: "ready",
            }),
        }
    }

    /// Sends `event` to the plugin `target` and waits for its answer (within
    /// the plugin's deadline), one at a time with everything else the plugin
    /// handles. On a multi-thread tokio runtime, an event for a plugin that
    /// is idle with nothing queued, and quick (see
    /// [`ManagerBuilder::async_in_place`], on by default), is handled on the
    /// sender's thread in a blocking section, with no hand-off; otherwise it
    /// goes through the plugin's mailbox to the plugin's own thread.
    ///
    /// # Errors
    /// [`ManagerError::NotFound`], [`ManagerError::WrongState`] for a plugin
    /// that is not ready, [`ManagerError::Busy`] at once when its mailbox is
    /// full, [`ManagerError::Plugin`] when it failed the event.
    pub async fn send_event(
        &self,
        target: &str,
        event: PluginEvent,
    ) -> Result<PluginResponse, ManagerError> {
        let mailbox = self.mailbox(target);
        let mut event = event;
        if self.inner.async_in_place
            && let Ok(mailbox) = &mailbox
        {
            let payload = Payload::One(event);
            if let Some(answer) = mailbox.event_in_place(&payload) {
                let event = payload.event();
                self.inner.event_types.add(&event.event_type);
                return open_or(answer, self.fallback(&event.event_type).as_ref());
            }
            event = payload.into_event();
        }
        self.post_to(mailbox, event)?.await
    }

    /// Queues `event` for the plugin `target` now, and gives the answer to
    /// await: [`send_event`](Self::send_event) in two steps, for a sender that
    /// must know at once whether the plugin took the event.
    ///
    /// # Errors
    /// As [`send_event`](Self::send_event), at once; the answer's own errors
    /// come when it is awaited.
    pub fn post_event(
        &self,
        target: &str,
        event: PluginEvent,
    ) -> Result<
        impl Future<Output = Result<PluginResponse, ManagerError>> + Send + 'static + use<>,
        ManagerError,
    > {
        self.post_to(self.mailbox(target), event)
    }

    /// [`post_event`](Self::post_event) to the target's `mailbox`, looked up.
    fn post_to(
        &self,
        mailbox: Result<Mailbox, ManagerError>,
        event: PluginEvent,
    ) -> Result<
        impl Future<Output = Result<PluginResponse, ManagerError>> + Send + 'static + use<>,
        ManagerError,
    > {
        // Counted as sent, taken or not.
        self.inner.event_types.add(&event.event_type);
        let fallback = self.fallback(&event.event_type);
        let posted = match mailbox.and_then(|mailbox| mailbox.event(Payload::One(event), 0)) {
            Err(error) if fallback.is_none() || !fails_open(&error) => return Err(error),
            posted => posted,
        };
        Ok(async move {
            let answer = match posted {
                Ok(pending) => pending.await,
                Err(error) => Err(error),
            };
            open_or(answer, fallback.as_ref())
        })
    }

    /// [`send_event`](Self::send_event) for a thread that may block (an
    /// editor's own threads; not an async task, which would stall its
    /// executor): when the plugin is idle with nothing queued, the event is
    /// handled right here, with no hand-off to the plugin's thread, and one
    /// at a time with everything else the plugin handles.
    ///
    /// # Errors
    /// As [`send_event`](Self::send_event).
    pub fn send_event_blocking(
        &self,
        target: &str,
        event: PluginEvent,
    ) -> Result<PluginResponse, ManagerError> {
        self.inner.event_types.add(&event.event_type);
        let fallback = self.fallback(&event.event_type);
        let answer = self
            .mailbox(target)
            .and_then(|mailbox| mailbox.event_blocking(Payload::One(event)));
        open_or(answer, fallback.as_ref())
    }

    /// The ready plugins that subscribe to `event_type`, with their mailboxes.
    fn subscribers(&self, event_type: &str) -> Vec<(String, Mailbox)> {
        self.inner.event_types.add(event_type);
        recipients(&self.plugins_lock(), event_type, None)
    }

    /// Sends `event` to every ready plugin that subscribes to its type
    /// ([`subscribes`]) and gathers their answers by plugin id. The event is
    /// serialized once per wire format, whatever the number of recipients.
    /// On a multi-thread tokio runtime, when every recipient is idle and
    /// quick ([`ManagerBuilder::async_in_place`], on by default), the
    /// broadcast runs as
    /// [`dispatch_event_blocking`](Self::dispatch_event_blocking) does, in a
    /// blocking section of the caller's thread; otherwise off the executor,
    /// on the manager's broadcast thread (or, while that one is busy, on a
    /// blocking thread of tokio's). A plugin that is busy or fails answers
    /// with its error; the others are not held up by it.
    pub async fn dispatch_event(
        &self,
        event: PluginEvent,
    ) -> Vec<(String, Result<PluginResponse, ManagerError>)> {
        let fallback = self.fallback(&event.event_type);
        let (ids, broadcast) = self.broadcast(event);
        let here = if self.inner.async_in_place && broadcast.may_run_here() {
            exec::blocking_section(|| {
                catch_unwind(AssertUnwindSafe(|| {
                    broadcast.run(&self.inner.rescuer, Some(&self.inner.runner))
                }))
                .ok()
            })
        } else {
            None
        };
        let ran = match here {
            Some(ran) => ran,
            None => self.run_broadcast_elsewhere(&broadcast).await,
        };
        let answers = match ran {
            Some(answers) => answers,
            // Plugin calls are guarded: only the broadcast itself could have
            // panicked.
            None => ids
                .iter()
                .map(|id| {
                    Err(ManagerError::Panicked {
                        id: id.clone(),
                        during: "event",
                    })
                })
                .collect(),
        };
        with_fallback(ids, answers, fallback)
    }

    /// Runs `broadcast` for an async caller whose thread may not block: on
    /// the broadcast thread, or while that one is busy on a blocking thread
    /// of tokio's; in a page, through each recipient's worker task. `None`
    /// when the broadcast itself panicked.
    async fn run_broadcast_elsewhere(&self, broadcast: &Arc<Broadcast>) -> Option<Vec<Answer>> {
        match self.inner.runner.try_run(broadcast) {
            Some(answers) => await_answers(answers, broadcast.awake()).await,
            None if exec::THREADS => {
                let rescuer = Arc::clone(&self.inner.rescuer);
                let broadcast = Arc::clone(broadcast);
                exec::run_in_place_or_blocking(move || broadcast.run(&rescuer, None)).await
            }
            // Nothing may block in a page: each recipient's worker task
            // answers through its mailbox.
            None => Some(broadcast.gather().await),
        }
    }

    /// [`dispatch_event`](Self::dispatch_event) for a thread that may block
    /// (not an async task): the recipients that are idle are run here, one
    /// after another, with no hand-off, and the others by their own threads.
    /// With more than one recipient, on more than one core, the manager's
    /// broadcast thread takes recipients beside this one when it is free and
    /// awake, or is woken for it during a run of broadcasts or for a long
    /// one. Should one recipient be slow, those not reached yet go to their
    /// own threads after a couple of milliseconds, so a looping plugin still
    /// holds up no other.
    pub fn dispatch_event_blocking(
        &self,
        event: PluginEvent,
    ) -> Vec<(String, Result<PluginResponse, ManagerError>)> {
        let fallback = self.fallback(&event.event_type);
        let (ids, broadcast) = self.broadcast(event);
        let answers = broadcast.run(&self.inner.rescuer, Some(&self.inner.runner));
        with_fallback(ids, answers, fallback)
    }

    /// The answer a failed `event_type` event gets, if it fails open.
    fn fallback(&self, event_type: &str) -> Option<PluginResponse> {
        if self.inner.fail_open.is_empty() {
            return None;
        }
        self.inner.fail_open.get(event_type).cloned()
    }

    /// A broadcast of `event` to its subscribers, and their ids.
    fn broadcast(&self, event: PluginEvent) -> (Vec<String>, Arc<Broadcast>) {
        let (ids, mailboxes) = self.subscribers(&event.event_type).into_iter().unzip();
        let payload = Payload::Shared(Arc::new(SharedEvent::new(event)));
        (ids, Broadcast::new(payload, mailboxes))
    }

    /// Unloads `id`: disposes it after the events queued before, and leaves it
    /// `disposed`. A plugin others need is refused, with their ids, unless
    /// `cascade`, which unloads them first (those that need them first of all).
    ///
    /// # Errors
    /// [`ManagerError::NotFound`], [`ManagerError::HasDependents`].
    pub async fn unload(&self, id: &str, cascade: bool) -> Result<Vec<String>, ManagerError> {
        let (manifests, live): (Vec<PluginManifest>, Vec<String>) = {
            let plugins = self.plugins_lock();
            if !plugins.contains_key(id) {
                return Err(ManagerError::NotFound { id: id.to_owned() });
            }
            let live: Vec<String> = plugins
                .iter()
                .filter(|(_, e)| !e.state.is_terminal())
                .map(|(id, _)| id.clone())
                .collect();
            (plugins.values().map(|e| e.manifest.clone()).collect(), live)
        };
        let refs: Vec<&PluginManifest> = manifests.iter().collect();
        let dependents: Vec<String> = dependencies::dependents(&refs, id)
            .into_iter()
            .filter(|d| live.contains(d))
            .collect();
        if !dependents.is_empty() && !cascade {
            return Err(ManagerError::HasDependents {
                id: id.to_owned(),
                dependents,
            });
        }
        // Those that need others go first: the reverse of a load order.
        let order = dependencies::resolve(&refs, &self.inner.host_version).order;
        let mut unloaded = Vec::new();
        for victim in order.iter().rev().filter(|v| dependents.contains(v)) {
            self.dispose_one(victim).await;
            unloaded.push(victim.clone());
        }
        self.dispose_one(id).await;
        unloaded.push(id.to_owned());
        Ok(unloaded)
    }

    /// Disposes one plugin, whatever its state; its errors are logged.
    async fn dispose_one(&self, id: &str) {
        let (mailbox, manifest, state) = {
            let mut plugins = self.plugins_lock();
            let Some(entry) = plugins.get_mut(id) else {
                return;
            };
            (entry.mailbox.take(), entry.manifest.clone(), entry.state)
        };
        if let Some(worker) = mailbox
            && let Err(e) = worker.mailbox().dispose().await
        {
            self.inner.errors.record(ErrorRecord::now(
                id,
                e.to_string(),
                e.kind(),
                ErrorSeverity::Warning,
                "dispose",
            ));
        }
        if state != PluginState::Disposed
            && let Err(e) = self.transition(id, &manifest, PluginState::Disposed, None)
        {
            tracing::debug!(plugin = id, "not disposed from {state}: {e}");
        }
    }

    /// Calls the host function `name` for the plugin `plugin_id`, as the
    /// plugin would: only a function it was granted, counted with its calls.
    ///
    /// # Errors
    /// [`ManagerError::NotFound`] for an unknown plugin,
    /// [`ManagerError::HostFunctionDenied`] for a function not granted to it,
    /// [`ManagerError::HostFunctionFailed`] when the function fails or panics.
    pub fn call_host_function(
        &self,
        plugin_id: &str,
        name: &str,
        args: Value,
    ) -> Result<Value, ManagerError> {
        let granted = {
            let plugins = self.plugins_lock();
            let entry = plugins
                .get(plugin_id)
                .ok_or_else(|| ManagerError::NotFound {
                    id: plugin_id.to_owned(),
                })?;
            entry
                .permissions
                .as_ref()
                .is_some_and(|p| p.granted.host_functions.iter().any(|f| f == name))
        };
        let function = self.inner.host_functions.get(name);
        match (granted, function) {
            (true, Some(function)) => function
                .call(plugin_system_core::HostCall::new(plugin_id), args)
                .map_err(|source| ManagerError::HostFunctionFailed {
                    name: name.to_owned(),
                    source,
                }),
            _ => Err(ManagerError::HostFunctionDenied {
                id: plugin_id.to_owned(),
                name: name.to_owned(),
            }),
        }
    }

    /// The signatures of the host functions registered with one.
    pub fn host_function_signatures(&self) -> &[HostFunctionSignature] {
        &self.inner.signatures
    }

    /// The kept errors of `id` (the latest 100), oldest first.
    pub fn errors(&self, id: &str) -> Vec<ErrorRecord> {
        self.inner.errors.of(id)
    }

    /// Every error from now on, as it is recorded.
    pub fn subscribe_errors(&self) -> broadcast::Receiver<ErrorRecord> {
        self.inner.errors.subscribe()
    }

    /// The manager's numbers, with the Dart original's keys.
    pub fn statistics(&self) -> Statistics {
        let mut registry = RegistryStats::default();
        let mut permissions = PermissionStats::default();
        let mut plugins = BTreeMap::new();
        let mut granted_functions = 0usize;
        for (id, entry) in self.plugins_lock().iter() {
            registry.total += 1;
            match entry.state {
                PluginState::Ready => registry.ready += 1,
                PluginState::Error => registry.error += 1,
                PluginState::Loading => registry.loading += 1,
                PluginState::Initializing => registry.initializing += 1,
                _ => {}
            }
            if let Some(record) = &entry.permissions {
                permissions.total_plugins += 1;
                granted_functions += record.granted.host_functions.len();
                if !record.granted.filesystem.is_empty() {
                    permissions.plugins_with_filesystem += 1;
                }
            }
            plugins.insert(id.clone(), entry.counters.snapshot(entry.usage()));
        }
        if permissions.total_plugins > 0 {
            permissions.avg_host_functions =
                granted_functions as f64 / permissions.total_plugins as f64;
        }
        let (total_functions, total_calls, most_called, most_called_count) =
            self.inner.host_calls.summary();
        let (unique_types, total_dispatched, most_common, most_common_count) =
            self.inner.event_types.summary();
        Statistics {
            registry,
            host_functions: HostFunctionStats {
                total_functions,
                total_calls,
                most_called,
                most_called_count,
            },
            dispatcher: DispatcherStats {
                total_dispatched,
                unique_types,
                most_common,
                most_common_count,
                recipients_helped: self.inner.runner.helped(),
            },
            permissions,
            errors: self.inner.errors.stats(),
            plugins,
        }
    }

    /// Unloads every plugin, those that need others first.
    pub async fn shutdown(&self) {
        let manifests: Vec<PluginManifest> = self
            .plugins_lock()
            .values()
            .map(|e| e.manifest.clone())
            .collect();
        let refs: Vec<&PluginManifest> = manifests.iter().collect();
        let mut order = dependencies::resolve(&refs, &self.inner.host_version).order;
        // Plugins the resolution refuses (their dependency went away) still go.
        for m in &manifests {
            if !order.contains(&m.id) {
                order.insert(0, m.id.clone());
            }
        }
        for id in order.iter().rev() {
            self.dispose_one(id).await;
        }
    }
}
