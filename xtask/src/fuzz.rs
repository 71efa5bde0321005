//! `cargo xtask fuzz TARGET [--seconds N] [--rss-limit-mb M] [--asan] [-- LIBFUZZER ARGS]`:
//! runs one cargo-fuzz target of `fuzz/` (see `plugin-system-fuzz` for what
//! each checks) for a while, with one job.
//!
//! The build is cargo-fuzz's release build (`-O`) in the fuzz crate's own
//! target folder (`fuzz/target`, git-ignored), without a sanitizer unless
//! `--asan` is given (wasmtime under ASan builds and runs several times
//! slower). libFuzzer writes what it finds new into `fuzz/scratch/TARGET`
//! (git-ignored) and reads the checked-in corpus `fuzz/corpus/TARGET` beside
//! it; crashes land in `fuzz/artifacts/TARGET`. Installs cargo-fuzz when it
//! is missing; needs the nightly toolchain.

use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

use crate::{run_command, workspace_root};

/// The targets of `fuzz/Cargo.toml`.
const TARGETS: [&str; 5] = [
    "module_bytes",
    "instantiate_smith",
    "differential",
    "serializers",
    "abi_bridge",
];

const USAGE: &str =
    "usage: cargo xtask fuzz TARGET [--seconds N] [--rss-limit-mb M] [--asan] [-- LIBFUZZER ARGS]";

/// What the command line asked for.
#[derive(Debug, PartialEq)]
struct Options {
    target: String,
    seconds: u64,
    rss_limit_mb: u64,
    asan: bool,
    extra: Vec<String>,
}

fn parse(args: &[String]) -> Result<Options> {
    let mut args = args.iter();
    let Some(target) = args.next() else {
        bail!("{USAGE}\ntargets: {}", TARGETS.join(", "));
    };
    if !TARGETS.contains(&target.as_str()) {
        bail!("unknown fuzz target `{target}`: {}", TARGETS.join(", "));
    }
    let mut options = Options {
        target: target.clone(),
        seconds: 60,
        rss_limit_mb: 2048,
        asan: false,
        extra: Vec::new(),
    };
    while let Some(arg) = args.next() {
        let mut number = |name: &str| -> Result<u64> {
            let value = args
                .next()
                .with_context(|| format!("{name} needs a value"))?;
            value
                .parse()
                .with_context(|| format!("{name} takes a number, not `{value}`"))
        };
        match arg.as_str() {
            "--seconds" => options.seconds = number("--seconds")?,
            "--rss-limit-mb" => options.rss_limit_mb = number("--rss-limit-mb")?,
            "--asan" => options.asan = true,
            "--" => {
                options.extra = args.cloned().collect();
                break;
            }
            other => bail!("unknown option `{other}`\n{USAGE}"),
        }
    }
    Ok(options)
}

pub(crate) fn run(args: &[String]) -> Result<()> {
    let options = parse(args)?;
    ensure_cargo_fuzz()?;
    let root = workspace_root();
    let scratch = root.join("fuzz/scratch").join(&options.target);
    std::fs::create_dir_all(&scratch)
        .with_context(|| format!("cannot create {}", scratch.display()))?;
    let mut command = Command::new("cargo");
    command.args(["+nightly", "fuzz", "run", "-O"]);
    if !options.asan {
        command.args(["-s", "none"]);
    }
    command
        .arg(&options.target)
        .arg(&scratch)
        .arg(root.join("fuzz/corpus").join(&options.target))
        .arg("--")
        .arg(format!("-max_total_time={}", options.seconds))
        .arg(format!("-rss_limit_mb={}", options.rss_limit_mb))
        .args(&options.extra)
        // The fuzz crate builds in its own target folder, never in one meant
        // for the stable workspace.
        .env_remove("CARGO_TARGET_DIR");
    run_command(&mut command)
}

/// Installs cargo-fuzz unless `cargo +nightly fuzz` already runs.
fn ensure_cargo_fuzz() -> Result<()> {
    let installed = Command::new("cargo")
        .args(["+nightly", "fuzz", "--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    if installed {
        return Ok(());
    }
    run_command(Command::new("cargo").args(["install", "cargo-fuzz", "--locked"]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Vec<String> {
        line.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn parses_a_run() {
        let options = parse(&args("differential --seconds 1800 --asan -- -max_len=8192"))
            .expect("a valid line");
        assert_eq!(
            options,
            Options {
                target: "differential".into(),
                seconds: 1800,
                rss_limit_mb: 2048,
                asan: true,
                extra: vec!["-max_len=8192".into()],
            }
        );
        assert_eq!(parse(&args("serializers")).expect("defaults").seconds, 60);
    }

    #[test]
    fn refuses_what_it_does_not_know() {
        assert!(parse(&args("")).is_err());
        assert!(parse(&args("nope")).is_err());
        assert!(parse(&args("abi_bridge --seconds soon")).is_err());
        assert!(parse(&args("abi_bridge --jobs 4")).is_err());
    }
}
