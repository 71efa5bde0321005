//! The editor demo in a web page (`cargo xtask demo-web`): the example
//! plugins of `examples/plugins/` in a `PluginManager` over the browser's own
//! WebAssembly (the web engine), driven by `index.html`'s text box.
//!
//! Each plugin's `plugin.toml` and module are embedded (a page has no files;
//! the modules are those `cargo xtask guests` built) and loaded from memory.
//! [`load`] gives the page an [`Editor`]; [`Editor::changed`] sends the text
//! to the plugins and calls the page back with each answer as it comes.
//!
//! Only built for `wasm32-unknown-unknown`; empty elsewhere.

#![cfg(all(target_family = "wasm", target_os = "unknown"))]

use std::{
    path::Path,
    sync::{Arc, Mutex},
};

use plugin_system_core::{HostFunction, PluginEvent, PluginResponse, Value, WasmRuntimeConfig};
use plugin_system_host::{ManagerError, PluginManager, PluginPackage};
use plugin_system_wasm::WasmPluginRuntime;
use plugin_system_wasm_run::{EngineKind, new_runtime};
use wasm_bindgen::prelude::*;

/// Fuel for each exchange: the page has no deadlines, so fuel is what stops a
/// plugin that loops.
const FUEL: u64 = 50_000_000;

/// A plugin of `examples/plugins/` (its folder) with its built module.
macro_rules! example {
    ($folder:literal, $module:literal) => {
        (
            concat!("plugins/", $folder, "/plugin.toml"),
            include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../plugins/",
                $folder,
                "/plugin.toml"
            )),
            include_bytes!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../guests/target/",
                $module
            ))
            .as_slice(),
        )
    };
}

/// The plugins the page loads: those of the editor demo that answer a text
/// or a file name.
const PLUGINS: [(&str, &str, &[u8]); 3] = [
    example!(
        "word-count",
        "wasm32-unknown-unknown/release/word_count.wasm"
    ),
    example!("line-count", "c/line_count.wasm"),
    example!(
        "file-icons",
        "wasm32-unknown-unknown/release/file_icons.wasm"
    ),
];

/// The editor of the page: its plugins, and the text they may read through
/// `editor.get_text`.
#[wasm_bindgen]
pub struct Editor {
    manager: PluginManager,
    text: Arc<Mutex<String>>,
}

/// Loads the plugins into a new editor.
///
/// # Errors
/// When the engine cannot be built, a manifest is refused, or a plugin does
/// not load (the message names it).
#[wasm_bindgen]
pub async fn load() -> Result<Editor, JsError> {
    let engine = new_runtime(
        EngineKind::Web,
        WasmRuntimeConfig::default()
            .max_memory_pages(256)
            .fuel_limit(FUEL),
    )?;
    let text = Arc::new(Mutex::new(String::new()));
    let reading = Arc::clone(&text);
    let manager = PluginManager::builder()
        .runtime(Arc::new(WasmPluginRuntime::new(engine)))
        .host_function(
            "editor.get_text",
            HostFunction::new(move |_, _| {
                let text = reading.lock().map_or_else(|_| String::new(), |t| t.clone());
                Ok(Value::from(text))
            })
            .with_description("the text in the page's text box"),
        )
        .build();
    let mut packages = Vec::with_capacity(PLUGINS.len());
    for (path, manifest, module) in PLUGINS {
        packages.push(PluginPackage::parse(manifest, Path::new(path))?.with_module_bytes(module));
    }
    let report = manager.load_packages(packages).await;
    if let Some((id, error)) = report.failed.first() {
        return Err(JsError::new(&format!("{id} did not load: {error}")));
    }
    Ok(Editor { manager, text })
}

#[wasm_bindgen]
impl Editor {
    /// The ids of the plugins loaded.
    pub fn plugins(&self) -> Vec<String> {
        self.manager.plugins().into_iter().map(|p| p.id).collect()
    }

    /// Sends `text` to every plugin that takes `document.changed`, and the
    /// extension of `file` to the file icons, calling `show(id, answer)` as
    /// each answers (`answer` a line of text; a failure starts with
    /// `error:`). The promise resolves once all have answered.
    pub fn changed(&self, text: String, file: String, show: js_sys::Function) -> js_sys::Promise {
        if let Ok(mut current) = self.text.lock() {
            current.clone_from(&text);
        }
        let manager = self.manager.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            let extension = file.rsplit_once('.').map_or("", |(_, ext)| ext).to_owned();
            let sends = [
                (
                    "plugin.word-count",
                    PluginEvent::new("document.changed").with_field("text", text.as_str()),
                ),
                (
                    "plugin.line-count-c",
                    PluginEvent::new("document.changed").with_field("text", text.as_str()),
                ),
                (
                    "plugin.file-icons-wasm",
                    PluginEvent::new("get_icon").with_field("extension", extension),
                ),
            ];
            for (id, event) in sends {
                let answer = shown(manager.send_event(id, event).await);
                show.call2(&JsValue::NULL, &id.into(), &answer.into())?;
            }
            Ok(JsValue::UNDEFINED)
        })
    }
}

/// An answer as the page shows it: its data as `key=value` pairs.
fn shown(answer: Result<PluginResponse, ManagerError>) -> String {
    match answer {
        Ok(response) => response
            .data
            .iter()
            .map(|(key, value)| match (value.as_str(), value.as_u64()) {
                (Some(text), _) => format!("{key}={text}"),
                (None, Some(number)) => format!("{key}={number}"),
                (None, None) => format!("{key}={value:?}"),
            })
            .collect::<Vec<_>>()
            .join(" "),
        Err(error) => format!("error: {error}"),
    }
}
