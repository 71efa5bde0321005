//! `cargo xtask ci`: everything CI checks, in order, stopping at the first
//! failure; last, the release tarball (`cargo xtask dist`) and its check.

use anyhow::Result;

use crate::{cargo, dist, guests, template, test_web};

pub(crate) fn run() -> Result<()> {
    // Guests first: tests load them, and a missing tool should fail here,
    // loudly, rather than as a skipped or failing test later.
    guests::build()?;

    cargo(&["fmt", "--all", "--check"])?;
    guests::fmt_check()?;

    cargo(&[
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ])?;
    // The web engine exists only for wasm32-unknown-unknown; wasmi runs in
    // a page beside it.
    cargo(&[
        "clippy",
        "-p",
        "plugin-system-wasm-run",
        "--no-default-features",
        "--features",
        "web,wasmi",
        "--target",
        "wasm32-unknown-unknown",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ])?;
    // The plugin layer there, with its browser tests (its native tests need
    // the native engines) and the browser benchmark, which they hold.
    cargo(&[
        "clippy",
        "-p",
        "plugin-system-wasm",
        "--target",
        "wasm32-unknown-unknown",
        "--lib",
        "--test",
        "web",
        "--",
        "-D",
        "warnings",
    ])?;
    guests::clippy()?;
    // The SDK's and the plugins' unit tests, natively.
    guests::test()?;
    // What `plugin-system new` writes builds, tests and runs outside the
    // repository.
    template::run()?;

    cargo(&["test", "--workspace", "--all-targets"])?;
    cargo(&["test", "--workspace", "--doc"])?;
    // The web engine and the plugin layer on it, in headless Chromium (the
    // guests are built above).
    test_web::tests()?;
    // Once more, to show the spec suite's pass counts per engine in the log.
    cargo(&[
        "test",
        "-p",
        "plugin-system-wasm-run",
        "--test",
        "spec",
        "--",
        "--nocapture",
    ])?;
    // The release tarball builds, and serves its plugins unpacked.
    dist::run(&[])?;
    dist::run(&["--check".to_owned()])
}
