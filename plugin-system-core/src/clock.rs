//! The monotonic clock deadlines are measured with.
//!
//! Everywhere but `wasm32-unknown-unknown` this is `std::time::Instant`. On that
//! target std has no clock (`Instant::now` panics), so [`Instant`] is a point on
//! the page's own monotonic clock, `performance.now()`, read through
//! wasm-bindgen when the `web` feature is on. Without it (a guest, which must
//! not import JavaScript) there is no clock, and asking for the time panics as
//! std's does, with a message that names the feature.

#[cfg(not(all(target_family = "wasm", target_os = "unknown")))]
pub use std::time::Instant;

#[cfg(all(target_family = "wasm", target_os = "unknown"))]
pub use no_std_clock::Instant;

#[cfg(all(target_family = "wasm", target_os = "unknown"))]
mod no_std_clock {
    use std::time::Duration;

    /// A point on the page's monotonic clock, in milliseconds since the page (or
    /// worker) started, as `performance.now()` gives it.
    #[derive(Debug, Clone, Copy)]
    pub struct Instant(f64);

    // `performance.now()` is never NaN; `total_cmp` makes the order total anyway.
    impl PartialEq for Instant {
        fn eq(&self, other: &Self) -> bool {
            self.cmp(other).is_eq()
        }
    }

    impl Eq for Instant {}

    impl PartialOrd for Instant {
        fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
            Some(self.cmp(other))
        }
    }

    impl Ord for Instant {
        fn cmp(&self, other: &Self) -> std::cmp::Ordering {
            self.0.total_cmp(&other.0)
        }
    }

    impl Instant {
        /// Now, on the page's monotonic clock.
        ///
        /// # Panics
        /// Without plugin-system-core's `web` feature, which this target needs
        /// for a clock (std's `Instant::now` panics here as well).
        pub fn now() -> Self {
            Instant(now_millis())
        }

        /// `self + duration`, `None` past what an `f64` of milliseconds holds.
        pub fn checked_add(&self, duration: Duration) -> Option<Self> {
            let at = self.0 + duration.as_secs_f64() * 1000.0;
            at.is_finite().then_some(Instant(at))
        }

        /// Time since `self`, as std's `Instant::elapsed`.
        pub fn elapsed(&self) -> Duration {
            Instant::now().saturating_duration_since(*self)
        }

        /// Time from `earlier` to `self`, zero when `earlier` is later.
        pub fn saturating_duration_since(&self, earlier: Instant) -> Duration {
            Duration::try_from_secs_f64((self.0 - earlier.0).max(0.0) / 1000.0)
                .unwrap_or(Duration::MAX)
        }
    }

    #[cfg(feature = "web")]
    fn now_millis() -> f64 {
        use wasm_bindgen::prelude::wasm_bindgen;

        #[wasm_bindgen]
        extern "C" {
            // On windows and workers alike (`globalThis.performance`).
            #[wasm_bindgen(js_namespace = performance, js_name = now)]
            fn performance_now() -> f64;
        }
        performance_now()
    }

    #[cfg(not(feature = "web"))]
    fn now_millis() -> f64 {
        panic!("no clock on wasm32-unknown-unknown without plugin-system-core's `web` feature")
    }
}
