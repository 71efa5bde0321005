//! One worker thread per plugin, fed through a bounded mailbox; a caller that
//! may block, and finds the plugin idle, runs the event itself.
//!
//! Each plugin's events are handled one at a time, in the order they came,
//! either by its worker thread or by a caller that found the plugin idle
//! with nothing queued (then the event runs on the caller's thread and costs
//! no hand-off): a blocking caller, or an async one in a blocking section
//! ([`exec::blocking_section`]) while the plugin is quick
//! ([`Mailbox::may_run_here`]). Guest code never runs on an async
//! executor's thread outside such a section, and a slow or looping plugin
//! holds up only its own mailbox (and, at most [`SLOW_STRIKES`] times and
//! then once per [`QUICK_TO_FORGIVE`] events, an async sender's task): a
//! [`Broadcast`] runs its recipients one after another on one thread (with
//! the [`Runner`] thread taking some beside it when it can), and the
//! [`Rescuer`] hands those not reached yet to their own workers once
//! [`INLINE_BUDGET`] has passed. A full mailbox refuses the sender at once
//! ([`ManagerError::Busy`]) rather than queueing without bound.
//!
//! A hand-off between threads costs a wake-up on each side unless the thread
//! woken is still awake: a worker stays awake (idle, spinning) for
//! [`WORKER_SPIN`] after its last job, and an async sender waits awake for
//! [`SENDER_SPIN`] (a broadcast's caller up to [`BROADCAST_SPIN`]) for
//! plugins whose last events were quick, before it yields
//! to its executor. Neither spins on a machine with one core.
//!
//! In a web page (see [`exec`](crate::exec)) a worker is a task on the page's
//! executor instead of a thread, the plugin runs in place on it, and nobody
//! blocks: a blocking caller that finds the plugin busy is refused with
//! [`ManagerError::Unsupported`], and an async broadcast goes through the
//! recipients' mailboxes.

use std::{
    collections::VecDeque,
    panic::{AssertUnwindSafe, catch_unwind},
    sync::{
        Arc, Condvar, Mutex, MutexGuard, PoisonError, Weak,
        atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering},
        mpsc,
    },
    time::Duration,
};

use plugin_system_core::{
    Instant, Plugin, PluginContext, PluginError, PluginEvent, PluginResponse, PluginUsage,
    SharedEvent,
};
use tokio::sync::oneshot;

use crate::{
    ManagerError, PluginState,
    errors::{ErrorRecord, ErrorSeverity, ErrorTracker},
    exec::{self, Driver, Wake},
    restart::{Breaker, RestartPolicy},
    stats::PluginCounters,
};

/// Publishes a plugin's state changes that its worker decides (a restart, a
/// quarantine), with the reason.
/// The first argument tells which worker speaks ([`Mailbox::key`]): after a
/// reload, a change from the retired version is not the plugin's.
pub(crate) type Supervisor = Arc<dyn Fn(usize, PluginState, String) + Send + Sync>;

/// How long a broadcast may keep recipients waiting for the caller to reach
/// them before their workers take over.
pub(crate) const INLINE_BUDGET: Duration = Duration::from_millis(2);

/// How long an event may take and still count as quick, by default: a
/// plugin runs on an async sender's thread only while it is quick
/// ([`Mailbox::may_run_here`]).
pub(crate) const SLOW_EVENT: Duration = INLINE_BUDGET;

/// How many slow events (longer than [`WorkerSetup::slow_event`]) a plugin may have
/// and still run on an async sender's thread: a first event or two may be
/// slow from a cold start (pages touched, functions compiled lazily). From
/// then on, each slow one keeps it on its own thread for the next
/// [`QUICK_TO_FORGIVE`] events: a plugin slow by habit stays there, one
/// that a busy machine slowed now and then (wall-clock time counts a thread
/// that was preempted) comes back.
const SLOW_STRIKES: u32 = 3;

/// Events handled since its last slow one after which a plugin with
/// [`SLOW_STRIKES`] slow ones runs on async senders' threads again.
const QUICK_TO_FORGIVE: u64 = 1024;

/// How long a worker that has run out of work stays awake for the next
/// before it sleeps: an event that comes meanwhile costs no wake-up, which on
/// a virtual machine is tens of microseconds each way.
const WORKER_SPIN: Duration = Duration::from_micros(50);

/// How long an async sender waits on its thread for the answer of a plugin
/// that answers quickly, before it yields to the executor: well within the
/// time a task may run between two awaits.
const SENDER_SPIN: Duration = Duration::from_micros(20);

/// The longest an async broadcaster waits awake: twice what its recipients
/// took last time, and a little for the hand-off, up to this.
const BROADCAST_SPIN: Duration = Duration::from_micros(100);

/// Whether waiting awake can pay: with a single core, the thread that waits
/// would keep the one it waits for from running.
fn may_spin() -> bool {
    if !exec::THREADS {
        return false;
    }
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, usize::from)) > 1
}

/// Spins until `done` or until `budget` has passed; whether `done`.
fn spin_until(budget: Duration, mut done: impl FnMut() -> bool) -> bool {
    let until = later(Instant::now(), budget);
    loop {
        if done() {
            return true;
        }
        for _ in 0..4 {
            std::hint::spin_loop();
        }
        if Instant::now() >= until {
            return done();
        }
    }
}

/// `at + by`, or as late as the clock holds.
fn later(at: Instant, by: Duration) -> Instant {
    at.checked_add(by)
        .or_else(|| at.checked_add(Duration::from_secs(u64::from(u32::MAX))))
        .unwrap_or(at)
}

/// `ready` of what `lock` guards, asked without waiting for the lock (for a
/// thread that spins): `false` while someone else holds it, who is about to
/// change it anyway.
fn peek<T>(lock: &Mutex<T>, ready: impl FnOnce(&T) -> bool) -> bool {
    match lock.try_lock() {
        Ok(guard) => ready(&guard),
        Err(std::sync::TryLockError::Poisoned(guard)) => ready(&guard.into_inner()),
        Err(std::sync::TryLockError::WouldBlock) => false,
    }
}

/// Native stack of a worker thread: guest code runs on it, and wasm stack
/// limits are counted within it.
#[cfg(not(all(target_family = "wasm", target_os = "unknown")))]
const WORKER_STACK: usize = 8 << 20;

/// A plugin's answer to one event.
pub(crate) type Answer = Result<PluginResponse, ManagerError>;

/// An event as a mailbox carries it.
#[derive(Clone)]
pub(crate) enum Payload {
    /// For one plugin.
    One(PluginEvent),
    /// For several: encoded once per wire format.
    Shared(Arc<SharedEvent>),
}

impl Payload {
    /// The event, owned.
    pub(crate) fn into_event(self) -> PluginEvent {
        match self {
            Payload::One(event) => event,
            Payload::Shared(shared) => shared.event().clone(),
        }
    }

    pub(crate) fn event(&self) -> &PluginEvent {
        match self {
            Payload::One(event) => event,
            Payload::Shared(shared) => shared.event(),
        }
    }
}

