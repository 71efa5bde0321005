//! `cargo xtask guests`: builds the guest programs of `guests/`.
//!
//! - The Rust workspace `guests/`, in release: the WASI programs for
//!   wasm32-wasip1 into `guests/target/wasm32-wasip1/release/`, the plugins
//!   (built on the SDK, `guests/sdk`) for wasm32-unknown-unknown into
//!   `guests/target/wasm32-unknown-unknown/release/`.
//! - The C programs of `guests/c/` with clang, against Debian's wasi-libc or
//!   freestanding, into `guests/target/c/`.
//!
//! The tools are checked first; a missing one fails with the command that
//! installs it, never with a skipped guest.
//!
//! It also holds the guest workspace's checks that `cargo xtask ci` runs:
//! [`fmt_check`], [`clippy`] and [`test`].

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Result, bail};

use crate::{cargo, run_command, workspace_root};

/// The guest workspace's manifest, relative to the workspace root.
pub(crate) const MANIFEST: &str = "guests/Cargo.toml";
/// The guests' own target directory, so that they never share (or lock) the
/// host's.
pub(crate) const TARGET_DIR: &str = "guests/target";
/// The Rust target of the WASI programs.
pub(crate) const WASI_TARGET: &str = "wasm32-wasip1";
/// The Rust target of the plugins.
pub(crate) const PLUGIN_TARGET: &str = "wasm32-unknown-unknown";

/// The sysroot of Debian's `wasi-libc` (headers in `include/wasm32-wasi`).
const WASI_SYSROOT: &str = "/usr";
/// What installs every tool checked here.
const SETUP: &str = "scripts/setup.sh";

/// How a C guest is compiled and linked.
#[derive(Clone, Copy)]
enum CKind {
    /// A WASI command (`_start`), against wasi-libc.
    WasiCommand,
    /// A WASI reactor (exports, `_initialize`), against wasi-libc.
    WasiReactor,
    /// A plugin in freestanding C: no libc, no entry point, the exports it
    /// names with `export_name`.
    Freestanding,
}

/// A C guest: its source in `guests/c/` and how it is built.
struct CGuest {
    name: &'static str,
    kind: CKind,
}

const C_GUESTS: &[CGuest] = &[
    CGuest {
        name: "wasi_probe",
        kind: CKind::WasiCommand,
    },
    CGuest {
        name: "wasi_reactor",
        kind: CKind::WasiReactor,
    },
    CGuest {
        name: "line_count",
        kind: CKind::Freestanding,
    },
    CGuest {
        name: "dot_lite",
        kind: CKind::WasiReactor,
    },
];

/// Rust WASI binaries, by crate name (the module is `<name>.wasm`).
const WASI_GUESTS: &[&str] = &["wasi-probe"];

/// Rust plugins (`cdylib`s on the SDK), by crate name; the module is the
/// crate name with underscores, `file_icons.wasm`.
const PLUGINS: &[&str] = &["file-icons", "word-count", "echo", "echo-msgpack", "share"];

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

    // One cargo run per target, each naming its packages: the WASI programs
    // need WASI, and the plugins are meant for the bare target.
    build_rust(WASI_TARGET, WASI_GUESTS)?;
    for name in WASI_GUESTS {
        outputs.push(expect_file(
            rust_out(WASI_TARGET).join(format!("{name}.wasm")),
        )?);
    }
    build_rust(PLUGIN_TARGET, PLUGINS)?;
    for name in PLUGINS {
        // A cdylib's module takes the crate name, with underscores.
        let module = format!("{}.wasm", name.replace('-', "_"));
        let module = expect_file(rust_out(PLUGIN_TARGET).join(module))?;
        check_no_clock(&module)?;
        outputs.push(module);
    }

    let c_out = root.join(TARGET_DIR).join("c");
    std::fs::create_dir_all(&c_out)?;
    for guest in C_GUESTS {
        let source = root.join("guests/c").join(format!("{}.c", guest.name));
        let output = c_out.join(format!("{}.wasm", guest.name));
        let mut clang = Command::new("clang");
        match guest.kind {
            CKind::WasiCommand | CKind::WasiReactor => {
                clang
                    .arg("--target=wasm32-wasi")
                    .arg(format!("--sysroot={WASI_SYSROOT}"));
            }
            CKind::Freestanding => {
                clang
                    .arg("--target=wasm32")
                    .args(["-nostdlib", "-Wl,--no-entry"]);
            }
        }
        clang
            .args(["-O2", "-Wall", "-Wextra", "-Werror"])
            // Keep the name section only (Debian's wasi-libc carries DWARF).
            .arg("-Wl,--strip-debug");
        if let CKind::WasiReactor = guest.kind {
            clang.arg("-mexec-model=reactor");
        }
        clang.arg(&source).arg("-o").arg(&output);
        run_command(&mut clang)?;
        outputs.push(expect_file(output)?);
    }
    Ok(outputs)
}

