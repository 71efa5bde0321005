//! The compiled-module cache of wasmtime: entries written and reused, bad
//! entries and keys replaced, `--no-cache`, an unusable cache directory, wasmi
//! caching nothing, grants of host folders that would give a guest the
//! cache refused, two processes filling one entry at once, and `cache
//! list|clear|size`. Every test has a cache directory of its own.

use std::{
    ffi::OsStr,
    fs,
    path::{Path, PathBuf},
};

use crate::{Run, engines, fixture, run::guest, run_with};

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
        assert_eq!(mode & 0o777, 0o400, "{mode:o}");
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
    let key = fs::read(dir.join("key")).expect("key");
    fs::remove_file(dir.join("key")).expect("remove the key");
    run_cached(&dir, &["--engine", "wasmtime"], &wat).prints("hello\n");
    assert_ne!(fs::read(dir.join("key")).expect("a new key"), key);
    assert_eq!(fs::read(&entry).expect("entry").len(), good.len());
    run_cached(&dir, &["--engine", "wasmtime"], &wat).prints("hello\n");
}

#[test]
fn a_key_the_host_did_not_make_is_replaced() {
    if !cfg!(feature = "wasmtime") {
        return;
    }
    let wat = fixture("cache-planted-key.wat", HELLO);
    // A key anyone could have written (as a guest writes a file through WASI,
    // which cannot set modes), a key of the wrong length, a symlink.
    type Plant = fn(&Path);
    let planted: [(&str, Plant); 3] = [
        ("writable-key", |key| {
            fs::write(key, [7u8; 32]).expect("plant a key")
        }),
        ("short-key", |key| {
            fs::write(key, b"short").expect("plant a key")
        }),
        ("symlinked-key", |key| {
            let target = key.with_file_name("elsewhere");
            fs::write(&target, [7u8; 32]).expect("plant a key");
            #[cfg(unix)]
            std::os::unix::fs::symlink(&target, key).expect("symlink");
        }),
    ];
    for (name, plant) in planted {
        let dir = cache_dir(name);
        fs::create_dir_all(&dir).expect("cache dir");
        let key = dir.join("key");
        plant(&key);
        run_cached(&dir, &["--engine", "wasmtime"], &wat).prints("hello\n");
        let metadata = fs::symlink_metadata(&key).expect("a key");
        assert!(metadata.is_file(), "{name}: a regular file");
        assert_eq!(metadata.len(), 32, "{name}");
        assert_ne!(fs::read(&key).expect("key"), [7u8; 32], "{name}: replaced");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(metadata.permissions().mode() & 0o777, 0o400, "{name}");
        }
        assert_eq!(entries(&dir).len(), 1, "{name}: cached under the new key");
    }
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

    // A directory others may write: nothing is cached.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let dir = cache_dir("shared");
        fs::create_dir_all(&dir).expect("cache dir");
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o777)).expect("chmod");
        run_cached(&dir, &["--engine", "wasmtime"], &wat).prints("hello\n");
        assert_eq!(entries(&dir), Vec::<PathBuf>::new());
        assert!(!dir.join("key").exists());
    }
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

/// A home folder for one test, with the cache in `home/.cache/plugin-system`
/// (not made yet) and an empty `home/work`.
fn home(name: &str) -> (PathBuf, PathBuf) {
    let home = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("plugin-system-cli-grants")
        .join(name);
    let _ = fs::remove_dir_all(&home);
    fs::create_dir_all(home.join("work")).expect("home");
    let cache = home.join(".cache").join("plugin-system");
    (home, cache)
}

/// `plugin-system run --engine ENGINE OPTIONS... FILE -- ARGS...` with the
/// cache in `cache`.
fn run_granted(cache: &Path, engine: &str, options: &[&str], file: &Path, args: &[&str]) -> Run {
    let mut all = vec!["run", "--engine", engine];
    all.extend_from_slice(options);
    all.push(file.to_str().expect("utf-8 temp path"));
    all.push("--");
    all.extend_from_slice(args);
    run_with(
        &all,
        None,
        &[("PLUGIN_SYSTEM_CACHE_DIR", cache.as_os_str())],
    )
}

fn path(path: &Path) -> &str {
    path.to_str().expect("utf-8 temp path")
}