/// Where an event's answer goes.
enum Reply {
    Async(oneshot::Sender<Answer>),
    Blocking(mpsc::SyncSender<Answer>),
    /// Into a broadcast's answers, at the recipient's place.
    Broadcast(BroadcastPlace),
    /// Nobody waits (an event a plugin emitted); failures are still recorded.
    Nobody,
}

impl Reply {
    fn send(self, answer: Answer) {
        // A caller that stopped waiting is no error.
        match self {
            Reply::Async(sender) => drop(sender.send(answer)),
            Reply::Blocking(sender) => drop(sender.send(answer)),
            Reply::Broadcast(place) => place.fill(answer),
            Reply::Nobody => {}
        }
    }
}

/// An answer on its way back.
enum Delivery {
    Lifecycle(
        Option<oneshot::Sender<Result<(), ManagerError>>>,
        Result<(), ManagerError>,
    ),
    Event(Reply, Answer),
}

impl Delivery {
    fn deliver(self) {
        match self {
            Delivery::Lifecycle(reply, outcome) => {
                if let Some(reply) = reply {
                    drop(reply.send(outcome));
                }
            }
            Delivery::Event(reply, answer) => reply.send(answer),
        }
    }
}

/// What a plugin's worker is asked to do.
enum Work {
    Initialize(PluginContext, oneshot::Sender<Result<(), ManagerError>>),
    Event {
        payload: Payload,
        /// Plugin-to-plugin hops from the host.
        depth: u32,
        reply: Reply,
    },
    Dispose(oneshot::Sender<Result<(), ManagerError>>),
    /// The plugin's state for the version that replaces it (a hot reload).
    Snapshot(mpsc::SyncSender<Option<Vec<u8>>>),
    /// The state of the version this one replaces, when it comes: nothing
    /// queued behind runs before.
    Restore(mpsc::Receiver<Option<Vec<u8>>>),
    /// A fresh instance, initialized again, not before the backoff's end.
    Restart {
        not_before: Instant,
        reply: Option<oneshot::Sender<Result<(), ManagerError>>>,
    },
}

#[derive(Default)]
struct Queue {
    jobs: VecDeque<Work>,
    /// Someone (the worker, or a caller) is running the plugin.
    running: bool,
    /// The worker sleeps on [`Slot::wake`].
    worker_waiting: bool,
    /// No more work: the plugin was disposed, or the manager let it go.
    closed: bool,
    /// Why the plugin is in quarantine: events are refused at once.
    quarantined: Option<String>,
    /// The mailbox of the version that replaced this one: events that come
    /// after this one closed go there.
    successor: Option<Mailbox>,
}

/// A plugin, its mailbox, and what is counted of it.
struct Slot {
    id: Arc<str>,
    plugin: Arc<dyn Plugin>,
    capacity: usize,
    counters: Arc<PluginCounters>,
    errors: Arc<ErrorTracker>,
    /// Drives a plugin that has no blocking calls.
    runtime: Driver,
    queue: Mutex<Queue>,
    wake: Wake,
    /// What the plugin held when last asked while idle.
    usage: Mutex<PluginUsage>,
    /// What it was initialized with, for a restart.
    context: Mutex<Option<PluginContext>>,
    policy: RestartPolicy,
    breaker: Mutex<Breaker>,
    supervisor: Supervisor,
    /// An event longer than this is slow.
    slow_event: Duration,
    /// Its instance has handled an event. The counters outlive a restart's
    /// fresh instance and a reload's new version (the host sees one plugin);
    /// this does not.
    warm: AtomicBool,
    /// Events the plugin took longer than `slow_event` for: from
    /// [`SLOW_STRIKES`] on, an async sender runs it in place only
    /// [`QUICK_TO_FORGIVE`] events after the last (`last_slow`, a count of
    /// events handled), since the sender's task (what it joins or selects
    /// beside the event, a timeout around it) would wait as long.
    slow_events: AtomicU32,
    last_slow: AtomicU64,
}

/// What a plugin's worker is started with, besides the plugin.
pub(crate) struct WorkerSetup {
    /// Events its mailbox holds.
    pub(crate) capacity: usize,
    pub(crate) counters: Arc<PluginCounters>,
    pub(crate) errors: Arc<ErrorTracker>,
    /// Drives a plugin that has no blocking calls.
    pub(crate) runtime: Driver,
    pub(crate) policy: RestartPolicy,
    pub(crate) supervisor: Supervisor,
    /// An event longer than this is slow ([`SLOW_EVENT`] by default).
    pub(crate) slow_event: Duration,
}

/// The sending side of a plugin's mailbox. Cheap to clone.
#[derive(Clone)]
pub(crate) struct Mailbox(Arc<Slot>);

/// The manager's hold on a plugin's worker: dropping it closes the mailbox,
/// and the worker ends once its current event is done (what is still queued
/// is answered [`ManagerError::Stopped`]).
pub(crate) struct Worker(Mailbox);

impl Drop for Worker {
    fn drop(&mut self) {
        let slot = &self.0.0;
        let mut queue = slot.lock();
        queue.closed = true;
        let rest = std::mem::take(&mut queue.jobs);
        let successor = queue.successor.clone();
        drop(queue);
        slot.wake.notify_all();
        // What was queued goes to the version that replaced this one, or is
        // answered `Stopped` as it is dropped.
        if let Some(next) = successor {
            next.take_over(rest);
        }
    }
}

impl Worker {
    /// The mailbox.
    pub(crate) fn mailbox(&self) -> &Mailbox {
        &self.0
    }
}

impl Queue {
    /// Whether a caller may run the plugin now: open, idle, out of
    /// quarantine, nothing queued before it.
    fn free(&self) -> bool {
        !self.closed && !self.running && self.quarantined.is_none() && self.jobs.is_empty()
    }
}

impl Slot {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        // Plugin code never runs under this lock, so a poisoned one is whole.
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The refusal of a caller that would have to block for the plugin
    /// where nothing may block (a page).
    fn cannot_wait(&self) -> ManagerError {
        ManagerError::Unsupported {
            what: format!(
                "waiting on this thread for plugin `{}`, which is busy or has events queued",
                self.id
            ),
        }
    }

    fn stopped(&self) -> ManagerError {
        ManagerError::Stopped {
            id: self.id.to_string(),
        }
    }

