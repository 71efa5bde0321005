//! The async `Plugin` methods in a page: no blocking pool to move the guest
//! to, so they run it in place, as the sync ones do.

use plugin_system_core::{Plugin, PluginContext, PluginError, PluginEvent, Value};
use plugin_system_wasm::{LoadOptions, WasmPluginRuntime};
use plugin_system_wasm_run::EngineKind;
use wasm_bindgen_test::wasm_bindgen_test;

use crate::{engine, examples::live_buffers, guest};

#[wasm_bindgen_test]
async fn the_async_plugin_methods_run_the_guest_in_place() {
    let rt = WasmPluginRuntime::new(engine(EngineKind::Web));
    let plugin = rt
        .load(
            &guest("wasm32-unknown-unknown/release/word_count.wasm"),
            LoadOptions::new(),
        )
        .expect("loads");
    let id = plugin.manifest().id.clone();
    plugin
        .initialize(PluginContext::new(id))
        .await
        .expect("initializes");
    let counted = plugin
        .handle_event(PluginEvent::new("document.changed").with_field("text", "one two three"))
        .await
        .expect("counts");
    assert_eq!(counted.get("words").and_then(Value::as_i64), Some(3));
    let event = br#"{"type":"document.changed","data":{"text":"a b"}}"#.to_vec();
    let reply = plugin.handle_event_bytes(event).await.expect("counts");
    let decoded = plugin.decode_response(&reply).expect("a response");
    assert_eq!(decoded.get("words").and_then(Value::as_i64), Some(2));
    assert_eq!(live_buffers(&plugin), 0);
    plugin.dispose().await.expect("disposes");
    let after = plugin.handle_event(PluginEvent::new("count_words")).await;
    assert!(
        matches!(after, Err(PluginError::Disposed { .. })),
        "{after:?}"
    );
}
