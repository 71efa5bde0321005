//! The command line: the clap parser, what the commands share (engine choice,
//! loading a file, the failure type), and how a failure becomes one line on
//! stderr and an exit code.
//!
//! Exit codes: 0 success; 1 the guest failed or a limit stopped it
//! ([`WasmError::is_guest_failure`]); 2 bad usage or invalid input. Output that
//! cannot be written also ends in 1, except a closed pipe (`| head`), which ends
//! the program quietly with 0.

mod cache;
mod call;
mod event;
mod host;
mod input;
mod inspect;
mod new;
mod run;
mod terminal;

use std::{
    ffi::OsString,
    fmt,
    io::{self, Write},
    path::{Path, PathBuf},
    process::ExitCode,
    sync::Arc,
    time::Duration,
};

use cache::CacheArgs;
use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};
use plugin_system::{
    EngineKind, WasmError, WasmModule, WasmRuntime, WasmRuntimeConfig,
    core::{ErrorChain, PluginError},
    new_runtime,
};

/// Inspect a WebAssembly module, call one of its functions, or run a WASI program,
/// on wasmtime or wasmi.
#[derive(Debug, Parser)]
#[command(name = "plugin-system", version, after_help = EXIT_CODES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

const EXIT_CODES: &str = "Exit codes: 0 success (an `event` answered with `success: false` \
too); 1 the guest failed or a limit stopped it (trap, fuel, timeout, stack or memory limit); \
2 bad usage or invalid input. `run` exits with the guest's own exit code.";

#[derive(Debug, Subcommand)]
enum Command {
    /// Show a module's size, hash, imports, exports, custom sections and validation.
    Inspect(inspect::InspectArgs),
    /// Call an exported function with no imports and print its results, one per line.
    Call(call::CallArgs),
    /// Run a WASI command with the terminal's stdin, stdout and stderr, and exit with
    /// its exit code.
    Run(run::RunArgs),
    /// Load a plugin, initialize it, send it events (one, or several with --data and
    /// --repeat), print each response as JSON.
    Event(event::EventArgs),
    /// Load every plugin folder under DIR, then send them the JSON-line events
    /// of stdin and print their answers as JSON lines.
    Host(host::HostArgs),
    /// Write a new plugin project, in Rust on the guest SDK or in C, that builds on
    /// its own.
    New(new::NewArgs),
    /// List, measure, fill or clear the cache of compiled code (in
    /// $PLUGIN_SYSTEM_CACHE_DIR, default $XDG_CACHE_HOME/plugin-system or
    /// ~/.cache/plugin-system).
    Cache(cache::CacheCommandArgs),
}

/// Parses the command line, runs the command, reports the outcome.
pub(crate) fn main() -> ExitCode {
    let cli = Cli::parse_from(options_first(std::env::args_os().collect()));
    let outcome = match &cli.command {
        Command::Inspect(args) => buffered(|out| inspect::run(args, out)),
        Command::Call(args) => buffered(|out| call::run(args, out)),
        Command::Event(args) => buffered(|out| event::run(args, out)),
        Command::Host(args) => buffered(|out| host::run(args, out)),
        Command::New(args) => buffered(|out| new::run(args, out)),
        Command::Cache(args) => buffered(|out| cache::manage(args, out)),
        // The guest writes to stdout itself: nothing may hold its lock.
        Command::Run(args) => run::run(args),
    };
    match outcome {
        Ok(code) => ExitCode::from(code),
        Err(Failure::Output(e)) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(failure) => {
            failure.report();
            ExitCode::from(failure.exit_code())
        }
    }
}

/// Runs a command that prints through a buffer of stdout, and exits with 0.
fn buffered(command: impl FnOnce(&mut dyn Write) -> Result<(), Failure>) -> Result<u8, Failure> {
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    let outcome = command(&mut out).and_then(|()| out.flush().map_err(Failure::Output));
    // Whatever reached stdout goes out before the error line on stderr.
    drop(out);
    outcome.map(|()| 0)
}