    /// Runs `call` on the plugin, a panic turned into an error.
    fn guarded<T>(
        &self,
        during: &'static str,
        call: impl FnOnce() -> Result<T, PluginError>,
    ) -> Result<T, ManagerError> {
        match catch_unwind(AssertUnwindSafe(call)) {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(source)) => Err(ManagerError::Plugin {
                id: self.id.to_string(),
                source,
            }),
            Err(_) => Err(ManagerError::Panicked {
                id: self.id.to_string(),
                during,
            }),
        }
    }

    /// Initializes the plugin on this thread.
    fn initialize(&self, context: PluginContext) -> Result<(), PluginError> {
        match self.plugin.blocking() {
            Some(plugin) => plugin.initialize_blocking(&context),
            None => self.drive(self.plugin.initialize(context)),
        }
    }

    /// Runs an async call of a plugin that has no blocking ones to its end,
    /// on this thread.
    fn drive<T>(
        &self,
        call: impl Future<Output = Result<T, PluginError>>,
    ) -> Result<T, PluginError> {
        exec::drive(&self.runtime, call, |would_wait| {
            PluginError::InvalidPlugin {
                message: format!("its async call cannot run here: {would_wait}"),
            }
        })
    }

    /// Handles one event, counted, with a failure recorded.
    fn handle(&self, payload: &Payload, depth: u32) -> Answer {
        let mut clock = Instant::now();
        self.handle_timed(payload, depth, &mut clock)
    }

    /// [`handle`](Self::handle), timed from `clock`, which is left at the
    /// end: a thread that runs several plugins in a row reads the clock once
    /// per plugin, not twice.
    fn handle_timed(&self, payload: &Payload, depth: u32, clock: &mut Instant) -> Answer {
        self.counters.set_depth(depth);
        let started = *clock;
        let answer = self.guarded("event", || match (self.plugin.blocking(), payload) {
            (Some(plugin), Payload::One(event)) => plugin.handle_event_blocking(event),
            (Some(plugin), Payload::Shared(event)) => plugin.handle_shared_event_blocking(event),
            (None, payload) => self.drive(self.plugin.handle_event(payload.event().clone())),
        });
        *clock = Instant::now();
        let took = clock.saturating_duration_since(started);
        let handled = self.counters.record(took, answer.is_ok());
        // Written once, not per event: senders read it on every event.
        if !self.warm.load(Ordering::Relaxed) {
            self.warm.store(true, Ordering::Relaxed);
        }
        if took > self.slow_event {
            self.slow_events.fetch_add(1, Ordering::Relaxed);
            self.last_slow.store(handled, Ordering::Relaxed);
        }
        if let Err(error) = &answer {
            self.record(error, &format!("event {}", payload.event().event_type));
            if let ManagerError::Plugin { source, .. } = error
                && source.poisons_instance()
            {
                self.fault(error.to_string());
            }
        }
        answer
    }

    /// The plugin's instance is in doubt: a restart goes before anything
    /// else queued, after the backoff, or the breaker puts it in quarantine.
    /// Called by whoever runs the plugin, before it is marked idle.
    fn fault(&self, reason: String) {
        if self.lock().successor.is_some() {
            // A version being retired: its faults are no longer the
            // plugin's; the error is recorded, and it restarts nothing.
            return;
        }
        let now = Instant::now();
        let verdict = self
            .breaker
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .fault(&self.policy, now);
        match verdict {
            Some(backoff) => {
                {
                    let mut queue = self.lock();
                    // A backoff past what a clock can hold: as late as it can.
                    let not_before = later(now, backoff);
                    queue.jobs.push_front(Work::Restart {
                        not_before,
                        reply: None,
                    });
                }
                (self.supervisor)(
                    self.key(),
                    PluginState::Initializing,
                    format!("restarting in {backoff:?} after: {reason}"),
                );
            }
            None => self.quarantine(reason),
        }
    }

    /// Refuses the plugin's events from now on, and answers those queued.
    fn quarantine(&self, reason: String) {
        let refused: VecDeque<Work> = {
            let mut queue = self.lock();
            queue.quarantined = Some(reason.clone());
            let (events, rest) = std::mem::take(&mut queue.jobs)
                .into_iter()
                .partition(|work| matches!(work, Work::Event { .. } | Work::Restart { .. }));
            queue.jobs = rest;
            events
        };
        let error = self.quarantined(&reason);
        for work in refused {
            match work {
                Work::Event { reply, .. } => reply.send(Err(self.quarantined(&reason))),
                Work::Restart {
                    reply: Some(reply), ..
                } => {
                    drop(reply.send(Err(self.quarantined(&reason))));
                }
                _ => {}
            }
        }
        self.errors.record(ErrorRecord::now(
            &self.id,
            error.to_string(),
            error.kind(),
            ErrorSeverity::Error,
            "quarantine",
        ));
        (self.supervisor)(self.key(), PluginState::Quarantined, reason);
    }

    /// Which slot this is, for the [`Supervisor`].
    fn key(&self) -> usize {
        std::ptr::from_ref(self) as usize
    }

    fn record(&self, error: &ManagerError, context: &str) {
        self.errors.record(ErrorRecord::now(
            &self.id,
            error.to_string(),
            error.kind(),
            ErrorSeverity::Warning,
            context,
        ));
    }

    fn quarantined(&self, reason: &str) -> ManagerError {
        ManagerError::Quarantined {
            id: self.id.to_string(),
            reason: reason.to_owned(),
        }
    }

    /// The time left before `not_before`; `None` once it has come or the
    /// plugin was let go (a restart's backoff is cut short then).
    fn backoff_left(&self, queue: &Queue, not_before: Instant) -> Option<Duration> {
        let now = Instant::now();
        (!queue.closed && now < not_before).then(|| not_before.saturating_duration_since(now))
    }

    /// Waits out a restart's backoff on this thread.
    #[cfg(not(all(target_family = "wasm", target_os = "unknown")))]
    fn back_off(&self, not_before: Instant) {
        let mut queue = self.lock();
        while let Some(left) = self.backoff_left(&queue, not_before) {
            queue = self.wake.wait_timeout(queue, left);
        }
    }

    /// Waits out a restart's backoff on the page's timer.
    #[cfg(all(target_family = "wasm", target_os = "unknown"))]
    async fn back_off(&self, not_before: Instant) {
        loop {
            let Some(left) = self.backoff_left(&self.lock(), not_before) else {
                return;
            };
            exec::sleep_or_wake(left, &self.wake).await;
        }
    }

    /// A fresh instance, initialized with the context it had; its backoff
    /// was waited out before.
    fn restart(&self) -> Result<(), ManagerError> {
        if self.lock().closed {
            return Err(self.stopped());
        }
        let context = self
            .context
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
            .unwrap_or_else(|| PluginContext::new(self.id.to_string()));
        let outcome = self.guarded("restart", || {
            self.plugin.restart()?;
            self.initialize(context)
        });
        match &outcome {
            Ok(()) => {
                // A fresh instance: its first event is cold again.
                self.warm.store(false, Ordering::Relaxed);
                self.counters.restarted();
                (self.supervisor)(
                    self.key(),
                    PluginState::Ready,
                    "restarted on a fresh instance".into(),
                );
            }
            Err(error) => self.fault(format!("the restart failed: {error}")),
        }
        outcome
    }

    /// Does `work`; the answer is delivered after, once the plugin is marked
    /// idle again, so that whoever gets it finds the plugin free.
    fn perform(&self, work: Work) -> Delivery {
        match work {
            Work::Initialize(context, reply) => {
                *self.context.lock().unwrap_or_else(PoisonError::into_inner) =
                    Some(context.clone());
                Delivery::Lifecycle(
                    Some(reply),
                    self.guarded("initialize", || self.initialize(context)),
                )
            }
            Work::Restart { reply, .. } => Delivery::Lifecycle(reply, self.restart()),
            Work::Snapshot(state) => {
                let snapshot = self.guarded("snapshot", || self.plugin.snapshot());
                let snapshot = snapshot.unwrap_or_else(|error| {
                    self.record(&error, "snapshot for a reload");
                    None
                });
                // A successor that went away takes nothing.
                let _ = state.send(snapshot);
                Delivery::Lifecycle(None, Ok(()))
            }
            Work::Restore(state) => {
                // Waits for the old version to finish what it had queued.
                if let Ok(Some(state)) = state.recv()
                    && let Err(error) = self.guarded("restore", || self.plugin.restore(&state))
                {
                    self.record(&error, "restore after a reload");
                }
                Delivery::Lifecycle(None, Ok(()))
            }
            Work::Event {
                payload,
                depth,
                reply,
            } => Delivery::Event(reply, self.handle(&payload, depth)),
            Work::Dispose(reply) => Delivery::Lifecycle(
                Some(reply),
                self.guarded("dispose", || match self.plugin.blocking() {
                    Some(plugin) => plugin.dispose_blocking(),
                    None => self.drive(self.plugin.dispose()),
                }),
            ),
        }
    }

    /// Queues `work`, waking the worker.
    fn enqueue(&self, queue: &mut Queue, work: Work) {
        queue.jobs.push_back(work);
        if queue.worker_waiting && !queue.running {
            self.wake.notify_one();
        }
    }

    /// Wakes the worker if it sleeps while work waits and nobody runs.
    fn wake_worker(&self, queue: &Queue) {
        if queue.worker_waiting && !queue.running && !queue.jobs.is_empty() {
            self.wake.notify_one();
        }
    }

    /// The end of a run on a caller's thread: the worker takes what queued up
    /// meanwhile.
    fn release(&self) {
        let mut queue = self.lock();
        queue.running = false;
        if !queue.jobs.is_empty() && queue.worker_waiting {
            self.wake.notify_one();
        }
    }

    /// Whether the worker has something to do now: work nobody runs, or an
    /// end. Polled without waiting for the lock.
    #[cfg(not(all(target_family = "wasm", target_os = "unknown")))]
    fn work_ready(&self) -> bool {
        peek(&self.queue, |queue| {
            queue.closed || (!queue.running && !queue.jobs.is_empty())
        })
    }

    /// The worker's next job, now marked running: `Err(())` once the
    /// mailbox is closed, `Ok(None)` while there is nothing to run.
    fn next_job(queue: &mut Queue) -> Result<Option<Work>, ()> {
        if queue.closed {
            return Err(());
        }
        if !queue.running
            && let Some(work) = queue.jobs.pop_front()
        {
            queue.running = true;
            return Ok(Some(work));
        }
        Ok(None)
    }

    /// Does the worker's `work` (a restart's backoff already waited out) and
    /// delivers the answer once the plugin is idle again; whether the worker
    /// ends (a dispose).
    fn run_job(&self, work: Work) -> bool {
        let last = matches!(work, Work::Dispose(_));
        let delivery = self.perform(work);
        let mut queue = self.lock();
        queue.running = false;
        if last {
            // Nothing after a dispose: what is still queued goes to the
            // version that replaced this one, or is answered `Stopped`
            // as it is dropped.
            queue.closed = true;
            let rest = std::mem::take(&mut queue.jobs);
            let successor = queue.successor.clone();
            drop(queue);
            delivery.deliver();
            if let Some(next) = successor {
                next.take_over(rest);
            }
            return true;
        }
        drop(queue);
        delivery.deliver();
        false
    }

    /// The worker thread: runs what is queued until the mailbox closes.
    #[cfg(not(all(target_family = "wasm", target_os = "unknown")))]
    fn serve(&self) {
        // Async host functions find the manager's runtime from here.
        let _context = self.runtime.enter();
        loop {
            let work = {
                let mut queue = self.lock();
                let mut spun = false;
                loop {
                    match Self::next_job(&mut queue) {
                        Err(()) => return,
                        Ok(Some(work)) => break work,
                        Ok(None) => {}
                    }
                    if !spun && may_spin() {
                        // Awake a little longer, idle (a blocking caller may
                        // still run the plugin itself), for a quick next event.
                        spun = true;
                        drop(queue);
                        spin_until(WORKER_SPIN, || self.work_ready());
                        queue = self.lock();
                        continue;
                    }
                    queue.worker_waiting = true;
                    queue = self.wake.wait(queue);
                    queue.worker_waiting = false;
                }
            };
            if let Work::Restart { not_before, .. } = &work {
                self.back_off(*not_before);
            }
            if self.run_job(work) {
                return;
            }
        }
    }

    /// The worker task on a page: runs what is queued until the mailbox
    /// closes, letting the page's other tasks run between two jobs.
    #[cfg(all(target_family = "wasm", target_os = "unknown"))]
    async fn serve(self: Arc<Self>) {
        loop {
            let work = loop {
                {
                    let mut queue = self.lock();
                    match Self::next_job(&mut queue) {
                        Err(()) => return,
                        Ok(Some(work)) => break work,
                        Ok(None) => queue.worker_waiting = true,
                    }
                }
                self.wake.notified().await;
                self.lock().worker_waiting = false;
            };
            if let Work::Restart { not_before, .. } = &work {
                self.back_off(*not_before).await;
            }
            if self.run_job(work) {
                return;
            }
            exec::yield_now().await;
        }
    }
}

