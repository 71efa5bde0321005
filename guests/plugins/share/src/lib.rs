//! `plugin.share`: shares the open document. It reads the text with the host
//! function `editor.get_text` and posts it with `net.post` (arguments
//! `{"url": ..., "body": ...}`; the result a map whose `url` string says where
//! the document can now be read).
//!
//! Event `share` answers `{"url": ..., "bytes": N}`. It posts to the `server`
//! of its settings (`[config]` in its `plugin.toml`), or to
//! [`DEFAULT_SERVER`]. A host that refuses it either function fails the
//! event: the plugin passes the refusal on, and posts nothing.

use plugin_system_guest::prelude::*;

/// The host function that supplies the document's text.
pub const GET_TEXT: &str = "editor.get_text";
/// The host function that sends a request over the network.
pub const POST: &str = "net.post";
/// Where the plugin posts without a `server` setting.
pub const DEFAULT_SERVER: &str = "https://paste.example";

/// The plugin: where it posts.
pub struct Share {
    server: String,
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
        let server = match ctx.config.get("server") {
            None => DEFAULT_SERVER.to_owned(),
            Some(Value::String(server)) => server.clone(),
            Some(other) => bail!("the setting `server` is a {}, not a string", other.kind()),
        };
        Ok(Share { server })
    }

    fn handle_event(&mut self, event: PluginEvent) -> Result<PluginResponse, Error> {
        match event.event_type.as_str() {
            "share" => {
                let Value::String(text) = host::call(GET_TEXT, ValueMap::new())? else {
                    bail!("`{GET_TEXT}` did not return a string");
                };
                let bytes = text.len();
                let request: ValueMap = [
                    ("url".to_owned(), Value::from(self.server.as_str())),
                    ("body".to_owned(), Value::from(text)),
                ]
                .into_iter()
                .collect();
                let reply = host::call(POST, request)?;
                let Some(url) = reply.get("url").and_then(Value::as_str) else {
                    bail!("`{POST}` returned no `url` string");
                };
                Ok(PluginResponse::ok()
                    .with_field("url", url)
                    .with_field("bytes", bytes))
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
            "the setting `server` is a int, not a string"
        );
        let manifest = plugin.manifest().unwrap();
        assert_eq!(manifest.required_host_functions, [GET_TEXT, POST]);
    }
}
