//! `plugin-system event FILE --type TYPE [--data JSON]`: load a file as a plugin,
//! initialize it, send it one event, print its response as JSON, dispose it.

use std::{
    io::{Read, Write},
    path::{Path, PathBuf},
    sync::Arc,
};

use clap::{Args, ValueEnum};
use plugin_system::{
    core::{
        PluginContext, PluginEvent, PluginManifest, PluginRuntimeType, PluginSerializer,
        PluginSource, Value,
    },
    wasm::{HybridSerializer, JsonSerializer, LoadOptions, WasmPluginRuntime},
};

use super::{Failure, RuntimeArgs};

/// Arguments of `event`.
#[derive(Debug, Args)]
pub(crate) struct EventArgs {
    /// The plugin: binary WebAssembly or WAT text, to the guest ABI (ABI.md).
    file: PathBuf,
    /// The event's type, for example `get_icon` or `document.changed`.
    #[arg(long = "type", value_name = "TYPE")]
    event_type: String,
    /// The event's data: a JSON object, `@FILE` to read it from a file, or
    /// `-` to read it from stdin.
    #[arg(long, value_name = "JSON", default_value = "{}")]
    data: String,
    /// The plugin's manifest (a JSON file), instead of the one it exports. A
    /// plugin that exports none and is given none gets a manifest named after
    /// FILE.
    #[arg(long, value_name = "FILE")]
    manifest: Option<PathBuf>,
    /// The wire format spoken to a plugin that declares none.
    #[arg(long, value_enum, default_value_t = FormatArg::Json)]
    format: FormatArg,
    /// Shows the plugin's log lines (the `log` import) at LEVEL and above, on
    /// stderr.
    #[arg(long, value_enum, value_name = "LEVEL")]
    log: Option<LogLevel>,
    /// The plugin's SHA-256 (hex), checked before anything of it runs.
    #[arg(long, value_name = "HEX")]
    sha256: Option<String>,
    #[command(flatten)]
    runtime: RuntimeArgs,
}

/// `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum FormatArg {
    /// JSON, as the Dart original speaks it.
    Json,
    /// MessagePack, structs as maps.
    Msgpack,
}

/// `--log`: the levels of the ABI's `log` import.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum LogLevel {
    /// 0 and below.
    Trace,
    /// 1.
    Debug,
    /// 2.
    Info,
    /// 3.
    Warn,
    /// 4 and above.
    Error,
}

/// Writes the plugins' log lines at `level` and above to stderr (the plugin
/// layer logs them through `tracing`, under the target `plugin`).
fn show_plugin_logs(level: LogLevel) {
    use tracing_subscriber::{
        Layer, filter::Targets, layer::SubscriberExt, util::SubscriberInitExt,
    };
    let level = match level {
        LogLevel::Trace => tracing::Level::TRACE,
        LogLevel::Debug => tracing::Level::DEBUG,
        LogLevel::Info => tracing::Level::INFO,
        LogLevel::Warn => tracing::Level::WARN,
        LogLevel::Error => tracing::Level::ERROR,
    };
    let lines = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .without_time()
        .with_target(false)
        .with_filter(Targets::new().with_target("plugin", level));
    // Only fails if a subscriber is set already: then that one shows them.
    let _ = tracing_subscriber::registry().with(lines).try_init();
}

/// Runs `event`.
pub(crate) fn run(args: &EventArgs, out: &mut dyn Write) -> Result<(), Failure> {
    if let Some(level) = args.log {
        show_plugin_logs(level);
    }
    let data: Value = serde_json::from_str(&read_data(&args.data)?)
        .map_err(|e| Failure::Usage(format!("bad arguments: --data is not JSON: {e}")))?;
    let Value::Map(data) = data else {
        return Err(Failure::Usage(
            "bad arguments: --data must be a JSON object".to_owned(),
        ));
    };
    let mut options = LoadOptions::new().fallback_manifest(fallback_manifest(&args.file));
    if let Some(path) = &args.manifest {
        options = options.manifest(read_manifest(path)?);
    }
    let runtime = args.runtime.runtime(true)?;
    let serializer = Arc::new(HybridSerializer::new(args.format == FormatArg::Msgpack));
    let plugins = WasmPluginRuntime::new(runtime).with_serializer(serializer);
    let mut source = PluginSource::file(&args.file);
    if let Some(hex) = &args.sha256 {
        source = source.with_sha256(hex);
    }
    let plugin = plugins
        .load(&source, options)
        .map_err(|e| Failure::from(e).during("while loading the plugin"))?;
    let id = plugin_system::core::Plugin::manifest(&plugin).id.clone();
    let event = PluginEvent::now(&args.event_type).with_data(data);
    let outcome = plugin
        .initialize_sync(&PluginContext::new(id))
        .map_err(|e| Failure::from(e).during("in plugin_initialize"))
        .and_then(|()| {
            plugin
                .handle_event_sync(&event)
                .map_err(|e| Failure::from(e).during("in plugin_handle_event"))
        });
    // Dispose on every path. The response is what the user asked for: it is
    // printed even when disposing fails, and that failure is not lost when
    // the event failed.
    let disposed = plugin
        .dispose_sync()
        .map_err(|e| Failure::from(e).during("in plugin_dispose"));
    match (outcome, disposed) {
        (Ok(response), disposed) => {
            let json = serde_json::to_string_pretty(&response)
                .map_err(|e| Failure::Usage(format!("cannot print the response: {e}")))?;
            writeln!(out, "{json}")?;
            disposed
        }
        (Err(first), Err(then)) => Err(Failure::Then {
            first: Box::new(first),
            then: Box::new(then),
        }),
        (Err(failed), Ok(())) => Err(failed),
    }
}

/// `--data`: the JSON itself, `@FILE`, or `-` for stdin.
fn read_data(arg: &str) -> Result<String, Failure> {
    if arg == "-" {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text).map_err(|e| {
            Failure::Usage(format!("bad arguments: cannot read --data from stdin: {e}"))
        })?;
        return Ok(text);
    }
    match arg.strip_prefix('@') {
        Some(path) => std::fs::read_to_string(path)
            .map_err(|e| Failure::Usage(format!("bad arguments: cannot read --data {arg}: {e}"))),
        None => Ok(arg.to_owned()),
    }
}

/// `--manifest FILE`.
fn read_manifest(path: &Path) -> Result<PluginManifest, Failure> {
    let bytes = std::fs::read(path).map_err(|e| {
        Failure::Usage(format!(
            "bad arguments: cannot read --manifest {}: {e}",
            path.display()
        ))
    })?;
    JsonSerializer::new()
        .deserialize_manifest(&bytes)
        .map_err(|e| Failure::Usage(format!("bad arguments: --manifest {}: {e}", path.display())))
}

/// The manifest of a plugin that exports none (the ABI makes
/// `plugin_get_manifest` optional), named after its file.
fn fallback_manifest(file: &Path) -> PluginManifest {
    let name = file
        .file_stem()
        .map(|stem| stem.to_string_lossy().trim().to_owned())
        .filter(|stem| !stem.is_empty())
        .unwrap_or_else(|| "plugin".to_owned());
    PluginManifest::new(
        name.clone(),
        name,
        "0.0.0",
        "a plugin without a manifest, run by plugin-system event",
        PluginRuntimeType::Wasm,
    )
}
