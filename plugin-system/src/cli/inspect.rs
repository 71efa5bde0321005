//! `plugin-system inspect FILE`: what a module declares, and whether the chosen
//! engine would run it, as text or as one JSON object. The module is read, not
//! compiled: time and memory stay linear in its size, whatever it holds.

use std::{
    io::{self, Write},
    path::PathBuf,
};

use clap::Args;
use plugin_system::{
    WasmError, WasmRuntimeConfig,
    core::ModuleBounds,
    wasm_run::{CodeShape, Peak},
};
use serde::Serialize;

use super::{EngineArgs, Failure};

/// Arguments of `inspect`.
#[derive(Debug, Args)]
pub(crate) struct InspectArgs {
    /// The module: binary WebAssembly or WAT text.
    file: PathBuf,
    /// Print one JSON object (keys: size, sha256, binary_version, imports, exports,
    /// custom_sections, validation).
    #[arg(long)]
    json: bool,
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
    validation: Validation<'a>,
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
    let inspection = plugin_system::wasm_run::inspect(&*runtime, &bytes).map_err(|e| match e {
        // WAT errors name no file: name it.
        WasmError::InvalidModule { message } => WasmError::InvalidModule {
            message: message.replace("<anon>", &args.file.display().to_string()),
        },
        other => other,
    })?;
    let module = &inspection.info;
    let validation = &inspection.validation;
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
            &args.file,
            &format!("{} {}", runtime.name(), runtime.version()),
            out,
        )?;
        write_code(&inspection.code, &runtime.config().module_bounds, out)?;
    }
    Ok(())
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