/// A plugin run on a caller's thread, marked running until this is dropped,
/// by an unwinding panic too: the plugin is never left claimed by a thread
/// that is gone.
struct Claim<'a>(&'a Slot);

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        self.0.release();
    }
}

impl Mailbox {
    /// Starts the worker thread of `plugin`.
    ///
    /// # Errors
    /// [`ManagerError::NoThread`] when the system refuses a thread.
    pub(crate) fn start(
        id: &str,
        plugin: Arc<dyn Plugin>,
        setup: WorkerSetup,
    ) -> Result<Worker, ManagerError> {
        let slot = Arc::new(Slot {
            id: id.into(),
            plugin,
            capacity: setup.capacity.max(1),
            counters: setup.counters,
            errors: setup.errors,
            runtime: setup.runtime,
            queue: Mutex::default(),
            wake: Wake::default(),
            usage: Mutex::default(),
            context: Mutex::default(),
            policy: setup.policy,
            breaker: Mutex::default(),
            supervisor: setup.supervisor,
            slow_event: setup.slow_event,
            warm: AtomicBool::new(false),
            slow_events: AtomicU32::new(0),
            last_slow: AtomicU64::new(0),
        });
        let serving = Arc::clone(&slot);
        #[cfg(not(all(target_family = "wasm", target_os = "unknown")))]
        std::thread::Builder::new()
            .name(format!("plugin {id}"))
            .stack_size(WORKER_STACK)
            .spawn(move || serving.serve())
            .map_err(|source| ManagerError::NoThread {
                id: id.to_owned(),
                source,
            })?;
        #[cfg(all(target_family = "wasm", target_os = "unknown"))]
        exec::spawn_local(serving.serve());
        Ok(Worker(Mailbox(slot)))
    }

    /// What the plugin holds: asked now when it is idle, else as it was when
    /// last asked (a plugin busy with an event is not waited for).
    pub(crate) fn usage(&self) -> PluginUsage {
        let slot = &self.0;
        let kept = || *slot.usage.lock().unwrap_or_else(PoisonError::into_inner);
        {
            let mut queue = slot.lock();
            if queue.running || queue.closed {
                return kept();
            }
            queue.running = true;
        }
        let _claim = Claim(slot);
        let usage =
            catch_unwind(AssertUnwindSafe(|| slot.plugin.usage())).unwrap_or_else(|_| kept());
        *slot.usage.lock().unwrap_or_else(PoisonError::into_inner) = usage;
        usage
    }

