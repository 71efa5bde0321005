//! `plugin-system run FILE [-- ARGS...]`: run a WASI command (or one export of a
//! reactor) with the terminal's stdin, stdout and stderr, in a sandbox that sees
//! only the directories and variables given, and exit with the guest's code.

use std::{io::Write, path::PathBuf};

use clap::{Args, ValueEnum};
use plugin_system::{
    DirAccess, ExternType, Imports, UnknownImports, WasiConfig, WasmError, wasi::run_command,
    wasm_run,
};

use super::{Failure, RuntimeArgs, call};

/// Arguments of `run`.
#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// The module: binary WebAssembly or WAT text. Its file name is the guest's
    /// argv[0].
    file: PathBuf,
    /// The guest's arguments (after argv[0]); with --invoke, the function's.
    #[arg(value_name = "ARGS", last = true)]
    args: Vec<String>,
    #[command(flatten)]
    runtime: RuntimeArgs,
    /// Give the guest a host directory, read-write, as GUEST (default: the same path).
    #[arg(long = "dir", value_name = "HOST[::GUEST]")]
    dirs: Vec<String>,
    /// Give the guest a host directory, read-only, as GUEST (default: the same path).
    #[arg(long = "dir-ro", value_name = "HOST[::GUEST]")]
    dirs_ro: Vec<String>,
    /// Set an environment variable of the guest (the guest sees none otherwise);
    /// a KEY alone passes this process's value of it, if it has one.
    #[arg(long = "env", value_name = "KEY[=VALUE]")]
    env: Vec<String>,
    /// Pass this process's environment to the guest (--env values win).
    #[arg(long)]
    inherit_env: bool,
    /// Link imports the host does not provide (other than WASI's) to functions
    /// that trap when called, or that return zeros.
    #[arg(long, value_enum, value_name = "POLICY")]
    unknown_imports: Option<UnknownArg>,
    /// Call this export (after `_initialize`) instead of `_start`, with ARGS read
    /// by its parameter types; its results are printed one per line.
    #[arg(long, value_name = "NAME")]
    invoke: Option<String>,
}

/// `--unknown-imports`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum UnknownArg {
    /// A call to an unknown import traps.
    Trap,
    /// An unknown import returns zeros.
    Default,
}

/// A `--dir` value: `HOST` or `HOST::GUEST`.
fn preopen(value: &str) -> (PathBuf, String) {
    match value.split_once("::") {
        Some((host, guest)) => (PathBuf::from(host), guest.to_owned()),
        None => (PathBuf::from(value), value.to_owned()),
    }
}

impl RunArgs {
    /// The host folders given to the guest, each with the option that gives it.
    fn grants(&self) -> Vec<(String, PathBuf)> {
        let dirs = self.dirs.iter().map(|value| ("--dir", value));
        let read_only = self.dirs_ro.iter().map(|value| ("--dir-ro", value));
        dirs.chain(read_only)
            .map(|(option, value)| (format!("{option} {value}"), preopen(value).0))
            .collect()
    }

    fn wasi(&self) -> Result<WasiConfig, Failure> {
        // As wasmtime's CLI: the program's name, without its directory.
        let argv0 = self.file.file_name().map_or_else(
            || self.file.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        let mut wasi = WasiConfig::new().inherit_stdio().arg(argv0);
        // With --invoke, ARGS are the function's, not the program's.
        if self.invoke.is_none() {
            wasi = wasi.args(self.args.iter().cloned());
        }
        if self.inherit_env {
            wasi = wasi.inherit_env();
        }
        for pair in &self.env {
            match pair.split_once('=') {
                Some(("", _)) => {
                    return Err(Failure::Usage(format!(
                        "bad usage: --env takes KEY=VALUE or KEY, not `{pair}`"
                    )));
                }
                Some((key, value)) => wasi = wasi.env(key, value),
                None => {
                    if let Ok(value) = std::env::var(pair) {
                        wasi = wasi.env(pair, value);
                    }
                }
            }
        }
        for (list, access) in [
            (&self.dirs, DirAccess::ReadWrite),
            (&self.dirs_ro, DirAccess::ReadOnly),
        ] {
            for value in list {
                let (host, guest) = preopen(value);
                wasi = wasi.preopen(host, guest, access);
            }
        }
        Ok(wasi)
    }
}

/// Runs `run` and returns the process's exit code: the guest's.
pub(crate) fn run(args: &RunArgs) -> Result<u8, Failure> {
    // Before the cache is opened: with --no-cache and a grant that reaches
    // it, its key goes before anything runs.
    args.runtime.guard_grants(&args.grants())?;
    let runtime = args.runtime.runtime(true)?;
    // What the module needs is checked before it is compiled: the export to
    // call, and imports that WASI and --unknown-imports can serve.
    let (module, (imports, invoke)) = call::load_checked(&*runtime, &args.file, |info| {
        let mut imports = Imports::new();
        imports.wasi(args.wasi()?);
        if let Some(policy) = args.unknown_imports {
            let policy = match policy {
                UnknownArg::Trap => UnknownImports::Trap,
                UnknownArg::Default => UnknownImports::Default,
            };
            imports.define_unknown(&info.imports, policy);
        }
        let invoke = match &args.invoke {
            Some(name) => {
                let ty = call::function_type(info, name)?;
                Some((name, call::parse_args(name, &ty, &args.args)?))
            }
            None => {
                let start = info.exports.iter().find(|e| e.name == "_start");
                if !start.is_some_and(|e| matches!(e.ty, ExternType::Func(_))) {
                    return Err(Failure::Usage(
                        "bad usage: the module exports no `_start` (it is no WASI command); \
                         name an export with --invoke"
                            .to_owned(),
                    ));
                }
                None
            }
        };
        wasm_run::check_imports(runtime.config(), info, &imports)?;
        Ok((imports, invoke))
    })?;

    let mut instance = runtime.instantiate(&module, &imports)?;
    let code = match invoke {
        None => run_command(&mut *instance)?,
        Some((name, values)) => {
            let results = match instance.call(name, &values) {
                Ok(results) => results,
                Err(WasmError::Exit { code }) => return Ok(exit_status(code)),
                Err(e) => return Err(e.into()),
            };
            let stdout = std::io::stdout();
            let mut out = stdout.lock();
            for value in results {
                writeln!(out, "{value}")?;
            }
            out.flush()?;
            0
        }
    };
    Ok(exit_status(code))
}

/// A guest's exit code as a process status (WASI allows 0 to 125).
fn exit_status(code: i32) -> u8 {
    u8::try_from(code).unwrap_or(1)
}
