//! [`PluginManifest`]: what a plugin says about itself.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};

use super::{ParseEnumError, Value, ValueMap, null_as_default};

/// Which runtime runs a plugin. On the wire: `"wasm"`, `"native"` or `"script"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum PluginRuntimeType {
    /// WebAssembly.
    Wasm,
    /// Code of the host's own language, linked into the host.
    Native,
    /// A scripting language (reserved; Dart had no script runtime either).
    Script,
}

impl PluginRuntimeType {
    /// The wire string: `wasm`, `native` or `script`.
    pub fn as_str(self) -> &'static str {
        match self {
            PluginRuntimeType::Wasm => "wasm",
            PluginRuntimeType::Native => "native",
            PluginRuntimeType::Script => "script",
        }
    }
}

impl fmt::Display for PluginRuntimeType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for PluginRuntimeType {
    type Err = ParseEnumError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "wasm" => Ok(PluginRuntimeType::Wasm),
            "native" => Ok(PluginRuntimeType::Native),
            "script" => Ok(PluginRuntimeType::Script),
            _ => Err(ParseEnumError::new("runtime type", s)),
        }
    }
}

/// A plugin's description of itself: Dart's `PluginManifest`.
///
/// On the wire it is a map with the Dart keys (`id`, `name`, `version`,
/// `description`, `runtime`, `author`, `homepage`, `repository`, `license`,
/// `dependencies`, `configSchema`, `requiredHostFunctions`, `providedEvents`,
/// `subscribesTo`, `minHostVersion`, `maxHostVersion`, `metadata`), `null`
/// written for absent fields. The first five are required when reading; missing
/// or `null` lists are empty.
///
/// ```
/// use plugin_system_core::{PluginManifest, PluginRuntimeType};
///
/// let mut manifest = PluginManifest::new(
///     "plugin.file-icons",
///     "File Icons",
///     "1.0.0",
///     "Icons for 150+ file types",
///     PluginRuntimeType::Wasm,
/// );
/// manifest.required_host_functions = vec!["log_info".to_owned()];
/// manifest.subscribes_to = vec!["file.opened".to_owned()];
/// assert_eq!(manifest.runtime.as_str(), "wasm");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct PluginManifest {
    /// Unique identifier, reverse-domain style: `plugin.file-icons`.
    pub id: String,
    /// Name for people.
    pub name: String,
    /// Semantic version: `1.0.0`, `2.1.3-beta`.
    pub version: String,
    /// What the plugin does, in a sentence.
    pub description: String,
    /// The runtime that runs it.
    pub runtime: PluginRuntimeType,
    /// Author or organisation.
    #[serde(default)]
    pub author: Option<String>,
    /// Homepage URL.
    #[serde(default)]
    pub homepage: Option<String>,
    /// Source repository URL.
    #[serde(default)]
    pub repository: Option<String>,
    /// License, as an SPDX expression.
    #[serde(default)]
    pub license: Option<String>,
    /// Identifiers of the plugins that must be loaded first.
    #[serde(default, deserialize_with = "null_as_default")]
    pub dependencies: Vec<String>,
    /// A JSON Schema of the plugin's settings.
    #[serde(default)]
    pub config_schema: Option<ValueMap>,
    /// The host functions the plugin calls: its permission allowlist.
    #[serde(default, deserialize_with = "null_as_default")]
    pub required_host_functions: Vec<String>,
    /// The event types the plugin emits.
    #[serde(default, deserialize_with = "null_as_default")]
    pub provided_events: Vec<String>,
    /// The event types the plugin wants to receive.
    #[serde(default, deserialize_with = "null_as_default")]
    pub subscribes_to: Vec<String>,
    /// The lowest host version the plugin works with.
    #[serde(default)]
    pub min_host_version: Option<String>,
    /// The highest host version the plugin works with.
    #[serde(default)]
    pub max_host_version: Option<String>,
    /// Anything else.
    #[serde(default)]
    pub metadata: Option<ValueMap>,
}

impl PluginManifest {
    /// A manifest with the required fields and every other one empty.
    pub fn new(
        id: impl Into<String>,
        name: impl Into<String>,
        version: impl Into<String>,
        description: impl Into<String>,
        runtime: PluginRuntimeType,
    ) -> Self {
        PluginManifest {
            id: id.into(),
            name: name.into(),
            version: version.into(),
            description: description.into(),
            runtime,
            author: None,
            homepage: None,
            repository: None,
            license: None,
            dependencies: Vec::new(),
            config_schema: None,
            required_host_functions: Vec::new(),
            provided_events: Vec::new(),
            subscribes_to: Vec::new(),
            min_host_version: None,
            max_host_version: None,
            metadata: None,
        }
    }
}

impl PluginManifest {
    /// The `metadata` key by which a plugin declares that it keeps no state
    /// between events that a fresh instance, initialized again, would lack.
    pub const STATELESS_KEY: &'static str = "stateless";

    /// Whether the plugin declares itself stateless (`"stateless": true` in
    /// its `metadata`): a host may then replace its instance with a fresh one
    /// at any time, as a tiered runtime does when the faster compile is
    /// ready, by initializing the new one with the same context.
    pub fn is_stateless(&self) -> bool {
        self.metadata
            .as_ref()
            .and_then(|metadata| metadata.get(Self::STATELESS_KEY))
            .is_some_and(|value| matches!(value, Value::Bool(true)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runtime_strings_match_dart() {
        for (rt, s) in [
            (PluginRuntimeType::Wasm, "wasm"),
            (PluginRuntimeType::Native, "native"),
            (PluginRuntimeType::Script, "script"),
        ] {
            assert_eq!(rt.as_str(), s);
            assert_eq!(rt.to_string(), s);
            assert_eq!(s.parse::<PluginRuntimeType>(), Ok(rt));
        }
        let err = "WASM".parse::<PluginRuntimeType>().unwrap_err();
        assert_eq!(err.to_string(), "unknown runtime type: `WASM`");
        assert_eq!(err.kind(), "runtime type");
    }

    #[test]
    fn stateless_is_declared_in_metadata() {
        let mut m = PluginManifest::new("a", "A", "1.0.0", "d", PluginRuntimeType::Wasm);
        assert!(!m.is_stateless());
        m.metadata = Some(ValueMap::from([(
            "stateless".to_owned(),
            Value::from("yes"),
        )]));
        assert!(!m.is_stateless(), "only the bool true declares it");
        m.metadata = Some(ValueMap::from([(
            "stateless".to_owned(),
            Value::Bool(true),
        )]));
        assert!(m.is_stateless());
    }

    #[test]
    fn new_leaves_optional_fields_empty() {
        let m = PluginManifest::new("a", "A", "1.0.0", "d", PluginRuntimeType::Native);
        assert!(m.dependencies.is_empty() && m.subscribes_to.is_empty());
        assert!(m.config_schema.is_none() && m.metadata.is_none() && m.author.is_none());
    }
}
