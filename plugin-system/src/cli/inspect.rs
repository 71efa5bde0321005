//! `plugin-system inspect FILE`: what a module declares, and whether the chosen
//! engine would run it, as text or as one JSON object. The module is read, not
//! compiled: time and memory stay linear in its size, whatever it holds.
//!
//! Besides: the values of the plugin custom sections (`plugin_abi_version`,
//! `plugin_wire_format`), and the manifest of a valid module that exports
//! `plugin_get_manifest`, which takes loading it as a plugin (compiling it and
//! running its start function and `plugin_get_manifest`, under a plugin's
//! default limits) unless `--no-manifest`. A manifest that cannot be read is
//! reported with why, and `inspect` goes on.

use std::{
    borrow::Cow,
    io::{self, Write},
    path::PathBuf,
    sync::Arc,
};

use clap::Args;
use plugin_system::{
    WasmError, WasmRuntime, WasmRuntimeConfig,
    core::{ErrorChain, ExternType, ModuleBounds, ModuleInfo, PluginManifest, PluginSource},
    wasm::{
        LoadOptions, WasmPluginRuntime,
        abi::{ABI_VERSION_SECTION, WIRE_FORMAT_SECTION},
    },
    wasm_run::{CodeShape, Peak},
};
use serde::Serialize;

use super::{EngineArgs, Failure, input, terminal};

/// The export that returns a plugin's manifest.
const GET_MANIFEST: &str = "plugin_get_manifest";

/// What `inspect --help` says of its exit codes.
const EXIT_CODES: &str = "Exit codes: 0 the module was read, whatever the report says of it \
(`validation: invalid` for a limit it exceeds, a manifest that cannot be read); 1 stdout \
could not be written; 2 bad usage, a file that cannot be read, is not a module, or is not \
valid WebAssembly or WAT, or needs a feature the engine lacks.";

/// Arguments of `inspect`.
#[derive(Debug, Args)]
#[command(after_help = EXIT_CODES)]
pub(crate) struct InspectArgs {
    /// The module: binary WebAssembly or WAT text.
    file: PathBuf,
    /// Print one JSON object (keys: size, sha256, binary_version, imports, exports,
    /// custom_sections, plugin_abi_version, plugin_wire_format, manifest,
    /// manifest_error, validation).
    #[arg(long)]
    json: bool,
    /// Do not read the manifest of a plugin that exports `plugin_get_manifest`:
    /// the module is then only read, never compiled or run.
    #[arg(long)]
    no_manifest: bool,
    #[command(flatten)]
    engine: EngineArgs,
    /// Validate against this limit on memory size, in 64 KiB pages.
    #[arg(long, value_name = "PAGES")]
    max_memory_pages: Option<u64>,
}

/// The report, in the shape `--json` prints.
#[derive(Debug, Serialize)]
struct Report<'a> {
    size: usize,
    sha256: String,
    binary_version: u32,
    imports: Vec<Import<'a>>,
    exports: Vec<Export<'a>>,
    custom_sections: Vec<&'a str>,
    /// The text of the `plugin_abi_version` section, if there is one.
    plugin_abi_version: Option<String>,
    /// The text of the `plugin_wire_format` section, if there is one.
    plugin_wire_format: Option<String>,
    /// What the module's `plugin_get_manifest` returned.
    manifest: Option<PluginManifest>,
    /// Why the manifest of a module that exports `plugin_get_manifest` could
    /// not be read.
    manifest_error: Option<String>,
    validation: Validation<'a>,
}

/// What became of the manifest.
#[derive(Debug)]
enum Manifest {
    /// The module exports no `plugin_get_manifest`.
    None,
    /// `--no-manifest`.
    NotRead,
    /// What `plugin_get_manifest` returned.
    Read(Box<PluginManifest>),
    /// Why it could not be read.
    Failed(String),
}

#[derive(Debug, Serialize)]
struct Import<'a> {
    module: &'a str,
    name: &'a str,
    kind: &'static str,
    #[serde(rename = "type")]
    ty: String,
}

#[derive(Debug, Serialize)]
struct Export<'a> {
    name: &'a str,
    kind: &'static str,
    #[serde(rename = "type")]
    ty: String,
}

#[derive(Debug, Serialize)]
struct Validation<'a> {
    valid: bool,
    errors: &'a [String],
    warnings: &'a [String],
}