/// Builds `packages` of the guest workspace for `target`, in release.
fn build_rust(target: &str, packages: &[&str]) -> Result<()> {
    let mut args = vec![
        "build",
        "--release",
        "--manifest-path",
        MANIFEST,
        "--target",
        target,
        "--target-dir",
        TARGET_DIR,
    ];
    for package in packages {
        args.extend(["--package", package]);
    }
    cargo(&args)
}

/// Where the release build for `target` puts its modules.
fn rust_out(target: &str) -> PathBuf {
    workspace_root()
        .join(TARGET_DIR)
        .join(target)
        .join("release")
}

/// `cargo fmt --check` on the guest workspace.
pub(crate) fn fmt_check() -> Result<()> {
    cargo(&["fmt", "--manifest-path", MANIFEST, "--all", "--check"])
}

/// Clippy with warnings denied on the guest workspace: for wasm32-wasip1
/// (every crate), for wasm32-unknown-unknown (every crate but the WASI
/// programs), and natively with the tests (the SDK's stand-ins for the
/// imports, the plugins' unit tests).
pub(crate) fn clippy() -> Result<()> {
    let common = [
        "clippy",
        "--manifest-path",
        MANIFEST,
        "--target-dir",
        TARGET_DIR,
        "--workspace",
    ];
    let deny = ["--", "-D", "warnings"];
    cargo(&[&common[..], &["--target", WASI_TARGET], &deny].concat())?;
    let mut plugin_target = vec!["--target", PLUGIN_TARGET];
    for program in WASI_GUESTS {
        plugin_target.extend(["--exclude", program]);
    }
    cargo(&[&common[..], &plugin_target, &deny].concat())?;
    cargo(&[&common[..], &["--all-targets"], &deny].concat())
}

/// The unit tests and doctests of the SDK and the plugins, natively.
pub(crate) fn test() -> Result<()> {
    let mut args = vec![
        "test",
        "--manifest-path",
        MANIFEST,
        "--target-dir",
        TARGET_DIR,
        "--workspace",
    ];
    for program in WASI_GUESTS {
        args.extend(["--exclude", program]);
    }
    cargo(&args)
}

fn expect_file(path: PathBuf) -> Result<PathBuf> {
    if !path.is_file() {
        bail!("the build succeeded but {} is missing", path.display());
    }
    Ok(path)
}

/// The message std's clock panics with on `wasm32-unknown-unknown`, which
/// has none: a plugin whose module holds it can trap on reading the time.
const NO_CLOCK_PANIC: &[u8] = b"time not implemented on this platform";

/// Fails when a plugin built for the bare target links std's clock (the SDK
/// keeps it out: nothing in its prelude may trap there).
fn check_no_clock(module: &Path) -> Result<()> {
    let bytes = std::fs::read(module)?;
    if bytes
        .windows(NO_CLOCK_PANIC.len())
        .any(|window| window == NO_CLOCK_PANIC)
    {
        bail!(
            "{} links std's clock, which traps on {PLUGIN_TARGET}: a timestamp or \
             `SystemTime::now` reached the plugin",
            module.display()
        );
    }
    Ok(())
}

/// Fails, naming every missing tool and how to install it, unless the Rust
/// target, clang, the WASI sysroot and the wasm32 builtins are all present.
pub(crate) fn check_tools() -> Result<()> {
    let mut missing = Vec::new();

    for target in [WASI_TARGET, PLUGIN_TARGET] {
        if !has_rust_target(target) {
            missing.push(format!(
                "the Rust target {target} (rustup target add {target})"
            ));
        }
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
