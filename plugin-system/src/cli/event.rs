//! `plugin-system event FILE --type TYPE [--data JSON]`: load a file as a plugin,
//! initialize it, send it one event, print its response as JSON, dispose it.

use std::{io::Write, path::PathBuf, sync::Arc};

use clap::{Args, ValueEnum};
use plugin_system::{
    core::{PluginContext, PluginEvent, PluginSource, Value},
    wasm::{HybridSerializer, LoadOptions, WasmPluginRuntime},
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
    /// The event's data: a JSON object.
    #[arg(long, value_name = "JSON", default_value = "{}")]
    data: String,
    /// The wire format spoken to a plugin that declares none.
    #[arg(long, value_enum, default_value_t = FormatArg::Json)]
    format: FormatArg,
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

/// Runs `event`.
pub(crate) fn run(args: &EventArgs, out: &mut dyn Write) -> Result<(), Failure> {
    let data: Value = serde_json::from_str(&args.data)
        .map_err(|e| Failure::Usage(format!("bad arguments: --data is not JSON: {e}")))?;
    let Value::Map(data) = data else {
        return Err(Failure::Usage(
            "bad arguments: --data must be a JSON object".to_owned(),
        ));
    };
    let runtime = args.runtime.runtime(true)?;
    let serializer = Arc::new(HybridSerializer::new(args.format == FormatArg::Msgpack));
    let plugins = WasmPluginRuntime::new(runtime).with_serializer(serializer);
    let mut source = PluginSource::file(&args.file);
    if let Some(hex) = &args.sha256 {
        source = source.with_sha256(hex);
    }
    let plugin = plugins.load(&source, LoadOptions::new())?;
    let id = plugin_system::core::Plugin::manifest(&plugin).id.clone();
    plugin.initialize_sync(&PluginContext::new(id))?;
    let event = PluginEvent::now(&args.event_type).with_data(data);
    let outcome = plugin.handle_event_sync(&event);
    // Dispose on every path; the event's outcome is what the user asked for.
    let disposed = plugin.dispose_sync();
    let response = outcome?;
    disposed?;
    let json = serde_json::to_string_pretty(&response)
        .map_err(|e| Failure::Usage(format!("cannot print the response: {e}")))?;
    writeln!(out, "{json}")?;
    Ok(())
}
