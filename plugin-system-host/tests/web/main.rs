//! The `PluginManager` in a real browser: `cargo xtask test-web` runs this
//! suite in headless Chromium through wasm-bindgen-test, over
//! `WasmPluginRuntime` on the web engine, after building the guests it embeds.
//!
//! The plugins are the editor demo's (`examples/plugins/`): each
//! `plugin.toml` and module embedded with `include_str!`/`include_bytes!` (a
//! page has no files) and loaded from memory. Each plugin's worker is a task
//! on the page's executor, and its guest runs in place on it; fuel, not a
//! deadline, stops a plugin that loops.

#![cfg(all(target_family = "wasm", target_os = "unknown"))]

use std::{
    path::Path,
    sync::{Arc, Mutex},
};

use plugin_system_core::{
    HostFunction, HostFunctionError, PluginEvent, PluginManifest, Value, WasmRuntimeConfig,
};
use plugin_system_host::{
    Decision, Grant, ManagerError, PermissionPolicy, PluginManager, PluginPackage, PluginState,
};
use plugin_system_wasm::WasmPluginRuntime;
use plugin_system_wasm_run::{EngineKind, new_runtime};
use wasm_bindgen::JsCast as _;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

/// The document open in the editor.
const DOCUMENT: &str = "fn main() {\n    println!(\"hello, plugins\");\n}\n";

/// Fuel for each exchange: far more than any example plugin's event burns,
/// and what stops `demo.runaway` (the page has no deadlines).
const FUEL: u64 = 50_000_000;

/// A `plugin.toml` of `examples/plugins/` with its module, from memory.
macro_rules! example {
    ($folder:literal, $module:expr) => {
        package(
            include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../examples/plugins/",
                $folder,
                "/plugin.toml"
            )),
            concat!("plugins/", $folder, "/plugin.toml"),
            $module,
        )
    };
}

/// A guest module built by `cargo xtask guests` (a missing one fails the
/// build, naming it).
macro_rules! built {
    ($path:literal) => {
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../guests/target/",
            $path
        ))
        .to_vec()
    };
}

/// A module written in WebAssembly text beside its `plugin.toml`.
macro_rules! text {
    ($folder:literal, $file:literal) => {
        wat::parse_str(include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../examples/plugins/",
            $folder,
            "/",
            $file
        )))
        .expect("valid WAT")
    };
}

fn package(manifest: &str, path: &str, module: Vec<u8>) -> PluginPackage {
    PluginPackage::parse(manifest, Path::new(path))
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .with_module_bytes(module)
}

/// Every plugin of the editor demo, and echo-msgpack, which speaks
/// MessagePack and calls the host.
fn packages() -> Vec<PluginPackage> {
    vec![
        // Listed before word-count, which it needs: the manager orders them.
        example!(
            "recount-on-save",
            text!("recount-on-save", "recount_on_save.wat")
        ),
        example!(
            "word-count",
            built!("wasm32-unknown-unknown/release/word_count.wasm")
        ),
        example!(
            "file-icons",
            built!("wasm32-unknown-unknown/release/file_icons.wasm")
        ),
        example!("line-count", built!("c/line_count.wasm")),
        example!("share", built!("wasm32-unknown-unknown/release/share.wasm")),
        example!("runaway", text!("runaway", "runaway.wat")),
        package(
            r#"
            id = "plugin.echo-msgpack"
            name = "Echo (MessagePack)"
            version = "0.1.0"
            description = "Answers every event with its data, in MessagePack"
            runtime = "wasm"
            subscribesTo = ["echo"]
            requiredHostFunctions = ["echo.host"]
            module = "echo_msgpack.wasm"
            "#,
            "plugins/echo-msgpack/plugin.toml",
            built!("wasm32-unknown-unknown/release/echo_msgpack.wasm"),
        ),
    ]
}

/// Every plugin of [`packages`], by id.
const ALL: [&str; 7] = [
    "demo.runaway",
    "plugin.echo-msgpack",
    "plugin.file-icons-wasm",
    "plugin.line-count-c",
    "plugin.recount-on-save",
    "plugin.share",
    "plugin.word-count",
];

/// The demo editor's policy: what a plugin declares, but the network
/// (`net.*`).
struct Offline;

impl PermissionPolicy for Offline {
    fn decide(&self, _manifest: &PluginManifest, declared: &Grant) -> Decision {
        let offline = declared
            .host_functions
            .iter()
            .filter(|name| !name.starts_with("net."))
            .cloned();
        Decision::Grant(declared.clone().with_host_functions(offline))
    }
}

