//! `plugin-system event FILE --type TYPE [--data JSON]`: load a file as a plugin,
//! initialize it, send it one event, print its response as JSON, dispose it.

use std::{
    io::{self, Write},
    path::{Path, PathBuf},
    sync::Arc,
};

use clap::{Args, ValueEnum};
use plugin_system::{
    WasmError,
    core::{
        PluginContext, PluginError, PluginEvent, PluginManifest, PluginRuntimeType,
        PluginSerializer, PluginSource, Value, WireFormat,
    },
    wasm::{
        HybridSerializer, JsonSerializer, LoadOptions, MessagePackSerializer, PostcardSerializer,
        WasmPlugin, WasmPluginRuntime,
    },
};

use super::{
    Failure, RuntimeArgs,
    input::{self, MAX_DATA_BYTES, MAX_MANIFEST_BYTES},
    terminal,
};

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
    // The lines hold the plugin's words: escaped, one line each, no colours.
    let lines = tracing_subscriber::fmt::layer()
        .with_writer(|| EscapedLine(Vec::new()))
        .with_ansi(false)
        .without_time()
        .with_target(false)
        .with_filter(Targets::new().with_target("plugin", level));
    // Only fails if a subscriber is set already: then that one shows them.
    let _ = tracing_subscriber::registry().with(lines).try_init();
}

/// A log line on its way to stderr: written there, escaped
/// ([`terminal::line`]), when the formatter is done with it.
struct EscapedLine(Vec<u8>);

impl Write for EscapedLine {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for EscapedLine {
    fn drop(&mut self) {
        let text = String::from_utf8_lossy(&self.0);
        let text = text.strip_suffix('\n').unwrap_or(&text);
        // Nothing is left to tell if stderr itself is gone.
        let _ = writeln!(io::stderr(), "{}", terminal::line(text));
    }
}

/// Runs `event`.
pub(crate) fn run(args: &EventArgs, out: &mut dyn Write) -> Result<(), Failure> {
    if let Some(level) = args.log {
        show_plugin_logs(level);
    }
    let data: Value = serde_json::from_slice(&read_data(&args.data)?)
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
    let plugins = WasmPluginRuntime::new(runtime)
        .with_serializer(Arc::<HybridSerializer>::clone(&serializer));
    let mut source = PluginSource::bytes(read_plugin(&args.file)?);
    if let Some(hex) = &args.sha256 {
        source = source.with_sha256(hex);
    }
    let plugin = plugins.load(&source, options).map_err(|e| {
        let failure = match e {
            PluginError::Wasm(e) => Failure::Wasm(super::name_file(e, &args.file)),
            other => Failure::from(other),
        };
        failure.during("while loading the plugin")
    })?;
    let id = plugin_system::core::Plugin::manifest(&plugin).id.clone();
    let event = PluginEvent::now(&args.event_type).with_data(data);
    // The event is the user's input: one the wire format cannot carry (too
    // large once serialized) is bad input, found before any guest call.
    let event = encode_event(&plugin, &serializer, &event)?;
    let outcome = plugin
        .initialize_sync(&PluginContext::new(id))
        .map_err(|e| Failure::from(e).during("in plugin_initialize"))
        .and_then(|()| {
            plugin
                .handle_event_bytes_sync(&event)
                .and_then(|reply| plugin.decode_response(&reply))
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

/// The event in the plugin's wire format, by the serializer the plugin is
/// spoken to with: the one its module declares, else the command's.
fn encode_event(
    plugin: &WasmPlugin,
    serializer: &Arc<HybridSerializer>,
    event: &PluginEvent,
) -> Result<Vec<u8>, Failure> {
    let format = plugin.wire_format();
    let encoded = if format == serializer.format() {
        serializer.serialize_event(event)
    } else {
        match format {
            WireFormat::MessagePack => MessagePackSerializer::new().serialize_event(event),
            WireFormat::Postcard => PostcardSerializer::new().serialize_event(event),
            _ => JsonSerializer::new().serialize_event(event),
        }
    };
    encoded.map_err(|e| Failure::Usage(format!("bad arguments: the event cannot be sent: {e}")))
}

/// The plugin's bytes, read as every module file is (at most
/// [`plugin_system::core::MAX_MODULE_FILE_BYTES`]).
fn read_plugin(path: &Path) -> Result<Vec<u8>, Failure> {
    plugin_system::core::read_module_file(path).map_err(|e| match e {
        WasmError::Io { path, source } => Failure::Plugin(PluginError::Io { path, source }),
        other => Failure::Wasm(other),
    })
}

/// `--data`: the JSON itself, `@FILE`, or `-` for stdin, at most
/// [`MAX_DATA_BYTES`].
fn read_data(arg: &str) -> Result<Vec<u8>, Failure> {
    if arg == "-" {
        return input::read_capped(io::stdin().lock(), MAX_DATA_BYTES, "--data -");
    }
    match arg.strip_prefix('@') {
        Some(path) => {
            input::read_file_capped(Path::new(path), MAX_DATA_BYTES, &format!("--data {arg}"))
        }
        None => Ok(arg.as_bytes().to_vec()),
    }
}

/// `--manifest FILE`, at most [`MAX_MANIFEST_BYTES`].
fn read_manifest(path: &Path) -> Result<PluginManifest, Failure> {
    let bytes = input::read_file_capped(
        path,
        MAX_MANIFEST_BYTES,
        &format!("--manifest {}", path.display()),
    )?;
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
