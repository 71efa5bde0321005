//! `plugin-system event FILE --type TYPE [--data JSON]...`: load a file as a
//! plugin, initialize it (with `--config`), send it one event or several
//! (`--data` given more than once, `--repeat N`), print each response as a
//! JSON document, dispose it. `--host-fn NAME=JSON` offers host functions
//! that answer a fixed value; `--wire` shows the bytes on stderr.

use std::{
    io::{self, Write},
    path::{Path, PathBuf},
    sync::Arc,
};

use clap::{Args, ValueEnum};
use plugin_system::{
    WasmError,
    core::{
        HostFunction, OutputBuffer, PluginContext, PluginError, PluginEvent, PluginManifest,
        PluginPermissions, PluginResponse, PluginRuntimeType, PluginSerializer, PluginSource,
        Value, ValueMap, WasiConfig, WasiOutput, WireFormat,
    },
    wasm::{
        HybridSerializer, JsonSerializer, LoadOptions, MessagePackSerializer, PostcardSerializer,
        WasmPlugin, WasmPluginRuntime, abi,
    },
    wasm_run,
};
use serde::{Deserialize, Deserializer, Serialize, Serializer, de::MapAccess, ser::SerializeMap};

use super::{
    Failure, RuntimeArgs,
    input::{self, MAX_DATA_BYTES, MAX_MANIFEST_BYTES},
    terminal,
};

/// What `event --help` says of its exit codes.
const EXIT_CODES: &str = "Exit codes: 0 every event was answered, a response with \
`success: false` included; 1 the plugin failed or a limit stopped it (a trap, fuel, timeout, \
stack or memory limit, plugin_initialize failing, an error instead of a response, a reply that \
is no response), or stdout could not be written; 2 bad usage or invalid input (arguments, a \
file that cannot be read, not a module, an invalid module or plugin, a link error, a failed \
--sha256 check, an event too large to send). The responses printed before a failure stay on \
stdout.";