/// Why a command failed.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The command line asked for something impossible (a message that begins
    /// with what is wrong, such as `bad arguments: ...`).
    Usage(String),
    /// The engine refused the input or the guest failed.
    Wasm(WasmError),
    /// A plugin could not be loaded, or it failed.
    Plugin(PluginError),
    /// Standard output could not be written.
    Output(io::Error),
    /// Two failures, `first` the one the exit code tells (a plugin's
    /// `plugin_dispose` failing after its event did).
    Then {
        /// What failed first.
        first: Box<Failure>,
        /// What failed after it.
        then: Box<Failure>,
    },
    /// The guest stopped (a trap, a limit) while the command ran `phase`,
    /// such as `in plugin_dispose`: the engine's error does not say where.
    During {
        /// Where, as it reads after the error: `in plugin_dispose`.
        phase: &'static str,
        /// What happened.
        failure: Box<Failure>,
    },
}

impl Failure {
    /// Says where an engine's error happened (a plugin's own failures say
    /// it already).
    pub(crate) fn during(self, phase: &'static str) -> Self {
        match self {
            Failure::Wasm(_) => Failure::During {
                phase,
                failure: Box::new(self),
            },
            other => other,
        }
    }

    /// One `error:` line on stderr for each failure.
    fn report(&self) {
        if let Failure::Then { first, then } = self {
            first.report();
            then.report();
            return;
        }
        // The message may quote the guest (a `set_error` message, an export's
        // name): escaped, one line, cut past a few KB. Nothing is left to
        // tell if stderr itself is gone.
        let _ = writeln!(io::stderr(), "error: {}", terminal::line(&self.to_string()));
    }

    /// 1 when the guest failed or a limit stopped it, 2 for bad usage or input.
    fn exit_code(&self) -> u8 {
        match self {
            Failure::During { failure, .. } | Failure::Then { first: failure, .. } => {
                failure.exit_code()
            }
            Failure::Wasm(e) if e.is_guest_failure() => 1,
            Failure::Plugin(e) if e.is_guest_failure() => 1,
            Failure::Plugin(_) => 2,
            Failure::Output(_) => 1,
            Failure::Wasm(_) | Failure::Usage(_) => 2,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Usage(message) => f.write_str(message),
            // WasmError's message begins with its kind: `trap: unreachable`, ...
            // and goes on with its causes, each once.
            Failure::Wasm(e) => write!(f, "{}", ErrorChain(e)),
            Failure::Plugin(e) => write!(f, "{}", ErrorChain(e)),
            Failure::Output(e) => write!(f, "cannot write output: {e}"),
            Failure::During { phase, failure } => write!(f, "{failure} ({phase})"),
            Failure::Then { first, then } => write!(f, "{first}; then {then}"),
        }
    }
}

impl From<WasmError> for Failure {
    fn from(e: WasmError) -> Self {
        Failure::Wasm(e)
    }
}

impl From<PluginError> for Failure {
    fn from(e: PluginError) -> Self {
        match e {
            PluginError::Wasm(e) => Failure::Wasm(e),
            other => Failure::Plugin(other),
        }
    }
}

impl From<io::Error> for Failure {
    fn from(e: io::Error) -> Self {
        Failure::Output(e)
    }
}

/// `--engine`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum EngineArg {
    /// Compiles to native code (Cranelift JIT).
    Wasmtime,
    /// Interprets; starts at once, needs no JIT.
    Wasmi,
    /// wasmtime where built in, else wasmi; PLUGIN_SYSTEM_ENGINE overrides it.
    /// For `host`: tiered where both engines are built.
    Auto,
    /// Starts on wasmi at once while wasmtime compiles into the cache; from
    /// the cache, runs on wasmtime. `run`, `call` and `event` hand the compile
    /// to a process of its own and exit when the guest is done; `host` moves
    /// plugins to wasmtime as their compiles finish.
    Tiered,
}

