//! The compiled-module cache of wasmtime: entries written and reused, bad
//! entries replaced, `--no-cache`, an unusable cache directory, and wasmi
//! caching nothing. Every test has a cache directory of its own.

use std::{
    ffi::OsStr,
    fs,
    path::{Path, PathBuf},
};

use crate::{Run, fixture, run_with};

const HELLO: &str = r#"(module
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "hello\n")
  (func (export "_start")
    (i32.store (i32.const 0) (i32.const 16))
    (i32.store (i32.const 4) (i32.const 6))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))"#;

const ADD: &str = r#"(module
  (func (export "add") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add))"#;

/// An empty directory for one test's cache (it does not exist yet).
fn cache_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("plugin-system-cli-caches")
        .join(name);
    let _ = fs::remove_dir_all(&dir);
    dir
}

/// `plugin-system run OPTIONS... FILE` with the cache in `cache`.
fn run_cached(cache: &Path, options: &[&str], file: &Path) -> Run {
    let mut args = vec!["run"];
    args.extend_from_slice(options);
    args.push(file.to_str().expect("utf-8 temp path"));
    run_with(
        &args,
        None,
        &[("PLUGIN_SYSTEM_CACHE_DIR", cache.as_os_str())],
    )
}

/// The `.cwasm` entries in `dir` (none when it does not exist).
fn entries(dir: &Path) -> Vec<PathBuf> {
    let Ok(listing) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut found: Vec<PathBuf> = listing
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.extension() == Some(OsStr::new("cwasm")))
        .collect();
    found.sort();
    found
}

#[test]
fn a_second_run_loads_the_entry_of_the_first() {
    if !cfg!(feature = "wasmtime") {
        return;
    }
    let dir = cache_dir("second-run");
    let wat = fixture("cache-hello.wat", HELLO);
    run_cached(&dir, &["--engine", "wasmtime"], &wat).prints("hello\n");
    let written = entries(&dir);
    assert_eq!(written.len(), 1, "{written:?}");
    let name = written[0]
        .file_stem()
        .and_then(OsStr::to_str)
        .expect("name");
    assert_eq!(name.len(), 64, "{name}");
    assert!(
        name.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    );
    let entry = fs::read(&written[0]).expect("entry");

    run_cached(&dir, &["--engine", "wasmtime"], &wat).prints("hello\n");
    assert_eq!(entries(&dir), written);
    assert_eq!(
        fs::read(&written[0]).expect("entry"),
        entry,
        "reused, not rewritten"
    );

    let key = dir.join("key");
    assert_eq!(fs::read(&key).expect("key").len(), 32);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(&key).expect("key").permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    }
}

#[test]
fn call_and_fuel_have_entries_of_their_own() {
    if !cfg!(feature = "wasmtime") {
        return;
    }
    let dir = cache_dir("fuel");
    let wat = fixture("cache-add.wat", ADD);
    let file = wat.to_str().expect("utf-8 temp path");
    let env = [("PLUGIN_SYSTEM_CACHE_DIR", dir.as_os_str())];
    for _ in 0..2 {
        run_with(
            &["call", "--engine", "wasmtime", file, "add", "2", "3"],
            None,
            &env,
        )
        .prints("5\n");
        run_with(
            &[
                "call", "--engine", "wasmtime", "--fuel", "100", file, "add", "2", "3",
            ],
            None,
            &env,
        )
        .prints("5\n");
    }
    assert_eq!(entries(&dir).len(), 2, "{:?}", entries(&dir));
}

#[test]
fn a_corrupted_entry_is_compiled_again_and_replaced() {
    if !cfg!(feature = "wasmtime") {
        return;
    }
    let dir = cache_dir("corrupted");
    let wat = fixture("cache-corrupted.wat", HELLO);
    run_cached(&dir, &["--engine", "wasmtime"], &wat).prints("hello\n");
    let [entry] = entries(&dir).try_into().expect("one entry");
    let good = fs::read(&entry).expect("entry");

    fs::write(&entry, b"garbage, not a compiled module").expect("corrupt the entry");
    run_cached(&dir, &["--engine", "wasmtime"], &wat).prints("hello\n");
    let replaced = fs::read(&entry).expect("entry");
    assert_ne!(replaced, b"garbage, not a compiled module");
    assert_eq!(replaced.len(), good.len());

    // A well-formed entry sealed under another key is refused as well.
    fs::write(dir.join("key"), [7u8; 32]).expect("replace the key");
    run_cached(&dir, &["--engine", "wasmtime"], &wat).prints("hello\n");
    run_cached(&dir, &["--engine", "wasmtime"], &wat).prints("hello\n");
}

#[test]
fn no_cache_writes_nothing() {
    if !cfg!(feature = "wasmtime") {
        return;
    }
    let dir = cache_dir("no-cache");
    let wat = fixture("cache-none.wat", HELLO);
    run_cached(&dir, &["--engine", "wasmtime", "--no-cache"], &wat).prints("hello\n");
    assert!(!dir.exists(), "{} was created", dir.display());
}

#[test]
fn an_unusable_cache_dir_still_runs() {
    if !cfg!(feature = "wasmtime") {
        return;
    }
    let file = fixture("cache-a-file", "not a directory");
    let wat = fixture("cache-unusable.wat", HELLO);
    run_cached(&file.join("cache"), &["--engine", "wasmtime"], &wat).prints("hello\n");

    // A key of the wrong length: nothing is cached.
    let dir = cache_dir("short-key");
    fs::create_dir_all(&dir).expect("cache dir");
    fs::write(dir.join("key"), b"short").expect("short key");
    run_cached(&dir, &["--engine", "wasmtime"], &wat).prints("hello\n");
    assert_eq!(entries(&dir), Vec::<PathBuf>::new());
}

#[test]
fn wasmi_writes_nothing() {
    if !cfg!(feature = "wasmi") {
        return;
    }
    let dir = cache_dir("wasmi");
    let wat = fixture("cache-wasmi.wat", HELLO);
    run_cached(&dir, &["--engine", "wasmi"], &wat).prints("hello\n");
    assert!(!dir.exists(), "{} was created", dir.display());
}