/// Runs `inspect`.
pub(crate) fn run(args: &InspectArgs, out: &mut dyn Write) -> Result<(), Failure> {
    // As `run` and `event` would load it: with WASI.
    let mut config = WasmRuntimeConfig::default().enable_wasi(true);
    if let Some(pages) = args.max_memory_pages {
        config = config.max_memory_pages(pages);
    }
    let runtime = args.engine.runtime(config)?;
    // At most 1 GiB, whatever the file is (`inspect /dev/zero`).
    let bytes = plugin_system::core::read_module_file(&args.file)?;
    input::check_module(&bytes)?;
    let inspection = plugin_system::wasm_run::inspect(&*runtime, &bytes).map_err(|e| match e {
        // WAT errors name no file: name it.
        WasmError::InvalidModule { message } => WasmError::InvalidModule {
            message: message.replace("<anon>", &args.file.display().to_string()),
        },
        other => other,
    })?;
    let module = &inspection.info;
    let validation = &inspection.validation;
    let manifest = if args.no_manifest {
        Manifest::NotRead
    } else {
        read_manifest(&runtime, bytes, module, validation.is_valid())
    };
    let abi_version = section(module, ABI_VERSION_SECTION);
    let wire_format = section(module, WIRE_FORMAT_SECTION);
    let report = Report {
        size: module.size,
        sha256: hex(&module.sha256),
        binary_version: module.binary_version,
        imports: module
            .imports
            .iter()
            .map(|i| Import {
                module: &i.module,
                name: &i.name,
                kind: i.ty.kind(),
                ty: i.ty.to_string(),
            })
            .collect(),
        exports: module
            .exports
            .iter()
            .map(|e| Export {
                name: &e.name,
                kind: e.ty.kind(),
                ty: e.ty.to_string(),
            })
            .collect(),
        custom_sections: module
            .custom_sections
            .iter()
            .map(|(name, _)| name.as_str())
            .collect(),
        plugin_abi_version: abi_version.as_deref().map(cut),
        plugin_wire_format: wire_format.as_deref().map(cut),
        manifest: match &manifest {
            Manifest::Read(manifest) => Some((**manifest).clone()),
            _ => None,
        },
        manifest_error: match &manifest {
            Manifest::Failed(why) => Some(why.clone()),
            _ => None,
        },
        validation: Validation {
            valid: validation.is_valid(),
            errors: &validation.errors,
            warnings: &validation.warnings,
        },
    };
    if args.json {
        serde_json::to_writer(&mut *out, &report).map_err(|e| Failure::Output(e.into()))?;
        writeln!(out)?;
    } else {
        write_text(
            &report,
            [abi_version.as_deref(), wire_format.as_deref()],
            &manifest,
            &args.file,
            &format!("{} {}", runtime.name(), runtime.version()),
            out,
        )?;
        write_code(&inspection.code, &runtime.config().module_bounds, out)?;
    }
    Ok(())
}

/// The manifest of a module that exports `plugin_get_manifest`, loaded as a
/// plugin as `event` loads it (ABI checks, instantiation with the plugin
/// imports and WASI, `plugin_get_manifest`), under a plugin's default limits:
/// 5 s a call, 50 MiB of memory.
fn read_manifest(
    runtime: &Arc<dyn WasmRuntime>,
    bytes: Vec<u8>,
    module: &ModuleInfo,
    valid: bool,
) -> Manifest {
    let exported = module
        .exports
        .iter()
        .any(|e| e.name == GET_MANIFEST && matches!(e.ty, ExternType::Func(_)));
    if !exported {
        return Manifest::None;
    }
    if !valid {
        return Manifest::Failed(format!(
            "`{GET_MANIFEST}` not called: the module does not validate"
        ));
    }
    let plugins = WasmPluginRuntime::new(Arc::clone(runtime));
    match plugins.load(&PluginSource::bytes(bytes), LoadOptions::new()) {
        Ok(plugin) => Manifest::Read(Box::new(
            plugin_system::core::Plugin::manifest(&plugin).clone(),
        )),
        Err(e) => Manifest::Failed(ErrorChain(&e).to_string()),
    }
}

/// The most bytes of a custom section's text `--json` shows.
const MAX_SECTION_TEXT: usize = terminal::MAX_LINE_BYTES;

/// The text of the first custom section `name`, as the host reads it: white
/// space and NULs around it trimmed, bytes that are not UTF-8 replaced.
fn section<'a>(module: &'a ModuleInfo, name: &str) -> Option<Cow<'a, str>> {
    let (_, bytes) = module.custom_sections.iter().find(|(n, _)| n == name)?;
    let padding = |c: char| c.is_whitespace() || c == '\0';
    Some(match String::from_utf8_lossy(bytes) {
        Cow::Borrowed(text) => Cow::Borrowed(text.trim_matches(padding)),
        Cow::Owned(text) => Cow::Owned(text.trim_matches(padding).to_owned()),
    })
}

/// `text` for `--json`: cut past [`MAX_SECTION_TEXT`] bytes with
/// `… (N more bytes)`.
fn cut(text: &str) -> String {
    if text.len() <= MAX_SECTION_TEXT {
        return text.to_owned();
    }
    let mut end = MAX_SECTION_TEXT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} more bytes)", &text[..end], text.len() - end)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The shape of the code beside the bounds a load applies: how close the module
