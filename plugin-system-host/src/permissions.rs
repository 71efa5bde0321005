//! Permissions: a plugin declares, the host's policy grants, the runtime
//! enforces.
//!
//! A plugin declares what it needs in its manifest (`requiredHostFunctions`)
//! and its `plugin.toml` (`[permissions]`). A [`PermissionPolicy`] decides per
//! plugin: all that is declared, a subset, or a refusal. Whatever it decides is
//! narrowed to the declaration ([`Grant::within`]): a plugin is never granted
//! more than it asked for.

use std::{collections::BTreeMap, collections::HashMap, time::Duration};

use plugin_system_core::{FilesystemAccessLevel, PluginManifest};

use crate::package::RequestedPermissions;

/// What a plugin may use.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Grant {
    /// Host functions it may call.
    pub host_functions: Vec<String>,
    /// Folders it may open, guest folder to access level; each lives under the
    /// plugin's own data folder.
    pub filesystem: BTreeMap<String, FilesystemAccessLevel>,
    /// How large each of its memories may grow; `None` for the runtime's
    /// default.
    pub max_memory_bytes: Option<u64>,
    /// How long one call may run; `None` for the runtime's default.
    pub max_execution_time: Option<Duration>,
    /// Fuel for each call; `None` for the engine's.
    pub fuel: Option<u64>,
    /// Faults within the restart window that put it in quarantine; `None`
    /// for the host's breaker, which this only makes stricter.
    pub max_restarts: Option<u32>,
}

impl Grant {
    /// Grants these host functions (replacing the list).
    #[must_use]
    pub fn with_host_functions<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.host_functions = names.into_iter().map(Into::into).collect();
        self
    }

    /// Grants the guest folder `dir` with `level`.
    #[must_use]
    pub fn with_folder(mut self, dir: impl Into<String>, level: FilesystemAccessLevel) -> Self {
        self.filesystem.insert(dir.into(), level);
        self
    }

    /// Caps each memory at `bytes`.
    #[must_use]
    pub fn with_max_memory_bytes(mut self, bytes: u64) -> Self {
        self.max_memory_bytes = Some(bytes);
        self
    }

    /// Caps each call at `time`.
    #[must_use]
    pub fn with_max_execution_time(mut self, time: Duration) -> Self {
        self.max_execution_time = Some(time);
        self
    }

    /// Gives each call `fuel`.
    #[must_use]
    pub fn with_fuel(mut self, fuel: u64) -> Self {
        self.fuel = Some(fuel);
        self
    }

    /// Everything a plugin declares: its manifest's `requiredHostFunctions`
    /// and its `[permissions]`.
    pub fn declared(manifest: &PluginManifest, requested: &RequestedPermissions) -> Grant {
        let mut host_functions: Vec<String> = manifest
            .required_host_functions
            .iter()
            .chain(&requested.host_functions)
            .cloned()
            .collect();
        host_functions.sort();
        host_functions.dedup();
        Grant {
            host_functions,
            filesystem: requested.filesystem.clone(),
            max_memory_bytes: requested.max_memory_bytes,
            max_execution_time: requested.max_execution_time,
            fuel: requested.fuel,
            max_restarts: requested.max_restarts,
        }
    }

    /// This grant narrowed to what `declared` holds: host functions and folders
    /// it declared, at most the access it declared, and budgets no larger than
    /// it asked for.
    #[must_use]
    pub fn within(mut self, declared: &Grant) -> Grant {
        self.host_functions
            .retain(|f| declared.host_functions.contains(f));
        self.host_functions.sort();
        self.host_functions.dedup();
        self.filesystem = self
            .filesystem
            .into_iter()
            .filter_map(|(dir, level)| {
                let asked = *declared.filesystem.get(&dir)?;
                Some((dir, if asked.allows(level) { level } else { asked }))
            })
            .collect();
        self.max_memory_bytes = at_most(self.max_memory_bytes, declared.max_memory_bytes);
        self.fuel = at_most(self.fuel, declared.fuel);
        self.max_restarts = at_most(self.max_restarts, declared.max_restarts);
        self.max_execution_time = at_most(self.max_execution_time, declared.max_execution_time);
        self
    }
}

