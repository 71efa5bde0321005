//! `cargo xtask guests`: builds the guest programs of `guests/`.
//!
//! - The Rust workspace `guests/` for wasm32-wasip1, in release, into
//!   `guests/target/wasm32-wasip1/release/`.
//! - The C programs of `guests/c/` with clang and Debian's wasi-libc, into
//!   `guests/target/c/`.
//!
//! The tools are checked first; a missing one fails with the command that
//! installs it, never with a skipped guest.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Result, bail};

use crate::{cargo, run_command, workspace_root};

/// The guest workspace's manifest, relative to the workspace root.
pub(crate) const MANIFEST: &str = "guests/Cargo.toml";
/// The guests' own target directory, so that they never share (or lock) the
/// host's.
pub(crate) const TARGET_DIR: &str = "guests/target";
/// The Rust target of the guest workspace.
pub(crate) const RUST_TARGET: &str = "wasm32-wasip1";

/// The sysroot of Debian's `wasi-libc` (headers in `include/wasm32-wasi`).
const WASI_SYSROOT: &str = "/usr";
/// What installs every tool checked here.
const SETUP: &str = "scripts/setup.sh";

/// A C guest: its source in `guests/c/` and how it is linked.
struct CGuest {
    name: &'static str,
    /// A WASI reactor (exports, `_initialize`) instead of a command (`_start`).
    reactor: bool,
}

const C_GUESTS: &[CGuest] = &[
    CGuest {
        name: "wasi_probe",
        reactor: false,
    },
    CGuest {
        name: "wasi_reactor",
        reactor: true,
    },
];

/// Rust guest binaries, by crate name.
const RUST_GUESTS: &[&str] = &["wasi-probe"];

pub(crate) fn run() -> Result<()> {
    let outputs = build()?;
    eprintln!("guests built:");
    for output in outputs {
        eprintln!("  {}", output.display());
    }
    Ok(())
}

/// Builds every guest; returns the absolute paths of the modules.
pub(crate) fn build() -> Result<Vec<PathBuf>> {
    check_tools()?;
    let root = workspace_root();
    let mut outputs = Vec::new();

    cargo(&[
        "build",
        "--release",
        "--manifest-path",
        MANIFEST,
        "--target",
        RUST_TARGET,
        "--target-dir",
        TARGET_DIR,
    ])?;
    let rust_out = root.join(TARGET_DIR).join(RUST_TARGET).join("release");
    for name in RUST_GUESTS {
        outputs.push(expect_file(rust_out.join(format!("{name}.wasm")))?);
    }

    let c_out = root.join(TARGET_DIR).join("c");
    std::fs::create_dir_all(&c_out)?;
    for guest in C_GUESTS {
        let source = root.join("guests/c").join(format!("{}.c", guest.name));
        let output = c_out.join(format!("{}.wasm", guest.name));
        let mut clang = Command::new("clang");
        clang
            .arg("--target=wasm32-wasi")
            .arg(format!("--sysroot={WASI_SYSROOT}"))
            .args(["-O2", "-Wall", "-Wextra", "-Werror"])
            // Debian's wasi-libc carries DWARF; keep the name section only.
            .arg("-Wl,--strip-debug");
        if guest.reactor {
            clang.arg("-mexec-model=reactor");
        }
        clang.arg(&source).arg("-o").arg(&output);
        run_command(&mut clang)?;
        outputs.push(expect_file(output)?);
    }
    Ok(outputs)
}

fn expect_file(path: PathBuf) -> Result<PathBuf> {
    if !path.is_file() {
        bail!("the build succeeded but {} is missing", path.display());
    }
    Ok(path)
}

/// Fails, naming every missing tool and how to install it, unless the Rust
/// target, clang, the WASI sysroot and the wasm32 builtins are all present.
fn check_tools() -> Result<()> {
    let mut missing = Vec::new();

    if !has_rust_target(RUST_TARGET) {
        missing.push(format!(
            "the Rust target {RUST_TARGET} (rustup target add {RUST_TARGET})"
        ));
    }

    let clang = Command::new("clang").arg("--version").output();
    if !clang.is_ok_and(|o| o.status.success()) {
        missing.push("clang (apt-get install clang lld)".to_owned());
    } else if !has_builtins() {
        missing.push(
            "the wasm32 compiler-rt builtins (apt-get install libclang-rt-dev-wasm32)".to_owned(),
        );
    }

    let headers = Path::new(WASI_SYSROOT).join("include/wasm32-wasi");
    if !headers.join("stdio.h").is_file() {
        missing.push(format!(
            "the WASI sysroot, {} (apt-get install wasi-libc)",
            headers.display()
        ));
    }

    if !missing.is_empty() {
        bail!(
            "cannot build the guests; missing:\n  - {}\nrun {SETUP} to install them all",
            missing.join("\n  - ")
        );
    }
    Ok(())
}

/// Whether the toolchain that cargo uses here has the standard library for
/// `target` (what `rustup target add` installs).
fn has_rust_target(target: &str) -> bool {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let Ok(output) = Command::new(rustc)
        .args(["--print", "sysroot"])
        .current_dir(workspace_root())
        .output()
    else {
        return false;
    };
    let sysroot = String::from_utf8_lossy(&output.stdout);
    Path::new(sysroot.trim())
        .join("lib/rustlib")
        .join(target)
        .join("lib")
        .is_dir()
}

/// Whether clang finds `libclang_rt.builtins-wasm32.a`, without which
/// linking any WASI program fails.
fn has_builtins() -> bool {
    let Ok(output) = Command::new("clang")
        .arg("--target=wasm32-wasi")
        .arg(format!("--sysroot={WASI_SYSROOT}"))
        .arg("-print-libgcc-file-name")
        .output()
    else {
        return false;
    };
    let path = String::from_utf8_lossy(&output.stdout);
    output.status.success() && Path::new(path.trim()).is_file()
}
