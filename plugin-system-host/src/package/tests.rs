use std::{fs, path::Path, time::Duration};

use plugin_system_core::{FilesystemAccessLevel, PluginManifest, PluginRuntimeType, Value};

use super::*;

const FULL: &str = r#"
# Every key a plugin.toml can hold.
id = "plugin.word-count"
name = "Word Count"
version = "1.2.0-beta.1"
description = "Counts the words of the open file"
runtime = "wasm"
author = "Example Org"
homepage = "https://example.invalid/word-count"
repository = "https://example.invalid/word-count.git"
license = "MIT OR Apache-2.0"
dependencies = ["plugin.base@^1.2", "plugin.text"]
requiredHostFunctions = ["log_info", "get_file_content"]
providedEvents = ["words.counted"]
subscribesTo = ["file.opened", "file.saved"]
minHostVersion = "1.0.0"
maxHostVersion = "2.5.0"
module = "./bin/word_count.wasm"
sha256 = "ABCDEF0123456789abcdef0123456789ABCDEF0123456789abcdef0123456789"

[configSchema]
type = "object"
properties = { ignoreNumbers = { type = "boolean", default = false } }

[metadata]
category = "text"
tags = ["words", "stats"]

[permissions]
hostFunctions = ["log_info", "get_file_content"]
filesystem = { "cache/" = "readWrite", "./assets" = "readOnly" }
maxMemoryBytes = 33554432
maxExecutionTimeMs = 250
fuel = 10000000
maxRestarts = 2

[config]
ignoreNumbers = true
threshold = 2.5
limit = 10
since = 1979-05-27T07:32:00Z
nested = { list = [1, "two", false] }
"#;

const FULL_JSON: &str = r#"{
  "id": "plugin.word-count",
  "name": "Word Count",
  "version": "1.2.0-beta.1",
  "description": "Counts the words of the open file",
  "runtime": "wasm",
  "author": "Example Org",
  "homepage": "https://example.invalid/word-count",
  "repository": "https://example.invalid/word-count.git",
  "license": "MIT OR Apache-2.0",
  "dependencies": ["plugin.base@^1.2", "plugin.text"],
  "configSchema": {"type": "object", "properties": {"ignoreNumbers": {"type": "boolean", "default": false}}},
  "requiredHostFunctions": ["log_info", "get_file_content"],
  "providedEvents": ["words.counted"],
  "subscribesTo": ["file.opened", "file.saved"],
  "minHostVersion": "1.0.0",
  "maxHostVersion": "2.5.0",
  "metadata": {"category": "text", "tags": ["words", "stats"]}
}"#;

const MINIMAL: &str = r#"
id = "plugin.min"
name = "Min"
version = "0.1.0"
description = "d"
runtime = "wasm"
module = "min.wasm"
"#;

fn path() -> &'static Path {
    Path::new("plugins/word-count/plugin.toml")
}

fn parse(text: &str) -> Result<PluginPackage, ManifestError> {
    PluginPackage::parse(text, path())
}

/// The key an `Invalid` error names, and its message.
fn invalid(text: &str) -> (String, String) {
    match parse(text) {
        Err(ManifestError::Invalid {
            key,
            message,
            path: p,
        }) => {
            assert_eq!(p, path());
            (key, message)
        }
        other => panic!("expected Invalid, got {other:?}"),
    }
}

/// `MINIMAL` with `line` replacing the line that starts with the same key, or
/// added.
fn with(line: &str) -> String {
    let key = line.split(['=', ' ']).next().unwrap();
    let mut replaced = false;
    let mut out: Vec<String> = MINIMAL
        .lines()
        .map(|l| {
            if !key.is_empty() && l.split(['=', ' ']).next() == Some(key) {
                replaced = true;
                line.to_owned()
            } else {
                l.to_owned()
            }
        })
        .collect();
    if !replaced {
        // Before any table, so that it stays a top-level key.
        out.insert(1, line.to_owned());
    }
    out.join("\n")
}