    /// Queues an event within the mailbox's capacity; a refusal gives the
    /// reply back, unanswered.
    fn post(
        &self,
        payload: Payload,
        depth: u32,
        reply: Reply,
    ) -> Result<(), Box<(ManagerError, Reply)>> {
        let slot = &self.0;
        let mut queue = slot.lock();
        if queue.closed {
            if let Some(next) = queue.successor.clone() {
                drop(queue);
                return next.post(payload, depth, reply);
            }
            return Err(Box::new((slot.stopped(), reply)));
        }
        if let Some(reason) = &queue.quarantined {
            return Err(Box::new((slot.quarantined(reason), reply)));
        }
        if queue.jobs.len() >= slot.capacity {
            let busy = ManagerError::Busy {
                id: slot.id.to_string(),
                capacity: slot.capacity,
            };
            return Err(Box::new((busy, reply)));
        }
        let work = Work::Event {
            payload,
            depth,
            reply,
        };
        slot.enqueue(&mut queue, work);
        Ok(())
    }

    /// Queues `payload` for the worker; the answer comes when the plugin has
    /// handled it.
    ///
    /// # Errors
    /// [`ManagerError::Busy`] at once when the mailbox is full,
    /// [`ManagerError::Stopped`] when it is closed.
    pub(crate) fn event(
        &self,
        payload: Payload,
        depth: u32,
    ) -> Result<impl Future<Output = Answer> + Send + 'static + use<>, ManagerError> {
        let (reply, answer) = oneshot::channel();
        self.post(payload, depth, Reply::Async(reply))
            .map_err(|refused| refused.0)?;
        let slot = Arc::clone(&self.0);
        // A plugin that answered its last event quickly is waited for awake
        // a little: a wake-up through the executor costs more than the event.
        let awake =
            (may_spin() && slot.counters.last_time() < SENDER_SPIN / 2).then_some(SENDER_SPIN);
        Ok(async move {
            await_answers(answer, awake)
                .await
                .unwrap_or_else(|| Err(slot.stopped()))
        })
    }

    /// Queues `payload` with nobody waiting for the answer.
    ///
    /// # Errors
    /// As [`event`](Self::event).
    pub(crate) fn event_detached(&self, payload: Payload, depth: u32) -> Result<(), ManagerError> {
        self.post(payload, depth, Reply::Nobody)
            .map_err(|refused| refused.0)
    }

    /// Handles `payload` and waits for the answer: on this thread when the
    /// plugin is idle with nothing queued and can run here, else through the
    /// mailbox.
    pub(crate) fn event_blocking(&self, payload: Payload) -> Answer {
        if let Some(answer) = self.try_here(&payload, &mut Instant::now()) {
            return answer;
        }
        if !exec::THREADS {
            return Err(self.0.cannot_wait());
        }
        let (reply, answer) = mpsc::sync_channel(1);
        self.post(payload, 0, Reply::Blocking(reply))
            .map_err(|refused| refused.0)?;
        answer.recv().unwrap_or_else(|_| Err(self.0.stopped()))
    }

    /// For an async sender: `payload` handled on the sender's thread, as
    /// [`event_blocking`](Self::event_blocking) would when the plugin is
    /// idle, if that thread may block ([`exec::blocking_section`]): no
    /// hand-off to the plugin's thread and back, which costs more than a
    /// quick event. `None` otherwise: the event goes through the mailbox.
    pub(crate) fn event_in_place(&self, payload: &Payload) -> Option<Answer> {
        // Asked first, so that a busy plugin costs no blocking section; the
        // claim itself is made in it.
        if !self.may_run_here() {
            return None;
        }
        exec::blocking_section(|| self.try_here(payload, &mut Instant::now())).flatten()
    }

    /// Whether the plugin may run on an async sender's thread: it looks idle
    /// with nothing queued, has blocking calls, its instance has handled an
    /// event (the first, maybe slow from a cold start, goes to its own
    /// thread; so does the first after a restart), its last event took at
    /// most `slow_event`, and it has taken longer fewer than
    /// [`SLOW_STRIKES`] times or not within the last [`QUICK_TO_FORGIVE`]
    /// events. A version that a reload retired answers for the version that
    /// replaced it. A hint, claiming nothing.
    pub(crate) fn may_run_here(&self) -> bool {
        let slot = &self.0;
        {
            let queue = slot.lock();
            if queue.closed {
                let next = queue.successor.clone();
                drop(queue);
                return next.is_some_and(|next| next.may_run_here());
            }
            if !queue.free() {
                return false;
            }
        }
        slot.plugin.blocking().is_some()
            && slot.warm.load(Ordering::Relaxed)
            && slot.counters.last_time() <= slot.slow_event
            && (slot.slow_events.load(Ordering::Relaxed) < SLOW_STRIKES
                || slot
                    .counters
                    .handled()
                    .saturating_sub(slot.last_slow.load(Ordering::Relaxed))
                    >= QUICK_TO_FORGIVE)
    }

    /// Handles `payload` on this thread if the plugin is idle with nothing
    /// queued and has blocking calls, timed from `clock` (left at the end);
    /// `None` otherwise.
    fn try_here(&self, payload: &Payload, clock: &mut Instant) -> Option<Answer> {
        let slot = &self.0;
        slot.plugin.blocking()?;
        {
            let mut queue = slot.lock();
            if queue.closed
                && let Some(next) = queue.successor.clone()
            {
                drop(queue);
                return next.try_here(payload, clock);
            }
            if !queue.free() {
                return None;
            }
            queue.running = true;
        }
        let _claim = Claim(slot);
        let answer = slot.handle_timed(payload, 0, clock);
        // After the event's own count, so that a snapshot never shows more
        // events in place than handled.
        slot.counters.ran_in_place();
        Some(answer)
    }

    /// Hands the plugin's state to `next`, the version that replaces it:
    /// `next` takes nothing before this one has answered what it has queued
    /// and given its snapshot.
    pub(crate) fn hand_state_to(&self, next: &Mailbox) {
        let (give, take) = mpsc::sync_channel(1);
        {
            let mut queue = next.0.lock();
            queue.jobs.push_front(Work::Restore(take));
            next.0.wake_worker(&queue);
        }
        let slot = &self.0;
        let mut queue = slot.lock();
        if queue.closed {
            // `give` is dropped: the new version starts afresh.
            return;
        }
        slot.enqueue(&mut queue, Work::Snapshot(give));
    }

    /// Takes the events the version this one replaced had queued, past the
    /// capacity: they were accepted already.
    fn take_over(&self, rest: VecDeque<Work>) {
        let slot = &self.0;
        let mut queue = slot.lock();
        if queue.closed {
            // Dropped: answered `Stopped`.
            return;
        }
        for work in rest {
            if let Work::Event { .. } = work {
                queue.jobs.push_back(work);
            }
        }
        slot.wake_worker(&queue);
    }

    /// Which worker this is ([`Supervisor`]).
    pub(crate) fn key(&self) -> usize {
        self.0.key()
    }

    /// Sends whatever reaches this mailbox after it closes to `next`, the
    /// version that replaced this one.
    pub(crate) fn hand_over_to(&self, next: Mailbox) {
        self.0.lock().successor = Some(next);
    }

    /// Takes the plugin out of quarantine: its faults are forgotten, and it
    /// gets a fresh instance, initialized again, before any other event.
    ///
    /// # Errors
    /// The restart's: the plugin is back in quarantine.
    pub(crate) async fn revive(&self) -> Result<(), ManagerError> {
        let slot = &self.0;
        slot.breaker
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .reset();
        let (reply, answer) = oneshot::channel();
        {
            let mut queue = slot.lock();
            if queue.closed {
                return Err(slot.stopped());
            }
            queue.quarantined = None;
            queue.jobs.push_front(Work::Restart {
                not_before: Instant::now(),
                reply: Some(reply),
            });
            if queue.worker_waiting && !queue.running {
                slot.wake.notify_one();
            }
        }
        answer.await.unwrap_or_else(|_| Err(slot.stopped()))
    }

    /// Initializes the plugin, through the worker.
    pub(crate) async fn initialize(&self, context: PluginContext) -> Result<(), ManagerError> {
        self.request(|reply| Work::Initialize(context, reply)).await
    }

    /// Disposes the plugin after the events queued before; its worker ends.
    pub(crate) async fn dispose(&self) -> Result<(), ManagerError> {
        self.request(Work::Dispose).await
    }

    /// Queues `make`'s work past the capacity (lifecycle calls are never
    /// refused for a full mailbox) and waits for the answer.
    async fn request(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<(), ManagerError>>) -> Work,
    ) -> Result<(), ManagerError> {
        let slot = &self.0;
        let (reply, answer) = oneshot::channel();
        {
            let mut queue = slot.lock();
            if queue.closed {
                return Err(slot.stopped());
            }
            slot.enqueue(&mut queue, make(reply));
        }
        answer.await.unwrap_or_else(|_| Err(slot.stopped()))
    }
}