/// Arguments of `event`.
#[derive(Debug, Args)]
#[command(after_help = EXIT_CODES)]
pub(crate) struct EventArgs {
    /// The plugin: binary WebAssembly or WAT text, to the guest ABI (ABI.md).
    file: PathBuf,
    /// The event's type, for example `get_icon` or `document.changed`.
    #[arg(long = "type", value_name = "TYPE")]
    event_type: String,
    /// The event's data: a JSON object, `@FILE` to read it from a file, or
    /// `-` to read it from stdin. Given several times, one event each, sent
    /// in order to the same instance. Default: `{}`.
    #[arg(long, value_name = "JSON")]
    data: Vec<String>,
    /// Sends each event N times in a row (with several --data: the first N
    /// times, then the second N times, ...), to the same instance.
    #[arg(long, value_name = "N", default_value_t = 1,
          value_parser = clap::value_parser!(u32).range(1..))]
    repeat: u32,
    /// An entry of the configuration the plugin is initialized with; VALUE is
    /// read as JSON when it is JSON, else taken as a string. Repeatable; wins
    /// over --config-file for the same KEY.
    #[arg(long = "config", value_name = "KEY=VALUE")]
    config: Vec<String>,
    /// The configuration the plugin is initialized with: a file holding a JSON
    /// object.
    #[arg(long, value_name = "FILE")]
    config_file: Option<PathBuf>,
    /// Offers the plugin a host function NAME that answers every call with
    /// this JSON value, and grants it. Repeatable. A host function not given
    /// is not there.
    #[arg(long = "host-fn", value_name = "NAME=JSON")]
    host_fn: Vec<String>,
    /// Prints every field of a response, `null` ones included (by default
    /// the fields that are `null` are left out).
    #[arg(long)]
    full: bool,
    /// Shows each event and reply as it crosses to and from the plugin, on
    /// stderr: its wire format and size, then the JSON text, or a hex dump
    /// of binary formats.
    #[arg(long)]
    wire: bool,
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
    let data = read_events(&args.data)?;
    let config = read_config(args.config_file.as_deref(), &args.config)?;
    let host_functions = parse_host_functions(&args.host_fn)?;
    // A WASI plugin's stderr is shown after each event it answers, and the end
    // of it goes with a trap.
    let stderr = OutputBuffer::keeping_last(STDERR_KEPT);
    let mut options = LoadOptions::new()
        .fallback_manifest(fallback_manifest(&args.file))
        .wasi(WasiConfig::new().stderr(WasiOutput::Capture(stderr.clone())));
    if let Some(path) = &args.manifest {
        options = options.manifest(read_manifest(path)?);
    }
    let runtime = args.runtime.runtime(true)?;
    let serializer = Arc::new(HybridSerializer::new(args.format == FormatArg::Msgpack));
    let mut plugins = WasmPluginRuntime::new(runtime)
        .with_serializer(Arc::<HybridSerializer>::clone(&serializer));
    for (name, value) in &host_functions {
        let value = value.clone();
        plugins.register_host_function(
            name.as_str(),
            HostFunction::new(move |_, _| Ok(value.clone())),
        );
    }
    let bytes = read_plugin(&args.file)?;
    input::check_module(&bytes)?;
    // The exports the ABI requires, read before the plugin is compiled.
    let shape = wasm_run::read_module_info(&bytes)
        .ok()
        .map(|info| abi::check_exports(&info));
    let mut source = PluginSource::bytes(bytes);
    if let Some(hex) = &args.sha256 {
        source = source.with_sha256(hex);
    }
    let loading_failed = |e: PluginError| {
        let failure = match e {
            PluginError::Wasm(e) => Failure::Wasm(super::name_file(e, &args.file)),
            other => Failure::from(other),
        };
        failure.during("while loading the plugin")
    };
    if let Some(Err(refused)) = shape {
        // Loading checks the digest first: a plugin that is not the one
        // expected is told so before what it lacks.
        if args.sha256.is_some() {
            source.load().map_err(loading_failed)?;
        }
        return Err(loading_failed(refused));
    }
    let granted: Vec<&str> = host_functions
        .iter()
        .map(|(name, _)| name.as_str())
        .collect();
    let plugin = load(&plugins, &source, options, &granted).map_err(loading_failed)?;
    let id = plugin_system::core::Plugin::manifest(&plugin).id.clone();
    // The events are the user's input: one the wire format cannot carry (too
    // large once serialized) is bad input, found before any guest call.
    let events = data
        .into_iter()
        .map(|data| {
            let event = PluginEvent::now(&args.event_type).with_data(data);
            encode_event(&plugin, &serializer, &event)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let sends = events
        .iter()
        .flat_map(|event| std::iter::repeat_n(event, args.repeat as usize));
    let outcome = plugin
        .initialize_sync(&PluginContext::new(id).with_config(config))
        .map_err(|e| Failure::from(e).during("in plugin_initialize"))
        .and_then(|()| {
            for (at, event) in sends.enumerate() {
                let number = at + 1;
                let response = send(&plugin, event, number, args.wire)?;
                show_stderr(&stderr);
                print_response(&response, args.full, out)?;
            }
            Ok(())
        });
    // Dispose on every path. The responses are what the user asked for: they
    // are printed even when disposing fails, and that failure is not lost
    // when an event failed.
    let disposed = plugin
        .dispose_sync()
        .map_err(|e| Failure::from(e).during("in plugin_dispose"));
    match (outcome, disposed) {
        (Ok(()), disposed) => disposed,
        (Err(first), Err(then)) => Err(Failure::Then {
            first: Box::new(first),
            then: Box::new(then),
        }),
        (Err(failed), Ok(())) => Err(failed),
    }
}

/// The end of a WASI plugin's stderr that is kept between two events.
const STDERR_KEPT: usize = 64 << 10;

/// Writes what the plugin wrote to its stderr since last asked to ours.
fn show_stderr(captured: &OutputBuffer) {
    let written = captured.take();
    if !written.is_empty() {
        // Nothing is left to tell if stderr itself is gone.
        let _ = io::stderr().write_all(&written);
    }
}

/// Loads the plugin, granting it the host functions `granted` besides those
/// its manifest requires. The manifest is known once the plugin is loaded:
/// when it does not require them all, the plugin is loaded again with the
/// wider grant.
fn load(
    plugins: &WasmPluginRuntime,
    source: &PluginSource,
    options: LoadOptions,
    granted: &[&str],
) -> Result<WasmPlugin, PluginError> {
    let plugin = plugins.load(source, options.clone())?;
    let required = &plugin_system::core::Plugin::manifest(&plugin).required_host_functions;
    if granted
        .iter()
        .all(|name| required.iter().any(|r| r == name))
    {
        return Ok(plugin);
    }
    let mut names = required.clone();
    names.extend(granted.iter().map(|name| (*name).to_owned()));
    drop(plugin);
    plugins.load(
        source,
        options.permissions(PluginPermissions::default().with_host_functions(names)),
    )
}

/// Sends one event (already encoded) and reads the reply, showing both on
/// stderr when `wire`.
fn send(
    plugin: &WasmPlugin,
    event: &[u8],
    number: usize,
    wire: bool,
) -> Result<PluginResponse, Failure> {
    let format = plugin.wire_format();
    if wire {
        show_wire(&format!("event {number} to the plugin"), format, event);
    }
    let reply = plugin
        .handle_event_bytes_sync(event)
        .map_err(|e| Failure::from(e).during("in plugin_handle_event"))?;
    if wire {
        // A plugin spoken to in JSON may answer in MessagePack.
        let format = match format {
            WireFormat::Postcard => format,
            _ => WireFormat::detect(&reply).unwrap_or(format),
        };
        show_wire(&format!("reply {number} from the plugin"), format, &reply);
    }
    plugin
        .decode_response(&reply)
        .map_err(|e| Failure::from(e).during("in plugin_handle_event"))
}

/// Prints a response as a JSON document, without its `null` fields unless
/// `full`, and lets it out at once: the next event may fail.
fn print_response(
    response: &PluginResponse,
    full: bool,
    out: &mut dyn Write,
) -> Result<(), Failure> {
    let text = if full {
        serde_json::to_string_pretty(response)
    } else {
        pretty_without_nulls(response)
    }
    .map_err(|e| Failure::Usage(format!("cannot print the response: {e}")))?;
    writeln!(out, "{text}")?;
    out.flush()?;
    Ok(())
}

/// `value` as pretty JSON, leaving out the fields of the top-level object
/// that are `null`, the others in the order `value` writes them.
pub(crate) fn pretty_without_nulls(value: &impl Serialize) -> serde_json::Result<String> {
    let text = serde_json::to_string(value)?;
    match serde_json::from_str::<Fields>(&text) {
        Ok(mut fields) => {
            fields.0.retain(|(_, value)| !value.is_null());
            serde_json::to_string_pretty(&fields)
        }
        // Not an object: nothing to leave out.
        Err(_) => serde_json::to_string_pretty(value),
    }
}

/// The fields of a JSON object in their order (`serde_json::Map` sorts them).
struct Fields(Vec<(String, serde_json::Value)>);

impl<'de> Deserialize<'de> for Fields {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Fields;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Fields, A::Error> {
                let mut fields = Vec::new();
                while let Some(field) = map.next_entry()? {
                    fields.push(field);
                }
                Ok(Fields(fields))
            }
        }
        deserializer.deserialize_map(Visitor)
    }
}