fn without(key: &str) -> String {
    MINIMAL
        .lines()
        .filter(|l| l.split(['=', ' ']).next() != Some(key))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn full_manifest_reads_every_key() {
    let p = parse(FULL).unwrap();
    let m = &p.manifest;
    assert_eq!(m.id, "plugin.word-count");
    assert_eq!(m.name, "Word Count");
    assert_eq!(m.version, "1.2.0-beta.1");
    assert_eq!(m.description, "Counts the words of the open file");
    assert_eq!(m.runtime, PluginRuntimeType::Wasm);
    assert_eq!(m.author.as_deref(), Some("Example Org"));
    assert_eq!(
        m.homepage.as_deref(),
        Some("https://example.invalid/word-count")
    );
    assert_eq!(
        m.repository.as_deref(),
        Some("https://example.invalid/word-count.git")
    );
    assert_eq!(m.license.as_deref(), Some("MIT OR Apache-2.0"));
    assert_eq!(m.dependencies, ["plugin.base@^1.2", "plugin.text"]);
    assert_eq!(m.required_host_functions, ["log_info", "get_file_content"]);
    assert_eq!(m.provided_events, ["words.counted"]);
    assert_eq!(m.subscribes_to, ["file.opened", "file.saved"]);
    assert_eq!(m.min_host_version.as_deref(), Some("1.0.0"));
    assert_eq!(m.max_host_version.as_deref(), Some("2.5.0"));
    let schema = m.config_schema.as_ref().unwrap();
    assert_eq!(schema["type"], Value::from("object"));
    assert_eq!(
        m.metadata.as_ref().unwrap()["tags"],
        Value::Array(vec![Value::from("words"), Value::from("stats")])
    );

    assert_eq!(p.dir, Path::new("plugins/word-count"));
    assert_eq!(p.manifest_path, path());
    assert_eq!(
        p.module,
        Path::new("plugins/word-count/bin/word_count.wasm")
    );
    assert_eq!(
        p.sha256.as_deref(),
        Some("abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789")
    );
    let perms = &p.permissions;
    assert_eq!(perms.host_functions, ["log_info", "get_file_content"]);
    assert_eq!(
        perms.filesystem.iter().collect::<Vec<_>>(),
        [
            (&"assets".to_owned(), &FilesystemAccessLevel::ReadOnly),
            (&"cache".to_owned(), &FilesystemAccessLevel::ReadWrite),
        ]
    );
    assert_eq!(perms.max_memory_bytes, Some(32 * 1024 * 1024));
    assert_eq!(perms.max_execution_time, Some(Duration::from_millis(250)));
    assert_eq!(perms.fuel, Some(10_000_000));
    assert_eq!(perms.max_restarts, Some(2));

    assert_eq!(p.config["ignoreNumbers"], Value::Bool(true));
    assert_eq!(p.config["threshold"], Value::Float(2.5));
    assert_eq!(p.config["limit"], Value::Int(10));
    // A TOML datetime becomes its RFC 3339 string.
    assert_eq!(p.config["since"], Value::from("1979-05-27T07:32:00Z"));
    assert_eq!(
        p.config["nested"].get("list"),
        Some(&Value::Array(vec![
            Value::Int(1),
            Value::from("two"),
            Value::Bool(false)
        ]))
    );
    assert!(p.ignored_keys.is_empty());
}

#[test]
fn toml_and_dart_json_give_the_same_manifest() {
    let from_toml = parse(FULL).unwrap().manifest;
    let from_json: PluginManifest = serde_json::from_str(FULL_JSON).unwrap();
    assert_eq!(from_toml, from_json);
}

#[test]
fn known_keys_are_the_models_keys() {
    // If core's PluginManifest gains a key, this list must learn it, or the
    // key would be reported as unknown.
    let m = PluginManifest::new("a", "A", "1.0.0", "d", PluginRuntimeType::Wasm);
    let json = serde_json::to_value(&m).unwrap();
    let mut model: Vec<&str> = json
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let mut ours = MANIFEST_KEYS.to_vec();
    model.sort_unstable();
    ours.sort_unstable();
    assert_eq!(model, ours);
}

#[test]
fn minimal_manifest_leaves_the_rest_empty() {
    let p = PluginPackage::parse(MINIMAL, Path::new("plugin.toml")).unwrap();
    assert_eq!(p.dir, Path::new("."));
    assert_eq!(p.module, Path::new("./min.wasm"));
    assert_eq!(p.sha256, None);
    assert_eq!(p.permissions, RequestedPermissions::default());
    assert!(p.config.is_empty() && p.ignored_keys.is_empty());
    assert!(p.manifest.dependencies.is_empty() && p.manifest.metadata.is_none());
}

#[test]
fn unknown_top_level_keys_are_ignored_and_listed() {
    let text = format!("limits = {{ maxStackDepth = 10 }}\ncapabilities = [\"x\"]\n{MINIMAL}");
    let p = parse(&text).unwrap();
    assert_eq!(p.ignored_keys, ["capabilities", "limits"]);
}

#[test]
fn syntax_errors_report_line_and_column() {
    let text = "id = \"plugin.x\"\nname = \"X\"\nversion = = \"1.0.0\"\n";
    match parse(text) {
        Err(ManifestError::Syntax {
            line,
            column,
            message,
            path: p,
        }) => {
            assert_eq!((line, column), (3, 11), "{message}");
            assert_eq!(p, path());
            assert!(!message.ends_with('.'), "{message}");
            let shown = parse(text).unwrap_err().to_string();
            assert!(
                shown.starts_with("plugins/word-count/plugin.toml:3:11: "),
                "{shown}"
            );
        }
        other => panic!("expected Syntax, got {other:?}"),
    }

    // An unterminated string on line 2, after a multi-byte character.
    match parse("id = \"é\"\nname = \"é\n") {
        Err(ManifestError::Syntax { line, .. }) => assert_eq!(line, 2),
        other => panic!("expected Syntax, got {other:?}"),
    }
    // A key given twice.
    match parse(&format!("{MINIMAL}\nname = \"again\"\n")) {
        Err(ManifestError::Syntax { line, .. }) => assert_eq!(line, 9),
        other => panic!("expected Syntax, got {other:?}"),
    }
}

#[test]
fn missing_required_keys_are_named() {
    for key in ["id", "name", "version", "description", "runtime", "module"] {
        let (named, message) = invalid(&without(key));
        assert_eq!(named, key);
        assert_eq!(message, "the key is missing");
    }
}

#[test]
fn invalid_values_name_their_key() {
    let cases: &[(&str, &str)] = &[
        ("id = \"\"", "id"),
        ("id = \"plugin x\"", "id"),
        ("id = \"plugin\\u0007x\"", "id"),
        ("id = \"plugin@x\"", "id"),
        ("id = 5", "id"),
        ("name = []", "name"),
        ("version = \"1.0\"", "version"),
        ("version = \"latest\"", "version"),
        ("runtime = \"jvm\"", "runtime"),
        ("author = 3", "author"),
        ("minHostVersion = \"one\"", "minHostVersion"),
        ("maxHostVersion = \"2\"", "maxHostVersion"),
        ("dependencies = \"plugin.base\"", "dependencies"),
        ("dependencies = [\"plugin.base@^x\"]", "dependencies"),
        ("dependencies = [\"plugin base\"]", "dependencies"),
        ("dependencies = [\"plugin.base@\"]", "dependencies"),
        ("dependencies = [\"plugin.min\"]", "dependencies"),
        ("dependencies = [1]", "dependencies"),
        ("subscribesTo = [1]", "subscribesTo"),
        ("metadata = 1", "metadata"),
        ("configSchema = \"x\"", "configSchema"),
        ("module = 1", "module"),
        ("module = \"\"", "module"),
        ("sha256 = \"abc\"", "sha256"),
        ("sha256 = 12", "sha256"),
        ("config = 3", "config"),
        ("permissions = \"all\"", "permissions"),
    ];
    for (line, key) in cases {
        let (named, message) = invalid(&with(line));
        assert_eq!(&named, key, "{line}: {message}");
        assert!(
            !message.is_empty() && !message.ends_with('.'),
            "{line}: {message}"
        );
    }

    let (key, message) = invalid(&with("version = \"1.0\""));
    assert_eq!(key, "version");
    assert!(
        message.contains("`1.0` is not a semantic version"),
        "{message}"
    );

    let shown = parse(&with("runtime = \"jvm\"")).unwrap_err().to_string();
    assert!(
        shown.starts_with("plugins/word-count/plugin.toml: invalid `runtime`: unknown variant"),
        "{shown}"
    );

    let text = format!(
        "{}\nminHostVersion = \"2.0.0\"\nmaxHostVersion = \"1.0.0\"",
        MINIMAL
    );
    assert_eq!(invalid(&text).0, "maxHostVersion");
}

#[test]
fn sha256_must_be_64_hex_digits() {
    let good = "0".repeat(64);
    assert!(parse(&with(&format!("sha256 = \"{good}\""))).is_ok());
    for bad in [
        "0".repeat(63),
        "0".repeat(65),
        format!("{}g", "0".repeat(63)),
    ] {
        let (key, message) = invalid(&with(&format!("sha256 = \"{bad}\"")));
        assert_eq!(key, "sha256");
        assert!(message.starts_with("expected 64 hex digits"), "{message}");
    }
}

#[test]
fn module_must_stay_in_the_folder() {
    for module in [
        "../escape.wasm",
        "bin/../../escape.wasm",
        "/abs/plugin.wasm",
        r"\\server\share\p.wasm",
        "C:/plugin.wasm",
        r"C:\plugin.wasm",
        r"bin\p.wasm",
        ".",
        "./",
    ] {
        // A literal string: backslashes as written.
        let (key, message) = invalid(&with(&format!("module = '{module}'")));
        assert_eq!(key, "module", "{module}");
        assert!(!message.is_empty());
    }
    let (_, message) = invalid(&with("module = \"../escape.wasm\""));
    assert_eq!(message, "`../escape.wasm` leaves the folder with `..`");

    let p = parse(&with("module = \"bin/./x.wasm\"")).unwrap();
    assert_eq!(p.module, Path::new("plugins/word-count/bin/x.wasm"));
}

#[test]
fn permissions_are_checked_key_by_key() {
    let table = |body: &str| format!("{MINIMAL}\n[permissions]\n{body}\n");
    let cases: &[(&str, &str)] = &[
        ("hostFunctions = \"log_info\"", "permissions.hostFunctions"),
        ("hostFunctions = [\"\"]", "permissions.hostFunctions"),
        ("hostFunctions = [1]", "permissions.hostFunctions"),
        ("filesystem = \"readOnly\"", "permissions.filesystem"),
        (
            "filesystem = { \"../up\" = \"readOnly\" }",
            "permissions.filesystem",
        ),
        (
            "filesystem = { \"/etc\" = \"readOnly\" }",
            "permissions.filesystem",
        ),
        (
            "filesystem = { \"a/../../b\" = \"readOnly\" }",
            "permissions.filesystem",
        ),
        (
            "filesystem = { \"\" = \"readOnly\" }",
            "permissions.filesystem",
        ),
        (
            "filesystem = { \"data\" = \"full\" }",
            "permissions.filesystem",
        ),
        (
            "filesystem = { \"data\" = \"none\" }",
            "permissions.filesystem",
        ),
        ("filesystem = { \"data\" = true }", "permissions.filesystem"),
        (
            "filesystem = { \"data\" = \"readOnly\", \"./data/\" = \"readWrite\" }",
            "permissions.filesystem",
        ),
        ("maxMemoryBytes = -1", "permissions.maxMemoryBytes"),
        ("maxMemoryBytes = 0", "permissions.maxMemoryBytes"),
        ("maxMemoryBytes = \"1MiB\"", "permissions.maxMemoryBytes"),
        ("maxExecutionTimeMs = 1.5", "permissions.maxExecutionTimeMs"),
        ("fuel = \"lots\"", "permissions.fuel"),
        ("fuel = 0", "permissions.fuel"),
        ("maxRestarts = 0", "permissions.maxRestarts"),
        ("maxRestarts = 5000000000", "permissions.maxRestarts"),
        ("network = true", "permissions.network"),
        ("maxMemoryByte = 10", "permissions.maxMemoryByte"),
    ];
    for (body, key) in cases {
        let (named, message) = invalid(&table(body));
        assert_eq!(&named, key, "{body}: {message}");
    }
    let (_, message) = invalid(&table("filesystem = { \"data\" = \"full\" }"));
    assert_eq!(
        message,
        "`data`: expected \"readOnly\" or \"readWrite\", found \"full\""
    );
    let (_, message) = invalid(&table("network = true"));
    assert!(message.starts_with("unknown permission, expected one of hostFunctions"));

    let p = parse(&table("filesystem = { \"data/icons\" = \"readOnly\" }")).unwrap();
    assert_eq!(
        p.permissions.filesystem.get("data/icons"),
        Some(&FilesystemAccessLevel::ReadOnly)
    );
}

#[test]
fn read_takes_a_folder_or_the_manifest_file() {
    let tmp = tempfile::tempdir().unwrap();
    fs::write(tmp.path().join(MANIFEST_FILE), MINIMAL).unwrap();
    let from_dir = PluginPackage::read(tmp.path()).unwrap();
    let from_file = PluginPackage::read(&tmp.path().join(MANIFEST_FILE)).unwrap();
    assert_eq!(from_dir, from_file);
    assert_eq!(from_dir.dir, tmp.path());
    assert_eq!(from_dir.module, tmp.path().join("min.wasm"));
}

#[test]
fn read_reports_io_errors_with_the_path() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("nope");
    let err = PluginPackage::read(&missing).unwrap_err();
    assert!(matches!(err, ManifestError::Io { .. }), "{err:?}");
    assert_eq!(err.path(), missing);
    assert!(std::error::Error::source(&err).is_some());

    // A folder without a manifest.
    let err = PluginPackage::read(tmp.path()).unwrap_err();
    assert_eq!(err.path(), tmp.path().join(MANIFEST_FILE));

    // A manifest that is a folder.
    fs::create_dir(tmp.path().join(MANIFEST_FILE)).unwrap();
    let err = PluginPackage::read(&tmp.path().join(MANIFEST_FILE)).unwrap_err();
    assert!(matches!(err, ManifestError::Io { .. }), "{err:?}");
}

