//! `plugin.share`: shares the open document. It reads the text with the host
//! function `editor.get_text` and posts it with `net.post` (arguments
//! `{"url": ..., "body": ...}`; the result a map whose `url` string says where
//! the document can now be read).
//!
//! Event `share` answers `{"url": ..., "bytes": N}`. It posts to the `server`
//! of its settings (`[config]` in its `plugin.toml`), or to
//! [`DEFAULT_SERVER`]. A host that refuses it either function fails the
//! event: the plugin passes the refusal on, and posts nothing.

use std::collections::BTreeMap;

use plugin_system_guest::prelude::*;
use serde::{Deserialize, Serialize};

/// The host function that supplies the document's text.
pub const GET_TEXT: &str = "editor.get_text";
/// The host function that sends a request over the network.
pub const POST: &str = "net.post";
/// Where the plugin posts without a `server` setting.
pub const DEFAULT_SERVER: &str = "https://paste.example";

/// The plugin: where it posts (its settings).
#[derive(Deserialize)]
pub struct Share {
    server: Option<String>,
}

/// Where the document can be read (`net.post`'s answer), and its size.
#[derive(Serialize, Deserialize)]
struct Shared {
    url: String,
    #[serde(default)]
    bytes: usize,
}

impl Plugin for Share {
    fn manifest() -> PluginManifest {
        PluginManifest::wasm(
            "plugin.share",
            "Share",
            env!("CARGO_PKG_VERSION"),
            "Shares the open document through a paste service",
        )
        .with_required_host_functions([GET_TEXT, POST])
        .with_subscriptions(["share"])
    }

    fn initialize(ctx: Context) -> Result<Self, Error> {
        Ok(Value::Map(ctx.config).deserialize_into()?)
    }

    fn handle_event(&mut self, event: PluginEvent) -> Result<PluginResponse, Error> {
        match event.event_type.as_str() {
            "share" => {
                let text: String = host::call_as(GET_TEXT, &ValueMap::new())?;
                let server = self.server.as_deref().unwrap_or(DEFAULT_SERVER);
                let post = BTreeMap::from([("url", server), ("body", &text)]);
                let posted: Shared = host::call_as(POST, &post)?;
                let bytes = text.len();
                Ok(PluginResponse::success_from(&Shared { bytes, ..posted })?)
            }
            other => bail!("unsupported event type: {other}"),
        }
    }
}

export_plugin!(Share);

#[cfg(test)]
mod tests {
    use plugin_system_guest::abi::live_buffers;
    use plugin_system_guest::testing::{self, Harness};

    use super::*;

    fn started(config: ValueMap) -> Harness<Share> {
        let plugin = Harness::<Share>::new();
        plugin
            .initialize(&Context::new("plugin.share", config))
            .unwrap();
        plugin
    }

    #[test]
    fn reads_the_document_and_posts_it_to_its_server() {
        let config: ValueMap = [("server".to_owned(), Value::from("https://paste.test"))]
            .into_iter()
            .collect();
        let plugin = started(config);
        testing::mock_host(|name, args| match name {
            GET_TEXT => Ok(Value::from("fn main() {}")),
            POST => {
                assert_eq!(
                    args.get("url").and_then(Value::as_str),
                    Some("https://paste.test")
                );
                assert_eq!(
                    args.get("body").and_then(Value::as_str),
                    Some("fn main() {}")
                );
                Ok([("url", "https://paste.test/1")].into_iter().collect())
            }
            other => panic!("unexpected host call {other}"),
        });
        let response = plugin.handle(&PluginEvent::new("share")).unwrap();
        assert_eq!(
            response.get("url").and_then(Value::as_str),
            Some("https://paste.test/1")
        );
        assert_eq!(response.get("bytes").and_then(Value::as_i64), Some(12));
        assert_eq!(live_buffers(), 0);
    }

    #[test]
    fn a_refused_post_fails_the_event() {
        let plugin = started(ValueMap::new());
        testing::mock_host(|name, _| match name {
            GET_TEXT => Ok(Value::from("text")),
            _ => Err(HostCallError::Denied(format!("may not call `{name}`"))),
        });
        assert_eq!(
            plugin.handle(&PluginEvent::new("share")).unwrap_err(),
            "host call denied: may not call `net.post`"
        );
    }

    #[test]
    fn refuses_a_server_that_is_not_a_string() {
        let plugin = Harness::<Share>::new();
        let config: ValueMap = [("server".to_owned(), Value::from(3))]
            .into_iter()
            .collect();
        assert_eq!(
            plugin
                .initialize(&Context::new("plugin.share", config))
                .unwrap_err(),
            "cannot read a map as `share::Share`: invalid type: integer `3`, expected a string at `server`"
        );
        let manifest = plugin.manifest().unwrap();
        assert_eq!(manifest.required_host_functions, [GET_TEXT, POST]);
    }
}
