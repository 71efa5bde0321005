//! `cargo xtask demo`: builds the guests the demo loads, then runs it.

use anyhow::Result;

use crate::{cargo, guests};

pub(crate) fn run() -> Result<()> {
    guests::run()?;
    cargo(&["run", "-p", "examples", "--example", "demo"])
}