#[test]
fn oversized_manifest_is_refused_unread() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join(MANIFEST_FILE);
    let mut text = MINIMAL.to_owned();
    text.push_str(&format!("# {}\n", "x".repeat(MAX_MANIFEST_SIZE as usize)));
    fs::write(&file, &text).unwrap();
    let err = PluginPackage::read(tmp.path()).unwrap_err();
    assert!(
        matches!(err, ManifestError::TooLarge { limit, .. } if limit == MAX_MANIFEST_SIZE),
        "{err:?}"
    );
    assert!(err.to_string().contains("1048576-byte limit"), "{err}");

    // Exactly at the limit is fine.
    let mut text = MINIMAL.to_owned();
    let pad = MAX_MANIFEST_SIZE as usize - text.len() - 3;
    text.push_str(&format!("#{}\n\n", "x".repeat(pad)));
    assert_eq!(text.len() as u64, MAX_MANIFEST_SIZE);
    fs::write(&file, &text).unwrap();
    PluginPackage::read(tmp.path()).unwrap();
}

#[test]
fn non_utf8_manifest_is_a_syntax_error() {
    let tmp = tempfile::tempdir().unwrap();
    let mut bytes = MINIMAL.as_bytes().to_vec();
    bytes.extend_from_slice(b"author = \"\xff\"\n");
    fs::write(tmp.path().join(MANIFEST_FILE), bytes).unwrap();
    match PluginPackage::read(tmp.path()) {
        Err(ManifestError::Syntax {
            line,
            column,
            message,
            ..
        }) => {
            assert_eq!((line, column, message.as_str()), (8, 11, "invalid UTF-8"));
        }
        other => panic!("expected Syntax, got {other:?}"),
    }
}

