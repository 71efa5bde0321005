//! What the manager asks of the platform it runs on, written once per target:
//! the only place that tells a native host from a web page apart.
//!
//! Natively, each plugin's worker is a thread of its own, guest code never
//! runs on a thread an executor needs (at most in a `block_in_place`
//! section, for an async sender of an idle plugin), and async plugin calls
//! are driven on the
//! host's tokio runtime. In a page (`wasm32-unknown-unknown`) there is one
//! thread and no blocking pool: each worker is a task on the page's executor
//! (`wasm_bindgen_futures::spawn_local`), guest code runs in place, timers
//! are the page's `setTimeout`, and a caller can never block waiting for
//! another task (`THREADS` is `false`: the blocking entry points answer
//! [`ManagerError::Unsupported`](crate::ManagerError::Unsupported) rather than
//! wait).

use std::{fmt, future::Future};

pub(crate) use imp::{
    Driver, Wake, blocking_section, join_all, run_in_place_or_blocking, wall_clock,
};
#[cfg(all(target_family = "wasm", target_os = "unknown"))]
pub(crate) use imp::{sleep_or_wake, spawn_local, yield_now};

/// Whether the platform has threads that may block: natively yes; in a page
/// no.
pub(crate) const THREADS: bool = !cfg!(all(target_family = "wasm", target_os = "unknown"));

/// A future that would have to wait, asked to finish on a thread that cannot
/// (a page's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct WouldWait;

impl fmt::Display for WouldWait {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("it would have to wait, and a web page's one thread cannot")
    }
}

#[cfg(not(all(target_family = "wasm", target_os = "unknown")))]
mod imp {
    use std::{
        future::Future,
        sync::{Condvar, MutexGuard},
        time::{Duration, SystemTime},
    };

    use super::WouldWait;

    /// The host's tokio runtime: drives the async calls of plugins that have
    /// no blocking ones, and async host functions, from a plugin's thread.
    #[derive(Clone, Debug)]
    pub(crate) struct Driver(tokio::runtime::Handle);

    impl Driver {
        /// The runtime of the calling task.
        ///
        /// # Panics
        /// Outside a tokio runtime, as `Handle::current` does.
        pub(crate) fn current() -> Self {
            Driver(tokio::runtime::Handle::current())
        }

        /// The runtime of the calling task, if there is one.
        pub(crate) fn try_current() -> Option<Self> {
            tokio::runtime::Handle::try_current().ok().map(Driver)
        }

        /// Enters the runtime on this thread for as long as the guard lives.
        pub(crate) fn enter(&self) -> tokio::runtime::EnterGuard<'_> {
            self.0.enter()
        }

