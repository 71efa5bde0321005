//! [`PluginManager::watch`]: a plugins folder followed live. A plugin whose
//! files change is reloaded, a plugin folder that appears is loaded, one that
//! disappears is unloaded.

use std::{
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use notify_debouncer_mini::{
    DebounceEventResult, Debouncer, new_debouncer,
    notify::{RecommendedWatcher, RecursiveMode},
};

use super::PluginManager;
use crate::{
    ManagerError, PluginState,
    package::{self, PluginPackage},
};

/// How long a folder must be quiet before its changes are acted on: a build
/// that writes a module in several steps is seen once.
pub const WATCH_DEBOUNCE: Duration = Duration::from_millis(200);

/// A plugins folder being watched; dropping it stops the watching.
pub struct FolderWatch {
    _debouncer: Debouncer<RecommendedWatcher>,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for FolderWatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FolderWatch").finish_non_exhaustive()
    }
}

impl Drop for FolderWatch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl PluginManager {
    /// Watches `dir` (as [`load_dir`](Self::load_dir) reads it) until the
    /// returned guard is dropped. After each burst of changes, once the
    /// folder has been quiet for [`WATCH_DEBOUNCE`]: a plugin whose folder
    /// changed is [reloaded](Self::reload) (a module still half written is a
    /// failed reload that keeps the old version, and the next change retries),
    /// a plugin folder that appeared, or one that failed before and changed,
    /// is loaded, and a plugin whose `plugin.toml` is gone is unloaded.
    /// Failures are recorded in the error tracker ([`errors`](Self::errors)).
    /// Needs a tokio runtime.
    ///
    /// # Errors
    /// [`ManagerError::Watch`] when the system cannot watch `dir`.
    pub fn watch(&self, dir: &Path) -> Result<FolderWatch, ManagerError> {
        let failed = |source: notify_debouncer_mini::notify::Error| ManagerError::Watch {
            dir: dir.to_owned(),
            source,
        };
        let root = dir.canonicalize().map_err(|e| failed(e.into()))?;
        let (changes, mut changed) = tokio::sync::mpsc::unbounded_channel::<Vec<PathBuf>>();
        let mut debouncer =
            new_debouncer(
                WATCH_DEBOUNCE,
                move |result: DebounceEventResult| match result {
                    Ok(events) => {
                        let _ = changes.send(events.into_iter().map(|e| e.path).collect());
                    }
                    Err(e) => tracing::warn!("watching plugins: {e}"),
                },
            )
            .map_err(failed)?;
        debouncer
            .watcher()
            .watch(&root, RecursiveMode::Recursive)
            .map_err(failed)?;
        let manager = Arc::downgrade(&self.inner);
        let task = tokio::spawn(async move {
            while let Some(paths) = changed.recv().await {
                let Some(inner) = manager.upgrade() else {
                    return;
                };
                PluginManager { inner }.follow(&root, &paths).await;
            }
        });
        Ok(FolderWatch {
            _debouncer: debouncer,
            task,
        })
    }

    /// Brings the plugins of `root` in line with the folder, after `changed`.
    async fn follow(&self, root: &Path, changed: &[PathBuf]) {
        let known: Vec<(String, PathBuf, PluginState)> = self
            .plugins_lock()
            .iter()
            .filter_map(|(id, e)| {
                let dir = real_path(&e.package.as_ref()?.dir)?;
                dir.starts_with(root).then(|| (id.clone(), dir, e.state))
            })
            .collect();
        let touched = |dir: &Path| changed.iter().any(|path| path.starts_with(dir));

        // Gone: unloaded (what needs it fails its own events from then on).
        for (id, _, state) in &known {
            let manifest = self
                .plugins_lock()
                .get(id)
                .and_then(|e| Some(e.package.as_ref()?.manifest_path.clone()));
            if *state != PluginState::Disposed
                && manifest.is_some_and(|path| !path.exists())
                && let Err(e) = self.unload(id, true).await
            {
                self.record(id, &e, "unload after its folder went");
            }
        }
        // Changed: reloaded, or loaded again after a failure.
        let discovery = package::discover(root);
        for found in discovery.packages {
            let Some(dir) = real_path(&found.dir) else {
                continue;
            };
            let id = found.manifest.id.clone();
            match known.iter().find(|(_, d, _)| *d == dir) {
                Some((id, _, PluginState::Ready | PluginState::Quarantined)) if touched(&dir) => {
                    if let Err(e) = self.reload(id).await {
                        self.record(id, &e, "reload after a change");
                    }
                }
                Some((_, _, PluginState::Error | PluginState::Disposed)) if touched(&dir) => {
                    self.load_found(found).await;
                }
                None if self
                    .state(&id)
                    .is_none_or(|s| matches!(s, PluginState::Error | PluginState::Disposed)) =>
                {
                    self.load_found(found).await;
                }
                _ => {}
            }
        }
    }

    /// Loads a plugin folder the watcher found.
    async fn load_found(&self, found: PluginPackage) {
        // Through the dependency and host-version checks, as at start-up.
        let report = self.load_packages(vec![found]).await;
        for (id, e) in &report.failed {
            self.record(id, e, "load after a change");
        }
    }
}

/// `dir` with its links resolved, as the watcher reports paths; for a folder
/// that is gone, its parent's.
fn real_path(dir: &Path) -> Option<PathBuf> {
    dir.canonicalize().ok().or_else(|| {
        let parent = dir.parent()?.canonicalize().ok()?;
        Some(parent.join(dir.file_name()?))
    })
}