impl Serialize for Fields {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (key, value) in &self.0 {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

/// `--wire`: one `wire:` line that says what crossed, its format and size,
/// then the bytes, indented: JSON as its text on one line (escaped for the
/// terminal), any other format, or JSON that is not UTF-8, as a hex dump.
fn show_wire(what: &str, format: WireFormat, bytes: &[u8]) {
    let mut shown = format!("wire: {what}, {format}, {} bytes\n", bytes.len());
    match std::str::from_utf8(bytes) {
        Ok(text) if format == WireFormat::Json => {
            shown.push_str("  ");
            shown.push_str(&terminal::escape(text, usize::MAX));
            shown.push('\n');
        }
        _ => shown.push_str(&hex_dump(bytes)),
    }
    // Nothing is left to tell if stderr itself is gone.
    let _ = io::stderr().lock().write_all(shown.as_bytes());
}

/// `bytes` as lines of 16: the offset, the bytes in hex, and the printable
/// ASCII ones (others as `.`), each line indented by two spaces.
fn hex_dump(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(bytes.len() * 4 + 16);
    for (line, chunk) in bytes.chunks(16).enumerate() {
        let _ = write!(out, "  {:08x} ", line * 16);
        for at in 0..16 {
            if at == 8 {
                out.push(' ');
            }
            match chunk.get(at) {
                Some(byte) => {
                    let _ = write!(out, " {byte:02x}");
                }
                None => out.push_str("   "),
            }
        }
        out.push_str("  |");
        out.extend(chunk.iter().map(|&b| {
            if b.is_ascii_graphic() || b == b' ' {
                char::from(b)
            } else {
                '.'
            }
        }));
        out.push_str("|\n");
    }
    out
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

/// The data of each event: `--data` as given, `{}` when none is.
fn read_events(args: &[String]) -> Result<Vec<ValueMap>, Failure> {
    if args.is_empty() {
        return Ok(vec![ValueMap::new()]);
    }
    if args.iter().filter(|arg| *arg == "-").count() > 1 {
        return Err(Failure::Usage(
            "bad arguments: --data - is given more than once; stdin is read once".to_owned(),
        ));
    }
    args.iter()
        .map(|arg| {
            let data: Value = serde_json::from_slice(&read_data(arg)?)
                .map_err(|e| Failure::Usage(format!("bad arguments: --data is not JSON: {e}")))?;
            match data {
                Value::Map(data) => Ok(data),
                _ => Err(Failure::Usage(
                    "bad arguments: --data must be a JSON object".to_owned(),
                )),
            }
        })
        .collect()
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

/// The plugin's configuration: `--config-file` (a JSON object, at most
/// [`MAX_DATA_BYTES`]), then each `--config KEY=VALUE` over it.
fn read_config(file: Option<&Path>, entries: &[String]) -> Result<ValueMap, Failure> {
    let mut config = ValueMap::new();
    if let Some(path) = file {
        let what = format!("--config-file {}", path.display());
        let bytes = input::read_file_capped(path, MAX_DATA_BYTES, &what)?;
        match serde_json::from_slice(&bytes) {
            Ok(Value::Map(map)) => config = map,
            Ok(_) => {
                return Err(Failure::Usage(format!(
                    "bad arguments: {what} must hold a JSON object"
                )));
            }
            Err(e) => {
                return Err(Failure::Usage(format!(
                    "bad arguments: {what} is not JSON: {e}"
                )));
            }
        }
    }
    for entry in entries {
        let (key, value) = split_entry(entry, "--config", "KEY=VALUE")?;
        let value = serde_json::from_str(value).unwrap_or_else(|_| Value::from(value));
        config.insert(key.to_owned(), value);
    }
    Ok(config)
}

/// `--host-fn NAME=JSON`: each name with the value it answers.
fn parse_host_functions(entries: &[String]) -> Result<Vec<(String, Value)>, Failure> {
    let mut functions: Vec<(String, Value)> = Vec::with_capacity(entries.len());
    for entry in entries {
        let (name, json) = split_entry(entry, "--host-fn", "NAME=JSON")?;
        let value = serde_json::from_str(json).map_err(|e| {
            Failure::Usage(format!(
                "bad arguments: --host-fn {}: the value is not JSON: {e}",
                terminal::line(name)
            ))
        })?;
        if functions.iter().any(|(known, _)| known == name) {
            return Err(Failure::Usage(format!(
                "bad arguments: --host-fn {} is given more than once",
                terminal::line(name)
            )));
        }
        functions.push((name.to_owned(), value));
    }
    Ok(functions)
}

/// `KEY=VALUE` split at the first `=`, the key not empty.
fn split_entry<'a>(
    entry: &'a str,
    option: &str,
    shape: &str,
) -> Result<(&'a str, &'a str), Failure> {
    match entry.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key, value)),
        _ => Err(Failure::Usage(format!(
            "bad arguments: {option} `{}` is not {shape}",
            terminal::line(entry)
        ))),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nulls_at_the_top_are_left_out_in_order() {
        let value = serde_json::json!({"b": null, "a": 1});
        assert_eq!(
            pretty_without_nulls(&value).ok().as_deref(),
            Some("{\n  \"a\": 1\n}")
        );
        let response = PluginResponse::new(true).with_field("k", Value::Null);
        assert_eq!(
            pretty_without_nulls(&response).ok().as_deref(),
            Some("{\n  \"success\": true,\n  \"data\": {\n    \"k\": null\n  }\n}")
        );
        // Not an object: as it is.
        assert_eq!(
            pretty_without_nulls(&[1, 2]).ok().as_deref(),
            Some("[\n  1,\n  2\n]")
        );
    }