        /// Runs `future` to its end on this (non-executor) thread.
        pub(crate) fn block_on<F: Future>(&self, future: F) -> Result<F::Output, WouldWait> {
            Ok(self.0.block_on(future))
        }
    }

    /// Wakes a sleeping worker: a condition variable over its queue's lock.
    #[derive(Debug, Default)]
    pub(crate) struct Wake(Condvar);

    impl Wake {
        pub(crate) fn notify_one(&self) {
            self.0.notify_one();
        }

        pub(crate) fn notify_all(&self) {
            self.0.notify_all();
        }

        pub(crate) fn wait<'a, T>(&self, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
            self.0
                .wait(guard)
                .unwrap_or_else(std::sync::PoisonError::into_inner)
        }

        pub(crate) fn wait_timeout<'a, T>(
            &self,
            guard: MutexGuard<'a, T>,
            timeout: Duration,
        ) -> MutexGuard<'a, T> {
            self.0
                .wait_timeout(guard, timeout)
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .0
        }
    }

    /// Runs `work` off the executor, on tokio's blocking pool; `None` if it
    /// panicked.
    pub(crate) async fn run_in_place_or_blocking<T: Send + 'static>(
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Option<T> {
        tokio::task::spawn_blocking(work).await.ok()
    }

    /// Runs `futures` side by side as tasks, and gives the outputs of those
    /// that did not panic (in the order they finished; a panic is logged).
    pub(crate) async fn join_all<F>(futures: Vec<F>) -> Vec<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let mut tasks = tokio::task::JoinSet::new();
        for future in futures {
            tasks.spawn(future);
        }
        let mut outputs = Vec::with_capacity(tasks.len());
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok(output) => outputs.push(output),
                Err(e) => tracing::error!("a task panicked: {e}"),
            }
        }
        outputs
    }

    /// The wall clock.
    pub(crate) fn wall_clock() -> SystemTime {
        SystemTime::now()
    }

    std::thread_local! {
        /// tokio refused a blocking section on this thread once: it is not
        /// asked again here (each refusal is a panic, caught, and printed by
        /// the panic hook).
        static REFUSED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    }

    /// The panic message of tokio's refusal of a blocking section.
    const REFUSAL: &str = "can call blocking only when running on the multi-threaded runtime";

    /// Runs `work`, which may block, on this thread through tokio's
    /// `block_in_place` (a worker's other tasks go to another thread first)
    /// when the current runtime is a multi-thread one; `None`, `work` not
    /// run, under a current-thread runtime or none. (On a thread that only
    /// entered a multi-thread runtime's handle, outside its workers and its
    /// `block_on`, tokio runs `work` in place as on any thread that may
    /// block.) tokio refuses, with a panic and before running anything, on
    /// one kind of thread it does not let its callers tell apart: a
    /// current-thread runtime's, inside which a multi-thread runtime's handle
    /// was entered. That refusal is caught (`work` not run: `None`, and the
    /// thread is not asked again; with `panic = "abort"` it cannot be, which
    /// `ManagerBuilder::async_in_place` says); any other panic, of tokio's or
    /// of `work`, goes on unwinding.
    pub(crate) fn blocking_section<T>(work: impl FnOnce() -> T) -> Option<T> {
        let flavor = tokio::runtime::Handle::try_current().ok()?.runtime_flavor();
        if flavor != tokio::runtime::RuntimeFlavor::MultiThread || REFUSED.get() {
            return None;
        }
        let mut work = Some(work);
        let section = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            tokio::task::block_in_place(|| work.take().map(|work| work()))
        }));
        match section {
            Ok(done) => done,
            // Refused before `work` ran.
            Err(panic)
                if work.is_some()
                    && panic
                        .downcast_ref::<String>()
                        .is_some_and(|message| message.contains(REFUSAL)) =>
            {
                REFUSED.set(true);
                tracing::warn!(
                    "tokio refused a blocking section on this thread (a current-thread \
                     runtime's, in a multi-thread runtime's context): its events go \
                     through the plugins' mailboxes"
                );
                None
            }
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }
}

#[cfg(all(target_family = "wasm", target_os = "unknown"))]
mod imp {
    use std::{
        future::Future,
        pin::pin,
        task::{Context, Poll, Waker},
        time::{Duration, SystemTime},
    };

    use wasm_bindgen::prelude::wasm_bindgen;

    use super::WouldWait;

    /// The page's executor. A plugin's calls run in place on its worker task;
    /// a future asked to finish from sync code must finish without waiting.
    #[derive(Clone, Debug)]
    pub(crate) struct Driver;

    impl Driver {
        /// The page's executor.
        pub(crate) fn current() -> Self {
            Driver
        }