/// comes to each.
fn write_code(code: &CodeShape, bounds: &ModuleBounds, out: &mut dyn Write) -> io::Result<()> {
    writeln!(
        out,
        "code:            {} functions (limit {})",
        code.functions, bounds.max_functions
    )?;
    let rows: [(&str, Peak, u32); 6] = [
        (
            "nesting depth",
            code.nesting_depth,
            bounds.max_nesting_depth,
        ),
        (
            "function size",
            code.function_size,
            bounds.max_function_size,
        ),
        ("locals", code.locals, bounds.max_locals),
        (
            "br_table targets",
            code.br_table_targets,
            bounds.max_br_table_targets,
        ),
        (
            "blocks with results",
            code.result_blocks,
            bounds.max_result_blocks,
        ),
        ("loops", code.loops, bounds.max_loops),
    ];
    for (name, peak, limit) in rows {
        let at = peak
            .function
            .map(|f| format!(" in function {f}"))
            .unwrap_or_default();
        writeln!(out, "  {name:<19} {}{at} (limit {limit})", peak.value)?;
    }
    Ok(())
}

fn write_text(
    report: &Report<'_>,
    [abi_version, wire_format]: [Option<&str>; 2],
    manifest: &Manifest,
    file: &std::path::Path,
    engine: &str,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    writeln!(out, "file:            {}", file.display())?;
    writeln!(out, "engine:          {engine}")?;
    writeln!(out, "size:            {} bytes", report.size)?;
    writeln!(out, "sha256:          {}", report.sha256)?;
    writeln!(out, "binary version:  {}", report.binary_version)?;

    let imports: Vec<(String, &str)> = report
        .imports
        .iter()
        .map(|i| {
            (
                printable(&format!("{}::{}", i.module, i.name)),
                i.ty.as_str(),
            )
        })
        .collect();
    write_list(out, "imports", &imports)?;
    let exports: Vec<(String, &str)> = report
        .exports
        .iter()
        .map(|e| (printable(e.name), e.ty.as_str()))
        .collect();
    write_list(out, "exports", &exports)?;

    if report.custom_sections.is_empty() {
        writeln!(out, "custom sections: none")?;
    } else {
        let names: Vec<String> = report
            .custom_sections
            .iter()
            .map(|n| printable(n))
            .collect();
        writeln!(out, "custom sections: {}", names.join(", "))?;
    }
    for (title, value) in [("abi version:", abi_version), ("wire format:", wire_format)] {
        let value = value.map_or_else(|| "not declared".to_owned(), printable);
        writeln!(out, "{title:<17}{value}")?;
    }
    match manifest {
        Manifest::None => writeln!(
            out,
            "manifest:        none (the module exports no `{GET_MANIFEST}`)"
        )?,
        Manifest::NotRead => writeln!(out, "manifest:        not read (--no-manifest)")?,
        Manifest::Failed(why) => writeln!(out, "manifest:        unavailable: {}", printable(why))?,
        Manifest::Read(manifest) => {
            writeln!(out, "manifest:")?;
            let json = super::event::pretty_without_nulls(&**manifest).map_err(io::Error::other)?;
            for line in json.lines() {
                writeln!(out, "  {}", printable(line))?;
            }
        }
    }

    let v = &report.validation;
    writeln!(
        out,
        "validation:      {}",
        if v.valid { "valid" } else { "invalid" }
    )?;
    for e in v.errors {
        writeln!(out, "  error: {e}")?;
    }
    for w in v.warnings {
        writeln!(out, "  warning: {w}")?;
    }
    Ok(())
}

/// `title (n):` then one `name  type` line per entry, the types aligned.
fn write_list(out: &mut dyn Write, title: &str, entries: &[(String, &str)]) -> std::io::Result<()> {
    if entries.is_empty() {
        return writeln!(out, "{:<17}none", format!("{title}:"));
    }
    writeln!(out, "{title} ({}):", entries.len())?;
    let width = entries
        .iter()
        .map(|(name, _)| name.chars().count())
        .max()
        .unwrap_or(0);
    for (name, ty) in entries {
        writeln!(out, "  {name:<width$}  {ty}")?;
    }
    Ok(())
}

/// A name from the module, safe for a terminal and on one line: controls and
/// bidi overrides escaped, very long names cut.
fn printable(name: &str) -> String {
    super::terminal::line(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_stay_on_one_line() {
        assert_eq!(printable("add"), "add");
        assert_eq!(printable("a\nb\u{7}"), "a\\nb\\u{7}");
        assert_eq!(printable("\u{202e}x"), "\\u{202e}x");
    }
}
