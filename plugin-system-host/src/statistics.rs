//! [`Statistics`]: the manager's numbers, with the Dart original's keys.

use std::{
    collections::{BTreeMap, HashMap},
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
};

use crate::{errors::ErrorStats, stats::PluginStats};

/// What [`PluginManager::statistics`](crate::PluginManager::statistics) gives:
/// Dart's `getStatistics()` keys, and each plugin's own numbers.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
#[non_exhaustive]
pub struct Statistics {
    /// The plugins by state.
    pub registry: RegistryStats,
    /// The host functions and their calls.
    pub host_functions: HostFunctionStats,
    /// The events sent and broadcast.
    pub dispatcher: DispatcherStats,
    /// What the plugins were granted.
    pub permissions: PermissionStats,
    /// The errors recorded.
    pub errors: ErrorStats,
    /// Each plugin's event numbers, by id.
    pub plugins: BTreeMap<String, PluginStats>,
}

/// Plugins by state.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct RegistryStats {
    /// Plugins the manager knows.
    pub total: usize,
    /// Ready.
    pub ready: usize,
    /// In error.
    pub error: usize,
    /// Loading.
    pub loading: usize,
    /// Initializing.
    pub initializing: usize,
}

/// Host functions and their calls.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct HostFunctionStats {
    /// Functions registered.
    pub total_functions: usize,
    /// Calls, all functions.
    pub total_calls: u64,
    /// The function called most.
    pub most_called: Option<String>,
    /// Its calls.
    pub most_called_count: u64,
}

/// Events sent and broadcast.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct DispatcherStats {
    /// Events sent or broadcast (a broadcast counts once).
    pub total_dispatched: u64,
    /// Event types seen.
    pub unique_types: usize,
    /// The type seen most.
    pub most_common: Option<String>,
    /// Its count.
    pub most_common_count: u64,
    /// Broadcast recipients that the manager's broadcast thread took beside
    /// a thread that ran the broadcast itself (a blocking broadcaster's, or
    /// an async one's in a blocking section).
    pub recipients_helped: u64,
}

/// What the plugins were granted.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
#[non_exhaustive]
pub struct PermissionStats {
    /// Plugins with a grant.
    pub total_plugins: usize,
    /// Host functions granted per plugin, on average.
    pub avg_host_functions: f64,
    /// Plugins granted the network (none can be: no runtime offers sockets).
    pub plugins_with_network: usize,
    /// Plugins granted a folder.
    pub plugins_with_filesystem: usize,
}

/// Counts by name, shared with the closures that count.
#[derive(Debug, Default)]
pub(crate) struct Tally(Mutex<HashMap<String, Arc<AtomicU64>>>);

impl Tally {
    /// The counter of `name`, made at 0 if new.
    pub(crate) fn counter(&self, name: &str) -> Arc<AtomicU64> {
        let mut counts = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // A name seen before costs no allocation.
        if let Some(counter) = counts.get(name) {
            return Arc::clone(counter);
        }
        Arc::clone(counts.entry(name.to_owned()).or_default())
    }

    /// Adds one to `name`.
    pub(crate) fn add(&self, name: &str) {
        let counts = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(counter) = counts.get(name) {
            counter.fetch_add(1, Ordering::Relaxed);
            return;
        }
        drop(counts);
        self.counter(name).fetch_add(1, Ordering::Relaxed);
    }

    /// How many names, the total, and the name counted most (ties: the first
    /// by name) with its count.
    pub(crate) fn summary(&self) -> (usize, u64, Option<String>, u64) {
        let counts = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let loaded: Vec<(&String, u64)> = counts
            .iter()
            .map(|(name, n)| (name, n.load(Ordering::Relaxed)))
            .collect();
        let total = loaded.iter().map(|(_, n)| n).sum();
        let most = loaded
            .iter()
            .filter(|(_, n)| *n > 0)
            .max_by(|a, b| a.1.cmp(&b.1).then_with(|| b.0.cmp(a.0)));
        (
            counts.len(),
            total,
            most.map(|(name, _)| (*name).clone()),
            most.map_or(0, |(_, n)| *n),
        )
    }
}
