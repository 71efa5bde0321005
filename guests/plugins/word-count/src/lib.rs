//! `plugin.word-count`: counts the words, lines and characters of a text.
//!
//! Events `document.changed` and `count_words` with data `{"text": "..."}`
//! answer `{"words": W, "lines": L, "characters": C}`: words split on
//! Unicode white space, lines as `str::lines` counts them, characters as
//! Unicode scalar values. Without `text`, the plugin asks the host for it
//! with the host function `editor.get_text` (arguments `{}`; the result is
//! the text, or a map with a `text` string). It logs one debug line per
//! event.

use plugin_system_guest::prelude::*;

/// The host function that supplies the text when an event has none.
pub const GET_TEXT: &str = "editor.get_text";

/// What the plugin counts in a text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    /// Runs of non-white-space characters.
    pub words: usize,
    /// Lines, as `str::lines` counts them (a final newline ends a line, it
    /// does not start one).
    pub lines: usize,
    /// Unicode scalar values.
    pub characters: usize,
}

impl Counts {
    /// Counts `text`.
    pub fn of(text: &str) -> Counts {
        Counts {
            words: text.split_whitespace().count(),
            lines: text.lines().count(),
            characters: text.chars().count(),
        }
    }
}

/// The plugin: no state.
#[derive(Default)]
pub struct WordCount;

impl WordCount {
    /// The event's text, or the editor's.
    fn text(event: &PluginEvent) -> Result<String, Error> {
        if let Some(text) = event.get_str("text") {
            return Ok(text.to_owned());
        }
        let text = host::call(GET_TEXT, ValueMap::new())?;
        match text {
            Value::String(text) => Ok(text),
            Value::Map(mut map) => match map.remove("text") {
                Some(Value::String(text)) => Ok(text),
                _ => bail!("`{GET_TEXT}` returned a map without a `text` string"),
            },
            other => bail!("`{GET_TEXT}` returned a {}, not a string", other.kind()),
        }
    }
}

impl Plugin for WordCount {
    fn manifest() -> PluginManifest {
        PluginManifest::wasm(
            "plugin.word-count",
            "Word Count",
            env!("CARGO_PKG_VERSION"),
            "Counts the words, lines and characters of a document",
        )
        .with_required_host_functions([GET_TEXT])
        .with_subscriptions(["document.changed", "count_words"])
    }

    fn handle_event(&mut self, event: PluginEvent) -> Result<PluginResponse, Error> {
        match event.event_type.as_str() {
            "document.changed" | "count_words" => {
                let counts = Counts::of(&Self::text(&event)?);
                log::debug(&format!(
                    "{}: {} words, {} lines, {} characters",
                    event.event_type, counts.words, counts.lines, counts.characters
                ));
                Ok(PluginResponse::ok()
                    .with_field("words", counts.words)
                    .with_field("lines", counts.lines)
                    .with_field("characters", counts.characters))
            }
            other => bail!("unsupported event type: {other}"),
        }
    }
}

export_plugin!(WordCount);

#[cfg(test)]
mod tests {
    use plugin_system_guest::abi::live_buffers;
    use plugin_system_guest::log::Level;
    use plugin_system_guest::testing::{self, Harness};

    use super::*;

    fn counts(response: &PluginResponse) -> [i64; 3] {
        ["words", "lines", "characters"]
            .map(|key| response.get(key).and_then(Value::as_i64).unwrap())
    }

    #[test]
    fn counts_like_std() {
        assert_eq!(
            Counts::of("hello world"),
            Counts {
                words: 2,
                lines: 1,
                characters: 11
            }
        );
        assert_eq!(
            Counts::of(""),
            Counts {
                words: 0,
                lines: 0,
                characters: 0
            }
        );
        assert_eq!(Counts::of("a\nb\n").lines, 2);
        assert_eq!(Counts::of("a\r\nb\n\n").lines, 3);
        // Unicode: characters, not bytes; Unicode white space splits words.
        assert_eq!(
            Counts::of("héllo\u{3000}wörld 👋"),
            Counts {
                words: 3,
                lines: 1,
                characters: 13
            }
        );
    }

    #[test]
    fn counts_the_event_text() {
        let plugin = Harness::<WordCount>::new();
        for event_type in ["document.changed", "count_words"] {
            let event = PluginEvent::new(event_type).with_field("text", "one two\nthree");
            assert_eq!(counts(&plugin.handle(&event).unwrap()), [3, 2, 13]);
            let logs = testing::take_logs();
            assert_eq!(
                logs,
                [(
                    Level::Debug,
                    format!("{event_type}: 3 words, 2 lines, 13 characters")
                )]
            );
        }
        assert_eq!(live_buffers(), 0);
    }

    #[test]
    fn asks_the_host_without_text() {
        let plugin = Harness::<WordCount>::new();
        testing::mock_host(|name, args| {
            assert_eq!(name, GET_TEXT);
            assert_eq!(args, Value::Map(ValueMap::new()));
            Ok(Value::from("from the editor"))
        });
        let response = plugin.handle(&PluginEvent::new("count_words")).unwrap();
        assert_eq!(counts(&response), [3, 1, 15]);

        testing::mock_host(|_, _| Ok([("text", "a b")].into_iter().collect()));
        let response = plugin.handle(&PluginEvent::new("count_words")).unwrap();
        assert_eq!(counts(&response), [2, 1, 3]);

        testing::mock_host(|_, _| Ok(Value::from(3)));
        assert_eq!(
            plugin.handle(&PluginEvent::new("count_words")).unwrap_err(),
            "`editor.get_text` returned a int, not a string"
        );
        assert_eq!(live_buffers(), 0);
    }

    #[test]
    fn a_denied_host_call_is_an_error() {
        let plugin = Harness::<WordCount>::new();
        testing::mock_host(|name, _| {
            Err(HostCallError::Denied(format!(
                "plugin.word-count may not call `{name}`"
            )))
        });
        assert_eq!(
            plugin
                .handle(&PluginEvent::new("document.changed"))
                .unwrap_err(),
            "host call denied: plugin.word-count may not call `editor.get_text`"
        );
        assert_eq!(
            plugin.handle(&PluginEvent::new("save")).unwrap_err(),
            "unsupported event type: save"
        );
    }

    #[test]
    fn manifest_names_the_host_function() {
        let manifest = Harness::<WordCount>::new().manifest().unwrap();
        assert_eq!(manifest.id, "plugin.word-count");
        assert_eq!(manifest.required_host_functions, [GET_TEXT]);
    }
}