impl From<EngineArg> for EngineKind {
    fn from(arg: EngineArg) -> Self {
        match arg {
            EngineArg::Wasmtime => EngineKind::Wasmtime,
            EngineArg::Wasmi => EngineKind::Wasmi,
            EngineArg::Auto => EngineKind::Auto,
            EngineArg::Tiered => EngineKind::Tiered,
        }
    }
}

/// The engine options every command takes.
#[derive(Debug, Args)]
pub(crate) struct EngineArgs {
    /// The engine to run on.
    #[arg(long, value_enum, default_value_t = EngineArg::Auto)]
    engine: EngineArg,
}

impl EngineArgs {
    /// A runtime of the chosen engine with `config`.
    ///
    /// # Errors
    /// [`WasmError::Unsupported`] when the engine is not built in.
    pub(crate) fn runtime(
        &self,
        config: WasmRuntimeConfig,
    ) -> Result<Arc<dyn WasmRuntime>, Failure> {
        Ok(new_runtime(self.engine.into(), config)?)
    }
}

/// What the commands that run guest code take to build their runtime: the
/// engine, the limits, and `--no-cache`.
#[derive(Debug, Args)]
pub(crate) struct RuntimeArgs {
    #[command(flatten)]
    engine: EngineArgs,
    #[command(flatten)]
    limits: LimitArgs,
    #[command(flatten)]
    cache: CacheArgs,
}

impl RuntimeArgs {
    /// A runtime of the chosen engine under the given limits, with WASI when
    /// `wasi`, keeping compiled modules in the cache unless `--no-cache` (see
    /// [`cache`]), for a command that runs and exits.
    ///
    /// # Errors
    /// [`WasmError::Unsupported`] when the engine is not built in.
    pub(crate) fn runtime(&self, wasi: bool) -> Result<Arc<dyn WasmRuntime>, Failure> {
        let config = self.limits.config().enable_wasi(wasi);
        Ok(cache::runtime(
            self.engine.engine.into(),
            config,
            &self.cache,
            cache::Lifetime::Command,
        )?)
    }

    /// [`runtime`](Self::runtime) for a process that serves until stopped
    /// (`host`): `auto` is tiered where both engines are built (and
    /// `PLUGIN_SYSTEM_ENGINE` chooses none), and tiered compiles run in this
    /// process.
    ///
    /// # Errors
    /// As [`runtime`](Self::runtime).
    pub(crate) fn serving_runtime(&self, wasi: bool) -> Result<Arc<dyn WasmRuntime>, Failure> {
        let config = self.limits.config().enable_wasi(wasi);
        let mut kind: EngineKind = self.engine.engine.into();
        if kind == EngineKind::Auto
            && std::env::var_os("PLUGIN_SYSTEM_ENGINE").is_none()
            && EngineKind::Tiered.is_available()
        {
            kind = EngineKind::Tiered;
        }
        Ok(cache::runtime(
            kind,
            config,
            &self.cache,
            cache::Lifetime::Server,
        )?)
    }

    /// Refuses host folders given to the guest that would expose the cache
    /// of compiled code ([`cache::guard_grants`]).
    ///
    /// # Errors
    /// [`Failure::Usage`] naming the grant and the ways out.
    pub(crate) fn guard_grants(&self, grants: &[(String, PathBuf)]) -> Result<(), Failure> {
        cache::guard_grants(&self.cache, grants)
    }
}

