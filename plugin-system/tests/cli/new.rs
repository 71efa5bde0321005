//! `plugin-system new`: the files of each template, and the usage errors. The
//! projects are not built here (`cargo xtask template-check` builds and runs
//! them).

use std::{
    collections::BTreeSet,
    fs,
    path::{Path, PathBuf},
    process::Command,
};

use crate::{Run, run, run_command};

/// A fresh folder for one test's projects, under the target dir.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("plugin-system-new")
        .join(name);
    if dir.exists() {
        fs::remove_dir_all(&dir).expect("clear the scratch folder");
    }
    fs::create_dir_all(&dir).expect("scratch folder");
    dir
}

fn utf8(path: &Path) -> &str {
    path.to_str().expect("utf-8 temp path")
}

/// `plugin-system new ARGS...`
fn new(args: &[&str]) -> Run {
    let mut all = vec!["new"];
    all.extend_from_slice(args);
    run(&all)
}

/// Every file under `dir`, as relative paths with `/`.
fn files(dir: &Path) -> BTreeSet<String> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeSet<String>) {
        for entry in fs::read_dir(dir).expect("read the project") {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let relative = path.strip_prefix(root).expect("under the root");
                out.insert(relative.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    let mut out = BTreeSet::new();
    walk(dir, dir, &mut out);
    out
}

fn read(dir: &Path, file: &str) -> String {
    let text = fs::read_to_string(dir.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
    assert!(
        !text.contains("{{"),
        "a placeholder is left in {file}:\n{text}"
    );
    text
}

#[track_caller]
fn contains(text: &str, expected: &[&str]) {
    for expected in expected {
        assert!(text.contains(expected), "{expected:?} missing in\n{text}");
    }
}

/// This checkout's SDK, as the generated Cargo.toml names it.
fn checkout_sdk() -> PathBuf {
    fs::canonicalize(Path::new(env!("CARGO_MANIFEST_DIR")).join("../guests/sdk"))
        .expect("the checkout has guests/sdk")
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|&n| n.to_owned()).collect()
}

#[test]
fn a_rust_project_in_json() {
    let dir = scratch("rust-json").join("greeter");
    let out = new(&["my-greeter", "--dir", utf8(&dir)]);
    assert_eq!((out.code, out.stderr.as_str()), (0, ""), "{out:#?}");
    let shown = fs::canonicalize(&dir).expect("created");
    contains(
        &out.stdout,
        &[
            &format!(
                "created plugin.my-greeter, a Rust plugin speaking JSON, in {}:",
                shown.display()
            ),
            "cargo build --release",
            "cargo test --target host-tuple",
            "plugin-system event target/wasm32-unknown-unknown/release/my_greeter.wasm --type hello",
        ],
    );
    assert_eq!(
        files(&dir),
        set(&[
            ".cargo/config.toml",
            ".gitignore",
            "Cargo.toml",
            "README.md",
            "src/lib.rs",
        ])
    );

    let manifest = read(&dir, "Cargo.toml");
    let sdk = checkout_sdk();
    contains(
        &manifest,
        &[
            "name = \"my-greeter\"",
            "crate-type = [\"cdylib\"]",
            &format!("plugin-system-guest = {{ path = \"{}\" }}", sdk.display()),
            "[profile.release]",
            "opt-level = 3",
            "lto = true",
            "panic = \"abort\"",
            "strip = true",
        ],
    );
    assert!(
        manifest.lines().any(|line| line == "[workspace]"),
        "a workspace of its own:\n{manifest}"
    );
    contains(
        &read(&dir, ".cargo/config.toml"),
        &["[build]", "target = \"wasm32-unknown-unknown\""],
    );
    let lib = read(&dir, "src/lib.rs");
    contains(
        &lib,
        &[
            "use plugin_system_guest::prelude::*;",
            "pub struct MyGreeterPlugin;",
            "impl Plugin for MyGreeterPlugin {",
            "\"plugin.my-greeter\"",
            "export_plugin!(MyGreeterPlugin, format = json);",
            "#[cfg(all(test, not(target_family = \"wasm\")))]",
            "Harness::<MyGreeterPlugin>::new()",
        ],
    );
    let readme = read(&dir, "README.md");
    contains(
        &readme,
        &[
            "# My Greeter",
            "It speaks JSON",
            "cargo build --release",
            "target/wasm32-unknown-unknown/release/my_greeter.wasm",
            "plugin-system event target/wasm32-unknown-unknown/release/my_greeter.wasm --type hello --data '{\"name\":\"Ada\"}'",
            "cargo test --target host-tuple",
            "plugin-system-guest = \"0.1\"",
        ],
    );
    assert_eq!(read(&dir, ".gitignore"), "/target\n");
}

#[test]
fn a_rust_project_in_msgpack() {
    let dir = scratch("rust-msgpack").join("p");
    new(&["echo2", "--format", "msgpack", "--dir", utf8(&dir)]).code_is(0);
    contains(
        &read(&dir, "src/lib.rs"),
        &[
            "export_plugin!(Echo2Plugin, format = msgpack);",
            "speaking MessagePack",
        ],
    );
    contains(&read(&dir, "README.md"), &["It speaks MessagePack"]);
    // The rest is the JSON project's.
    assert_eq!(files(&dir).len(), 5);
}

#[test]
fn a_c_project() {
    let dir = scratch("c").join("p");
    let out = new(&["line-stats", "--lang", "c", "--dir", utf8(&dir)]);
    assert_eq!((out.code, out.stderr.as_str()), (0, ""), "{out:#?}");
    contains(
        &out.stdout,
        &[
            "a C plugin speaking JSON",
            "./build.sh",
            "plugin-system event build/line_stats.wasm --type hello",
        ],
    );
    assert_eq!(
        files(&dir),
        set(&[".gitignore", "README.md", "build.sh", "line_stats.c"])
    );
    contains(
        &read(&dir, "line_stats.c"),
        &[
            ".section .custom_section.plugin_abi_version",
            ".ascii \\\"json\\\"",
            "\\\"id\\\":\\\"plugin.line-stats\\\"",
            "export_name(name)",
            "EXPORT(\"plugin_handle_event\")",
            "EXPORT(\"alloc\")",
            "EXPORT(\"dealloc\")",
        ],
    );
    let build = read(&dir, "build.sh");
    contains(
        &build,
        &[
            "--target=wasm32-unknown-unknown",
            "-nostdlib",
            "line_stats.c -o build/line_stats.wasm",
        ],
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(dir.join("build.sh"))
            .expect("build.sh")
            .permissions()
            .mode();
        assert_eq!(mode & 0o111, 0o111, "build.sh is executable: {mode:o}");
    }
    contains(
        &read(&dir, "README.md"),
        &[
            "./build.sh",
            "build/line_stats.wasm",
            "plugin-system event build/line_stats.wasm --type hello --data '{\"name\":\"Ada\"}'",
        ],
    );
    assert_eq!(read(&dir, ".gitignore"), "/build\n");
}

#[test]
fn without_dir_the_project_is_named_after_the_plugin() {
    let cwd = scratch("default-dir");
    let mut command = Command::new(env!("CARGO_BIN_EXE_plugin-system"));
    command.args(["new", "hello"]).current_dir(&cwd);
    run_command(command, &["new", "hello"], None).code_is(0);
    assert!(cwd.join("hello/src/lib.rs").is_file());
}

#[test]
fn sdk_overrides_the_checkout() {
    let root = scratch("sdk");
    let sdk = root.join("my-sdk");
    fs::create_dir_all(&sdk).expect("sdk folder");
    fs::write(
        sdk.join("Cargo.toml"),
        "[package]\nname = \"plugin-system-guest\"\n",
    )
    .expect("sdk manifest");
    let dir = root.join("p");
    new(&["p", "--dir", utf8(&dir), "--sdk", utf8(&sdk)]).code_is(0);
    let sdk = fs::canonicalize(&sdk).expect("sdk");
    contains(
        &read(&dir, "Cargo.toml"),
        &[&format!("path = \"{}\"", sdk.display())],
    );
    contains(
        &read(&dir, "README.md"),
        &[&format!("path = \"{}\"", sdk.display())],
    );

    // A folder that holds no SDK is refused, before anything is written.
    let elsewhere = root.join("q");
    new(&["q", "--dir", utf8(&elsewhere), "--sdk", utf8(&root)]).fails(
        2,
        "error: bad usage: no guest SDK (plugin-system-guest) in ",
    );
    new(&["q", "--dir", utf8(&elsewhere), "--sdk", "/no/such/sdk"])
        .fails(2, "error: bad usage: no guest SDK");
    assert!(!elsewhere.exists());
}

#[test]
fn bad_names_are_usage_errors() {
    let root = scratch("bad-names");
    let long = "a".repeat(65);
    for name in [
        "Hello",
        "1st",
        "-x",
        "x-",
        "my plugin",
        "a.b",
        "a/b",
        "../x",
        "héllo",
        "fn",
        "self",
        "test",
        "std",
        "plugin-system-guest",
        "nul",
        &long,
    ] {
        let dir = root.join("p");
        new(&["--dir", utf8(&dir), "--", name]).fails(2, &format!("error: bad name `{name}`: "));
        assert!(!dir.exists(), "{name}: nothing is written");
    }
    new(&["", "--dir", utf8(&root.join("p"))]).fails(2, "error: bad name ``: ");
}

#[test]
fn what_does_not_exist_is_a_usage_error() {
    let root = scratch("usage");
    let dir = root.join("p");
    let dir = utf8(&dir);
    new(&["p", "--lang", "c", "--format", "msgpack", "--dir", dir])
        .fails(2, "error: bad usage: --lang c speaks JSON only");
    new(&["p", "--lang", "c", "--sdk", "/x", "--dir", dir])
        .fails(2, "error: bad usage: --sdk is for --lang rust");
    new(&["p", "--lang", "go", "--dir", dir]).code_is(2);
    new(&["p", "--format", "postcard", "--dir", dir]).code_is(2);
    new(&[]).code_is(2);
    assert!(!root.join("p").exists());
}

#[test]
fn nothing_is_overwritten() {
    let root = scratch("overwrite");
    // A folder with anything in it is refused, and left as it was.
    let full = root.join("full");
    fs::create_dir_all(&full).expect("folder");
    fs::write(full.join("Cargo.toml"), "mine").expect("a file of the user's");
    for lang in ["rust", "c"] {
        new(&["p", "--lang", lang, "--dir", utf8(&full)]).fails(2, "error: bad usage: ");
    }
    assert_eq!(files(&full), set(&["Cargo.toml"]));
    assert_eq!(fs::read_to_string(full.join("Cargo.toml")).unwrap(), "mine");

    let hidden = root.join("hidden");
    fs::create_dir_all(hidden.join(".git")).expect("folder");
    new(&["p", "--dir", utf8(&hidden)]).fails(2, "error: bad usage: ");

    // So is a file.
    let file = root.join("file");
    fs::write(&file, "x").expect("file");
    new(&["p", "--dir", utf8(&file)]).fails(2, "error: bad usage: ");
    assert_eq!(fs::read_to_string(&file).unwrap(), "x");

    // An empty folder is taken; the same command again is refused.
    let empty = root.join("empty");
    fs::create_dir_all(&empty).expect("folder");
    new(&["p", "--dir", utf8(&empty)]).code_is(0);
    let before = read(&empty, "src/lib.rs");
    new(&["p", "--dir", utf8(&empty)]).fails(2, "error: bad usage: ");
    assert_eq!(read(&empty, "src/lib.rs"), before);
}
