//! `examples/plugins/` through the PluginManager: which plugins load and in
//! which order, what the editor's policy grants each, and what a refused host
//! function, a dependency's event and a plugin that never returns do.

use std::time::{Duration, Instant};

use examples::{DOCUMENT, EditorPolicy, HostLog, editor, editor_with, stage_plugins};
use plugin_system_core::{PluginEvent, Value};
use plugin_system_host::{PluginManager, PluginState};
use plugin_system_wasm_run::EngineKind;

/// Every plugin of `examples/plugins/`, by id.
const ALL: [&str; 6] = [
    "demo.runaway",
    "plugin.file-icons-wasm",
    "plugin.line-count-c",
    "plugin.recount-on-save",
    "plugin.share",
    "plugin.word-count",
];

/// The staged plugins folder, with the manager loaded from it.
async fn loaded(manager: &PluginManager) -> (tempfile::TempDir, Vec<String>) {
    let staging = tempfile::tempdir().expect("a temporary folder");
    let plugins = staging.path().join("plugins");
    stage_plugins(&plugins).unwrap_or_else(|e| panic!("{e:#}"));
    let report = manager.load_dir(&plugins).await;
    assert!(
        report.failed.is_empty() && report.unreadable.is_empty(),
        "{:?} {:?}",
        report.failed,
        report.unreadable
    );
    (staging, report.loaded)
}

async fn the_editor_loads_its_plugins(kind: EngineKind) {
    let log = HostLog::default();
    let manager = editor(kind, &log).expect("engine built in");
    let (_staging, order) = loaded(&manager).await;

    let mut ids = order.clone();
    ids.sort();
    assert_eq!(ids, ALL, "{kind:?}");
    let at = |id: &str| order.iter().position(|loaded| loaded == id);
    assert!(
        at("plugin.word-count") < at("plugin.recount-on-save"),
        "{kind:?}: {order:?}"
    );

    // The network is kept from plugins the user has not trusted; the rest is
    // granted as declared.
    let share = manager.permissions("plugin.share").expect("granted");
    assert_eq!(
        share.declared.host_functions,
        ["editor.get_text", "net.post"]
    );
    assert_eq!(share.granted.host_functions, ["editor.get_text"]);
    for id in ALL.iter().filter(|id| **id != "plugin.share") {
        let record = manager.permissions(id).expect("granted");
        assert_eq!(record.granted, record.declared, "{kind:?}: {id}");
    }
    let word_count = manager.permissions("plugin.word-count").expect("granted");
    assert_eq!(word_count.granted.host_functions, ["editor.get_text"]);
    assert_eq!(
        word_count.granted.max_execution_time,
        Some(Duration::from_millis(500))
    );

    // The refused function fails the event; the plugin stays ready.
    let refused = manager
        .send_event("plugin.share", PluginEvent::new("share"))
        .await
        .expect_err("net.post is refused");
    assert_eq!(refused.kind(), "permission denied", "{kind:?}: {refused}");
    assert_eq!(manager.state("plugin.share"), Some(PluginState::Ready));
    assert_eq!(
        log.take(),
        ["plugin.share read the document (editor.get_text)"]
    );

    // recount-on-save answers document.saved and queues count_words for
    // word-count, which then reads the document.
    let answers = manager
        .dispatch_event(PluginEvent::new("document.saved"))
        .await;
    assert_eq!(answers.len(), 1, "{kind:?}: {answers:?}");
    assert_eq!(answers[0].0, "plugin.recount-on-save");
    let answer = answers[0].1.as_ref().expect("answers");
    assert_eq!(
        answer.data.get("asked").and_then(Value::as_str),
        Some("plugin.word-count")
    );
    let waited = Instant::now();
    while manager
        .plugin_stats("plugin.word-count")
        .is_none_or(|s| s.events_handled == 0)
    {
        assert!(waited.elapsed() < Duration::from_secs(10), "{kind:?}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let stats = manager.plugin_stats("plugin.word-count").expect("known");
    assert_eq!((stats.events_handled, stats.failures), (1, 0), "{kind:?}");
    assert_eq!(
        log.take(),
        ["plugin.word-count read the document (editor.get_text)"]
    );

    // The runaway ends at its deadline or its fuel.
    let stopped = manager
        .send_event("demo.runaway", PluginEvent::new("tick"))
        .await
        .expect_err("never returns");
    assert!(
        matches!(stopped.kind(), "timeout" | "fuel exhausted"),
        "{kind:?}: {stopped}"
    );

    manager.shutdown().await;
    for id in ALL {
        assert_eq!(manager.state(id), Some(PluginState::Disposed), "{kind:?}");
    }
}

/// Trusted, plugin.share gets the network too, and posts to the server of
/// its `[config]`.
async fn a_trusted_plugin_gets_the_network(kind: EngineKind) {
    let log = HostLog::default();
    let policy = EditorPolicy::default().trust("plugin.share");
    let manager = editor_with(kind, &log, policy).expect("engine built in");
    let (_staging, _) = loaded(&manager).await;
    let share = manager.permissions("plugin.share").expect("granted");
    assert_eq!(share.granted, share.declared);
    let answer = manager
        .send_event("plugin.share", PluginEvent::new("share"))
        .await
        .unwrap_or_else(|e| panic!("{kind:?}: {e}"));
    assert_eq!(
        answer.data.get("url").and_then(Value::as_str),
        Some("https://paste.example/1")
    );
    assert_eq!(
        answer.data.get("bytes").and_then(Value::as_u64),
        Some(DOCUMENT.len() as u64)
    );
    assert_eq!(
        log.take(),
        [
            "plugin.share read the document (editor.get_text)".to_owned(),
            format!(
                "plugin.share posted {} bytes to https://paste.example (net.post)",
                DOCUMENT.len()
            ),
        ]
    );
    manager.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_editor_loads_its_plugins_on_wasmtime() {
    the_editor_loads_its_plugins(EngineKind::Wasmtime).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_editor_loads_its_plugins_on_wasmi() {
    the_editor_loads_its_plugins(EngineKind::Wasmi).await;
}

/// Tiered, the plugins answer while wasmtime compiles them in the background,
/// and move when they can: the same behaviour.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_editor_loads_its_plugins_tiered() {
    the_editor_loads_its_plugins(EngineKind::Tiered).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trusted_plugin_gets_the_network_on_wasmtime() {
    a_trusted_plugin_gets_the_network(EngineKind::Wasmtime).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trusted_plugin_gets_the_network_on_wasmi() {
    a_trusted_plugin_gets_the_network(EngineKind::Wasmi).await;
}
