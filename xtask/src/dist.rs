//! `cargo xtask dist`: the command-line tool as released, with the example
//! plugins built and precompiled, in a tarball under `target/dist/`; `cargo
//! xtask dist --check [TARBALL]` unpacks one and runs its plugins.
//!
//! The tarball `plugin-system-<version>-<target triple>.tar.gz` holds one
//! folder of that name:
//! - `bin/plugin-system`: built with the `release-lto` profile (thin LTO,
//!   stripped);
//! - `plugins/`: the example plugins (`examples/plugins/`, their modules
//!   built from source), a folder each with its `plugin.toml`;
//! - `cache/`: a compiled-module cache (`plugin-system cache`) holding every
//!   plugin's module compiled by that binary, and the key that sealed them:
//!   with `PLUGIN_SYSTEM_CACHE_DIR` pointing there, the plugins start without
//!   compiling. The key is as trusted as the binary beside it, which made it;
//! - `README.txt`, and `SHA256SUMS` of every other file.
//!
//! Beside the tarball, `<tarball>.sha256`.

use std::{
    fs,
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

use anyhow::{Context, Result, bail};

use crate::{cargo, guests, run_command, workspace_root};

/// Where tarballs go, relative to the workspace root.
const DIST_DIR: &str = "target/dist";
/// The cargo profile of the released binary.
const PROFILE: &str = "release-lto";
/// An event the example file-icons plugin answers: `host` reads it on stdin.
const CHECK_EVENT: &str = r#"{"type":"get_icon","data":{"extension":"rs"}}"#;

/// `cargo xtask dist [--check [TARBALL]]`.
pub(crate) fn run(args: &[String]) -> Result<()> {
    match args.first().map(String::as_str) {
        None => {
            let tarball = build()?;
            eprintln!("wrote {}", tarball.display());
            Ok(())
        }
        Some("--check") => check(args.get(1).map(PathBuf::from)),
        Some(other) => {
            eprintln!("usage: cargo xtask dist [--check [TARBALL]]");
            bail!("unknown option `{other}`")
        }
    }
}

/// The folder (and tarball) name of this version for this host.
fn release_name() -> Result<String> {
    let output = Command::new("rustc")
        .arg("-vV")
        .output()
        .context("cannot run rustc -vV")?;
    let text = String::from_utf8_lossy(&output.stdout);
    let triple = text
        .lines()
        .find_map(|line| line.strip_prefix("host: "))
        .context("rustc -vV names no host triple")?;
    Ok(format!(
        "plugin-system-{}-{triple}",
        env!("CARGO_PKG_VERSION")
    ))
}

/// The cargo target directory: `CARGO_TARGET_DIR`, else `target/`.
fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|dir| workspace_root().join(dir))
        .unwrap_or_else(|| workspace_root().join("target"))
}

/// Builds the release folder and packs it; returns the tarball.
fn build() -> Result<PathBuf> {
    let name = release_name()?;
    guests::build()?;
    cargo(&[
        "build",
        "--locked",
        "--profile",
        PROFILE,
        "-p",
        "plugin-system",
        "--bin",
        "plugin-system",
    ])?;
    let out = workspace_root().join(DIST_DIR);
    let stage = out.join(&name);
    if stage.exists() {
        fs::remove_dir_all(&stage).with_context(|| format!("cannot clear {}", stage.display()))?;
    }
    fs::create_dir_all(stage.join("bin"))?;
    let binary = stage.join("bin").join("plugin-system");
    fs::copy(target_dir().join(PROFILE).join("plugin-system"), &binary)
        .context("cannot copy the released binary")?;

    cargo(&[
        "run",
        "--quiet",
        "-p",
        "examples",
        "--example",
        "stage",
        "--",
        path_str(&stage.join("plugins"))?,
    ])?;
    precompile(&binary, &stage)?;
    fs::write(stage.join("README.txt"), readme(&name))?;
    checksums(&stage)?;

    let tarball = out.join(format!("{name}.tar.gz"));
    run_command(
        Command::new("tar")
            .arg("-czf")
            .arg(&tarball)
            .arg("-C")
            .arg(&out)
            .arg(&name),
    )?;
    let sum = sha256_of(&tarball)?;
    let file_name = tarball
        .file_name()
        .map(|n| n.to_string_lossy().into_owned());
    fs::write(
        out.join(format!("{name}.tar.gz.sha256")),
        format!("{sum}  {}\n", file_name.unwrap_or_default()),
    )?;
    Ok(tarball)
}

/// Compiles every plugin's module into `stage/cache` with the released
/// binary itself, so the entries are its engine's and the default settings'
/// (those of `host` and `event` without `--fuel`).
fn precompile(binary: &Path, stage: &Path) -> Result<()> {
    let cache = stage.join("cache");
    let mut modules = Vec::new();
    for folder in fs::read_dir(stage.join("plugins"))? {
        for file in fs::read_dir(folder?.path())? {
            let path = file?.path();
            if path
                .extension()
                .is_some_and(|ext| ext == "wasm" || ext == "wat")
            {
                modules.push(path);
            }
        }
    }
    if modules.is_empty() {
        bail!("no plugin module was staged in {}", stage.display());
    }
    modules.sort();
    for module in &modules {
        run_command(
            Command::new(binary)
                .args(["cache", "add"])
                .arg(module)
                .env("PLUGIN_SYSTEM_CACHE_DIR", &cache),
        )?;
    }
    Ok(())
}

