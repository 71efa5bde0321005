//! The tour: a small "editor" hosts the example plugins through the
//! `PluginManager`, on wasmtime and on wasmi. Its plugins folder is
//! `examples/plugins/` (a `plugin.toml` per plugin) with the modules built
//! from source in `guests/` (Rust with the guest SDK, C, and WebAssembly text
//! by hand). The editor loads them in dependency order, grants what its policy
//! allows, broadcasts and sends events, contains a plugin that never returns,
//! prints the manager's statistics and shuts down; then it runs a WASI program
//! in a sandbox.
//!
//! `cargo xtask demo` builds the guests and runs it.

#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a demo prints for a person to read"
)]

use std::{
    collections::BTreeMap,
    path::Path,
    process::ExitCode,
    time::{Duration, Instant},
};

use anyhow::{Context, Result};
use examples::{DOCUMENT, FUEL, HostLog, NETWORK_PREFIX, editor, guest, stage_plugins};
use plugin_system_core::{
    Imports, OutputBuffer, PluginEvent, PluginResponse, Value, WasiConfig, WasiOutput,
    WasmRuntimeConfig, wasi::run_command,
};
use plugin_system_host::{
    Grant, ManagerError, PluginManager, PluginPackage, PluginState, StateChange, discover,
};
use plugin_system_wasm_run::{EngineKind, new_runtime};
use tokio::sync::broadcast;

/// How long the demo waits for an event one plugin sent another.
const CHAIN_WAIT: Duration = Duration::from_secs(5);

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<()> {
    println!("An editor hosting WebAssembly plugins through the PluginManager, on both engines.");
    let staging = tempfile::tempdir().context("cannot make a temporary folder")?;
    let plugins = staging.path().join("plugins");
    stage_plugins(&plugins)?;
    let packages = discover(&plugins).packages;
    println!(
        "\nThe plugins folder: examples/plugins/, a plugin.toml each; the modules built from guests/ are"
    );
    println!("copied in beside them, in a temporary folder:");
    for package in &packages {
        let folder = package
            .dir
            .file_name()
            .unwrap_or_default()
            .to_string_lossy();
        let module = package
            .module
            .file_name()
            .unwrap_or_default()
            .to_string_lossy();
        println!(
            "  {:<18} {:<24} {:<20} {}",
            format!("{folder}/"),
            package.manifest.id,
            module,
            package.manifest.description
        );
    }

    let tokio = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start tokio")?;
    for kind in [EngineKind::Wasmtime, EngineKind::Wasmi] {
        println!(
            "\n== {} ==",
            new_runtime(kind, WasmRuntimeConfig::default())?.name()
        );
        tokio.block_on(tour(kind, &plugins, &packages))?;
        wasi_sandbox(kind)?;
    }
    println!("\nEvery plugin failure above was a typed error; the host never stopped.");
    Ok(())
}

