//! `plugin.file-icons-wasm`: the icon of a file extension, as a devicon CSS
//! class. The WebAssembly sibling of the Dart original's `plugin.file-icons`.
//!
//! Event `get_icon` with data `{"extension": "rs"}` (any case, with or
//! without the leading dot) answers `{"icon": "devicon-rust-plain",
//! "extension": "rs"}`, the extension normalized; an extension it does not
//! know gets the plain-text icon.

use plugin_system_guest::prelude::*;

/// The icon of an extension it does not know.
pub const FALLBACK_ICON: &str = "devicon-txt-plain";

/// Extension (lowercase, no dot) to devicon class.
const ICONS: &[(&str, &str)] = &[
    ("rs", "devicon-rust-plain"),
    ("dart", "devicon-dart-plain"),
    ("js", "devicon-javascript-plain"),
    ("ts", "devicon-typescript-plain"),
    ("py", "devicon-python-plain"),
    ("go", "devicon-go-plain"),
    ("java", "devicon-java-plain"),
    ("c", "devicon-c-plain"),
    ("cpp", "devicon-cplusplus-plain"),
    ("h", "devicon-c-plain"),
    ("md", "devicon-markdown-original"),
    ("json", "devicon-json-plain"),
    ("yaml", "devicon-yaml-plain"),
    ("yml", "devicon-yaml-plain"),
    ("toml", "devicon-toml-plain"),
    ("html", "devicon-html5-plain"),
    ("css", "devicon-css3-plain"),
    ("sh", "devicon-bash-plain"),
    ("kt", "devicon-kotlin-plain"),
    ("swift", "devicon-swift-plain"),
    ("rb", "devicon-ruby-plain"),
    ("php", "devicon-php-plain"),
];

/// The extension as the table keys it: without a leading dot, lowercase.
pub fn normalize(extension: &str) -> String {
    extension.trim().trim_start_matches('.').to_lowercase()
}

/// The icon of a normalized extension.
pub fn icon_for(extension: &str) -> &'static str {
    ICONS
        .iter()
        .find(|(ext, _)| *ext == extension)
        .map_or(FALLBACK_ICON, |(_, icon)| icon)
}

/// The plugin: no state.
#[derive(Default)]
pub struct FileIcons;

impl Plugin for FileIcons {
    fn manifest() -> PluginManifest {
        PluginManifest::wasm(
            "plugin.file-icons-wasm",
            "File Icons",
            env!("CARGO_PKG_VERSION"),
            "Devicon classes for file extensions",
        )
        .with_subscriptions(["get_icon"])
    }

    fn handle_event(&mut self, event: PluginEvent) -> Result<PluginResponse, Error> {
        match event.event_type.as_str() {
            "get_icon" => {
                let extension = normalize(event.require_str("extension")?);
                Ok(PluginResponse::ok()
                    .with_field("icon", icon_for(&extension))
                    .with_field("extension", extension))
            }
            other => bail!("unsupported event type: {other}"),
        }
    }
}

export_plugin!(FileIcons);

#[cfg(test)]
mod tests {
    use plugin_system_guest::abi::live_buffers;
    use plugin_system_guest::testing::Harness;

    use super::*;

    fn icon(plugin: &Harness<FileIcons>, extension: &str) -> (String, String) {
        let event = PluginEvent::new("get_icon").with_field("extension", extension);
        let response = plugin.handle(&event).unwrap();
        let field = |key: &str| {
            response
                .get(key)
                .and_then(Value::as_str)
                .unwrap()
                .to_owned()
        };
        (field("icon"), field("extension"))
    }

    #[test]
    fn knows_the_extensions() {
        let plugin = Harness::<FileIcons>::new();
        assert_eq!(ICONS.len(), 22);
        for (extension, expected) in ICONS {
            assert_eq!(icon(&plugin, extension).0, *expected);
        }
        assert_eq!(
            icon(&plugin, ".RS"),
            ("devicon-rust-plain".to_owned(), "rs".to_owned())
        );
        assert_eq!(icon(&plugin, "Dart").0, "devicon-dart-plain");
        assert_eq!(icon(&plugin, ".yml").0, "devicon-yaml-plain");
        assert_eq!(
            icon(&plugin, "xyz"),
            (FALLBACK_ICON.to_owned(), "xyz".to_owned())
        );
        assert_eq!(icon(&plugin, "").0, FALLBACK_ICON);
        assert_eq!(live_buffers(), 0);
    }

    #[test]
    fn refuses_other_events() {
        let plugin = Harness::<FileIcons>::new();
        assert_eq!(
            plugin.handle(&PluginEvent::new("file.opened")).unwrap_err(),
            "unsupported event type: file.opened"
        );
        assert_eq!(
            plugin.handle(&PluginEvent::new("get_icon")).unwrap_err(),
            "event `get_icon` has no string field `extension`"
        );
        let manifest = plugin.manifest().unwrap();
        assert_eq!(
            (manifest.id.as_str(), manifest.name.as_str()),
            ("plugin.file-icons-wasm", "File Icons")
        );
    }
}