#[test]
fn a_grant_that_reaches_the_cache_is_refused() {
    let (home, cache) = home("refused");
    let wat = fixture("grant-hello.wat", HELLO);
    let inside = cache.join("entries");
    let link = home.join("work").join("to-home");
    #[cfg(unix)]
    std::os::unix::fs::symlink(&home, &link).expect("symlink");
    for engine in engines() {
        // Before the cache exists, and once it does.
        for made in [false, true] {
            if made {
                fs::create_dir_all(&inside).expect("a folder in the cache");
            }
            let mut grants = vec![
                format!("--dir={}::/h", path(&home)),
                format!("--dir-ro={}", path(&home)),
                format!("--dir={}::/c", path(&home.join(".cache"))),
                format!("--dir-ro={}::/c", path(&cache)),
                format!("--dir={}/work/..::/h", path(&home)),
                format!("--dir={}/..::/c", path(&cache)),
                "--dir-ro=/::/".to_owned(),
            ];
            if made {
                grants.push(format!("--dir={}::/e", path(&inside)));
            }
            if cfg!(unix) {
                grants.push(format!("--dir={}::/l", path(&link)));
            }
            for grant in &grants {
                let refused = run_granted(&cache, engine, &[grant], &wat, &[]);
                assert_eq!(refused.code, 2, "{grant}: {refused:#?}");
                refused.fails(2, "error: bad usage: --dir");
                for words in [
                    "the cache of compiled code",
                    "--no-cache",
                    "PLUGIN_SYSTEM_CACHE_DIR",
                ] {
                    assert!(refused.stderr.contains(words), "{grant}: {refused:#?}");
                }
            }
        }
        let _ = fs::remove_dir_all(&cache);
    }
}

#[test]
fn a_grant_elsewhere_or_without_the_cache_runs() {
    let probe = guest("wasm32-wasip1/release/wasi-probe.wasm");
    for engine in engines() {
        let (home, cache) = home(&format!("allowed-{engine}"));
        let work = format!("--dir={}::/w", path(&home.join("work")));
        fs::write(home.join("work").join("note"), "hi").expect("a file");
        run_granted(&cache, engine, &[&work], &probe, &["ls", "/w"]).prints("note\n");
        // The cache elsewhere: the same home can be given.
        let elsewhere = home.with_extension("cache");
        let whole = format!("--dir={}::/h", path(&home));
        run_granted(&elsewhere, engine, &[&whole], &probe, &["ls", "/h/work"]).prints("note\n");
        // A cache in the home: only with --no-cache, and the guest finds no key
        // there, only entries that no key will take.
        if cfg!(feature = "wasmtime") {
            run_granted(&cache, "wasmtime", &[], &probe, &["args"]).code_is(0);
            assert!(cache.join("key").exists(), "a cached run made the key");
        }
        run_granted(&cache, engine, &[&whole], &probe, &["ls", "/h"]).code_is(2);
        let listed = run_granted(
            &cache,
            engine,
            &["--no-cache", &whole],
            &probe,
            &["ls", "/h/.cache/plugin-system"],
        );
        assert_eq!(listed.code, 0, "{listed:#?}");
        assert!(
            !listed.stdout.lines().any(|name| name == "key"),
            "the key is deleted first: {listed:#?}"
        );
        assert!(!cache.join("key").exists());
        let _ = fs::remove_dir_all(&elsewhere);
    }
}

/// `plugin-system cache ACTION` with the cache in `cache`.
fn manage(cache: &Path, action: &str) -> Run {
    run_with(
        &["cache", action],
        None,
        &[("PLUGIN_SYSTEM_CACHE_DIR", cache.as_os_str())],
    )
}

/// The lines of `cache list`, each as its name, size and last use.
fn listed(cache: &Path) -> Vec<(String, u64, String)> {
    let list = manage(cache, "list");
    assert_eq!((list.code, list.stderr.as_str()), (0, ""), "{list:#?}");
    list.stdout
        .lines()
        .map(|line| {
            let [name, bytes, used] = line.split(' ').collect::<Vec<_>>()[..] else {
                panic!("not `NAME BYTES LAST-USED`: {line:?}");
            };
            let bytes = bytes.parse().expect("a size in bytes");
            (name.to_owned(), bytes, used.to_owned())
        })
        .collect()
}

