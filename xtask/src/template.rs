//! `cargo xtask template-check`: the projects that `plugin-system new` writes
//! build and run outside this repository, as README.md's "Write your first
//! plugin" says.
//!
//! For each language and wire format it generates a project into a temporary
//! folder (never inside the repository, whose workspace must not capture
//! it), builds it with the project's own command (`cargo build --release`, or
//! `build.sh` for C), runs its native tests (`cargo test --target
//! host-tuple`), checks that it is formatted and builds without warnings, and
//! sends the module a `hello` event with the freshly built `plugin-system
//! event`, on both engines, checking the answer; an unknown event must fail.
//!
//! The Rust projects share one `CARGO_TARGET_DIR` in the temporary folder, so
//! that the SDK and its dependencies build once. The folder is removed when
//! every check passed, and kept (and named) when one failed.

use std::{
    path::{Path, PathBuf},
    process::{Command, Output},
    time::Instant,
};

use anyhow::{Context, Result, bail};

use crate::{cargo, guests, show, workspace_root};

/// One project to generate: its name, `--lang` and `--format`.
struct Case {
    name: &'static str,
    lang: &'static str,
    format: &'static str,
}

const CASES: &[Case] = &[
    Case {
        name: "hello",
        lang: "rust",
        format: "json",
    },
    Case {
        name: "hello-msgpack",
        lang: "rust",
        format: "msgpack",
    },
    Case {
        name: "hello-c",
        lang: "c",
        format: "json",
    },
];

/// What README.md shows, with the projects in `/tmp/`: the commands this
/// check runs (the folder aside), which must not drift apart.
const README_COMMANDS: &[&str] = &[
    "cargo run -p plugin-system -- new hello --dir /tmp/hello",
    "cd /tmp/hello",
    "cargo build --release",
    "cargo test --target host-tuple",
    "cargo run -p plugin-system -- event /tmp/hello/target/wasm32-unknown-unknown/release/hello.wasm --type hello --data '{\"name\":\"Ada\"}'",
    "cargo run -p plugin-system -- new hello-c --lang c --dir /tmp/hello-c",
    "/tmp/hello-c/build.sh",
    "cargo run -p plugin-system -- event /tmp/hello-c/build/hello_c.wasm --type hello --data '{\"name\":\"Ada\"}'",
];

