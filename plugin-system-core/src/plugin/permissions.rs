//! [`PluginPermissions`] and [`FilesystemAccessLevel`]: what a host lets a plugin do.

use std::{fmt, str::FromStr, time::Duration};

use serde::{Deserialize, Serialize, Serializer};

use super::{ParseEnumError, ValueMap};

/// How much of the filesystem a plugin may touch, ordered from least to most:
/// `None < ReadOnly < ReadWrite < Full`. On the wire: `"none"`, `"readOnly"`,
/// `"readWrite"`, `"full"`.
///
/// ```
/// use plugin_system_core::FilesystemAccessLevel;
///
/// let granted = FilesystemAccessLevel::ReadWrite;
/// assert!(granted >= FilesystemAccessLevel::ReadOnly);
/// assert!(granted < FilesystemAccessLevel::Full);
/// ```
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "camelCase")]
pub enum FilesystemAccessLevel {
    /// No access.
    #[default]
    None,
    /// Reading only.
    ReadOnly,
    /// Reading and writing.
    ReadWrite,
    /// Everything, deleting included.
    Full,
}

impl FilesystemAccessLevel {
    /// The wire string: `none`, `readOnly`, `readWrite` or `full`.
    pub fn as_str(self) -> &'static str {
        match self {
            FilesystemAccessLevel::None => "none",
            FilesystemAccessLevel::ReadOnly => "readOnly",
            FilesystemAccessLevel::ReadWrite => "readWrite",
            FilesystemAccessLevel::Full => "full",
        }
    }

    /// Whether this level grants at least `required`.
    pub fn allows(self, required: FilesystemAccessLevel) -> bool {
        self >= required
    }
}

impl fmt::Display for FilesystemAccessLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for FilesystemAccessLevel {
    type Err = ParseEnumError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "none" => Ok(FilesystemAccessLevel::None),
            "readOnly" => Ok(FilesystemAccessLevel::ReadOnly),
            "readWrite" => Ok(FilesystemAccessLevel::ReadWrite),
            "full" => Ok(FilesystemAccessLevel::Full),
            _ => Err(ParseEnumError::new("filesystem access level", s)),
        }
    }
}

/// What a host lets a plugin do: Dart's `PluginPermissions`.
///
/// On the wire: `allowedHostFunctions` (list), `maxExecutionTime` (an integer of
/// **microseconds**, as Dart's `json_serializable` writes a `Duration`),
/// `maxMemoryBytes`, `maxCallDepth`, `canAccessNetwork`, `filesystemAccess` and
/// `customLimits`. Every key is optional when reading; a missing or `null` one
/// takes the default of [`PluginPermissions::default`].
///
/// ```
/// use std::time::Duration;
/// use plugin_system_core::{FilesystemAccessLevel, PluginPermissions};
///
/// let p = PluginPermissions::default();
/// assert_eq!(p.max_execution_time, Duration::from_secs(5));
/// assert_eq!(p.max_memory_bytes, 50 * 1024 * 1024);
/// assert_eq!(p.max_call_depth, 100);
/// assert!(!p.can_access_network);
/// assert_eq!(p.filesystem_access, FilesystemAccessLevel::None);
///
/// let p = PluginPermissions::default().with_host_functions(["log_info"]);
/// assert!(p.allows_host_function("log_info"));
/// assert!(!p.allows_host_function("open_file"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", from = "PermissionsWire")]
#[non_exhaustive]
pub struct PluginPermissions {
    /// The host functions the plugin may call.
    pub allowed_host_functions: Vec<String>,
    /// How long one call may run (the plugin runtime's deadline of each call).
    /// Default 5 s.
    #[serde(serialize_with = "micros")]
    pub max_execution_time: Duration,
    /// How large each of the plugin's memories may grow (the plugin runtime
    /// caps them). Default 50 MiB.
    pub max_memory_bytes: u64,
    /// How deep calls may nest. Default 100. Kept for the Dart wire format:
    /// engines fix the stack depth for all their instances
    /// (`WasmRuntimeConfig::max_stack_depth`), so a plugin runtime cannot narrow
    /// it for one plugin.
    pub max_call_depth: u32,
    /// Whether the plugin may use the network. Default `false`.
    pub can_access_network: bool,
    /// How much of the filesystem the plugin may touch. Default none. A plugin
    /// runtime offers a WASI plugin only directories within it.
    pub filesystem_access: FilesystemAccessLevel,
    /// Other limits, by name.
    pub custom_limits: Option<ValueMap>,
}

impl PluginPermissions {
    /// Dart's default execution time limit.
    pub const DEFAULT_MAX_EXECUTION_TIME: Duration = Duration::from_secs(5);
    /// Dart's default memory limit: 50 MiB.
    pub const DEFAULT_MAX_MEMORY_BYTES: u64 = 52_428_800;
    /// Dart's default call depth limit.
    pub const DEFAULT_MAX_CALL_DEPTH: u32 = 100;