/// The limits of `call` and `run`, each off unless given.
#[derive(Debug, Args)]
pub(crate) struct LimitArgs {
    /// Fuel the instance starts with; running out stops the guest.
    #[arg(long, value_name = "N")]
    fuel: Option<u64>,
    /// Wall-clock limit of each call into the guest (and of the start function).
    #[arg(long, value_name = "MS")]
    timeout_ms: Option<u64>,
    /// Most 64 KiB pages a memory may have: memory.grow past it returns -1, and a
    /// module that needs more at start does not instantiate.
    #[arg(long, value_name = "PAGES")]
    max_memory_pages: Option<u64>,
    /// Most elements a table may have: table.grow past it returns -1. Default:
    /// tables within the memory limit (8 bytes an element), at most 2^20.
    #[arg(long, value_name = "N")]
    max_table_elements: Option<u64>,
    /// Most nested wasm calls; deeper recursion is a stack overflow.
    #[arg(long, value_name = "DEPTH")]
    max_stack_depth: Option<u32>,
}

impl LimitArgs {
    /// The runtime configuration with these limits.
    pub(crate) fn config(&self) -> WasmRuntimeConfig {
        let mut config = WasmRuntimeConfig::default();
        if let Some(fuel) = self.fuel {
            config = config.fuel_limit(fuel);
        }
        if let Some(ms) = self.timeout_ms {
            config = config.timeout(Duration::from_millis(ms));
        }
        if let Some(pages) = self.max_memory_pages {
            config = config.max_memory_pages(pages);
        }
        if let Some(elements) = self.max_table_elements {
            config = config.max_table_elements(elements);
        }
        if let Some(depth) = self.max_stack_depth {
            config = config.max_stack_depth(depth);
        }
        config
    }
}

/// Loads a `.wasm` or `.wat` file (of at most 1 GiB, the cap of
/// [`WasmRuntime::load_module_from_file`]).
pub(crate) fn load(runtime: &dyn WasmRuntime, path: &Path) -> Result<Arc<dyn WasmModule>, Failure> {
    let bytes = plugin_system::core::read_module_file(path).map_err(Failure::from)?;
    // Neither wasm nor WAT: said plainly, not as a WAT parser's complaint.
    input::check_module(&bytes)?;
    runtime
        .load_module(&bytes)
        .map_err(|e| name_file(e, path).into())
}

/// A WAT error of the file at `path` on one line ([`one_line`]), naming the
/// file where the parser only knows `<anon>`. Other errors pass unchanged.
pub(crate) fn name_file(e: WasmError, path: &Path) -> WasmError {
    match e {
        WasmError::InvalidModule { message } => WasmError::InvalidModule {
            message: one_line(&message.replace("<anon>", &path.display().to_string())),
        },
        other => other,
    }
}

/// Lets `call` take its options anywhere, also after arguments that begin with
/// `-` (`call m.wasm add -2 -0x3 --fuel 100`): moves every `--option` (with its
/// value) of the `call` subcommand in front of the positionals, and puts `--`
/// between them, so that clap reads `-2`, `-inf` or `-0x10` as values. Tokens
/// after a `--` of the user's stay positionals. Any other command line passes
/// through unchanged.
fn options_first(argv: Vec<OsString>) -> Vec<OsString> {
    if argv.get(1).and_then(|a| a.to_str()) != Some("call") {
        return argv;
    }
    let command = Cli::command();
    let Some(call) = command.find_subcommand("call") else {
        return argv;
    };
    // Long options that read the next token as their value.
    let takes_value: Vec<&str> = call
        .get_arguments()
        .filter(|a| a.get_action().takes_values())
        .filter_map(|a| a.get_long())
        .collect();

    let mut tokens = argv.into_iter();
    let mut options: Vec<OsString> = tokens.by_ref().take(2).collect();
    let mut positionals = Vec::new();
    while let Some(token) = tokens.next() {
        let text = token.to_str().unwrap_or_default();
        if text == "--" {
            positionals.extend(tokens.by_ref());
        } else if text.starts_with("--") || text == "-h" {
            let value_follows = text
                .strip_prefix("--")
                .is_some_and(|name| takes_value.contains(&name));
            options.push(token);
            if value_follows {
                options.extend(tokens.next());
            }
        } else {
            positionals.push(token);
        }
    }
    options.push("--".into());
    options.extend(positionals);
    options
}

