//! `cargo xtask ci`: everything CI checks, in order, stopping at the first
//! failure; last, the release tarball (`cargo xtask dist`) and its check.

use anyhow::Result;

use crate::{cargo, demo_web, dist, guests, template, test_web};

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
    // The web engine exists only for wasm32-unknown-unknown (with wasmi,
    // which runs in a page beside it); the plugin layer and the manager
    // there, with their browser tests (their native tests need the native
    // engines) and the plugin layer's browser benchmark, which they hold.
    clippy_wasm32(&[
        "-p",
        "plugin-system-wasm-run",
        "--no-default-features",
        "--features",
        "web,wasmi",
        "--all-targets",
    ])?;
    clippy_wasm32(&["-p", "plugin-system-wasm", "--lib", "--test", "web"])?;
    clippy_wasm32(&["-p", "plugin-system-host", "--lib", "--test", "web"])?;
    guests::clippy()?;
    // The SDK's and the plugins' unit tests, natively.
    guests::test()?;
    // What `plugin-system new` writes builds, tests and runs outside the
    // repository.
    template::run()?;

    cargo(&["test", "--workspace", "--all-targets"])?;
    cargo(&["test", "--workspace", "--doc"])?;
    // The web engine, the plugin layer and the manager on it, in headless
    // Chromium (the guests are built above).
    test_web::tests()?;
    // The editor demo's page, served and driven in headless Chromium.
    demo_web::run(&["--check".to_owned()])?;
    // Once more, to show the spec suite's pass counts per engine in the log
    // (`--workspace`, not `-p`: the features of the build above, so the
    // suite is not compiled a second time).
    cargo(&["test", "--workspace", "--test", "spec", "--", "--nocapture"])?;
    // The release tarball builds, and serves its plugins unpacked.
    dist::run(&[])?;
    dist::run(&["--check".to_owned()])
}

/// `cargo clippy` of `args` for wasm32-unknown-unknown, warnings denied.
fn clippy_wasm32(args: &[&str]) -> Result<()> {
    let target = ["clippy", "--target", "wasm32-unknown-unknown"];
    cargo(&[&target[..], args, &["--", "-D", "warnings"]].concat())
}