#[test]
fn cache_lists_measures_and_clears_the_entries() {
    // A cache not made yet is empty, and stays unmade.
    let dir = cache_dir("manage");
    manage(&dir, "list").prints("");
    manage(&dir, "size").prints("0\n");
    manage(&dir, "clear").prints("removed 0 entries, 0 bytes\n");
    assert!(!dir.exists(), "{} was created", dir.display());
    if !cfg!(feature = "wasmtime") {
        return;
    }

    let wat = fixture("cache-manage.wat", ADD);
    let file = wat.to_str().expect("utf-8 temp path");
    let env = [("PLUGIN_SYSTEM_CACHE_DIR", dir.as_os_str())];
    let plain = ["call", "--engine", "wasmtime", file, "add", "2", "3"];
    let fuel = [
        "call", "--engine", "wasmtime", "--fuel", "100", file, "add", "2", "3",
    ];
    run_with(&plain, None, &env).prints("5\n");
    run_with(&fuel, None, &env).prints("5\n");
    // The plain one used again: listed first.
    run_with(&plain, None, &env).prints("5\n");
    let lines = listed(&dir);
    assert_eq!(lines.len(), 2, "{lines:?}");
    let on_disk: Vec<PathBuf> = entries(&dir);
    let mut total = 0;
    for (name, bytes, used) in &lines {
        let path = dir.join(format!("{name}.cwasm"));
        assert!(on_disk.contains(&path), "{name}");
        assert_eq!(fs::metadata(&path).expect("entry").len(), *bytes);
        let used: plugin_system::core::Timestamp = used.parse().expect("a UTC time");
        assert!(used.to_system_time().is_some());
        total += bytes;
    }
    // Most recently used first: the fuel entry, once used again, leads.
    run_with(&fuel, None, &env).prints("5\n");
    let names = |lines: &[(String, u64, String)]| -> Vec<String> {
        lines.iter().map(|line| line.0.clone()).collect()
    };
    assert_eq!(
        names(&listed(&dir)),
        [lines[1].0.clone(), lines[0].0.clone()]
    );
    manage(&dir, "size").prints(&format!("{total}\n"));

    manage(&dir, "clear").prints(&format!("removed 2 entries, {total} bytes\n"));
    manage(&dir, "list").prints("");
    manage(&dir, "size").prints("0\n");
    assert_eq!(entries(&dir), Vec::<PathBuf>::new());
    assert!(dir.join("key").exists(), "clearing keeps the key");
    run_with(&fuel, None, &env).prints("5\n");
    assert_eq!(listed(&dir).len(), 1);
}

#[test]
fn cache_fails_on_a_directory_it_cannot_use() {
    let file = fixture("cache-manage-a-file", "not a directory");
    for action in ["list", "size", "clear"] {
        manage(&file, action).fails(2, "error: cannot use the cache in");
    }
}

/// A module with enough functions to take a while to compile.
fn big_wat() -> String {
    let mut wat = String::from("(module\n");
    for i in 0..400 {
        wat.push_str(&format!(
            "(func $f{i} (param i32) (result i32) local.get 0 i32.const {i} i32.add)\n"
        ));
    }
    wat.push_str("(func (export \"run\") (param i32) (result i32) local.get 0\n");
    for i in 0..400 {
        wat.push_str(&format!("call $f{i}\n"));
    }
    wat.push_str("))");
    wat
}

/// The file at `path`: its bytes, and on Unix its inode.
fn identity(path: &Path) -> (Vec<u8>, u64) {
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(&fs::metadata(path).expect("entry"));
    #[cfg(not(unix))]
    let inode = 0;
    (fs::read(path).expect("entry"), inode)
}

#[test]
fn two_processes_fill_one_entry_at_once() {
    let wat = fixture("cache-two-processes.wat", big_wat());
    let file = wat.to_str().expect("utf-8 temp path").to_owned();
    for engine in engines() {
        let dir = cache_dir(&format!("two-processes-{engine}"));
        let runs: Vec<_> = (0..2)
            .map(|_| {
                let (dir, file) = (dir.clone(), file.clone());
                std::thread::spawn(move || {
                    run_with(
                        &["call", "--engine", engine, &file, "run", "1"],
                        None,
                        &[("PLUGIN_SYSTEM_CACHE_DIR", dir.as_os_str())],
                    )
                })
            })
            .collect();
        for run in runs {
            run.join().expect("the run ends").prints("79801\n");
        }
        let expected = usize::from(engine == "wasmtime");
        let written = entries(&dir);
        assert_eq!(written.len(), expected, "{engine}: {written:?}");
        assert_eq!(listed(&dir).len(), expected);
        // The entry left is whole: the next run loads it, and leaves it as it was
        // (a rewrite would rename a new file into place).
        let before: Vec<_> = written.iter().map(|p| identity(p)).collect();
        run_with(
            &["call", "--engine", engine, &file, "run", "1"],
            None,
            &[("PLUGIN_SYSTEM_CACHE_DIR", dir.as_os_str())],
        )
        .prints("79801\n");
        let after: Vec<_> = entries(&dir).iter().map(|p| identity(p)).collect();
        assert_eq!(after, before, "{engine}: reused, not rewritten");
    }
}