    /// Replaces the host function allowlist.
    #[must_use]
    pub fn with_host_functions<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.allowed_host_functions = names.into_iter().map(Into::into).collect();
        self
    }

    /// Sets how long one call may run.
    #[must_use]
    pub fn with_max_execution_time(mut self, limit: Duration) -> Self {
        self.max_execution_time = limit;
        self
    }

    /// Sets how much of the filesystem the plugin may touch.
    #[must_use]
    pub fn with_filesystem_access(mut self, level: FilesystemAccessLevel) -> Self {
        self.filesystem_access = level;
        self
    }

    /// Sets how large each of the plugin's memories may grow, in bytes.
    #[must_use]
    pub fn with_max_memory_bytes(mut self, bytes: u64) -> Self {
        self.max_memory_bytes = bytes;
        self
    }

    /// Whether the plugin may call the host function `name`.
    pub fn allows_host_function(&self, name: &str) -> bool {
        self.allowed_host_functions.iter().any(|n| n == name)
    }
}

impl Default for PluginPermissions {
    fn default() -> Self {
        PluginPermissions {
            allowed_host_functions: Vec::new(),
            max_execution_time: Self::DEFAULT_MAX_EXECUTION_TIME,
            max_memory_bytes: Self::DEFAULT_MAX_MEMORY_BYTES,
            max_call_depth: Self::DEFAULT_MAX_CALL_DEPTH,
            can_access_network: false,
            filesystem_access: FilesystemAccessLevel::None,
            custom_limits: None,
        }
    }
}

fn micros<S: Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_u64(u64::try_from(duration.as_micros()).unwrap_or(u64::MAX))
}

/// What the wire may hold: every field optional, `null` meaning the default.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PermissionsWire {
    #[serde(default)]
    allowed_host_functions: Option<Vec<String>>,
    #[serde(default)]
    max_execution_time: Option<u64>,
    #[serde(default)]
    max_memory_bytes: Option<u64>,
    #[serde(default)]
    max_call_depth: Option<u32>,
    #[serde(default)]
    can_access_network: Option<bool>,
    #[serde(default)]
    filesystem_access: Option<FilesystemAccessLevel>,
    #[serde(default)]
    custom_limits: Option<ValueMap>,
}

impl From<PermissionsWire> for PluginPermissions {
    fn from(wire: PermissionsWire) -> Self {
        let d = PluginPermissions::default();
        PluginPermissions {
            allowed_host_functions: wire.allowed_host_functions.unwrap_or_default(),
            max_execution_time: wire
                .max_execution_time
                .map_or(d.max_execution_time, Duration::from_micros),
            max_memory_bytes: wire.max_memory_bytes.unwrap_or(d.max_memory_bytes),
            max_call_depth: wire.max_call_depth.unwrap_or(d.max_call_depth),
            can_access_network: wire.can_access_network.unwrap_or(d.can_access_network),
            filesystem_access: wire.filesystem_access.unwrap_or(d.filesystem_access),
            custom_limits: wire.custom_limits,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_are_ordered_and_named_as_in_dart() {
        use FilesystemAccessLevel::*;
        assert!(None < ReadOnly && ReadOnly < ReadWrite && ReadWrite < Full);
        assert!(Full.allows(ReadOnly) && !ReadOnly.allows(ReadWrite));
        for (level, s) in [
            (None, "none"),
            (ReadOnly, "readOnly"),
            (ReadWrite, "readWrite"),
            (Full, "full"),
        ] {
            assert_eq!(level.as_str(), s);
            assert_eq!(level.to_string(), s);
            assert_eq!(s.parse::<FilesystemAccessLevel>(), Ok(level));
        }
        assert!("read_only".parse::<FilesystemAccessLevel>().is_err());
        assert_eq!(FilesystemAccessLevel::default(), None);
    }

    #[test]
    fn wire_defaults_match_dart() {
        let empty = PermissionsWire {
            allowed_host_functions: Option::None,
            max_execution_time: Option::None,
            max_memory_bytes: Option::None,
            max_call_depth: Option::None,
            can_access_network: Option::None,
            filesystem_access: Option::None,
            custom_limits: Option::None,
        };
        assert_eq!(PluginPermissions::from(empty), PluginPermissions::default());
        let set = PermissionsWire {
            max_execution_time: Some(250_000),
            filesystem_access: Some(FilesystemAccessLevel::Full),
            ..PermissionsWire {
                allowed_host_functions: Some(vec!["f".into()]),
                max_execution_time: Option::None,
                max_memory_bytes: Some(1),
                max_call_depth: Some(2),
                can_access_network: Some(true),
                filesystem_access: Option::None,
                custom_limits: Some(ValueMap::new()),
            }
        };
        let p = PluginPermissions::from(set);
        assert_eq!(p.max_execution_time, Duration::from_millis(250));
        assert_eq!((p.max_memory_bytes, p.max_call_depth), (1, 2));
        assert!(p.can_access_network && p.allows_host_function("f"));
        assert_eq!(p.filesystem_access, FilesystemAccessLevel::Full);
        assert_eq!(p.custom_limits, Some(ValueMap::new()));
    }
}