#[test]
fn hostile_inputs_never_panic() {
    let inputs = [
        String::new(),
        "[".to_owned(),
        "a = [".repeat(1000),
        "a = {".repeat(1000),
        format!("{MINIMAL}\n[config]\n{}", "a = [".repeat(200)),
        format!(
            "{MINIMAL}\nmetadata = {}1{}",
            "[".repeat(300),
            "]".repeat(300)
        ),
        "id = \"\u{0}\"".to_owned(),
        format!("{MINIMAL}\n[config]\nbig = 18446744073709551615"),
    ];
    for text in &inputs {
        let _ = parse(text);
    }
}

#[test]
fn a_byte_order_mark_is_allowed() {
    let p = parse(&format!("\u{feff}{MINIMAL}")).unwrap();
    assert_eq!(p.manifest.id, "plugin.min");
}

#[test]
fn discover_finds_nested_plugins_and_reports_bad_ones() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let plugin = |dir: &str, id: &str| {
        let dir = root.join(dir);
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join(MANIFEST_FILE), MINIMAL.replace("plugin.min", id)).unwrap();
    };
    plugin("b-plugin", "plugin.b");
    plugin("group/a-plugin", "plugin.a");
    plugin("group/deep/er/c-plugin", "plugin.c");
    // Not looked into: a plugin folder's own subfolders, hidden folders.
    plugin("b-plugin/inner", "plugin.inner");
    plugin(".hidden/h-plugin", "plugin.hidden");
    // Bad ones.
    fs::create_dir_all(root.join("bad-syntax")).unwrap();
    fs::write(root.join("bad-syntax").join(MANIFEST_FILE), "id = ").unwrap();
    fs::create_dir_all(root.join("group/bad-version")).unwrap();
    fs::write(
        root.join("group/bad-version").join(MANIFEST_FILE),
        MINIMAL.replace("0.1.0", "one"),
    )
    .unwrap();
    // A folder with no plugin, and a stray file.
    fs::create_dir_all(root.join("empty")).unwrap();
    fs::write(root.join("README.md"), "plugins").unwrap();

    let found = discover(root);
    let dirs: Vec<_> = found.packages.iter().map(|p| p.dir.clone()).collect();
    assert_eq!(
        dirs,
        [
            root.join("b-plugin"),
            root.join("group/a-plugin"),
            root.join("group/deep/er/c-plugin"),
        ]
    );
    let ids: Vec<_> = found
        .packages
        .iter()
        .map(|p| p.manifest.id.as_str())
        .collect();
    assert_eq!(ids, ["plugin.b", "plugin.a", "plugin.c"]);
    assert_eq!(found.errors.len(), 2, "{:?}", found.errors);
    assert!(matches!(found.errors[0], ManifestError::Syntax { .. }));
    assert_eq!(
        found.errors[0].path(),
        root.join("bad-syntax").join(MANIFEST_FILE)
    );
    assert_eq!(found.errors[1].key(), Some("version"));
}