/// The event of README.md, and what the answer must hold (whitespace
/// aside).
const EVENT_DATA: &str = r#"{"name":"Ada"}"#;
const EXPECTED: [&str; 2] = [r#""success":true"#, r#""greeting":"Hello,Ada!""#];

pub(crate) fn run() -> Result<()> {
    let started = Instant::now();
    check_readme()?;
    // The tools of `scripts/setup.sh`: the wasm32 target, clang.
    guests::check_tools()?;

    cargo(&["build", "-p", "plugin-system"])?;
    let cli = target_dir()?.join("debug/plugin-system");
    if !cli.is_file() {
        bail!("the build succeeded but {} is missing", cli.display());
    }

    let root = std::env::temp_dir().join(format!(
        "plugin-system-template-check-{}",
        std::process::id()
    ));
    if root.exists() {
        std::fs::remove_dir_all(&root)?;
    }
    std::fs::create_dir_all(&root)?;
    let outcome = check_all(&cli, &root);
    match &outcome {
        Ok(()) => {
            std::fs::remove_dir_all(&root)
                .with_context(|| format!("cannot remove {}", root.display()))?;
            eprintln!(
                "template-check: every template built and answered in {:.1?}",
                started.elapsed()
            );
        }
        Err(_) => eprintln!("template-check: kept {} to look into", root.display()),
    }
    outcome
}

fn check_all(cli: &Path, root: &Path) -> Result<()> {
    let shared_target = root.join("target");
    for case in CASES {
        let started = Instant::now();
        let dir = root.join(case.name);
        let module = case.name.replace('-', "_");
        let mut new = Command::new(cli);
        new.args([
            "new",
            case.name,
            "--lang",
            case.lang,
            "--format",
            case.format,
        ])
        .arg("--dir")
        .arg(&dir);
        run_in(&mut new, &workspace_root())?;

        let wasm = match case.lang {
            "rust" => {
                let in_project = |args: &[&str]| -> Result<Output> {
                    let mut command = Command::new(cargo_program());
                    command.args(args).env("CARGO_TARGET_DIR", &shared_target);
                    run_in(&mut command, &dir)
                };
                let build = in_project(&["build", "--release"])?;
                let test = in_project(&["test", "--target", "host-tuple"])?;
                // Warnings of the project's own crate (the SDK's path
                // dependencies report theirs too; they are not the
                // template's).
                let own = format!("`{}` (lib", case.name);
                for output in [&build, &test] {
                    if String::from_utf8_lossy(&output.stderr).contains(&own) {
                        bail!("the {} template builds with warnings", case.name);
                    }
                }
                in_project(&["fmt", "--check"])?;
                shared_target.join(format!("wasm32-unknown-unknown/release/{module}.wasm"))
            }
            "c" => {
                let build = run_in(&mut Command::new(dir.join("build.sh")), root)?;
                if String::from_utf8_lossy(&build.stderr).contains("warning") {
                    bail!("the {} template builds with warnings", case.name);
                }
                dir.join(format!("build/{module}.wasm"))
            }
            other => bail!("no build for --lang {other}"),
        };
        if !wasm.is_file() {
            bail!("the build succeeded but {} is missing", wasm.display());
        }

        for engine in ["wasmtime", "wasmi"] {
            let output = run_in(
                event(cli, root, &wasm)
                    .args(["--type", "hello", "--data", EVENT_DATA])
                    .args(["--engine", engine]),
                root,
            )?;
            let answer: String = String::from_utf8_lossy(&output.stdout)
                .split_whitespace()
                .collect();
            if let Some(missing) = EXPECTED.iter().find(|e| !answer.contains(*e)) {
                bail!(
                    "{} on {engine}: {missing} missing in the answer {answer}",
                    case.name
                );
            }
        }
        let mut unknown = event(cli, root, &wasm);
        unknown.args(["--type", "goodbye"]);
        eprintln!("$ {} (must fail)", show(&unknown));
        let output = unknown.output().context("cannot run plugin-system")?;
        let stderr = String::from_utf8_lossy(&output.stderr);
        if output.status.code() != Some(1) || !stderr.contains("unsupported event type: goodbye") {
            bail!(
                "{}: an unknown event should fail with exit 1 and say so; got {} and {stderr}",
                case.name,
                output.status
            );
        }
        eprintln!(
            "template-check: {} ({} {}) ok in {:.1?}",
            case.name,
            case.lang,
            case.format,
            started.elapsed()
        );
    }
    Ok(())
}

/// `plugin-system event WASM`, its compiled-module cache in `root`.
fn event(cli: &Path, root: &Path, wasm: &Path) -> Command {
    let mut command = Command::new(cli);
    command
        .arg("event")
        .arg(wasm)
        .env("PLUGIN_SYSTEM_CACHE_DIR", root.join("cache"));
    command
}

/// Runs `command` in `dir`, echoing it and its output; fails unless it
/// exits successfully.
fn run_in(command: &mut Command, dir: &Path) -> Result<Output> {
    let shown = show(command);
    eprintln!("$ {shown}");
    let output = command
        .current_dir(dir)
        .output()
        .with_context(|| format!("cannot run {shown}"))?;
    eprint!("{}", String::from_utf8_lossy(&output.stderr));
    eprint!("{}", String::from_utf8_lossy(&output.stdout));
    if !output.status.success() {
        bail!("{shown} failed ({})", output.status);
    }
    Ok(output)
}

/// The cargo that runs xtask.
fn cargo_program() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

/// The host workspace's target directory, as cargo sees it
/// (`CARGO_TARGET_DIR`, a config's `build.target-dir`, or `target/`).
pub(crate) fn target_dir() -> Result<PathBuf> {
    let output = Command::new(cargo_program())
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .current_dir(workspace_root())
        .output()
        .context("cannot run cargo metadata")?;
    if !output.status.success() {
        bail!("cargo metadata failed ({})", output.status);
    }
    let json = String::from_utf8_lossy(&output.stdout);
    let key = "\"target_directory\":\"";
    let start = json
        .find(key)
        .context("cargo metadata names no target_directory")?
        + key.len();
    // A JSON string: up to the first quote that is not escaped.
    let mut path = String::new();
    let mut chars = json[start..].chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => return Ok(PathBuf::from(path)),
            '\\' => path.extend(chars.next()),
            c => path.push(c),
        }
    }
    bail!("cargo metadata's target_directory does not end")
}

/// Fails when README.md's "Write your first plugin" no longer shows a
/// command this check runs.
fn check_readme() -> Result<()> {
    let readme = std::fs::read_to_string(workspace_root().join("README.md"))?;
    let section = readme
        .split("\n## ")
        .find(|s| s.starts_with("Write your first plugin"))
        .context("README.md has no section \"Write your first plugin\"")?;
    let lines: Vec<&str> = section.lines().map(str::trim).collect();
    for command in README_COMMANDS {
        // The command, and maybe a comment after it.
        let shown = lines.iter().any(|line| {
            line.strip_prefix(command)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with(' '))
        });
        if !shown {
            bail!(
                "README.md's \"Write your first plugin\" no longer shows `{command}`, which \
                 template-check runs: update one or the other (xtask/src/template.rs)"
            );
        }
    }
    Ok(())
}