/// Folds a multi-line message (a WAT parse error quotes the source with a
/// caret under it) into one line: the first line, the `--> file:line:col`
/// location in parentheses, and any further prose after `; `.
fn one_line(message: &str) -> String {
    let mut lines = message.lines().map(str::trim).filter(|l| !l.is_empty());
    let mut line = lines.next().unwrap_or("unknown failure").to_owned();
    for rest in lines {
        if let Some(location) = rest.strip_prefix("-->") {
            line = format!("{line} (at {})", location.trim());
        } else if !is_source_quote(rest) {
            line = format!("{line}; {rest}");
        }
    }
    line
}

/// Whether a line is part of a quoted source snippet: `  |`, `1 | (module`, `| ^`.
fn is_source_quote(line: &str) -> bool {
    line.split_once('|')
        .is_some_and(|(gutter, _)| gutter.trim().chars().all(|c| c.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_folds_a_wat_error() {
        let wat = "expected `(`\n     --> add.wat:1:1\n      |\n    1 | nonsense\n      | ^";
        assert_eq!(one_line(wat), "expected `(` (at add.wat:1:1)");
        assert_eq!(one_line("fuel exhausted"), "fuel exhausted");
        assert_eq!(one_line("a\n\nb\n"), "a; b");
        assert_eq!(one_line(""), "unknown failure");
    }

    #[test]
    fn exit_codes_follow_the_error_kind() {
        assert_eq!(Failure::Wasm(WasmError::FuelExhausted).exit_code(), 1);
        let link = WasmError::Link {
            message: "env::f".into(),
        };
        assert_eq!(Failure::Wasm(link).exit_code(), 2);
        assert_eq!(Failure::Usage("bad arguments".into()).exit_code(), 2);
        // Where it happened changes the words, not the code; only engine
        // errors get a place (a plugin's own failures name their export).
        let during = Failure::Wasm(WasmError::FuelExhausted).during("in plugin_dispose");
        assert_eq!(during.exit_code(), 1);
        assert_eq!(during.to_string(), "fuel exhausted (in plugin_dispose)");
        let usage = Failure::Usage("bad arguments".into()).during("in plugin_dispose");
        assert_eq!(usage.to_string(), "bad arguments");
        // Two failures: the first one's code.
        let both = Failure::Then {
            first: Box::new(Failure::Usage("bad arguments".into())),
            then: Box::new(during),
        };
        assert_eq!(both.exit_code(), 2);
    }

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    fn reordered(line: &str) -> String {
        let argv = line.split(' ').map(OsString::from).collect();
        let out: Vec<String> = options_first(argv)
            .into_iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        out.join(" ")
    }

    #[test]
    fn call_options_move_in_front_of_the_values() {
        assert_eq!(
            reordered("ps call m.wat add -2 --fuel 100 -0x3 --engine=wasmi"),
            "ps call --fuel 100 --engine=wasmi -- m.wat add -2 -0x3"
        );
        assert_eq!(
            reordered("ps call --invoke-start m.wat f -inf -- --fuel 1"),
            "ps call --invoke-start -- m.wat f -inf --fuel 1"
        );
        assert_eq!(reordered("ps call -h"), "ps call -h --");
        assert_eq!(
            reordered("ps inspect m.wat --json"),
            "ps inspect m.wat --json"
        );
    }

    #[test]
    fn reordered_call_lines_parse() {
        let argv = [
            "ps",
            "call",
            "m.wat",
            "add",
            "-2",
            "--timeout-ms",
            "5",
            "-inf",
            "--engine",
            "wasmtime",
        ];
        let cli = Cli::try_parse_from(options_first(argv.map(OsString::from).to_vec()));
        let Ok(Cli {
            command: Command::Call(call),
        }) = cli
        else {
            panic!("does not parse: {cli:?}");
        };
        assert_eq!(call.func(), "add");
        assert_eq!(call.values(), ["-2", "-inf"]);
    }
}