/// The smaller of a granted and a declared budget; either alone when the
/// other is unset.
fn at_most<T: Ord>(granted: Option<T>, asked: Option<T>) -> Option<T> {
    match (granted, asked) {
        (Some(g), Some(a)) => Some(g.min(a)),
        (g, a) => g.or(a),
    }
}

/// What a policy decides for one plugin.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Decision {
    /// All the plugin declares.
    GrantAll,
    /// This much (narrowed to the declaration).
    Grant(Grant),
    /// Nothing: the plugin is not loaded, for this reason.
    Refuse(String),
}

/// Decides what each plugin is granted.
pub trait PermissionPolicy: Send + Sync {
    /// The decision for the plugin `manifest` describes, which asks for
    /// `declared`.
    fn decide(&self, manifest: &PluginManifest, declared: &Grant) -> Decision;
}

/// A policy from a closure.
impl<F> PermissionPolicy for F
where
    F: Fn(&PluginManifest, &Grant) -> Decision + Send + Sync,
{
    fn decide(&self, manifest: &PluginManifest, declared: &Grant) -> Decision {
        self(manifest, declared)
    }
}

/// Grants every plugin all it declares: for plugins the user installed and
/// trusts.
#[derive(Debug, Clone, Copy, Default)]
pub struct GrantDeclared;

impl PermissionPolicy for GrantDeclared {
    fn decide(&self, _: &PluginManifest, _: &Grant) -> Decision {
        Decision::GrantAll
    }
}

/// A fixed table of decisions by plugin id, and one for plugins not in it.
#[derive(Debug, Clone)]
pub struct PolicyTable {
    decisions: HashMap<String, Decision>,
    otherwise: Decision,
}

impl PolicyTable {
    /// A table that decides `otherwise` for every plugin until told more.
    pub fn new(otherwise: Decision) -> Self {
        PolicyTable {
            decisions: HashMap::new(),
            otherwise,
        }
    }

    /// Decides `decision` for the plugin `id`.
    #[must_use]
    pub fn with(mut self, id: impl Into<String>, decision: Decision) -> Self {
        self.decisions.insert(id.into(), decision);
        self
    }
}

impl PermissionPolicy for PolicyTable {
    fn decide(&self, manifest: &PluginManifest, _: &Grant) -> Decision {
        self.decisions
            .get(&manifest.id)
            .unwrap_or(&self.otherwise)
            .clone()
    }
}

/// What a plugin asked for and what it was granted.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PermissionRecord {
    /// What it declared.
    pub declared: Grant,
    /// What it was granted.
    pub granted: Grant,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn declared() -> Grant {
        Grant {
            host_functions: vec!["editor.get_text".into(), "log".into()],
            filesystem: [("cache".to_owned(), FilesystemAccessLevel::ReadWrite)].into(),
            max_memory_bytes: Some(1 << 20),
            max_execution_time: Some(Duration::from_millis(100)),
            fuel: None,
            max_restarts: Some(2),
        }
    }

    #[test]
    fn a_grant_never_exceeds_the_declaration() {
        let generous = Grant {
            host_functions: vec!["log".into(), "fs.delete_everything".into()],
            filesystem: [
                ("cache".to_owned(), FilesystemAccessLevel::ReadOnly),
                ("/".to_owned(), FilesystemAccessLevel::ReadWrite),
            ]
            .into(),
            max_memory_bytes: Some(1 << 30),
            max_execution_time: Some(Duration::from_secs(60)),
            fuel: Some(5),
            max_restarts: Some(9),
        };
        let granted = generous.within(&declared());
        assert_eq!(granted.host_functions, ["log"]);
        assert_eq!(
            granted.filesystem,
            [("cache".to_owned(), FilesystemAccessLevel::ReadOnly)].into()
        );
        assert_eq!(granted.max_memory_bytes, Some(1 << 20));
        assert_eq!(granted.max_execution_time, Some(Duration::from_millis(100)));
        assert_eq!(granted.fuel, Some(5));
        assert_eq!(granted.max_restarts, Some(2));
    }
}
