//! [`PluginState`]: where a plugin is in its life, and the transitions allowed.

use std::fmt;

/// Where a plugin is in its life: the Dart states, and `quarantined` for a
/// plugin the host has given up restarting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PluginState {
    /// Known to the manager, not loaded.
    Unloaded,
    /// Being read, compiled and instantiated.
    Loading,
    /// Loaded, not initialized yet.
    Loaded,
    /// Running its `initialize`.
    Initializing,
    /// Taking events.
    Ready,
    /// Failed to load or to initialize, or failed since; the reason is kept.
    /// It may be loaded again.
    Error,
    /// Unloaded by the host.
    Disposed,
    /// Failed too often; the host stopped restarting it until it is revived.
    Quarantined,
}

impl PluginState {
    /// Every state, in the order of a plugin's life.
    pub const ALL: [PluginState; 8] = [
        PluginState::Unloaded,
        PluginState::Loading,
        PluginState::Loaded,
        PluginState::Initializing,
        PluginState::Ready,
        PluginState::Error,
        PluginState::Disposed,
        PluginState::Quarantined,
    ];

    /// The Dart name: `unloaded`, `loading`, `loaded`, `initializing`,
    /// `ready`, `error`, `disposed`, or `quarantined`.
    pub fn as_str(self) -> &'static str {
        match self {
            PluginState::Unloaded => "unloaded",
            PluginState::Loading => "loading",
            PluginState::Loaded => "loaded",
            PluginState::Initializing => "initializing",
            PluginState::Ready => "ready",
            PluginState::Error => "error",
            PluginState::Disposed => "disposed",
            PluginState::Quarantined => "quarantined",
        }
    }

    /// Whether the plugin takes events (Dart's `isUsable`).
    pub fn is_usable(self) -> bool {
        self == PluginState::Ready
    }

    /// Whether the plugin holds no instance: it failed, was unloaded, or was
    /// given up on (Dart's `isTerminal`, with `quarantined`).
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            PluginState::Error | PluginState::Disposed | PluginState::Quarantined
        )
    }

    /// Whether a plugin in this state may go to `next`: the one table every
    /// transition of the manager is checked against.
    pub fn can_become(self, next: PluginState) -> bool {
        use PluginState::{
            Disposed, Error, Initializing, Loaded, Loading, Quarantined, Ready, Unloaded,
        };
        matches!(
            (self, next),
            (Unloaded | Error | Disposed | Quarantined, Loading)
                | (Loading, Loaded | Error)
                | (Loaded, Initializing | Disposed)
                | (Initializing, Ready | Error | Quarantined | Disposed)
                | (Ready, Initializing | Disposed | Error | Quarantined)
                | (Error, Disposed | Quarantined)
                | (Quarantined, Initializing | Disposed)
        )
    }
}

impl fmt::Display for PluginState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One transition of one plugin, as the manager publishes it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct StateChange {
    /// The plugin's id.
    pub plugin_id: String,
    /// The state it left.
    pub from: PluginState,
    /// The state it is in now.
    pub to: PluginState,
    /// Why, for a change to `error` or `quarantined`.
    pub reason: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_allows_a_life_and_refuses_shortcuts() {
        use PluginState::*;
        let life = [
            Unloaded,
            Loading,
            Loaded,
            Initializing,
            Ready,
            Disposed,
            Loading,
        ];
        for pair in life.windows(2) {
            assert!(pair[0].can_become(pair[1]), "{} -> {}", pair[0], pair[1]);
        }
        for (from, to) in [
            (Unloaded, Ready),
            (Loading, Ready),
            (Loaded, Ready),
            (Disposed, Ready),
            (Quarantined, Ready),
            (Loading, Initializing),
            (Error, Ready),
        ] {
            assert!(!from.can_become(to), "{from} -> {to} must be refused");
        }
        // No state stays put through a transition.
        for state in PluginState::ALL {
            assert!(!state.can_become(state), "{state}");
        }
    }

    #[test]
    fn names_follow_dart() {
        let names: Vec<&str> = PluginState::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(
            names,
            [
                "unloaded",
                "loading",
                "loaded",
                "initializing",
                "ready",
                "error",
                "disposed",
                "quarantined"
            ]
        );
        assert!(PluginState::Ready.is_usable() && !PluginState::Loaded.is_usable());
        assert!(PluginState::Error.is_terminal() && !PluginState::Ready.is_terminal());
    }
}