    #[test]
    fn a_hex_dump_has_offsets_bytes_and_ascii() {
        let bytes: Vec<u8> = (0x3e..0x50).collect();
        // The ASCII column lines up on a short last line.
        let expected = format!(
            "  00000000  3e 3f 40 41 42 43 44 45  46 47 48 49 4a 4b 4c 4d  |>?@ABCDEFGHIJKLM|\n  \
             00000010  4e 4f{}  |NO|\n",
            " ".repeat(14 * 3 + 1)
        );
        assert_eq!(hex_dump(&bytes), expected);
        assert_eq!(
            hex_dump(&[0x81, 0x00, b' ']),
            format!("  00000000  81 00 20{}  |.. |\n", " ".repeat(40))
        );
        assert_eq!(hex_dump(&[]), "");
    }

    #[test]
    fn entries_split_at_the_first_equals_sign() {
        assert!(matches!(
            split_entry("a=b=c", "--config", "KEY=VALUE"),
            Ok(("a", "b=c"))
        ));
        assert!(matches!(
            split_entry("a=", "--config", "KEY=VALUE"),
            Ok(("a", ""))
        ));
        for bad in ["a", "=b", ""] {
            assert!(split_entry(bad, "--config", "KEY=VALUE").is_err(), "{bad}");
        }
    }
}
