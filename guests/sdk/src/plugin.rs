//! [`Plugin`], the trait a plugin implements, and the [`Context`] it starts
//! with.

use plugin_system_core::{PluginEvent, PluginManifest, PluginResponse, ValueMap};
use serde::{Deserialize, Deserializer, Serialize};

use crate::Error;

/// A plugin: what [`export_plugin!`](crate::export_plugin) turns into the
/// exports of the ABI.
///
/// The host loads the module, reads the [`manifest`](Plugin::manifest),
/// builds the plugin once with [`initialize`](Plugin::initialize), sends it
/// events one at a time ([`handle_event`](Plugin::handle_event)) and finally
/// [`dispose`](Plugin::dispose)s it.
///
/// An `Err` from any of them reaches the host as the failure's message. A
/// panic cannot be caught (plugins build with `panic = "abort"`): the SDK
/// sends its message to the host (as `set_error` and an error log line), then
/// the module traps, which the host reports as a trap of that call. The
/// plugin is then unusable: every later call fails with a message saying so,
/// and the host should reload it.
pub trait Plugin: Sized + 'static {
    /// What the plugin says about itself (the export `plugin_get_manifest`).
    /// Called before [`initialize`](Plugin::initialize), possibly more than
    /// once.
    fn manifest() -> PluginManifest;

    /// Builds the plugin from the host's context (the export
    /// `plugin_initialize`), once, before the first event.
    ///
    /// Optional for a type that implements [`Default`]: the default builds
    /// `Self::default()`. A type that is not `Default` must implement it;
    /// otherwise loading fails with a message that says so.
    ///
    /// If the host sends an event without initializing first, the SDK
    /// initializes with an empty context ([`Context::default`]).
    ///
    /// # Errors
    ///
    /// Any [`Error`]: the host then refuses to load the plugin.
    fn initialize(ctx: Context) -> Result<Self, Error> {
        let _ = ctx;
        Err(Error::default_initialize())
    }

    /// Handles one event (the export `plugin_handle_event`).
    ///
    /// # Errors
    ///
    /// Any [`Error`]: the host reports its message as the failure of the
    /// call. To answer with a response that says `success: false` instead,
    /// return `Ok` with such a response.
    fn handle_event(&mut self, event: PluginEvent) -> Result<PluginResponse, Error>;

    /// Called once before the host unloads the plugin (the export
    /// `plugin_dispose`). The default drops it.
    fn dispose(self) {}

    /// The plugin's state for the version that replaces it in a hot reload
    /// (the export `plugin_snapshot`), in a form of its own choosing; the
    /// host calls it after this version's last event. The default, `None`,
    /// hands nothing over.
    fn snapshot(&self) -> Option<Vec<u8>> {
        None
    }

    /// Takes the state a previous version's [`snapshot`](Self::snapshot)
    /// gave (the export `plugin_restore`), after construction and before the
    /// first event. The default ignores it.
    ///
    /// # Errors
    /// Any [`Error`]: the host records it, and this version serves without
    /// the state (a version that cannot read an older one's bytes says so).
    fn restore(&mut self, state: &[u8]) -> Result<(), Error> {
        let _ = state;
        Ok(())
    }
}

/// What the host tells a plugin when it initializes it: the JSON object
/// `{"pluginId": "...", "config": {...}}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Context {
    /// The identifier the host loaded the plugin under.
    #[serde(default, deserialize_with = "null_as_default")]
    pub plugin_id: String,
    /// The plugin's settings.
    #[serde(default, deserialize_with = "null_as_default")]
    pub config: ValueMap,
}

impl Context {
    /// A context with this identifier and these settings.
    pub fn new(plugin_id: impl Into<String>, config: ValueMap) -> Self {
        Context {
            plugin_id: plugin_id.into(),
            config,
        }
    }
}

fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use plugin_system_core::Value;

    use super::*;

    #[test]
    fn context_reads_the_abi_shape() {
        let ctx: Context =
            serde_json::from_str(r#"{"pluginId":"plugin.x","config":{"a":1},"extra":true}"#)
                .unwrap();
        assert_eq!(ctx.plugin_id, "plugin.x");
        assert_eq!(ctx.config.get("a"), Some(&Value::Int(1)));
        let empty: Context = serde_json::from_str(r#"{"pluginId":null,"config":null}"#).unwrap();
        assert_eq!(empty, Context::default());
        assert_eq!(
            serde_json::from_str::<Context>("{}").unwrap(),
            Context::default()
        );
        assert_eq!(
            serde_json::to_string(&Context::new("p", ValueMap::new())).unwrap(),
            r#"{"pluginId":"p","config":{}}"#
        );
    }
}