        /// The page's executor: always there.
        #[allow(
            clippy::unnecessary_wraps,
            reason = "the native seam has the same signature"
        )]
        pub(crate) fn try_current() -> Option<Self> {
            Some(Driver)
        }

        /// Polls `future` once: a future that finishes without waiting (a
        /// guest run in place) gives its output; one that would wait cannot,
        /// since nothing else runs while this thread is held.
        pub(crate) fn block_on<F: Future>(&self, future: F) -> Result<F::Output, WouldWait> {
            let mut context = Context::from_waker(Waker::noop());
            match pin!(future).poll(&mut context) {
                Poll::Ready(output) => Ok(output),
                Poll::Pending => Err(WouldWait),
            }
        }
    }

    /// Wakes a worker task: a notification that is kept for it if it is not
    /// waiting yet, so none is lost.
    #[derive(Debug, Default)]
    pub(crate) struct Wake(tokio::sync::Notify);

    impl Wake {
        pub(crate) fn notify_one(&self) {
            self.0.notify_one();
        }

        /// One task waits on it at a time: the worker.
        pub(crate) fn notify_all(&self) {
            self.0.notify_one();
        }

        /// Resolves once notified.
        pub(crate) async fn notified(&self) {
            self.0.notified().await;
        }
    }

    /// Runs `work` in place: a page has one thread and no blocking pool.
    #[allow(
        clippy::unused_async,
        reason = "the native seam awaits a blocking thread"
    )]
    pub(crate) async fn run_in_place_or_blocking<T: Send + 'static>(
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Option<T> {
        Some(work())
    }

    /// Runs `futures` one after another (their guest code runs in place, so
    /// side by side would gain nothing).
    pub(crate) async fn join_all<F: Future>(futures: Vec<F>) -> Vec<F::Output> {
        let mut outputs = Vec::with_capacity(futures.len());
        for future in futures {
            outputs.push(future.await);
        }
        outputs
    }

    /// Runs `future` as a task on the page's executor.
    pub(crate) fn spawn_local(future: impl Future<Output = ()> + 'static) {
        wasm_bindgen_futures::spawn_local(future);
    }

    #[wasm_bindgen]
    extern "C" {
        // In windows and workers alike (`globalThis.setTimeout`).
        #[wasm_bindgen(js_name = setTimeout)]
        fn set_timeout(callback: &js_sys::Function, millis: i32) -> wasm_bindgen::JsValue;
    }

    /// Resolves after `duration` or when `wake` is notified, whichever is
    /// first.
    pub(crate) async fn sleep_or_wake(duration: Duration, wake: &Wake) {
        let millis = i32::try_from(duration.as_millis()).unwrap_or(i32::MAX);
        let timer = js_sys::Promise::new(&mut |resolve, _reject| {
            set_timeout(&resolve, millis);
        });
        let mut timer = pin!(wasm_bindgen_futures::JsFuture::from(timer));
        let mut woken = pin!(wake.notified());
        std::future::poll_fn(|cx| {
            if woken.as_mut().poll(cx).is_ready() || timer.as_mut().poll(cx).is_ready() {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
        .await;
    }

    /// Lets the page's other tasks run before this one goes on.
    pub(crate) async fn yield_now() {
        let mut yielded = false;
        std::future::poll_fn(|cx| {
            if yielded {
                Poll::Ready(())
            } else {
                yielded = true;
                cx.waker().wake_by_ref();
                Poll::Pending
            }
        })
        .await;
    }

    /// Never on a page's one thread, which has no other to move its tasks to.
    pub(crate) fn blocking_section<T>(_work: impl FnOnce() -> T) -> Option<T> {
        None
    }

    /// The wall clock: `Date.now()` (std has none on this target).
    pub(crate) fn wall_clock() -> SystemTime {
        let millis = js_sys::Date::now();
        Duration::try_from_secs_f64(millis.max(0.0) / 1000.0)
            .ok()
            .and_then(|since| SystemTime::UNIX_EPOCH.checked_add(since))
            .unwrap_or(SystemTime::UNIX_EPOCH)
    }
}

/// The outcome of `future` run to its end from sync code, with the drive's
/// refusal folded in by `refused`.
pub(crate) fn drive<F, T, E>(
    driver: &Driver,
    future: F,
    refused: impl FnOnce(WouldWait) -> E,
) -> Result<T, E>
where
    F: Future<Output = Result<T, E>>,
{
    driver.block_on(future).unwrap_or_else(|e| Err(refused(e)))
}
