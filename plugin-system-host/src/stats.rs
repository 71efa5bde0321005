//! Per-plugin counters: events handled, failures, and handling times.

use plugin_system_core::PluginUsage;
use std::{
    sync::atomic::{AtomicU32, AtomicU64, Ordering},
    time::Duration,
};

/// How many handling times a plugin keeps for its percentiles: the latest ones.
const TIMES_KEPT: usize = 1024;

/// What the manager counts for one plugin. Shared with its task.
#[derive(Debug)]
pub(crate) struct PluginCounters {
    handled: AtomicU64,
    failed: AtomicU64,
    /// Events handled with no hand-off to the plugin's own thread.
    in_place: AtomicU64,
    /// The latest handling times in nanoseconds, a ring of [`TIMES_KEPT`]
    /// written without a lock (whoever runs an event records it); `u64::MAX`
    /// marks a place not written yet.
    times: Box<[AtomicU64]>,
    /// How many plugin-to-plugin hops led to the event being handled now (0
    /// for one the host sent).
    depth: AtomicU32,
    restarts: AtomicU64,
}

impl Default for PluginCounters {
    fn default() -> Self {
        PluginCounters {
            handled: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            in_place: AtomicU64::new(0),
            times: (0..TIMES_KEPT).map(|_| AtomicU64::new(u64::MAX)).collect(),
            depth: AtomicU32::new(0),
            restarts: AtomicU64::new(0),
        }
    }
}

impl PluginCounters {
    /// The chain depth of the event the plugin is handling now.
    pub(crate) fn depth(&self) -> u32 {
        self.depth.load(Ordering::Relaxed)
    }

    /// Marks the start of an event `depth` hops from the host.
    pub(crate) fn set_depth(&self, depth: u32) {
        self.depth.store(depth, Ordering::Relaxed);
    }

    /// Counts a restart on a fresh instance.
    pub(crate) fn restarted(&self) {
        self.restarts.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one event and how long it took; the events handled, this one
    /// with them.
    pub(crate) fn record(&self, took: Duration, ok: bool) -> u64 {
        let count = self.handled.fetch_add(1, Ordering::Relaxed);
        if !ok {
            self.failed.fetch_add(1, Ordering::Relaxed);
        }
        // Below u64::MAX, the mark of an empty place: 584 years.
        let nanos = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX - 1);
        self.times[count as usize % TIMES_KEPT].store(nanos.min(u64::MAX - 1), Ordering::Relaxed);
        count.wrapping_add(1)
    }

    /// The events handled.
    pub(crate) fn handled(&self) -> u64 {
        self.handled.load(Ordering::Relaxed)
    }

    /// Counts an event handled with no hand-off to the plugin's thread.
    pub(crate) fn ran_in_place(&self) {
        self.in_place.fetch_add(1, Ordering::Relaxed);
    }

    /// How long the latest event took; `Duration::MAX` before the first.
    pub(crate) fn last_time(&self) -> Duration {
        let count = self.handled.load(Ordering::Relaxed);
        let Some(last) = count.checked_sub(1) else {
            return Duration::MAX;
        };
        match self.times[last as usize % TIMES_KEPT].load(Ordering::Relaxed) {
            u64::MAX => Duration::MAX,
            nanos => Duration::from_nanos(nanos),
        }
    }

    /// The counters as they are now, with what the plugin holds.
    pub(crate) fn snapshot(&self, usage: PluginUsage) -> PluginStats {
        let mut times: Vec<Duration> = self
            .times
            .iter()
            .map(|t| t.load(Ordering::Relaxed))
            .filter(|nanos| *nanos != u64::MAX)
            .map(Duration::from_nanos)
            .collect();
        times.sort_unstable();
        let at = |q: f64| -> Option<Duration> {
            let last = times.len().checked_sub(1)?;
            // Nearest rank: the smallest time at or above the quantile.
            let rank = ((q * times.len() as f64).ceil() as usize).clamp(1, last + 1) - 1;
            times.get(rank).copied()
        };
        PluginStats {
            events_handled: self.handled.load(Ordering::Relaxed),
            failures: self.failed.load(Ordering::Relaxed),
            events_in_place: self.in_place.load(Ordering::Relaxed),
            median_time: at(0.5),
            p99_time: at(0.99),
            restarts: self.restarts.load(Ordering::Relaxed),
            fuel_consumed: usage.fuel_consumed,
            memory_pages: usage
                .memory_bytes
                .map(|bytes| bytes.div_ceil(plugin_system_core::PAGE_SIZE)),
        }
    }
}

/// One plugin's event statistics.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct PluginStats {
    /// Events the plugin handled, answered or failed.
    pub events_handled: u64,
    /// Events it failed (an error, not a response with `success: false`).
    pub failures: u64,
    /// Of the events handled, those run where they were sent or broadcast,
    /// with no hand-off to the plugin's own thread (the plugin was idle):
    /// on a blocking sender's thread, an async one's in a blocking section,
    /// or the thread running a broadcast.
    pub events_in_place: u64,
    /// The median handling time of the latest events (in microseconds when
    /// serialized).
    #[serde(rename = "median_us", serialize_with = "micros")]
    pub median_time: Option<Duration>,
    /// The 99th percentile handling time of the latest events.
    #[serde(rename = "p99_us", serialize_with = "micros")]
    pub p99_time: Option<Duration>,
    /// Restarts on a fresh instance after a fault.
    pub restarts: u64,
    /// The fuel the plugin has burnt, when its runtime meters fuel.
    pub fuel_consumed: Option<u64>,
    /// The 64 KiB pages of its memory, when its runtime can tell.
    pub memory_pages: Option<u64>,
}

fn micros<S: serde::Serializer>(time: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match time {
        Some(t) => s.serialize_some(&u64::try_from(t.as_micros()).unwrap_or(u64::MAX)),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_of_the_latest_times() {
        let c = PluginCounters::default();
        assert_eq!(c.snapshot(PluginUsage::default()), PluginStats::default());
        for ms in 1..=100 {
            c.record(Duration::from_millis(ms), ms % 10 != 0);
        }
        let s = c.snapshot(PluginUsage::new(Some(65_537), Some(7)));
        assert_eq!((s.memory_pages, s.fuel_consumed), (Some(2), Some(7)));
        assert_eq!((s.events_handled, s.failures), (100, 10));
        assert_eq!(s.median_time, Some(Duration::from_millis(50)));
        assert_eq!(s.p99_time, Some(Duration::from_millis(99)));
    }
}
