//! `cargo xtask test-web`: the browser suites in headless Chromium, through
//! wasm-bindgen-test: the web engine's (`plugin-system-wasm-run`'s
//! `tests/web`), the plugin layer's on it (`plugin-system-wasm`'s
//! `tests/web`) and the manager's (`plugin-system-host`'s `tests/web`); the
//! last two embed the example plugins, so the guests are built first.
//!
//! Needs what `scripts/setup.sh` installs: the `wasm32-unknown-unknown`
//! target, Debian's `chromium` and `chromium-driver`, and the
//! `wasm-bindgen-test-runner` of `wasm-bindgen-cli` at the exact version of
//! wasm-bindgen in `Cargo.lock` (the runner refuses any other).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::{guests, run_command, workspace_root};

pub(crate) fn run() -> Result<()> {
    guests::build()?;
    tests()
}

/// The browser suites, the guests already built (`cargo xtask ci` builds
/// them first).
pub(crate) fn tests() -> Result<()> {
    let chromedriver = tools()?;
    // With wasmi compiled into the page, which runs the conformance suite too.
    run_command(cargo_test_in_chromium(&chromedriver).args([
        "-p",
        "plugin-system-wasm-run",
        "--no-default-features",
        "--features",
        "web,wasmi",
        "--lib",
        "--test",
        "web",
    ]))?;
    for crate_ in ["plugin-system-wasm", "plugin-system-host"] {
        run_command(cargo_test_in_chromium(&chromedriver).args(["-p", crate_, "--test", "web"]))?;
    }
    Ok(())
}

/// chromedriver's path, once the test runner is checked to be the
/// `wasm-bindgen` of `Cargo.lock`; what installs them when either is missing.
pub(crate) fn tools() -> Result<PathBuf> {
    let wanted = locked_version("wasm-bindgen")?;
    let runner = runner_version().with_context(|| {
        format!("wasm-bindgen-test-runner is missing: run scripts/setup.sh (cargo install wasm-bindgen-cli --version {wanted})")
    })?;
    if runner != wanted {
        bail!(
            "wasm-bindgen-test-runner is {runner}, Cargo.lock has wasm-bindgen {wanted}: run scripts/setup.sh"
        );
    }
    find_on_path("chromedriver")
        .context("chromedriver is missing: run scripts/setup.sh (Debian: chromium chromium-driver)")
}

/// `cargo test` for wasm32-unknown-unknown, run by wasm-bindgen-test-runner
/// in headless Chromium; the caller adds the packages and tests.
pub(crate) fn cargo_test_in_chromium(chromedriver: &Path) -> Command {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .arg("test")
        .args(["--target", "wasm32-unknown-unknown"])
        .env(
            "CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER",
            "wasm-bindgen-test-runner",
        )
        // Chromium, not another browser the runner would look for. Its
        // options are in each crate's `webdriver.json`, read from the
        // crate's folder: `--no-sandbox`, since Chromium's sandbox cannot
        // start as root in a container.
        .env("CHROMEDRIVER", chromedriver)
        .env_remove("GECKODRIVER")
        .env_remove("SAFARIDRIVER");
    command
}

/// The version of `package` in the workspace's `Cargo.lock`.
fn locked_version(package: &str) -> Result<String> {
    let lock = std::fs::read_to_string(workspace_root().join("Cargo.lock"))
        .context("cannot read Cargo.lock")?;
    let name = format!("name = \"{package}\"");
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line == name
            && let Some(version) = lines.next().and_then(|l| l.strip_prefix("version = \""))
        {
            return Ok(version.trim_end_matches('"').to_owned());
        }
    }
    bail!("{package} is not in Cargo.lock")
}

/// The installed runner's version (`wasm-bindgen-test-runner 0.2.130`).
fn runner_version() -> Result<String> {
    let output = Command::new("wasm-bindgen-test-runner")
        .arg("--version")
        .output()?;
    let text = String::from_utf8_lossy(&output.stdout);
    text.split_whitespace()
        .nth(1)
        .map(str::to_owned)
        .context("wasm-bindgen-test-runner --version printed no version")
}

/// The first `name` in a directory of `PATH`.
pub(crate) fn find_on_path(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(name))
        .find(|path| path.is_file())
}