/// One event for several plugins, run one recipient after another by
/// whoever [`run`](Broadcast::run)s it, and by their workers for those the
/// [`Rescuer`] takes over.
pub(crate) struct Broadcast {
    payload: Payload,
    recipients: Vec<Mailbox>,
    /// The next recipient nobody has taken yet.
    next: AtomicUsize,
    answers: Mutex<Answers>,
    all_in: Condvar,
}

/// The answers of the recipients handed to their workers. Those run by
/// the broadcasting thread stay with it, and cost no lock.
struct Answers {
    by_recipient: Vec<Option<Answer>>,
    /// Answers not in yet, counting those the broadcasting thread has until
    /// it is done with its share.
    missing: usize,
    /// The broadcasting thread waits on [`Broadcast::all_in`].
    waiting: bool,
}

/// A recipient's place in a [`Broadcast`]'s answers; an event dropped
/// unanswered (its plugin was let go) fills it with
/// [`ManagerError::Stopped`].
pub(crate) struct BroadcastPlace(Option<(Arc<Broadcast>, usize)>);

impl BroadcastPlace {
    fn fill(mut self, answer: Answer) {
        if let Some((broadcast, index)) = self.0.take() {
            broadcast.put(index, answer);
        }
    }
}

impl Drop for BroadcastPlace {
    fn drop(&mut self) {
        if let Some((broadcast, index)) = self.0.take() {
            let stopped = broadcast.recipients[index].0.stopped();
            broadcast.put(index, Err(stopped));
        }
    }
}

impl Broadcast {
    /// `payload` for `recipients`, none reached yet.
    pub(crate) fn new(payload: Payload, recipients: Vec<Mailbox>) -> Arc<Self> {
        let missing = recipients.len();
        Arc::new(Broadcast {
            payload,
            next: AtomicUsize::new(0),
            answers: Mutex::new(Answers {
                by_recipient: (0..missing).map(|_| None).collect(),
                missing,
                waiting: false,
            }),
            all_in: Condvar::new(),
            recipients,
        })
    }

    fn put(&self, index: usize, answer: Answer) {
        let mut answers = self.answers.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(place) = answers.by_recipient.get_mut(index)
            && place.is_none()
        {
            *place = Some(answer);
            answers.missing -= 1;
            if answers.missing == 0 && answers.waiting {
                self.all_in.notify_all();
            }
        }
    }

    /// The next recipient nobody has taken, now taken.
    fn take(&self) -> Option<usize> {
        let index = self.next.fetch_add(1, Ordering::AcqRel);
        (index < self.recipients.len()).then_some(index)
    }

    /// Queues the event for recipient `index`'s worker.
    fn hand_over(self: &Arc<Self>, index: usize) {
        let place = BroadcastPlace(Some((Arc::clone(self), index)));
        let posted = self.recipients[index].post(self.payload.clone(), 0, Reply::Broadcast(place));
        if let Err(refused) = posted {
            let (refused, reply) = *refused;
            reply.send(Err(refused));
        }
    }

    /// Hands every recipient not taken yet to its worker.
    fn rescue(self: &Arc<Self>) {
        let from = self.next.swap(self.recipients.len(), Ordering::AcqRel);
        for index in from..self.recipients.len() {
            self.hand_over(index);
        }
    }

    /// Runs the event on this thread for each recipient that is idle, hands
    /// it to the others' workers, and waits for every answer, in the order
    /// of the recipients. `helper`, the manager's broadcast thread, takes
    /// recipients beside this thread when it can ([`Runner::try_help`]).
    pub(crate) fn run(self: &Arc<Self>, rescuer: &Rescuer, helper: Option<&Runner>) -> Vec<Answer> {
        let mut helped = false;
        if self.recipients.len() > 1 && exec::THREADS {
            rescuer.watch(self);
            helped = helper.is_some_and(|runner| runner.try_help(self, || self.long()));
        }
        let mut here: Vec<Option<Answer>> = Vec::with_capacity(self.recipients.len());
        here.resize_with(self.recipients.len(), || None);
        let mut answered_here = 0;
        let mut clock = Instant::now();
        while let Some(index) = self.take() {
            match self.recipients[index].try_here(&self.payload, &mut clock) {
                Some(answer) => {
                    here[index] = Some(answer);
                    answered_here += 1;
                }
                None if exec::THREADS => self.hand_over(index),
                // Nobody else could run it while this thread waits.
                None => {
                    here[index] = Some(Err(self.recipients[index].0.cannot_wait()));
                    answered_here += 1;
                }
            }
        }
        if helped && answered_here < self.recipients.len() {
            // The helper has one recipient at most still running: worth
            // waiting for awake rather than through the condition variable
            // (for the answers of recipients handed to their workers too).
            spin_until(HELPER_SPIN, || {
                peek(&self.answers, |answers| answers.missing == answered_here)
            });
        }
        let mut answers = self.answers.lock().unwrap_or_else(PoisonError::into_inner);
        answers.missing -= answered_here;
        answers.waiting = true;
        while answers.missing > 0 {
            answers = self
                .all_in
                .wait(answers)
                .unwrap_or_else(PoisonError::into_inner);
        }
        let theirs = std::mem::take(&mut answers.by_recipient);
        drop(answers);
        here.into_iter()
            .zip(theirs)
            .zip(&self.recipients)
            .map(|((mine, theirs), mailbox)| {
                mine.or(theirs).unwrap_or_else(|| Err(mailbox.0.stopped()))
            })
            .collect()
    }
}

