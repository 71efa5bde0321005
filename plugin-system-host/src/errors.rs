//! The error tracker: the latest errors of each plugin, with a severity, and a
//! channel that publishes each as it is recorded (Dart's `ErrorTracker`).

use std::{
    collections::{BTreeMap, HashMap, VecDeque},
    sync::Mutex,
    time::SystemTime,
};

use tokio::sync::broadcast;

/// How many errors are kept per plugin: the latest ones.
pub const ERRORS_KEPT: usize = 100;

/// How bad an error is: Dart's `ErrorSeverity`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum ErrorSeverity {
    /// For debugging.
    Debug,
    /// Worth knowing.
    Info,
    /// The plugin failed a call, and stays usable.
    Warning,
    /// The plugin failed to load, to initialize or to answer.
    Error,
    /// The plugin is unusable.
    Fatal,
}

impl ErrorSeverity {
    /// `debug`, `info`, `warning`, `error` or `fatal`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorSeverity::Debug => "debug",
            ErrorSeverity::Info => "info",
            ErrorSeverity::Warning => "warning",
            ErrorSeverity::Error => "error",
            ErrorSeverity::Fatal => "fatal",
        }
    }
}

/// One error of one plugin.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ErrorRecord {
    /// The plugin.
    pub plugin_id: String,
    /// What happened, in one line.
    pub message: String,
    /// The error's kind (`timeout`, `trap`, `dependency`, ...).
    pub kind: &'static str,
    /// How bad it is.
    pub severity: ErrorSeverity,
    /// What the plugin was doing: `load`, `event <type>`, `dispose`.
    pub context: String,
    /// When.
    pub time: SystemTime,
}

impl ErrorRecord {
    /// A record of now.
    pub(crate) fn now(
        plugin_id: &str,
        message: String,
        kind: &'static str,
        severity: ErrorSeverity,
        context: impl Into<String>,
    ) -> Self {
        ErrorRecord {
            plugin_id: plugin_id.to_owned(),
            message,
            kind,
            severity,
            context: context.into(),
            time: crate::exec::wall_clock(),
        }
    }
}

/// The latest [`ERRORS_KEPT`] errors of each plugin.
#[derive(Debug)]
pub(crate) struct ErrorTracker {
    kept: Mutex<HashMap<String, VecDeque<ErrorRecord>>>,
    totals: Mutex<HashMap<String, u64>>,
    published: broadcast::Sender<ErrorRecord>,
}

impl Default for ErrorTracker {
    fn default() -> Self {
        ErrorTracker {
            kept: Mutex::default(),
            totals: Mutex::default(),
            published: broadcast::channel(1024).0,
        }
    }
}

impl ErrorTracker {
    /// Keeps `record` (dropping the plugin's oldest past [`ERRORS_KEPT`]) and
    /// publishes it.
    pub(crate) fn record(&self, record: ErrorRecord) {
        tracing::debug!(plugin = %record.plugin_id, severity = record.severity.as_str(), "{}", record.message);
        if let Ok(mut kept) = self.kept.lock() {
            let ring = kept.entry(record.plugin_id.clone()).or_default();
            if ring.len() == ERRORS_KEPT {
                ring.pop_front();
            }
            ring.push_back(record.clone());
        }
        if let Ok(mut totals) = self.totals.lock() {
            *totals.entry(record.plugin_id.clone()).or_default() += 1;
        }
        // Nobody listening is no error.
        let _ = self.published.send(record);
    }

    /// The kept errors of `plugin_id`, oldest first.
    pub(crate) fn of(&self, plugin_id: &str) -> Vec<ErrorRecord> {
        self.kept
            .lock()
            .map(|kept| kept.get(plugin_id).map(|r| r.iter().cloned().collect()))
            .ok()
            .flatten()
            .unwrap_or_default()
    }

    /// Every error from now on.
    pub(crate) fn subscribe(&self) -> broadcast::Receiver<ErrorRecord> {
        self.published.subscribe()
    }

    /// Dart's error statistics.
    pub(crate) fn stats(&self) -> ErrorStats {
        let totals = self.totals.lock().map(|t| t.clone()).unwrap_or_default();
        let mut by_severity = BTreeMap::new();
        if let Ok(kept) = self.kept.lock() {
            for record in kept.values().flatten() {
                *by_severity.entry(record.severity.as_str()).or_insert(0) += 1;
            }
        }
        let most = totals
            .iter()
            .max_by(|a, b| a.1.cmp(b.1).then_with(|| b.0.cmp(a.0)));
        ErrorStats {
            total_errors: totals.values().sum(),
            plugins_with_errors: totals.len(),
            most_errors_plugin: most.map(|(id, _)| id.clone()),
            by_severity,
        }
    }
}

/// The error part of [`Statistics`](crate::Statistics), with Dart's keys.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct ErrorStats {
    /// Errors recorded, all plugins.
    pub total_errors: u64,
    /// Plugins with at least one.
    pub plugins_with_errors: usize,
    /// The plugin with the most.
    pub most_errors_plugin: Option<String>,
    /// Kept errors by severity.
    pub by_severity: BTreeMap<&'static str, u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(plugin: &str, n: usize, severity: ErrorSeverity) -> ErrorRecord {
        ErrorRecord {
            plugin_id: plugin.into(),
            message: format!("error {n}"),
            kind: "test",
            severity,
            context: "event".into(),
            time: crate::exec::wall_clock(),
        }
    }

    #[test]
    fn the_latest_hundred_are_kept_and_counted() {
        let tracker = ErrorTracker::default();
        let mut published = tracker.subscribe();
        for n in 0..150 {
            tracker.record(record("a", n, ErrorSeverity::Warning));
        }
        tracker.record(record("b", 0, ErrorSeverity::Fatal));
        let kept = tracker.of("a");
        assert_eq!(kept.len(), ERRORS_KEPT);
        assert_eq!(kept[0].message, "error 50");
        assert_eq!(published.try_recv().unwrap().message, "error 0");
        let stats = tracker.stats();
        assert_eq!(stats.total_errors, 151);
        assert_eq!(stats.plugins_with_errors, 2);
        assert_eq!(stats.most_errors_plugin.as_deref(), Some("a"));
        assert_eq!(stats.by_severity["warning"], 100);
        assert_eq!(stats.by_severity["fatal"], 1);
    }
}
