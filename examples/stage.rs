//! Stages the example plugins (`examples/plugins/`, with their built modules)
//! into the folder given: what `cargo xtask dist` ships. Build the guests
//! first (`cargo xtask guests`).
//!
//! `cargo run -p examples --example stage -- DEST`

use std::path::PathBuf;

use anyhow::{Context, Result};

fn main() -> Result<()> {
    let dest: PathBuf = std::env::args_os()
        .nth(1)
        .context("usage: stage DEST (the folder to stage the example plugins into)")?
        .into();
    examples::stage_plugins(&dest)
}