impl Broadcast {
    /// Whether the recipients' last events add up to [`HELP_WORTH_A_WAKE`]
    /// or more (an unknown one, a plugin's first, counts as long).
    fn long(&self) -> bool {
        let mut took = Duration::ZERO;
        self.recipients.iter().any(|mailbox| {
            took = took.saturating_add(mailbox.0.counters.last_time());
            took >= HELP_WORTH_A_WAKE
        })
    }

    /// The broadcast thread's share of a broadcast another thread runs: the
    /// recipients neither has taken yet, each run here when idle or handed
    /// to its worker, their answers put in their places.
    fn help(self: &Arc<Self>) -> u64 {
        let mut clock = Instant::now();
        let mut taken_here = 0;
        while let Some(index) = self.take() {
            taken_here += 1;
            let taken = Taken(self, index);
            match self.recipients[index].try_here(&self.payload, &mut clock) {
                Some(answer) => self.put(index, answer),
                None => self.hand_over(index),
            }
            std::mem::forget(taken);
        }
        taken_here
    }
}

/// A recipient the helper has taken: should the helper's own code panic
/// before the recipient is answered or handed over, its place is filled
/// [`ManagerError::Stopped`], so that the broadcast still ends.
struct Taken<'a>(&'a Broadcast, usize);

impl Drop for Taken<'_> {
    fn drop(&mut self) {
        let Taken(broadcast, index) = *self;
        broadcast.put(index, Err(broadcast.recipients[index].0.stopped()));
    }
}

/// Hands the recipients of a broadcast to their workers once
/// [`INLINE_BUDGET`] has passed, in case the broadcasting thread is held up
/// by a slow recipient before it reaches them. One thread per manager, asleep
/// when there is nothing to watch.
pub(crate) struct Rescuer {
    watch: Mutex<Watch>,
    wake: Condvar,
}

#[derive(Default)]
struct Watch {
    /// Broadcasts under way, and when to look at them. Weak: a broadcast
    /// that ended is freed by the thread that ran it, not kept until then.
    due: VecDeque<(Instant, Weak<Broadcast>)>,
    /// The thread sleeps without a timeout.
    parked: bool,
    /// The manager is gone.
    ended: bool,
}

/// The least time the rescuer sleeps between two looks.
const RESCUER_TICK: Duration = Duration::from_millis(1);

/// How long the rescuer stays awake after its last watch, so that a run of
/// broadcasts does not wake it each time.
const RESCUER_LINGER: Duration = Duration::from_millis(100);

impl Rescuer {
    /// Starts the thread.
    pub(crate) fn start() -> Arc<Rescuer> {
        let rescuer = Arc::new(Rescuer {
            watch: Mutex::default(),
            wake: Condvar::new(),
        });
        if !exec::THREADS {
            // A page: no broadcast waits on a thread for its recipients.
            return rescuer;
        }
        let serving = Arc::clone(&rescuer);
        let spawned = std::thread::Builder::new()
            .name("plugin rescuer".into())
            .spawn(move || serving.serve());
        if let Err(e) = spawned {
            // Without it, a broadcast still ends: its thread reaches every
            // recipient in turn, only later.
            tracing::warn!("no rescuer thread: {e}");
        }
        rescuer
    }

    fn lock(&self) -> MutexGuard<'_, Watch> {
        self.watch.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Watches `broadcast` from now on.
    fn watch(&self, broadcast: &Arc<Broadcast>) {
        let due = later(Instant::now(), INLINE_BUDGET);
        let mut watch = self.lock();
        watch.due.push_back((due, Arc::downgrade(broadcast)));
        if watch.parked {
            self.wake.notify_one();
        }
    }

    /// Ends the thread.
    pub(crate) fn end(&self) {
        self.lock().ended = true;
        self.wake.notify_one();
    }

    fn serve(&self) {
        let mut idle_since = Instant::now();
        let mut watch = self.lock();
        loop {
            if watch.ended {
                return;
            }
            let now = Instant::now();
            let mut late = Vec::new();
            while let Some((due, _)) = watch.due.front()
                && *due <= now
            {
                if let Some((_, broadcast)) = watch.due.pop_front()
                    && let Some(broadcast) = broadcast.upgrade()
                {
                    late.push(broadcast);
                }
                idle_since = now;
            }
            if !late.is_empty() {
                // Queueing takes the recipients' locks: not under this one.
                drop(watch);
                for broadcast in &late {
                    broadcast.rescue();
                }
                drop(late);
                watch = self.lock();
                continue;
            }
            let wait = match watch.due.front() {
                // Woken no more often than once a tick, however many
                // broadcasts come meanwhile.
                Some((due, _)) => Some(due.saturating_duration_since(now).max(RESCUER_TICK)),
                None if now.saturating_duration_since(idle_since) < RESCUER_LINGER => {
                    Some(INLINE_BUDGET)
                }
                None => None,
            };
            watch.parked = wait.is_none();
            watch = match wait {
                Some(wait) => {
                    self.wake
                        .wait_timeout(watch, wait)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0
                }
                None => self
                    .wake
                    .wait(watch)
                    .unwrap_or_else(PoisonError::into_inner),
            };
        }
    }
}

/// Runs the async callers' broadcasts off their executors, and helps the
/// threads that run one themselves ([`Runner::try_help`]): one thread per
/// manager that stays awake a little after each, so that a run of broadcasts
/// costs no wake-up (a `spawn_blocking` thread's is tens of microseconds
/// here). It takes a broadcast only when idle; one that comes while it is
/// busy goes to tokio's blocking pool, so no broadcast waits behind another.
pub(crate) struct Runner {
    state: Mutex<RunnerState>,
    wake: Condvar,
    /// Recipients it took beside the threads that ran their broadcasts.
    helped: AtomicU64,
}

#[derive(Default)]
struct RunnerState {
    job: Option<RunnerJob>,
    busy: bool,
    /// When a broadcast last asked for help.
    last_asked: Option<Instant>,
    /// The thread sleeps on [`Runner::wake`].
    parked: bool,
    /// The thread could not start, or the manager is gone.
    ended: bool,
}

/// What the broadcast thread is asked to do.
enum RunnerJob {
    /// A broadcast of an async caller's, whole, its answers sent back.
    Run(Arc<Broadcast>, oneshot::Sender<Vec<Answer>>),
    /// A share of a broadcast that another thread runs.
    Help(Arc<Broadcast>),
}

/// Broadcasts this close together are a run of them, for which the broadcast
/// thread is worth waking to help: it stays awake ([`WORKER_SPIN`]) for the
/// next ones.
const RUN_OF_BROADCASTS: Duration = Duration::from_millis(1);