/// The plugins that read the document, in the order they did.
type Readers = Arc<Mutex<Vec<String>>>;

/// The editor: a manager over the web engine with its host functions, every
/// plugin loaded.
async fn editor() -> (PluginManager, Readers) {
    let engine = new_runtime(
        EngineKind::Web,
        WasmRuntimeConfig::default()
            .max_memory_pages(256)
            .fuel_limit(FUEL),
    )
    .expect("the web engine is built in");
    let readers = Readers::default();
    let reading = Arc::clone(&readers);
    let manager = PluginManager::builder()
        .runtime(Arc::new(WasmPluginRuntime::new(engine)))
        .policy(Offline)
        .host_function(
            "editor.get_text",
            HostFunction::new(move |call, _| {
                reading.lock().unwrap().push(call.plugin_id.to_owned());
                Ok(Value::from(DOCUMENT))
            }),
        )
        .host_function(
            "net.post",
            HostFunction::new(|_, _| Err(HostFunctionError::new("never granted here"))),
        )
        .host_function(
            "echo.host",
            HostFunction::new(|_, args| Ok(Value::from_iter([("echoed".to_owned(), args)]))),
        )
        .build();
    let report = manager.load_packages(packages()).await;
    assert!(
        report.failed.is_empty(),
        "every plugin loads: {:?}",
        report.failed
    );
    let mut ids = report.loaded.clone();
    ids.sort();
    assert_eq!(ids, ALL);
    let at = |id: &str| report.loaded.iter().position(|loaded| loaded == id);
    assert!(
        at("plugin.word-count") < at("plugin.recount-on-save"),
        "a plugin loads after the one it needs: {:?}",
        report.loaded
    );
    (manager, readers)
}

/// Lets the page's tasks (the plugins' workers) and timers run for `millis`.
async fn pause(millis: i32) {
    let timer = js_sys::Promise::new(&mut |resolve, _| {
        let global = js_sys::global();
        let set_timeout = js_sys::Reflect::get(&global, &"setTimeout".into())
            .expect("setTimeout")
            .unchecked_into::<js_sys::Function>();
        set_timeout
            .call2(&global, &resolve, &millis.into())
            .expect("a timer");
    });
    wasm_bindgen_futures::JsFuture::from(timer)
        .await
        .expect("the timer fires");
}

/// Polls `done` between pauses, for up to five seconds.
async fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    for _ in 0..500 {
        if done() {
            return;
        }
        pause(10).await;
    }
    panic!("not within 5 s: {what}");
}

#[wasm_bindgen_test]
async fn plugins_answer_events_sent_and_dispatched() {
    let (manager, readers) = editor().await;

    let icon = manager
        .send_event(
            "plugin.file-icons-wasm",
            PluginEvent::new("get_icon").with_field("extension", "rs"),
        )
        .await
        .expect("an icon");
    assert_eq!(
        icon.get("icon").and_then(Value::as_str),
        Some("devicon-rust-plain")
    );

    // Without text, word-count reads the document through its host function.
    let counts = manager
        .send_event("plugin.word-count", PluginEvent::new("count_words"))
        .await
        .expect("counts");
    assert_eq!(counts.get("lines").and_then(Value::as_u64), Some(3));
    assert_eq!(*readers.lock().unwrap(), ["plugin.word-count"]);

    // To every subscriber, each answering in its own wire format.
    let answers = manager
        .dispatch_event(PluginEvent::new("document.changed").with_field("text", "one two\nthree"))
        .await;
    let ids: Vec<&str> = answers.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(ids, ["plugin.line-count-c", "plugin.word-count"]);
    for (id, answer) in &answers {
        let answer = answer.as_ref().unwrap_or_else(|e| panic!("{id}: {e}"));
        assert_eq!(answer.get("lines").and_then(Value::as_u64), Some(2), "{id}");
    }

    // MessagePack, and a host call with its answer.
    let echoed = manager
        .send_event(
            "plugin.echo-msgpack",
            PluginEvent::new("ask_host").with_field("n", 7u64),
        )
        .await
        .expect("an echo");
    let result = echoed.get("result").expect("the host's answer");
    assert_eq!(
        result
            .get("echoed")
            .and_then(|args| args.get("n"))
            .and_then(Value::as_u64),
        Some(7)
    );

    let stats = manager.statistics();
    assert_eq!(stats.registry.ready, ALL.len());
    assert!(stats.host_functions.total_calls >= 2);
    manager.shutdown().await;
}