/// How to use the unpacked folder.
fn readme(name: &str) -> String {
    format!(
        "{name}\n\n\
         bin/plugin-system     the command-line tool (plugin-system --help)\n\
         plugins/              the example plugins, a folder each\n\
         cache/                their modules, compiled by this binary\n\n\
         Serve the plugins, starting from the compiled modules:\n\n\
         \x20 export PLUGIN_SYSTEM_CACHE_DIR=\"$PWD/cache\"\n\
         \x20 echo '{CHECK_EVENT}' | bin/plugin-system host plugins/\n\n\
         Check the files: sha256sum -c SHA256SUMS\n\n\
         The cache's key ships with this folder: anyone with the tarball can\n\
         seal code for it. Serve these plugins from it; keep your own modules\n\
         in the default cache, which makes a key of its own.\n"
    )
}

/// Writes `SHA256SUMS` for every file of `stage` (paths relative to it).
fn checksums(stage: &Path) -> Result<()> {
    let mut files = Vec::new();
    collect_files(stage, stage, &mut files)?;
    files.sort();
    let mut sums = String::new();
    for file in files {
        let sum = sha256_of(&stage.join(&file))?;
        sums.push_str(&format!("{sum}  {}\n", file.display()));
    }
    fs::write(stage.join("SHA256SUMS"), sums)?;
    Ok(())
}

fn collect_files(root: &Path, dir: &Path, files: &mut Vec<PathBuf>) -> Result<()> {
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect_files(root, &path, files)?;
        } else if path.file_name().is_some_and(|n| n != "SHA256SUMS") {
            files.push(path.strip_prefix(root)?.to_path_buf());
        }
    }
    Ok(())
}

/// The SHA-256 of a file, by `sha256sum` (coreutils).
fn sha256_of(path: &Path) -> Result<String> {
    let output = Command::new("sha256sum")
        .arg(path)
        .output()
        .context("cannot run sha256sum")?;
    if !output.status.success() {
        bail!("sha256sum {} failed", path.display());
    }
    let text = String::from_utf8_lossy(&output.stdout);
    text.split_whitespace()
        .next()
        .map(str::to_owned)
        .context("sha256sum printed nothing")
}

fn path_str(path: &Path) -> Result<&str> {
    path.to_str()
        .with_context(|| format!("{} is not UTF-8", path.display()))
}

/// Unpacks `tarball` (default: this host's in `target/dist/`) into a fresh
/// folder and checks it: the checksums, the shipped cache, and the plugins
/// answering an event through `host`.
fn check(tarball: Option<PathBuf>) -> Result<()> {
    let name = release_name()?;
    let out = workspace_root().join(DIST_DIR);
    let tarball = tarball.unwrap_or_else(|| out.join(format!("{name}.tar.gz")));
    if !tarball.is_file() {
        bail!(
            "no tarball at {}: run `cargo xtask dist` first",
            tarball.display()
        );
    }
    let unpacked = out.join("check");
    if unpacked.exists() {
        fs::remove_dir_all(&unpacked)?;
    }
    fs::create_dir_all(&unpacked)?;
    run_command(
        Command::new("tar")
            .arg("-xzf")
            .arg(&tarball)
            .arg("-C")
            .arg(&unpacked),
    )?;
    let mut folders = fs::read_dir(&unpacked)?.collect::<Result<Vec<_>, _>>()?;
    let [folder] = folders.as_mut_slice() else {
        bail!(
            "{} holds {} folders, not one",
            tarball.display(),
            folders.len()
        );
    };
    let root = folder.path();
    // Not `run_command`, which runs in the workspace root.
    let verified = Command::new("sha256sum")
        .args(["--quiet", "-c", "SHA256SUMS"])
        .current_dir(&root)
        .status()
        .context("cannot run sha256sum")?;
    if !verified.success() {
        bail!("the files of {} do not match SHA256SUMS", root.display());
    }

    let binary = root.join("bin").join("plugin-system");
    let cache = root.join("cache");
    let shipped = entries(&cache)?;
    if shipped.is_empty() {
        bail!("the tarball's cache holds no compiled module");
    }

    let mut host = Command::new(&binary)
        .args(["host", "--engine", "wasmtime"])
        .arg(root.join("plugins"))
        .env("PLUGIN_SYSTEM_CACHE_DIR", &cache)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("cannot start the released binary")?;
    if let Some(mut stdin) = host.stdin.take() {
        use std::io::Write;
        writeln!(stdin, "{CHECK_EVENT}")?;
    }
    let output = host.wait_with_output()?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    eprintln!("{stdout}{}", String::from_utf8_lossy(&output.stderr));
    // The file-icons plugin's answer, not an error line about it.
    let answered = stdout.lines().any(|line| {
        line.contains(r#""pluginId":"plugin.file-icons-wasm""#)
            && line.contains(r#""success":true"#)
            && line.contains(r#""icon":"devicon-rust-plain""#)
    });
    if !output.status.success() || !answered {
        bail!(
            "the released binary did not serve the plugins ({})",
            output.status
        );
    }
    // Served from the shipped entries: a hit keeps an entry's file (its
    // inode), a miss writes a new one and renames it into place.
    let after = entries(&cache)?;
    if after != shipped {
        bail!("the plugins were compiled again: the cache went from {shipped:?} to {after:?}");
    }
    eprintln!(
        "{} checked: {} compiled modules shipped, the plugins answered",
        tarball.display(),
        shipped.len()
    );
    Ok(())
}

/// The compiled modules in `cache` (`*.cwasm`), with their inodes, sorted.
fn entries(cache: &Path) -> Result<Vec<(String, u64)>> {
    use std::os::unix::fs::MetadataExt;
    let mut found = Vec::new();
    for entry in fs::read_dir(cache).with_context(|| format!("cannot read {}", cache.display()))? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(".cwasm") {
            found.push((name, entry.metadata()?.ino()));
        }
    }
    found.sort();
    Ok(found)
}