/// The editor's session on one engine, through the manager.
async fn tour(kind: EngineKind, plugins: &Path, packages: &[PluginPackage]) -> Result<()> {
    let log = HostLog::default();
    let manager = editor(kind, &log)?;
    let mut changes = manager.subscribe();

    let started = Instant::now();
    let report = manager.load_dir(plugins).await;
    println!(
        "  loaded (manager.load_dir) in {:.0} ms, in dependency order:",
        started.elapsed().as_secs_f64() * 1e3
    );
    for (n, id) in report.loaded.iter().enumerate() {
        let Some(package) = packages.iter().find(|p| &p.manifest.id == id) else {
            continue;
        };
        let manifest = &package.manifest;
        let needs = if manifest.dependencies.is_empty() {
            String::new()
        } else {
            format!("  (needs {})", manifest.dependencies.join(", "))
        };
        println!(
            "    {}. {:<24} {:<7} {}{needs}",
            n + 1,
            id,
            manifest.version,
            manifest.name
        );
    }
    for (id, error) in &report.failed {
        println!("    not loaded: {id}: {error}");
    }
    for error in &report.unreadable {
        println!("    unreadable: {error}");
    }
    println!("  their states (manager.subscribe):");
    let known = manager.plugins().len();
    for (path, ids) in lifecycles(drain(&mut changes)) {
        if ids.len() == known {
            println!("    each: {path}");
        } else {
            println!("    {path}: {}", ids.join(", "));
        }
    }

    println!("  permissions, asked -> granted by the editor's policy (manager.permissions):");
    for id in &report.loaded {
        let Some(record) = manager.permissions(id) else {
            continue;
        };
        let granted = if record.declared == Grant::default() {
            "asks for nothing".to_owned()
        } else if record.granted == record.declared {
            "all of it".to_owned()
        } else {
            let refused: Vec<&str> = record
                .declared
                .host_functions
                .iter()
                .filter(|f| !record.granted.host_functions.contains(f))
                .map(String::as_str)
                .collect();
            format!(
                "{}; refused {} ({NETWORK_PREFIX}* is for trusted plugins)",
                describe(&record.granted),
                refused.join(", ")
            )
        };
        if record.declared == Grant::default() {
            println!("    {id:<24} {granted}");
        } else {
            println!("    {id:<24} {} -> {granted}", describe(&record.declared));
        }
    }

    let changed = PluginEvent::new("document.changed").with_field("text", DOCUMENT);
    println!("  broadcast document.changed to its subscribers (manager.dispatch_event):");
    for (id, answer) in manager.dispatch_event(changed).await {
        println!("    {id:<24} {}", answer_text(&answer));
    }

    println!("  sent to one plugin (manager.send_event):");
    for file in ["main.rs", "app.dart", "notes.txt"] {
        let extension = file.rsplit('.').next().unwrap_or_default();
        let event = PluginEvent::new("get_icon").with_field("extension", extension);
        let answer = manager.send_event("plugin.file-icons-wasm", event).await;
        println!(
            "    {:<24} {}",
            format!("get_icon {file}"),
            answer_text(&answer)
        );
    }
    let answer = manager
        .send_event("plugin.word-count", PluginEvent::new("count_words"))
        .await;
    println!(
        "    {:<24} {}",
        "count_words, no text",
        answer_text(&answer)
    );
    print_host_log(&log);

    println!("  a plugin that depends on another: broadcast document.saved");
    let counted = handled(&manager, "plugin.word-count");
    for (id, answer) in manager
        .dispatch_event(PluginEvent::new("document.saved"))
        .await
    {
        println!("    {id:<24} {}", answer_text(&answer));
    }
    // `events.emit` only queued word-count's event: wait for it to be handled.
    let waited = Instant::now();
    while handled(&manager, "plugin.word-count") == counted && waited.elapsed() < CHAIN_WAIT {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    if handled(&manager, "plugin.word-count") == counted {
        println!(
            "    plugin.word-count did not get the event recount-on-save queued, within {} s",
            CHAIN_WAIT.as_secs()
        );
    } else {
        println!(
            "    then plugin.word-count handled the count_words that recount-on-save queued (events.emit)"
        );
    }
    print_host_log(&log);

    println!("  a permission refused: share -> plugin.share");
    let answer = manager
        .send_event("plugin.share", PluginEvent::new("share"))
        .await;
    println!("    {}", answer_text(&answer));
    print_host_log(&log);
    println!(
        "    net.post never ran; plugin.share is still {}, its error kept (manager.errors: {})",
        state(&manager, "plugin.share"),
        manager.errors("plugin.share").len()
    );

    println!(
        "  a plugin that never returns: tick -> demo.runaway (100 ms per call, or {} M fuel)",
        FUEL / 1_000_000
    );
    let started = Instant::now();
    let answer = manager
        .send_event("demo.runaway", PluginEvent::new("tick"))
        .await;
    println!(
        "    stopped after {:.0} ms: {}",
        started.elapsed().as_secs_f64() * 1e3,
        answer_text(&answer)
    );
    let event = PluginEvent::new("get_icon").with_field("extension", "go");
    let answer = manager.send_event("plugin.file-icons-wasm", event).await;
    println!(
        "    the others carry on: get_icon main.go -> {}",
        answer_text(&answer)
    );

    println!("  statistics (manager.statistics(), as JSON):");
    let statistics = serde_json::to_value(manager.statistics())?;
    if let serde_json::Value::Object(sections) = statistics {
        for (key, value) in sections {
            match value {
                serde_json::Value::Object(plugins) if key == "plugins" => {
                    println!("    {key}:");
                    for (id, stats) in plugins {
                        println!("      {id:<24} {stats}");
                    }
                }
                value => println!("    {key:<15} {value}"),
            }
        }
    }

    manager.shutdown().await;
    let disposed: Vec<String> = drain(&mut changes)
        .into_iter()
        .filter(|change| change.to == PluginState::Disposed)
        .map(|change| change.plugin_id)
        .collect();
    println!(
        "  shut down (manager.shutdown), those that need others first: {}",
        disposed.join(", ")
    );
    Ok(())
}

/// The state changes received so far.
fn drain(changes: &mut broadcast::Receiver<StateChange>) -> Vec<StateChange> {
    let mut seen = Vec::new();
    loop {
        match changes.try_recv() {
            Ok(change) => seen.push(change),
            Err(broadcast::error::TryRecvError::Lagged(missed)) => {
                println!("    ({missed} state changes were missed)");
            }
            Err(_) => return seen,
        }
    }
}

/// Each plugin's path through its states (`unloaded -> loading -> ...`), and
/// the plugins that took each path.
fn lifecycles(changes: Vec<StateChange>) -> BTreeMap<String, Vec<String>> {
    let mut paths: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut order = Vec::new();
    for change in changes {
        let path = paths.entry(change.plugin_id.clone()).or_insert_with(|| {
            order.push(change.plugin_id.clone());
            vec![change.from.to_string()]
        });
        path.push(change.to.to_string());
    }
    let mut by_path: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for id in order {
        let path = paths.remove(&id).unwrap_or_default().join(" -> ");
        by_path.entry(path).or_default().push(id);
    }
    by_path
}

/// A grant in a few words: its host functions and budgets.
fn describe(grant: &Grant) -> String {
    let mut parts = Vec::new();
    if !grant.host_functions.is_empty() {
        parts.push(grant.host_functions.join(", "));
    }
    for (folder, level) in &grant.filesystem {
        parts.push(format!("folder {folder} ({})", level.as_str()));
    }
    if let Some(time) = grant.max_execution_time {
        parts.push(format!("{} ms per call", time.as_millis()));
    }
    if let Some(fuel) = grant.fuel {
        parts.push(format!("{fuel} fuel per call"));
    }
    if let Some(bytes) = grant.max_memory_bytes {
        parts.push(format!("{} KiB of memory", bytes / 1024));
    }
    if parts.is_empty() {
        "nothing".to_owned()
    } else {
        parts.join("; ")
    }
}

/// What the editor's host functions did since the last time, indented.
fn print_host_log(log: &HostLog) {
    for line in log.take() {
        println!("      host: {line}");
    }
}

fn handled(manager: &PluginManager, id: &str) -> u64 {
    manager.plugin_stats(id).map_or(0, |s| s.events_handled)
}

fn state(manager: &PluginManager, id: &str) -> String {
    manager
        .state(id)
        .map_or_else(|| "unknown".to_owned(), |s| s.to_string())
}

/// A plugin's answer in one line: its data, or the error and its kind.
fn answer_text(answer: &Result<PluginResponse, ManagerError>) -> String {
    match answer {
        Ok(response) if response.success => render(&Value::Map(response.data.clone())),
        Ok(response) => format!(
            "unsuccessful: {}",
            response.message.as_deref().unwrap_or("no message")
        ),
        Err(e) => format!("error ({}): {e}", e.kind()),
    }
}

/// A compact rendering of a value, without a JSON crate.
fn render(value: &Value) -> String {
    match value {
        Value::Map(map) => {
            let items: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{k}: {}", render(v)))
                .collect();
            format!("{{{}}}", items.join(", "))
        }
        Value::String(s) => format!("{s:?}"),
        Value::Int(i) => i.to_string(),
        Value::UInt(u) => u.to_string(),
        Value::Float(f) => f.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Null => "null".into(),
        other => format!("{other:?}"),
    }
}

/// A WASI program (Rust std) in a sandbox that sees one directory: no plugin,
/// the engine layer alone.
fn wasi_sandbox(kind: EngineKind) -> Result<()> {
    println!("  a WASI program (Rust std) in a sandbox that sees one directory:");
    let sandbox = tempfile::tempdir().context("cannot make the sandbox folder")?;
    std::fs::write(
        sandbox.path().join("hello.txt"),
        "a file the guest may read\n",
    )?;
    let runtime = new_runtime(kind, WasmRuntimeConfig::default().enable_wasi(true))?;
    let probe = runtime.load_module_from_file(&guest("wasm32-wasip1/release/wasi-probe.wasm")?)?;
    for argv in [["read", "/sandbox/hello.txt"], ["read", "/etc/passwd"]] {
        let stdout = OutputBuffer::new(64 * 1024);
        let stderr = OutputBuffer::new(64 * 1024);
        let mut imports = Imports::new();
        imports.wasi(
            WasiConfig::new()
                .arg("probe")
                .args(argv)
                .preopen(
                    sandbox.path(),
                    "/sandbox",
                    plugin_system_core::DirAccess::ReadOnly,
                )
                .stdout(WasiOutput::Capture(stdout.clone()))
                .stderr(WasiOutput::Capture(stderr.clone())),
        );
        let mut instance = runtime.instantiate(&probe, &imports)?;
        let code = run_command(&mut *instance)?;
        let said = if code == 0 {
            stdout.to_string_lossy()
        } else {
            stderr.to_string_lossy()
        };
        println!(
            "    {:<24} -> exit {code}: {}",
            argv.join(" "),
            said.trim_end()
        );
    }
    Ok(())
}