/// A broadcast whose recipients took this long, all told, last time is worth
/// waking the broadcast thread for (a wake-up costs tens of microseconds
/// here), even outside a run of broadcasts.
const HELP_WORTH_A_WAKE: Duration = Duration::from_micros(200);

/// How long a broadcasting thread that is done with its share waits awake
/// for the helper's last answer before it sleeps.
const HELPER_SPIN: Duration = Duration::from_micros(50);

impl Runner {
    /// Starts the thread.
    pub(crate) fn start(rescuer: Arc<Rescuer>) -> Arc<Runner> {
        let runner = Arc::new(Runner {
            state: Mutex::default(),
            wake: Condvar::new(),
            helped: AtomicU64::new(0),
        });
        if !exec::THREADS {
            // A page: broadcasts go through the recipients' mailboxes.
            runner.lock().ended = true;
            return runner;
        }
        let serving = Arc::clone(&runner);
        let spawned = std::thread::Builder::new()
            .name("plugin broadcasts".into())
            .spawn(move || serving.serve(&rescuer));
        if let Err(e) = spawned {
            // Every broadcast goes to the blocking pool then.
            tracing::warn!("no broadcast thread: {e}");
            runner.lock().ended = true;
        }
        runner
    }

    fn lock(&self) -> MutexGuard<'_, RunnerState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Hands `broadcast` to the thread if it is idle; `None` when it is busy.
    pub(crate) fn try_run(
        &self,
        broadcast: &Arc<Broadcast>,
    ) -> Option<oneshot::Receiver<Vec<Answer>>> {
        let mut state = self.lock();
        if state.busy || state.ended || state.job.is_some() {
            return None;
        }
        let (reply, answers) = oneshot::channel();
        state.job = Some(RunnerJob::Run(Arc::clone(broadcast), reply));
        if state.parked {
            self.wake.notify_one();
        }
        Some(answers)
    }

    /// Asks the thread to take recipients of `broadcast` beside the thread
    /// that runs it: when it is free and awake, or asleep while a run of
    /// broadcasts goes on ([`RUN_OF_BROADCASTS`]) or when the broadcast is
    /// `long` (asked only then); a lone quick broadcast does not pay for its
    /// wake-up (a system call, and tens of microseconds before it runs).
    /// Whether it was asked.
    pub(crate) fn try_help(&self, broadcast: &Arc<Broadcast>, long: impl FnOnce() -> bool) -> bool {
        if !may_spin() {
            // One core: a helper would only take turns with the caller.
            return false;
        }
        let now = Instant::now();
        let mut state = self.lock();
        if state.busy || state.ended || state.job.is_some() {
            return false;
        }
        let in_a_run = state
            .last_asked
            .replace(now)
            .is_some_and(|last| now.saturating_duration_since(last) < RUN_OF_BROADCASTS);
        if state.parked && !in_a_run && !long() {
            return false;
        }
        state.job = Some(RunnerJob::Help(Arc::clone(broadcast)));
        if state.parked {
            self.wake.notify_one();
        }
        true
    }

    /// Recipients it has taken beside the threads that ran their
    /// broadcasts.
    pub(crate) fn helped(&self) -> u64 {
        self.helped.load(Ordering::Relaxed)
    }

    /// Ends the thread.
    pub(crate) fn end(&self) {
        self.lock().ended = true;
        self.wake.notify_one();
    }

    /// Whether a job or the end has come, polled without waiting.
    fn job_ready(&self) -> bool {
        peek(&self.state, |state| state.job.is_some() || state.ended)
    }

    fn serve(&self, rescuer: &Rescuer) {
        loop {
            let job = {
                let mut state = self.lock();
                let mut spun = false;
                loop {
                    if state.ended {
                        return;
                    }
                    if let Some(job) = state.job.take() {
                        state.busy = true;
                        break job;
                    }
                    if !spun && may_spin() {
                        spun = true;
                        drop(state);
                        spin_until(WORKER_SPIN, || self.job_ready());
                        state = self.lock();
                        continue;
                    }
                    state.parked = true;
                    state = self
                        .wake
                        .wait(state)
                        .unwrap_or_else(PoisonError::into_inner);
                    state.parked = false;
                }
            };
            match job {
                RunnerJob::Run(broadcast, reply) => {
                    // Plugin calls are guarded: a panic here is the
                    // broadcast's own, and its caller hears of it as a
                    // dropped reply.
                    let answers = catch_unwind(AssertUnwindSafe(|| broadcast.run(rescuer, None)));
                    self.lock().busy = false;
                    if let Ok(answers) = answers {
                        let _ = reply.send(answers);
                    }
                }
                RunnerJob::Help(broadcast) => {
                    // A panic fills the place of the recipient it left
                    // unanswered ([`Taken`]).
                    if let Ok(taken) = catch_unwind(AssertUnwindSafe(|| broadcast.help())) {
                        self.helped.fetch_add(taken, Ordering::Relaxed);
                    }
                    self.lock().busy = false;
                }
            }
        }
    }
}

impl Broadcast {
    /// Queues the event in every recipient's mailbox and waits for the
    /// answers, in the order of the recipients, without blocking: how a page,
    /// where nothing may block, broadcasts.
    pub(crate) async fn gather(&self) -> Vec<Answer> {
        let pending: Vec<_> = self
            .recipients
            .iter()
            .map(|mailbox| mailbox.event(self.payload.clone(), 0))
            .collect();
        let mut answers = Vec::with_capacity(pending.len());
        for answer in pending {
            answers.push(match answer {
                Ok(answer) => answer.await,
                Err(refused) => Err(refused),
            });
        }
        answers
    }

    /// Whether every recipient looks free to run on the caller's thread: a
    /// broadcast worth a blocking section of an async caller's, which would
    /// otherwise also wait in it for the busy ones.
    pub(crate) fn may_run_here(&self) -> bool {
        !self.recipients.is_empty() && self.recipients.iter().all(Mailbox::may_run_here)
    }

    /// How long the async caller waits awake for the answers, rather than
    /// yield: twice what the recipients took last time, and a little for the
    /// hand-off, when that is within [`BROADCAST_SPIN`].
    pub(crate) fn awake(&self) -> Option<Duration> {
        if !may_spin() {
            return None;
        }
        let took = self
            .recipients
            .iter()
            .map(|mailbox| mailbox.0.counters.last_time())
            .try_fold(Duration::ZERO, Duration::checked_add)?;
        let awake = took.checked_mul(2)?.checked_add(SENDER_SPIN / 2)?;
        (awake <= BROADCAST_SPIN).then_some(awake)
    }
}

/// Waits for `answers`: awake for up to `awake`, then through the executor.
/// `None` when the sender went away.
pub(crate) async fn await_answers<T>(
    mut answers: oneshot::Receiver<T>,
    awake: Option<Duration>,
) -> Option<T> {
    if let Some(budget) = awake {
        let mut early = None;
        spin_until(budget, || match answers.try_recv() {
            Ok(got) => {
                early = Some(Some(got));
                true
            }
            Err(oneshot::error::TryRecvError::Closed) => {
                early = Some(None);
                true
            }
            Err(oneshot::error::TryRecvError::Empty) => false,
        });
        if let Some(got) = early {
            return got;
        }
    }
    answers.await.ok()
}
