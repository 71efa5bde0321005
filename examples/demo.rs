//! The tour: a small "editor" hosts the example plugins built from source in
//! `guests/` (Rust with the guest SDK, and C), on wasmtime and on wasmi, offers
//! them a host function, contains a plugin that misbehaves, and runs a WASI
//! program in a sandbox.
//!
//! `cargo xtask demo` builds the guests and runs it.

#![allow(clippy::print_stdout, reason = "a demo prints for a person to read")]

use std::{path::PathBuf, time::Instant};

use anyhow::{Context, Result, bail};
use plugin_system_core::{
    HostFunction, Imports, OutputBuffer, PluginContext, PluginEvent, PluginPermissions,
    PluginSource, Value, WasiConfig, WasiOutput, WasmRuntimeConfig, wasi::run_command,
};
use plugin_system_wasm::{LoadOptions, WasmPlugin, WasmPluginRuntime};
use plugin_system_wasm_run::{EngineKind, new_runtime};

/// The document open in our pretend editor.
const DOCUMENT: &str = "fn main() {\n    println!(\"hello, plugins\");\n}\n";

/// A plugin that loops forever when it gets an event.
const RUNAWAY: &str = r#"(module
    (memory (export "memory") 1)
    (func (export "alloc") (param i32) (result i32) i32.const 1024)
    (func (export "dealloc") (param i32 i32))
    (func (export "plugin_handle_event") (param i32 i32) (result i64) (loop $l (br $l)) i64.const 0))"#;

fn guest(relative: &str) -> Result<PathBuf> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../guests/target")
        .join(relative);
    if !path.exists() {
        bail!(
            "{} is not built: run `cargo xtask demo` (or `cargo xtask guests`)",
            path.display()
        );
    }
    Ok(path)
}

fn plugin_file(name: &str) -> Result<PluginSource> {
    Ok(PluginSource::file(guest(&format!(
        "wasm32-unknown-unknown/release/{name}.wasm"
    ))?))
}

/// The editor's side: one engine, the plugins, and `editor.get_text`.
fn editor(kind: EngineKind) -> Result<WasmPluginRuntime> {
    let config = WasmRuntimeConfig::default()
        .max_memory_pages(256)
        .fuel_limit(50_000_000)
        .enable_wasi(true);
    let mut plugins = WasmPluginRuntime::new(new_runtime(kind, config)?);
    plugins.register_host_function(
        "editor.get_text",
        HostFunction::new(|call, _args| {
            println!("      host: {} asked for the document text", call.plugin_id);
            Ok(Value::from(DOCUMENT))
        })
        .with_description("the text of the open document"),
    );
    Ok(plugins)
}

fn start(
    plugins: &WasmPluginRuntime,
    source: &PluginSource,
    options: LoadOptions,
) -> Result<WasmPlugin> {
    let started = Instant::now();
    let plugin = plugins.load(source, options)?;
    let manifest = plugin_system_core::Plugin::manifest(&plugin).clone();
    plugin.initialize_sync(&PluginContext::new(&manifest.id))?;
    println!(
        "    loaded {} {} ({}) in {:.1} ms",
        manifest.id,
        manifest.version,
        manifest.name,
        started.elapsed().as_secs_f64() * 1e3
    );
    Ok(plugin)
}

fn show(what: &str, plugin: &WasmPlugin, event: &PluginEvent) {
    let started = Instant::now();
    match plugin.handle_event_sync(event) {
        Ok(response) => {
            let data = render(&Value::Map(response.data.clone()));
            println!(
                "    {what:<34} -> {data}  ({:.0} us)",
                started.elapsed().as_secs_f64() * 1e6
            );
        }
        Err(e) => println!("    {what:<34} -> error ({}): {e}", e.kind()),
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

fn tour(kind: EngineKind) -> Result<()> {
    println!(
        "\n== {} ==",
        new_runtime(kind, WasmRuntimeConfig::default())?.name()
    );
    let plugins = editor(kind)?;

    println!("  plugins in Rust (guest SDK) and in C, loaded from guests/:");
    let icons = start(&plugins, &plugin_file("file_icons")?, LoadOptions::new())?;
    let words = start(&plugins, &plugin_file("word_count")?, LoadOptions::new())?;
    let lines = start(
        &plugins,
        &PluginSource::file(guest("c/line_count.wasm")?),
        LoadOptions::new(),
    )?;

    println!("  events:");
    for file in ["main.rs", "app.dart", "notes.txt"] {
        let extension = file.rsplit('.').next().unwrap_or_default();
        let event = PluginEvent::new("get_icon").with_field("extension", extension);
        show(&format!("get_icon {file}"), &icons, &event);
    }
    let changed = PluginEvent::new("document.changed").with_field("text", DOCUMENT);
    show("document.changed (word-count)", &words, &changed);
    show("document.changed (line-count, C)", &lines, &changed);
    show(
        "count_words, no text: asks the host",
        &words,
        &PluginEvent::new("count_words"),
    );

    println!("  permissions: word-count without `editor.get_text`:");
    let locked = plugins.load(
        &plugin_file("word_count")?,
        LoadOptions::new().permissions(PluginPermissions::default()),
    )?;
    show("count_words", &locked, &PluginEvent::new("count_words"));

    println!(
        "  a plugin that never returns (50 M fuel and 100 ms per call, whichever ends first):"
    );
    let runaway = plugins.load(
        &PluginSource::bytes(RUNAWAY),
        LoadOptions::new()
            .manifest(plugin_system_core::PluginManifest::new(
                "demo.runaway",
                "Runaway",
                "1.0.0",
                "loops forever",
                plugin_system_core::PluginRuntimeType::Wasm,
            ))
            .permissions(
                PluginPermissions::default()
                    .with_max_execution_time(std::time::Duration::from_millis(100)),
            ),
    )?;
    show("any event", &runaway, &PluginEvent::new("tick"));
    show(
        "and the others carry on: get_icon",
        &icons,
        &PluginEvent::new("get_icon").with_field("extension", "go"),
    );

    let stats = words.stats();
    println!(
        "  word-count stats: {} events, {} failed, {} host calls, {} B in, {} B out, {} KiB of memory",
        stats.events,
        stats.failures,
        stats.host_calls,
        stats.bytes_in,
        stats.bytes_out,
        stats.memory_bytes / 1024
    );
    for plugin in [&icons, &words, &lines] {
        plugin.dispose_sync()?;
    }

    println!("  a WASI program (Rust std) in a sandbox that sees one directory:");
    let sandbox = std::env::temp_dir().join(format!("plugin-system-demo-{}", std::process::id()));
    std::fs::create_dir_all(&sandbox)?;
    std::fs::write(sandbox.join("hello.txt"), "a file the guest may read\n")?;
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
                    &sandbox,
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
            "    {:<34} -> exit {code}: {}",
            argv.join(" "),
            said.trim_end()
        );
    }
    std::fs::remove_dir_all(&sandbox).context("clean up")?;
    Ok(())
}

fn main() -> Result<()> {
    println!("An editor hosting WebAssembly plugins, on both engines.");
    for kind in [EngineKind::Wasmtime, EngineKind::Wasmi] {
        tour(kind)?;
    }
    println!("\nEvery plugin failure above was a typed error; the host never stopped.");
    Ok(())
}