#[wasm_bindgen_test]
async fn a_host_function_not_granted_is_denied_and_the_plugin_stays_ready() {
    let (manager, readers) = editor().await;
    let share = manager.permissions("plugin.share").expect("granted");
    assert_eq!(
        share.declared.host_functions,
        ["editor.get_text", "net.post"]
    );
    assert_eq!(share.granted.host_functions, ["editor.get_text"]);
    let refused = manager
        .send_event("plugin.share", PluginEvent::new("share"))
        .await
        .expect_err("net.post is not granted");
    assert_eq!(refused.kind(), "permission denied", "{refused}");
    assert_eq!(manager.state("plugin.share"), Some(PluginState::Ready));
    assert_eq!(*readers.lock().unwrap(), ["plugin.share"]);
    assert!(matches!(
        manager.call_host_function("plugin.share", "net.post", Value::Null),
        Err(ManagerError::HostFunctionDenied { .. })
    ));
    manager.shutdown().await;
}

#[wasm_bindgen_test]
async fn a_plugin_emits_to_the_plugin_it_depends_on() {
    let (manager, readers) = editor().await;
    let answers = manager
        .dispatch_event(PluginEvent::new("document.saved"))
        .await;
    assert_eq!(answers.len(), 1, "{answers:?}");
    assert_eq!(answers[0].0, "plugin.recount-on-save");
    let asked = answers[0].1.as_ref().expect("answers");
    assert_eq!(
        asked.get("asked").and_then(Value::as_str),
        Some("plugin.word-count")
    );
    // The emitted event is queued, answered to nobody, on word-count's task.
    eventually("word-count handles the emitted event", || {
        manager
            .plugin_stats("plugin.word-count")
            .is_some_and(|s| s.events_handled == 1)
    })
    .await;
    assert_eq!(*readers.lock().unwrap(), ["plugin.word-count"]);
    manager.shutdown().await;
}

#[wasm_bindgen_test]
async fn a_looping_plugin_is_stopped_by_fuel_while_another_answers() {
    let (manager, _) = editor().await;
    let mut changes = manager.subscribe();
    // Both queued before either runs: the page has one thread.
    let looping = manager
        .post_event("demo.runaway", PluginEvent::new("tick"))
        .expect("queued");
    let icon = manager
        .post_event(
            "plugin.file-icons-wasm",
            PluginEvent::new("get_icon").with_field("extension", "dart"),
        )
        .expect("queued");
    let stopped = looping.await.expect_err("it never returns");
    assert_eq!(stopped.kind(), "fuel exhausted", "{stopped}");
    let icon = icon.await.expect("the other plugin answers");
    assert_eq!(
        icon.get("icon").and_then(Value::as_str),
        Some("devicon-dart-plain")
    );

    // The fault restarts it on a fresh instance after the backoff (a timer
    // of the page), and it takes events again.
    eventually("the runaway restarts", || {
        manager
            .plugin_stats("demo.runaway")
            .is_some_and(|s| s.restarts == 1)
    })
    .await;
    assert_eq!(manager.state("demo.runaway"), Some(PluginState::Ready));
    let mut seen = Vec::new();
    while let Ok(change) = changes.try_recv() {
        if change.plugin_id == "demo.runaway" {
            seen.push((change.from, change.to));
        }
    }
    assert_eq!(
        seen,
        [
            (PluginState::Ready, PluginState::Initializing),
            (PluginState::Initializing, PluginState::Ready)
        ]
    );
    let again = manager
        .send_event("demo.runaway", PluginEvent::new("tick"))
        .await
        .expect_err("it loops again");
    assert_eq!(again.kind(), "fuel exhausted");
    manager.shutdown().await;
}

#[wasm_bindgen_test]
async fn blocking_calls_run_in_place_or_are_refused() {
    let (manager, _) = editor().await;
    // Idle with nothing queued: run right here.
    let icon = manager
        .send_event_blocking(
            "plugin.file-icons-wasm",
            PluginEvent::new("get_icon").with_field("extension", "rs"),
        )
        .expect("runs in place");
    assert_eq!(
        icon.get("icon").and_then(Value::as_str),
        Some("devicon-rust-plain")
    );
    let answers = manager
        .dispatch_event_blocking(PluginEvent::new("document.changed").with_field("text", "a b"));
    assert_eq!(answers.len(), 2);
    assert!(
        answers.iter().all(|(_, answer)| answer.is_ok()),
        "{answers:?}"
    );

    // With an event queued, waiting would block the page: refused.
    let queued = manager
        .post_event("plugin.word-count", PluginEvent::new("count_words"))
        .expect("queued");
    let refused = manager
        .send_event_blocking("plugin.word-count", PluginEvent::new("count_words"))
        .expect_err("cannot wait");
    assert!(
        matches!(refused, ManagerError::Unsupported { .. }),
        "{refused}"
    );
    queued.await.expect("the queued event is answered");
    manager.shutdown().await;
}

