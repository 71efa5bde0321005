//! `cargo xtask bench plugins`: the plugin round trip beside Extism.
//!
//! The benchmark lives in `benches/plugin-bench`, a workspace of its own that the
//! root excludes, so that host builds never compile Extism (and its wasmtime
//! 43). It shares the root `target/`, where the host crates are already built.

use std::process::Command;

use anyhow::{Result, bail};

use crate::{guests, run_command, workspace_root};

/// The bench workspace's manifest, relative to the workspace root.
const MANIFEST: &str = "benches/plugin-bench/Cargo.toml";
/// The Extism echo plugin's manifest.
const EXTISM_ECHO: &str = "benches/extism-echo/Cargo.toml";
/// The host's target directory, shared with the bench workspace.
const TARGET_DIR: &str = "target";

/// Builds the guests and the Extism echo plugin, then runs the `round_trip`
/// benchmark with `criterion_args` (`--warm-up-time 1`, a filter, ...).
pub(crate) fn plugins(criterion_args: Vec<String>) -> Result<()> {
    guests::build()?;
    let root = workspace_root();
    for plugin in ["echo.wasm", "echo_msgpack.wasm"] {
        let built = root
            .join(guests::TARGET_DIR)
            .join(guests::PLUGIN_TARGET)
            .join("release")
            .join(plugin);
        if !built.is_file() {
            bail!(
                "the guest build did not produce {}; the benchmark needs the SDK echo plugins",
                built.display()
            );
        }
    }

    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    // `--locked`: the benchmarks never rewrite a tracked lock file; a stale
    // one fails here, to be refreshed in a commit of its own.
    run_command(Command::new(&cargo).args([
        "build",
        "--release",
        "--locked",
        "--manifest-path",
        EXTISM_ECHO,
        "--target",
        guests::PLUGIN_TARGET,
        "--target-dir",
        TARGET_DIR,
    ]))?;

    let mut bench = Command::new(&cargo);
    bench
        .args([
            "bench",
            "--locked",
            "--manifest-path",
            MANIFEST,
            "--target-dir",
            TARGET_DIR,
            "--bench",
            "round_trip",
            "--",
        ])
        .args(criterion_args.iter().skip_while(|a| *a == "--"))
        // Where criterion writes its reports and the benchmark finds the
        // Extism plugin: the shared target directory, not the bench crate's.
        .env("CARGO_TARGET_DIR", root.join(TARGET_DIR));
    run_command(&mut bench)
}
