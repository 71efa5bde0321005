//! The background compiles of a [`TieredRuntime`](super::TieredRuntime): a
//! queue served by at most a bound of threads, smallest module first.

use std::{
    cmp::Ordering,
    collections::BinaryHeap,
    panic::{AssertUnwindSafe, catch_unwind},
    sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError},
};

use plugin_system_core::WasmRuntime;

use super::module::Slot;
use crate::CachedRuntime;

/// One module to compile: its bytes, and where the result goes.
struct Job {
    bytes: Arc<[u8]>,
    slot: Arc<Slot>,
    /// The order it came in, among modules of one size.
    seq: u64,
}

impl Job {
    fn key(&self) -> (usize, u64) {
        (self.bytes.len(), self.seq)
    }
}

// `BinaryHeap` pops the greatest: the greatest job is the smallest module,
// then the first to come. Small modules first, because a plugin is moved as
// soon as its own compile is done: the shortest job first brings the most
// plugins to the fast tier soonest, and a 30 MB module queued first does not
// hold up ten small ones for seconds.
impl Ord for Job {
    fn cmp(&self, other: &Self) -> Ordering {
        other.key().cmp(&self.key())
    }
}

impl PartialOrd for Job {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Job {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}

impl Eq for Job {}

#[derive(Default)]
struct Queue {
    waiting: BinaryHeap<Job>,
    /// Threads serving the queue.
    threads: usize,
    /// Jobs taken off the queue and not done yet.
    compiling: usize,
    next_seq: u64,
}

/// Compiles modules with the optimizing runtime, off the caller's thread.
/// Serving threads are started when jobs come and end when the queue is
/// empty; the pool a compile spreads over, made at the first compile, stays
/// (its threads sleep at the lowest priority).
pub(super) struct Compiler {
    optimized: Arc<CachedRuntime>,
    threads: usize,
    queue: Mutex<Queue>,
    idle: Condvar,
    /// The threads Cranelift spreads a compile over, at low priority (made
    /// with the first compile); without it, rayon's global pool.
    #[cfg(feature = "wasmtime")]
    pool: std::sync::OnceLock<Option<rayon::ThreadPool>>,
}

impl Compiler {
    pub(super) fn new(optimized: Arc<CachedRuntime>, threads: usize) -> Compiler {
        Compiler {
            optimized,
            threads: threads.max(1),
            queue: Mutex::default(),
            idle: Condvar::new(),
            #[cfg(feature = "wasmtime")]
            pool: std::sync::OnceLock::new(),
        }
    }

    /// Runs `compile` where the background compiles run: in the low-priority
    /// pool, so that a compile's parallel parts wait for idle cores and never
    /// slow the guest code running on the quick tier.
    fn in_background<T: Send>(&self, compile: impl FnOnce() -> T + Send) -> T {
        #[cfg(feature = "wasmtime")]
        {
            let pool = self.pool.get_or_init(|| {
                rayon::ThreadPoolBuilder::new()
                    .thread_name(|i| format!("plugin-system-compile-{i}"))
                    .start_handler(|_| lower_priority())
                    .build()
                    .inspect_err(|e| tracing::debug!("no compile pool of its own: {e}"))
                    .ok()
            });
            if let Some(pool) = pool {
                return pool.install(compile);
            }
        }
        compile()
    }

    fn queue(&self) -> MutexGuard<'_, Queue> {
        // Jobs run outside the lock; a panic under it leaves counts only.
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues `bytes` for compiling into `slot`.
    pub(super) fn submit(self: &Arc<Self>, bytes: Arc<[u8]>, slot: Arc<Slot>) {
        let mut queue = self.queue();
        let seq = queue.next_seq;
        queue.next_seq += 1;
        queue.waiting.push(Job { bytes, slot, seq });
        if queue.threads >= self.threads {
            return;
        }
        queue.threads += 1;
        drop(queue);
        let compiler = Arc::clone(self);
        let spawned = std::thread::Builder::new()
            .name("plugin-system-tier-up".into())
            .spawn(move || compiler.serve());
        if let Err(e) = spawned {
            tracing::warn!("no thread to compile on ({e}): the modules stay on the quick tier");
            let mut queue = self.queue();
            queue.threads -= 1;
            if queue.threads == 0 {
                for job in queue.waiting.drain() {
                    job.slot.fail();
                }
                self.idle.notify_all();
            }
        }
    }

    /// A thread's loop: jobs until the queue is empty.
    fn serve(&self) {
        lower_priority();
        // Counts this thread out however it ends, a panic included, so that
        // `submit` starts another.
        let _serving = Counted(self, |queue| queue.threads -= 1);
        loop {
            let job = {
                let mut queue = self.queue();
                match queue.waiting.pop() {
                    Some(job) => {
                        queue.compiling += 1;
                        job
                    }
                    None => return,
                }
            };
            // Counts the job done however it ends, so that
            // `wait_for_compiles` is never left waiting.
            let _done = Counted(self, |queue| queue.compiling -= 1);
            self.compile(job);
        }
    }

    fn compile(&self, job: Job) {
        let started = std::time::Instant::now();
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            self.in_background(|| self.optimized.load_module(&job.bytes))
        }));
        match outcome {
            Ok(Ok(module)) => {
                tracing::debug!(
                    "{} compiled a module of {} bytes in {:?}",
                    self.optimized.name(),
                    job.bytes.len(),
                    started.elapsed()
                );
                job.slot.ready(module);
            }
            Ok(Err(e)) => {
                tracing::warn!(
                    "{} cannot compile a module of {} bytes, which stays on the quick tier: {e}",
                    self.optimized.name(),
                    job.bytes.len()
                );
                job.slot.fail();
            }
            Err(_) => {
                tracing::warn!(
                    "{} panicked compiling a module of {} bytes, which stays on the quick tier",
                    self.optimized.name(),
                    job.bytes.len()
                );
                job.slot.fail();
            }
        }
    }

    /// Modules waiting or being compiled.
    pub(super) fn pending(&self) -> usize {
        let queue = self.queue();
        queue.waiting.len() + queue.compiling
    }

    /// Blocks until no module is waiting or being compiled.
    pub(super) fn wait_idle(&self) {
        let mut queue = self.queue();
        while !queue.waiting.is_empty() || queue.compiling > 0 {
            queue = self
                .idle
                .wait(queue)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }
}

/// Applies its change to the queue when dropped, and wakes the waiters.
struct Counted<'a>(&'a Compiler, fn(&mut Queue));

impl Drop for Counted<'_> {
    fn drop(&mut self) {
        (self.1)(&mut self.0.queue());
        self.0.idle.notify_all();
    }
}

/// Lowers the calling thread's scheduling priority to the lowest (nice 19),
/// where the platform allows it per thread (Linux); elsewhere it keeps its
/// priority.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: `gettid` has no preconditions; `setpriority` with
        // PRIO_PROCESS and a thread id changes that thread alone (Linux
        // schedules threads as tasks) and fails without effect otherwise.
        let failed = unsafe {
            let tid = libc::gettid();
            libc::setpriority(libc::PRIO_PROCESS, tid.cast_unsigned(), 19) != 0
        };
        if failed {
            tracing::debug!("the compile thread keeps its priority");
        }
    }
}