/// Waits until a background compile has written an entry to `dir`: the
/// detached `cache add` of a tiered run, which this test does not hold.
fn await_entries(dir: &Path, count: usize) -> Vec<PathBuf> {
    let started = std::time::Instant::now();
    loop {
        let found = entries(dir);
        let compiling = fs::read_dir(dir)
            .map(|listing| {
                listing
                    .flatten()
                    .any(|e| e.file_name().to_string_lossy().ends_with(".compiling"))
            })
            .unwrap_or(false);
        if found.len() >= count && !compiling {
            return found;
        }
        assert!(
            started.elapsed() < crate::HANG,
            "no entry from the background compile in {}",
            dir.display()
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[test]
fn a_tiered_run_answers_on_wasmi_and_leaves_the_compile_to_the_next_run() {
    if !(cfg!(feature = "wasmtime") && cfg!(feature = "wasmi")) {
        return;
    }
    let dir = cache_dir("tiered");
    let wat = fixture("cache-tiered.wat", HELLO);
    run_cached(&dir, &["--engine", "tiered"], &wat).prints("hello\n");
    // The detached compile filled the cache for the next run.
    let found = await_entries(&dir, 1);
    assert_eq!(found.len(), 1, "{found:?}");
    run_cached(&dir, &["--engine", "tiered"], &wat).prints("hello\n");
    assert_eq!(
        entries(&dir),
        found,
        "the entry was used, not written again"
    );
    let file = wat.to_str().expect("utf-8 temp path");
    let env = [("PLUGIN_SYSTEM_CACHE_DIR", dir.as_os_str())];
    let added = run_with(&["cache", "add", file], None, &env);
    added.code_is(0);
    assert!(added.stdout.ends_with(" already cached\n"), "{added:#?}");
    // A plain wasmtime run takes the same entry.
    run_cached(&dir, &["--engine", "wasmtime"], &wat).prints("hello\n");
    assert_eq!(entries(&dir), found);
}

#[test]
fn cache_add_compiles_once_and_refuses_what_is_not_a_module() {
    if !cfg!(feature = "wasmtime") {
        return;
    }
    let dir = cache_dir("add");
    let env = [("PLUGIN_SYSTEM_CACHE_DIR", dir.as_os_str())];
    let wat = fixture("cache-add-once.wat", ADD);
    let file = wat.to_str().expect("utf-8 temp path");
    let first = run_with(&["cache", "add", file], None, &env);
    first.code_is(0);
    assert!(first.stdout.contains(" cached: "), "{first:#?}");
    // From stdin, with fuel metering: an entry of its own.
    let metered = run_with(
        &["cache", "add", "--fuel", "1", "-"],
        Some(ADD.as_bytes()),
        &env,
    );
    assert!(metered.stdout.contains(" cached: "), "{metered:#?}");
    assert_eq!(entries(&dir).len(), 2);
    run_with(
        &[
            "call", "--engine", "wasmtime", "--fuel", "50", file, "add", "2", "3",
        ],
        None,
        &env,
    )
    .prints("5\n");
    assert_eq!(entries(&dir).len(), 2, "the call found its entry");

    let text = fixture("cache-add-text.txt", "not a module");
    let refused = run_with(
        &["cache", "add", text.to_str().expect("utf-8 temp path")],
        None,
        &env,
    );
    refused.code_is(2);
    assert!(
        refused.stderr.contains("not a WebAssembly module"),
        "{refused:#?}"
    );
    let invalid = run_with(&["cache", "add", "-"], Some(b"\0asm\x01\0\0\0\x99"), &env);
    invalid.code_is(2);
    assert_eq!(entries(&dir).len(), 2);
}

#[cfg(unix)]
#[test]
fn cache_add_leaves_a_module_to_the_process_that_compiles_it() {
    if !cfg!(feature = "wasmtime") {
        return;
    }
    let wat = fixture("cache-add-locked.wat", ADD);
    let file = wat.to_str().expect("utf-8 temp path");
    let first = cache_dir("lock-name");
    let added = run_with(
        &["cache", "add", file],
        None,
        &[("PLUGIN_SYSTEM_CACHE_DIR", first.as_os_str())],
    );
    let key = added
        .stdout
        .split_whitespace()
        .next()
        .expect("the key")
        .to_owned();

    let dir = cache_dir("locked");
    std::os::unix::fs::DirBuilderExt::mode(&mut fs::DirBuilder::new(), 0o700)
        .create(&dir)
        .expect("the cache folder");
    let lock = dir.join(format!("{key}.compiling"));
    fs::write(&lock, "4242").expect("another process's lock");
    let env = [("PLUGIN_SYSTEM_CACHE_DIR", dir.as_os_str())];
    let held = run_with(&["cache", "add", file], None, &env);
    held.code_is(0);
    assert!(
        held.stdout.contains("being compiled by another process"),
        "{held:#?}"
    );
    assert!(entries(&dir).is_empty() && lock.exists());

    // A lock its holder left two hours ago (killed): taken over.
    let two_hours_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(7200);
    fs::File::options()
        .write(true)
        .open(&lock)
        .and_then(|f| f.set_modified(two_hours_ago))
        .expect("age the lock");
    let taken = run_with(&["cache", "add", file], None, &env);
    assert!(taken.stdout.contains(" cached: "), "{taken:#?}");
    assert_eq!(entries(&dir).len(), 1);
    assert!(!lock.exists(), "the lock goes with the compile");
}