#[wasm_bindgen_test]
async fn unloading_follows_dependencies_and_disposes() {
    let (manager, _) = editor().await;
    let refused = manager
        .unload("plugin.word-count", false)
        .await
        .expect_err("recount-on-save needs it");
    assert!(
        matches!(&refused, ManagerError::HasDependents { dependents, .. } if dependents == &["plugin.recount-on-save"]),
        "{refused}"
    );
    let unloaded = manager
        .unload("plugin.word-count", true)
        .await
        .expect("with cascade");
    assert_eq!(unloaded, ["plugin.recount-on-save", "plugin.word-count"]);
    assert_eq!(
        manager.state("plugin.word-count"),
        Some(PluginState::Disposed)
    );
    assert!(matches!(
        manager
            .send_event("plugin.word-count", PluginEvent::new("count_words"))
            .await,
        Err(ManagerError::WrongState { .. })
    ));
    // The others still answer.
    assert!(
        manager
            .send_event(
                "plugin.file-icons-wasm",
                PluginEvent::new("get_icon").with_field("extension", "go")
            )
            .await
            .is_ok()
    );
    manager.shutdown().await;
    for id in ALL {
        assert_eq!(manager.state(id), Some(PluginState::Disposed), "{id}");
    }
}

#[wasm_bindgen_test]
async fn what_needs_files_fails_with_a_typed_error() {
    let (manager, _) = editor().await;
    // A module given in memory has no folder to be reloaded from.
    let reload = manager
        .reload("plugin.file-icons-wasm")
        .await
        .expect_err("no folder");
    assert!(
        matches!(&reload, ManagerError::ReloadFailed { step: "read", source, .. }
            if matches!(**source, ManagerError::Unsupported { .. })),
        "{reload}"
    );
    assert_eq!(
        manager.state("plugin.file-icons-wasm"),
        Some(PluginState::Ready)
    );
    // A page has no file system: the folder is reported unreadable.
    let report = manager.load_dir(Path::new("plugins")).await;
    assert!(report.loaded.is_empty());
    assert_eq!(report.unreadable.len(), 1, "{:?}", report.unreadable);
    manager.shutdown().await;
}

/// echo-msgpack alone, its `echo.host` an async host function made by `make`.
async fn echo_with_async_host<Fut>(make: fn(Value) -> Fut) -> PluginManager
where
    Fut: Future<Output = Result<Value, HostFunctionError>> + Send + 'static,
{
    let engine = new_runtime(
        EngineKind::Web,
        WasmRuntimeConfig::default().fuel_limit(FUEL),
    )
    .expect("the web engine is built in");
    let manager = PluginManager::builder()
        .runtime(Arc::new(WasmPluginRuntime::new(engine)))
        .async_host_function("echo.host", move |_, args| make(args))
        .build();
    let echo = packages()
        .into_iter()
        .filter(|p| p.manifest.id == "plugin.echo-msgpack")
        .collect();
    let report = manager.load_packages(echo).await;
    assert_eq!(
        report.loaded,
        ["plugin.echo-msgpack"],
        "{:?}",
        report.failed
    );
    manager
}

#[wasm_bindgen_test]
async fn an_async_host_function_finishes_in_place_or_fails_the_call() {
    // A future that is ready at once answers the guest, which waits for it
    // on the page's one thread.
    let manager = echo_with_async_host(|args| async move { Ok(args) }).await;
    let echoed = manager
        .send_event(
            "plugin.echo-msgpack",
            PluginEvent::new("ask_host").with_field("n", 3u64),
        )
        .await
        .expect("answered");
    assert_eq!(
        echoed
            .get("result")
            .and_then(|r| r.get("n"))
            .and_then(Value::as_u64),
        Some(3)
    );
    manager.shutdown().await;

    // One that would wait cannot: nothing else runs while the guest waits.
    let manager = echo_with_async_host(|_| std::future::pending()).await;
    let failed = manager
        .send_event("plugin.echo-msgpack", PluginEvent::new("ask_host"))
        .await
        .expect_err("the host function cannot finish");
    assert!(
        failed.to_string().contains("web page's one thread cannot"),
        "{failed}"
    );
    assert_eq!(
        manager.state("plugin.echo-msgpack"),
        Some(PluginState::Ready)
    );
    manager.shutdown().await;
}
