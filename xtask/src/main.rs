//! `cargo xtask`: the project's automation, in Rust.
//!
//! - `cargo xtask ci`: what CI runs: format check, clippy with warnings denied,
//!   and every test of the workspace (both engines).
//! - `cargo xtask bench`: the criterion benchmarks of the engine layer.

#![allow(clippy::print_stderr, reason = "a command-line tool reports progress")]

use std::process::Command;

use anyhow::{Context, Result, bail};

fn main() -> Result<()> {
    let task = std::env::args().nth(1).unwrap_or_default();
    match task.as_str() {
        "ci" => ci(),
        "bench" => cargo(&["bench", "-p", "plugin-system-wasm-run", "--bench", "engine"]),
        _ => {
            eprintln!("usage: cargo xtask <ci|bench>");
            bail!("unknown task `{task}`")
        }
    }
}

fn ci() -> Result<()> {
    cargo(&["fmt", "--all", "--check"])?;
    cargo(&[
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ])?;
    cargo(&["test", "--workspace", "--all-targets"])?;
    cargo(&["test", "--workspace", "--doc"])?;
    // Once more, to show the spec suite's pass counts per engine in the log.
    cargo(&[
        "test",
        "-p",
        "plugin-system-wasm-run",
        "--test",
        "spec",
        "--",
        "--nocapture",
    ])
}

fn cargo(args: &[&str]) -> Result<()> {
    eprintln!("$ cargo {}", args.join(" "));
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args(args)
        .status()
        .with_context(|| format!("cannot run cargo {}", args.join(" ")))?;
    if !status.success() {
        bail!("cargo {} failed ({status})", args.join(" "));
    }
    Ok(())
}
