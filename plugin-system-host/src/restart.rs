//! [`RestartPolicy`]: how soon a faulted plugin gets a fresh instance, and how
//! many faults put it in quarantine.

use std::{collections::VecDeque, time::Duration};

use plugin_system_core::Instant;

/// How the manager restarts a plugin whose instance a fault left in doubt (a
/// trap, exhausted fuel, a missed deadline, a broken ABI): after a backoff
/// that grows with each fault, until `max_faults` faults within `window` put
/// it in quarantine (VS Code's breaker: 3 in 5 minutes).
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct RestartPolicy {
    /// The wait before the first restart.
    pub backoff_base: Duration,
    /// What each further fault within the window multiplies the wait by.
    pub backoff_factor: f64,
    /// The longest wait.
    pub backoff_max: Duration,
    /// Faults within `window` that quarantine the plugin.
    pub max_faults: u32,
    /// How far back faults count.
    pub window: Duration,
}

impl Default for RestartPolicy {
    fn default() -> Self {
        RestartPolicy {
            backoff_base: Duration::from_millis(100),
            backoff_factor: 2.0,
            backoff_max: Duration::from_secs(30),
            max_faults: 3,
            window: Duration::from_secs(5 * 60),
        }
    }
}

impl RestartPolicy {
    /// Sets the backoff: `base` before the first restart, times `factor` for
    /// each further fault, at most `max`.
    #[must_use]
    pub fn backoff(mut self, base: Duration, factor: f64, max: Duration) -> Self {
        self.backoff_base = base;
        self.backoff_factor = if factor.is_finite() {
            factor.max(1.0)
        } else {
            1.0
        };
        self.backoff_max = max.max(base);
        self
    }

    /// Sets the breaker: `max_faults` (at least 1) within `window`.
    #[must_use]
    pub fn breaker(mut self, max_faults: u32, window: Duration) -> Self {
        self.max_faults = max_faults.max(1);
        self.window = window;
        self
    }

    /// The wait before the restart that follows the `nth` fault (1-based)
    /// within the window.
    pub fn backoff_for(&self, nth: u32) -> Duration {
        let exponent = i32::try_from(nth.saturating_sub(1)).unwrap_or(i32::MAX);
        // The fields are public: a factor below 1 (or NaN) counts as 1.
        let factor = if self.backoff_factor >= 1.0 {
            self.backoff_factor
        } else {
            1.0
        };
        let wait = self.backoff_base.as_secs_f64() * factor.powi(exponent);
        if wait < self.backoff_max.as_secs_f64() {
            Duration::try_from_secs_f64(wait).unwrap_or(self.backoff_max)
        } else {
            self.backoff_max
        }
    }
}

/// The faults of one plugin within the policy's window.
#[derive(Debug, Default)]
pub(crate) struct Breaker {
    faults: VecDeque<Instant>,
}

impl Breaker {
    /// Counts a fault at `now`: the wait before a restart, or `None` when
    /// the breaker trips.
    pub(crate) fn fault(&mut self, policy: &RestartPolicy, now: Instant) -> Option<Duration> {
        while self
            .faults
            .front()
            .is_some_and(|at| now.saturating_duration_since(*at) > policy.window)
        {
            self.faults.pop_front();
        }
        self.faults.push_back(now);
        let count = u32::try_from(self.faults.len()).unwrap_or(u32::MAX);
        (count < policy.max_faults).then(|| policy.backoff_for(count))
    }

    /// Forgets every fault (the host revived the plugin).
    pub(crate) fn reset(&mut self) {
        self.faults.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backoff_grows_to_its_ceiling() {
        let policy = RestartPolicy::default().backoff(
            Duration::from_millis(100),
            2.0,
            Duration::from_millis(500),
        );
        let waits: Vec<_> = (1..=5).map(|n| policy.backoff_for(n).as_millis()).collect();
        assert_eq!(waits, [100, 200, 400, 500, 500]);
        assert_eq!(
            policy.backoff_for(u32::MAX),
            Duration::from_millis(500),
            "no overflow"
        );
        let odd = RestartPolicy::default().backoff(Duration::ZERO, f64::NAN, Duration::ZERO);
        assert_eq!(odd.backoff_for(3), Duration::ZERO);
        let mut raw = RestartPolicy {
            backoff_factor: -3.0,
            backoff_max: Duration::MAX,
            ..RestartPolicy::default()
        };
        assert_eq!(raw.backoff_for(7), raw.backoff_base, "a bad factor is 1");
        raw.backoff_factor = f64::INFINITY;
        assert_eq!(raw.backoff_for(7), Duration::MAX);
    }

    #[test]
    fn the_breaker_trips_on_faults_within_the_window_only() {
        let policy = RestartPolicy::default().breaker(3, Duration::from_secs(60));
        let mut breaker = Breaker::default();
        let start = Instant::now();
        let at = |secs| start + Duration::from_secs(secs);
        assert!(breaker.fault(&policy, at(0)).is_some());
        assert!(breaker.fault(&policy, at(1)).is_some());
        assert!(breaker.fault(&policy, at(30)).is_none(), "3 within 60 s");
        breaker.reset();
        // Faults further apart than the window never add up.
        for secs in [100, 200, 300, 400] {
            assert!(breaker.fault(&policy, at(secs)).is_some(), "{secs}");
        }
    }
}