#[cfg(unix)]
#[test]
fn discover_follows_links_but_not_loops() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("plugins");
    let elsewhere = tmp.path().join("dev/linked");
    fs::create_dir_all(&root).unwrap();
    fs::create_dir_all(&elsewhere).unwrap();
    fs::write(elsewhere.join(MANIFEST_FILE), MINIMAL).unwrap();
    std::os::unix::fs::symlink(&elsewhere, root.join("linked")).unwrap();
    // Loops: a link to its own parent, and to the root.
    fs::create_dir_all(root.join("loop")).unwrap();
    std::os::unix::fs::symlink(root.join("loop"), root.join("loop/self")).unwrap();
    std::os::unix::fs::symlink(&root, root.join("loop/root")).unwrap();

    let found = discover(&root);
    assert!(found.errors.is_empty(), "{:?}", found.errors);
    assert_eq!(found.packages.len(), 1);
    assert_eq!(found.packages[0].dir, root.join("linked"));
}

#[test]
fn discover_of_a_missing_folder_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    let found = discover(&tmp.path().join("absent"));
    assert!(found.packages.is_empty());
    assert_eq!(found.errors.len(), 1);
    assert!(
        matches!(&found.errors[0], ManifestError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound)
    );
}

#[test]
fn discover_of_a_plugin_folder_is_that_plugin() {
    let tmp = tempfile::tempdir().unwrap();
    fs::write(tmp.path().join(MANIFEST_FILE), MINIMAL).unwrap();
    let found = discover(tmp.path());
    assert_eq!(found.packages.len(), 1);
    assert!(found.errors.is_empty());
}
