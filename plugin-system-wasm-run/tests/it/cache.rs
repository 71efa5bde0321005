//! The compiled-module cache (`ModuleCache`, `CachedRuntime`): what names an
//! entry, eviction of the least recently used, several handles and processes
//! filling one entry at once, and entries that must not load (corrupt,
//! truncated, foreign, renamed, linked) being misses, and a key or directory
//! that is not the host's own being distrusted. On wasmi, which precompiles nothing, the
//! cache passes through: the same tests check that it then reads and writes
//! nothing and never fails. Every test has a cache directory of its own.

use std::{
    collections::BTreeSet,
    fs,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    sync::{Arc, Barrier},
    thread,
    time::{Duration, Instant, SystemTime},
};

use plugin_system_core::{
    Imports, ModuleBounds, WasmError, WasmModule, WasmRuntime, WasmRuntimeConfig, WasmValue,
};
use plugin_system_wasm_run::{
    CacheDirFault, CacheKey, CacheStats, CachedRuntime, EngineKind, ModuleCache, UntrustedCacheDir,
    WasmtimeRuntime,
};

use crate::{on_every_engine, runtime, temp_path};

const ADD: &[u8] = br#"(module
    (func (export "add") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add))"#;

const SUB: &[u8] = br#"(module
    (func (export "add") (param i32 i32) (result i32) local.get 0 local.get 1 i32.sub))"#;

/// An empty cache directory for one test (it does not exist yet).
fn fresh_dir(name: &str) -> PathBuf {
    let dir = temp_path(&format!("cache-{name}"));
    let _ = fs::remove_dir_all(&dir);
    dir
}

/// The cache in `dir`.
fn open(dir: &Path) -> ModuleCache {
    ModuleCache::open(dir).expect("the cache opens")
}

/// A runtime of `kind` with `config` over `cache`.
fn cached(cache: &ModuleCache, kind: EngineKind, config: WasmRuntimeConfig) -> CachedRuntime {
    cache.new_runtime(kind, config).expect("engine is built in")
}

/// `add(2, 3)` of `module` loaded by `rt`.
fn add(rt: &dyn WasmRuntime, module: &[u8]) -> i32 {
    let module = rt.load_module(module).expect("the module loads");
    let mut instance = rt
        .instantiate(&module, &Imports::new())
        .expect("the module instantiates");
    match instance.call("add", &[WasmValue::I32(2), WasmValue::I32(3)]) {
        Ok(results) => match results[..] {
            [WasmValue::I32(sum)] => sum,
            ref other => panic!("add returned {other:?}"),
        },
        Err(e) => panic!("add failed: {e}"),
    }
}

/// The names of the entries in `cache`.
fn names(cache: &ModuleCache) -> BTreeSet<String> {
    cache
        .entries()
        .expect("entries")
        .into_iter()
        .map(|entry| entry.name)
        .collect()
}

fn keys_change_with_what_changes_the_code(kind: EngineKind) {
    let key = |config: WasmRuntimeConfig| CacheKey::new(&*runtime(kind, config), ADD);
    let base = WasmRuntimeConfig::default;
    let plain = key(base());

    // Each of these changes the compiled code, or whether there is any.
    let changed = [
        ("no optimisation", base().enable_optimization(false)),
        ("fuel metering", base().fuel_limit(1_000)),
        (
            "module bounds",
            base().module_bounds(ModuleBounds::DEFAULT.max_loops(10)),
        ),
        (
            "fuel without optimisation",
            base().fuel_limit(1_000).enable_optimization(false),
        ),
    ];
    let mut seen = BTreeSet::from([plain]);
    for (what, config) in changed {
        assert!(seen.insert(key(config)), "{what}: a key of its own");
    }

    // These are enforced at run time, by the store or the call.
    let unchanged = [
        ("timeout", base().timeout(Duration::from_millis(5))),
        ("memory limit", base().max_memory_pages(3)),
        ("table limit", base().max_table_elements(10)),
        ("stack depth", base().max_stack_depth(300)),
        ("stack depth, high", base().max_stack_depth(u32::MAX)),
        ("WASI", base().enable_wasi(true)),
    ];
    for (what, config) in unchanged {
        assert_eq!(key(config), plain, "{what}: the same code");
    }
    // The amount of fuel is the store's; metering is the code's.
    assert_eq!(key(base().fuel_limit(1)), key(base().fuel_limit(u64::MAX)));

    // Another module, another key; a wrapped runtime has the key of its engine.
    let rt = runtime(kind, base());
    assert_ne!(CacheKey::new(&*rt, ADD), CacheKey::new(&*rt, SUB));
    let dir = fresh_dir(&format!("keys-{kind}"));
    let cache = open(&dir);
    assert_eq!(CacheKey::new(&cached(&cache, kind, base()), ADD), plain);
    let name = plain.to_string();
    assert_eq!(name.len(), 64);
    assert!(
        name.bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    );
    assert_eq!(
        cache.entry_path(&plain),
        cache.dir().join(format!("{name}.cwasm"))
    );
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn the_engine_is_part_of_the_key() {
    let config = WasmRuntimeConfig::default;
    assert_ne!(
        CacheKey::new(&*runtime(EngineKind::Wasmtime, config()), ADD),
        CacheKey::new(&*runtime(EngineKind::Wasmi, config()), ADD)
    );
}

/// Recursion `n` deep.
const DEPTH: &[u8] = br#"(module (func $d (export "depth") (param i32) (result i32)
    (if (result i32) (i32.eqz (local.get 0))
        (then (i32.const 0))
        (else (i32.add (i32.const 1) (call $d (i32.sub (local.get 0) (i32.const 1))))))))"#;

/// Whether `depth(n)` of `module` on `rt` returns (`false`: a stack overflow).
fn fits(rt: &dyn WasmRuntime, module: &Arc<dyn WasmModule>, n: i32) -> bool {
    let mut instance = rt.instantiate(module, &Imports::new()).expect("instance");
    match instance.call("depth", &[WasmValue::I32(n)]) {
        Ok(results) => {
            assert_eq!(results, [WasmValue::I32(n)]);
            true
        }
        Err(WasmError::StackOverflow) => false,
        Err(e) => panic!("depth({n}): {e}"),
    }
}

/// The stack limit is not in the key because wasmtime does not compile it in:
/// an entry written by a runtime with one limit, loaded by a runtime with
/// another, runs under the other's.
fn each_runtime_keeps_its_stack_limit_on_a_shared_entry(kind: EngineKind) {
    let dir = fresh_dir(&format!("stack-{kind}"));
    let cache = open(&dir);
    let deep_config = WasmRuntimeConfig::default;
    let shallow_config = || WasmRuntimeConfig::default().max_stack_depth(256);
    let deep = cached(&cache, kind, deep_config());
    let shallow = cached(&cache, kind, shallow_config());
    let deep_module = deep.load_module(DEPTH).expect("compiles");
    let shallow_module = shallow.load_module(DEPTH).expect("loads");
    if shallow.caches() {
        assert_eq!(deep.cache_stats().stored, 1);
        assert_eq!(shallow.cache_stats().hits, 1, "the entry deep wrote");
    }
    let plain_deep = runtime(kind, deep_config());
    let plain_shallow = runtime(kind, shallow_config());
    let plain_deep_module = plain_deep.load_module(DEPTH).expect("compiles");
    let plain_shallow_module = plain_shallow.load_module(DEPTH).expect("compiles");
    let mut differ = false;
    for n in (0..10).map(|i| 100 << i) {
        let deep_fits = fits(&*plain_deep, &plain_deep_module, n);
        let shallow_fits = fits(&*plain_shallow, &plain_shallow_module, n);
        assert_eq!(fits(&deep, &deep_module, n), deep_fits, "depth {n}");
        assert_eq!(
            fits(&shallow, &shallow_module, n),
            shallow_fits,
            "depth {n}"
        );
        differ |= deep_fits != shallow_fits;
    }
    assert!(differ, "some depth fits one limit and not the other");
    let _ = fs::remove_dir_all(&dir);
}

/// `add` plus `i`, modules of the same size for `i` below 10.
fn numbered(i: u32) -> Vec<u8> {
    format!(
        r#"(module (func (export "add") (param i32 i32) (result i32)
            local.get 0 local.get 1 i32.add i32.const {i} i32.add))"#
    )
    .into_bytes()
}

fn the_least_recently_used_entries_are_evicted(kind: EngineKind) {
    let dir = fresh_dir(&format!("evict-{kind}"));
    let cache = open(&dir);
    let modules: Vec<Vec<u8>> = (0..4).map(numbered).collect();
    let rt = cached(&cache, kind, WasmRuntimeConfig::default());
    let key = |module: &Vec<u8>| CacheKey::new(&rt, module).to_string();
    if !rt.caches() {
        for (i, module) in (0..).zip(&modules) {
            assert_eq!(add(&rt, module), 5 + i);
        }
        assert_eq!(cache.entries().expect("entries"), []);
        assert_eq!(rt.cache_stats(), CacheStats::default());
        let _ = fs::remove_dir_all(&dir);
        return;
    }
    // Two entries, and room for them and a half.
    add(&rt, &modules[0]);
    add(&rt, &modules[1]);
    let sizes: Vec<u64> = cache
        .entries()
        .expect("entries")
        .iter()
        .map(|e| e.bytes)
        .collect();
    let [a, b] = sizes[..] else {
        panic!("two entries: {sizes:?}")
    };
    let bound = a + b + a.min(b) / 2;
    let bounded = cache.clone().with_max_bytes(bound);
    let rt = cached(&bounded, kind, WasmRuntimeConfig::default());

    // 0 is used again, so 1 is the least recently used when 2 needs room.
    assert_eq!(add(&rt, &modules[0]), 5);
    assert_eq!(add(&rt, &modules[2]), 7);
    assert_eq!(
        names(&cache),
        BTreeSet::from([key(&modules[0]), key(&modules[2])])
    );
    assert!(cache.total_bytes().expect("size") <= bound);
    let stats = rt.cache_stats();
    assert_eq!(
        (stats.hits, stats.misses, stats.stored, stats.evicted),
        (1, 1, 1, 1)
    );

    // Then 0 is: 2 was written after 0 was last used.
    assert_eq!(add(&rt, &modules[3]), 8);
    assert_eq!(
        names(&cache),
        BTreeSet::from([key(&modules[2]), key(&modules[3])])
    );
    // The most recently used are listed first.
    let listed: Vec<String> = cache
        .entries()
        .expect("entries")
        .into_iter()
        .map(|e| e.name)
        .collect();
    assert_eq!(listed, [key(&modules[3]), key(&modules[2])]);
    assert_eq!(add(&rt, &modules[2]), 7);
    assert_eq!(rt.cache_stats().hits, 2);

    // An entry larger than the whole cache is not written; the module loads.
    let tiny = cache.clone().with_max_bytes(a / 2);
    let rt = cached(&tiny, kind, WasmRuntimeConfig::default().fuel_limit(100));
    assert_eq!(add(&rt, &modules[0]), 5);
    assert_eq!(rt.cache_stats().stored, 0);
    assert_eq!(names(&cache).len(), 2);
    let _ = fs::remove_dir_all(&dir);
}

fn entries_are_listed_measured_and_cleared(kind: EngineKind) {
    let dir = fresh_dir(&format!("manage-{kind}"));
    let cache = open(&dir);
    let rt = cached(&cache, kind, WasmRuntimeConfig::default());
    add(&rt, ADD);
    add(&rt, SUB);
    let entries = cache.entries().expect("entries");
    let expected = if rt.caches() { 2 } else { 0 };
    assert_eq!(entries.len(), expected);
    let total: u64 = entries.iter().map(|e| e.bytes).sum();
    assert_eq!(cache.total_bytes().expect("size"), total);
    for entry in &entries {
        assert_eq!(
            fs::metadata(&entry.path).expect("the entry's file").len(),
            entry.bytes
        );
        assert_eq!(
            entry.path.file_stem().and_then(|s| s.to_str()),
            Some(&*entry.name)
        );
    }
    let removed = cache.clear().expect("clear");
    assert_eq!(removed.len(), expected);
    assert_eq!(cache.entries().expect("entries"), []);
    assert_eq!(cache.total_bytes().expect("size"), 0);
    assert!(dir.join("key").exists(), "clearing keeps the key");
    // And it fills again.
    assert_eq!(
        add(&cached(&cache, kind, WasmRuntimeConfig::default()), ADD),
        5
    );
    assert_eq!(cache.entries().expect("entries").len(), expected / 2);
    let _ = fs::remove_dir_all(&dir);
}

/// A module that takes a while to compile: `run(x)` is `x` plus 0, 1, ...
/// through 399, one function each.
fn big_module() -> Vec<u8> {
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
    wat::parse_str(&wat).expect("valid WAT")
}

const BIG_SUM: i32 = 399 * 400 / 2;

/// Loads [`big_module`] through a cache in `dir` of its own and runs it.
fn fill(dir: &Path, kind: EngineKind) -> CacheStats {
    let cache = open(dir);
    let rt = cached(&cache, kind, WasmRuntimeConfig::default());
    let module = rt.load_module(&big_module()).expect("loads");
    let mut instance = rt.instantiate(&module, &Imports::new()).expect("instance");
    assert_eq!(
        instance.call("run", &[WasmValue::I32(1)]).expect("runs"),
        [WasmValue::I32(1 + BIG_SUM)]
    );
    rt.cache_stats()
}

/// After several fillers: one valid entry (or none on wasmi), which a new
/// handle loads.
fn assert_filled_once(dir: &Path, kind: EngineKind) {
    let cache = open(dir);
    let caches = cached(&cache, kind, WasmRuntimeConfig::default()).caches();
    assert_eq!(cache.entries().expect("entries").len(), usize::from(caches));
    let stats = fill(dir, kind);
    assert_eq!(stats.hits, u64::from(caches), "the entry left is valid");
    let leftovers: Vec<_> = fs::read_dir(dir)
        .expect("the cache dir")
        .map(|entry| entry.expect("entry").file_name())
        .filter(|name| name.to_string_lossy().ends_with(".tmp"))
        .collect();
    assert_eq!(
        leftovers,
        Vec::<std::ffi::OsString>::new(),
        "no temporary files"
    );
}

fn handles_filling_one_entry_at_once_all_succeed(kind: EngineKind) {
    let dir = fresh_dir(&format!("threads-{kind}"));
    let start = Arc::new(Barrier::new(4));
    let fillers: Vec<_> = (0..4)
        .map(|_| {
            let (dir, start) = (dir.clone(), Arc::clone(&start));
            // Each opens the cache itself: the key is made by one of them.
            thread::spawn(move || {
                start.wait();
                fill(&dir, kind)
            })
        })
        .collect();
    for filler in fillers {
        filler.join().expect("a filler succeeds");
    }
    let keys: BTreeSet<[u8; 32]> = (0..2).map(|_| open(&dir).precompile_key()).collect();
    assert_eq!(keys.len(), 1);
    assert_filled_once(&dir, kind);
    let _ = fs::remove_dir_all(&dir);
}

/// Set for a child process of [`two_processes_fill_one_entry_at_once`]:
/// `ENGINE CACHE-DIR GO-FILE`.
const CHILD: &str = "PLUGIN_SYSTEM_IT_CACHE_CHILD";

/// In a child process (see [`CHILD`]): waits for the go file, then fills the
/// cache. Without the variable, as in an ordinary run, it does nothing.
#[test]
fn child_fills_the_cache() {
    let Ok(task) = std::env::var(CHILD) else {
        return;
    };
    let mut words = task.splitn(3, '\n');
    let (Some(engine), Some(dir), Some(go)) = (words.next(), words.next(), words.next()) else {
        panic!("{CHILD}={task:?}");
    };
    let kind: EngineKind = engine.parse().expect("an engine");
    let waited = Instant::now();
    while !Path::new(go).exists() {
        assert!(waited.elapsed() < Duration::from_secs(120), "no go file");
        thread::sleep(Duration::from_millis(1));
    }
    fill(Path::new(dir), kind);
}

#[test]
fn two_processes_fill_one_entry_at_once() {
    for kind in [EngineKind::Wasmtime, EngineKind::Wasmi] {
        let dir = fresh_dir(&format!("processes-{kind}"));
        let go = fresh_dir(&format!("processes-{kind}-go"));
        let task = format!("{kind}\n{}\n{}", dir.display(), go.display());
        let children: Vec<_> = (0..2)
            .map(|_| {
                Command::new(std::env::current_exe().expect("this test binary"))
                    .args(["cache::child_fills_the_cache", "--exact", "--nocapture"])
                    .args(["--test-threads", "1"])
                    .env(CHILD, &task)
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .expect("the child starts")
            })
            .collect();
        fs::write(&go, "go").expect("the go file");
        for child in children {
            let output = child.wait_with_output().expect("the child ends");
            assert!(
                output.status.success(),
                "{kind}: {}\n{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
            // The filter ran the child's test, not nothing.
            assert!(String::from_utf8_lossy(&output.stdout).contains("1 passed"));
        }
        assert_filled_once(&dir, kind);
        let _ = fs::remove_dir_all(&dir);
        let _ = fs::remove_file(&go);
    }
}

/// The bytes of the section `name` of the ELF file `elf` (64-bit, little-endian,
/// as wasmtime writes its artifacts).
fn elf_section<'a>(elf: &'a mut [u8], name: &str) -> &'a mut [u8] {
    let u16_at = |elf: &[u8], at: usize| usize::from(u16::from_le_bytes([elf[at], elf[at + 1]]));
    let u64_at = |elf: &[u8], at: usize| {
        let bytes: [u8; 8] = elf[at..at + 8].try_into().expect("8 bytes");
        usize::try_from(u64::from_le_bytes(bytes)).expect("an offset")
    };
    let u32_at = |elf: &[u8], at: usize| {
        let bytes: [u8; 4] = elf[at..at + 4].try_into().expect("4 bytes");
        usize::try_from(u32::from_le_bytes(bytes)).expect("an offset")
    };
    assert_eq!(&elf[..4], b"\x7fELF");
    let (table, size, count) = (u64_at(elf, 0x28), u16_at(elf, 0x3a), u16_at(elf, 0x3c));
    let header = |index: usize| table + index * size;
    let names = u64_at(elf, header(u16_at(elf, 0x3e)) + 0x18);
    let found = (0..count).find(|&index| {
        let start = names + u32_at(elf, header(index));
        elf[start..].starts_with(name.as_bytes()) && elf[start + name.len()] == 0
    });
    let index = found.unwrap_or_else(|| panic!("no section {name}"));
    let (offset, len) = (
        u64_at(elf, header(index) + 0x18),
        u64_at(elf, header(index) + 0x20),
    );
    &mut elf[offset..offset + len]
}

/// The file of an entry named `name` holding `payload` (the engine's sealed
/// bytes) in `cache`: the payload, then the cache's tag, keyed BLAKE3 of the
/// name and the payload under a key derived from the cache's.
fn tagged(cache: &ModuleCache, name: &CacheKey, payload: &[u8]) -> Vec<u8> {
    let entry_key = blake3::derive_key(
        "plugin-system-module-cache entry tags",
        &cache.precompile_key(),
    );
    let tag = blake3::Hasher::new_keyed(&entry_key)
        .update(name.as_bytes())
        .update(payload)
        .finalize();
    [payload, tag.as_bytes()].concat()
}

/// The payload of an entry's file: all but its tag.
fn payload(entry: &[u8]) -> &[u8] {
    &entry[..entry.len() - 32]
}

/// `sealed` (the runtime's envelope: `len | wasm | "PSWTPRE2" | sha256 |
/// artifact | keyed BLAKE3 tag of all before it`) with the wasmtime version its artifact names
/// (in the section `.wasmtime.engine`: a format byte, a length, the major
/// version) changed, and sealed again with `key`: the entry another wasmtime
/// version would have written with the same key.
fn of_another_version(sealed: &[u8], key: &[u8; 32], version: &str) -> Vec<u8> {
    let (len, _) = sealed.split_first_chunk::<8>().expect("a length");
    let envelope = 8 + usize::try_from(u64::from_le_bytes(*len)).expect("a length");
    let mut forged = sealed[..sealed.len() - 32].to_vec();
    let engine = elf_section(&mut forged[envelope + 8 + 32..], ".wasmtime.engine");
    let major = version.split('.').next().expect("a major version");
    assert_eq!(
        &engine[2..2 + major.len()],
        major.as_bytes(),
        "the artifact names wasmtime {major}"
    );
    engine[2] = if engine[2] == b'9' {
        b'1'
    } else {
        engine[2] + 1
    };
    let tag = blake3::keyed_hash(key, &forged);
    forged.extend_from_slice(tag.as_bytes());
    forged
}

fn entries_that_must_not_load_are_misses(kind: EngineKind) {
    let dir = fresh_dir(&format!("bad-{kind}"));
    let cache = open(&dir);
    let config = WasmRuntimeConfig::default;
    let rt = cached(&cache, kind, config());
    let name = CacheKey::new(&rt, ADD);
    let path = cache.entry_path(&name);
    // Another entry's payload with a valid tag for this name: what the
    // engine and the runtime check is reached.
    let tagged_here = |entry: &[u8]| tagged(&cache, &name, payload(entry));
    let entry_of = |rt: &CachedRuntime, module: &[u8]| {
        add(rt, module);
        fs::read(rt.cache().entry_path(&CacheKey::new(rt, module))).expect("an entry")
    };

    let mut bad: Vec<(&str, Vec<u8>)> = vec![
        ("corrupt", b"garbage, not a compiled module".to_vec()),
        ("empty", Vec::new()),
    ];
    // An entry of wasmtime's, for a pass-through wasmi to ignore.
    let wasmtime = cached(&cache, EngineKind::Wasmtime, config());
    let good = entry_of(&wasmtime, ADD);
    if kind == EngineKind::Wasmtime {
        fs::remove_file(&path).expect("the good entry");
        bad.push(("truncated", good[..good.len() / 2].to_vec()));
        bad.push(("one byte short", good[..good.len() - 1].to_vec()));
        let mut flipped = good.clone();
        let middle = flipped.len() / 2;
        flipped[middle] ^= 0x40;
        bad.push(("tampered", flipped));
        let other = open(&fresh_dir("bad-other-key"));
        bad.push((
            "sealed under another cache's key",
            entry_of(&cached(&other, kind, config()), ADD),
        ));
        let _ = fs::remove_dir_all(other.dir());
        let sub = entry_of(&rt, SUB);
        bad.push(("of another module, renamed", sub.clone()));
        bad.push(("of another module, tagged for this name", tagged_here(&sub)));
        let fuel = entry_of(&cached(&cache, kind, config().fuel_limit(1_000)), ADD);
        bad.push(("compiled with fuel metering, renamed", fuel.clone()));
        bad.push((
            "compiled with fuel metering, tagged for this name",
            tagged_here(&fuel),
        ));
        let forged = of_another_version(payload(&good), &cache.precompile_key(), rt.version());
        let refused = rt.inner().load_precompiled(&forged).map(drop);
        assert!(
            matches!(&refused, Err(e @ WasmError::Precompiled { .. }) if e.to_string().contains("version")),
            "{refused:?}"
        );
        bad.push((
            "of another wasmtime version",
            tagged(&cache, &name, &forged),
        ));
    } else {
        bad.push(("of wasmtime", good));
    }

    for (what, bytes) in bad {
        fs::write(&path, &bytes).expect("plant the entry");
        let fresh = cached(&cache, kind, config());
        assert_eq!(add(&fresh, ADD), 5, "{what}");
        let stats = fresh.cache_stats();
        if fresh.caches() {
            assert_eq!(
                (stats.hits, stats.misses, stats.stored),
                (0, 1, 1),
                "{what}"
            );
            let again = cached(&cache, kind, config());
            assert_eq!(add(&again, ADD), 5, "{what}");
            assert_eq!(
                again.cache_stats().hits,
                1,
                "{what}: overwritten with a valid entry"
            );
        } else {
            assert_eq!(stats, CacheStats::default(), "{what}");
            assert_eq!(
                fs::read(&path).expect("the entry"),
                bytes,
                "{what}: left alone"
            );
        }
    }

    // A folder in the entry's place: a miss that cannot be written.
    fs::remove_file(&path).expect("the entry");
    fs::create_dir(&path).expect("a folder");
    let fresh = cached(&cache, kind, config());
    assert_eq!(add(&fresh, ADD), 5);
    let stats = fresh.cache_stats();
    assert_eq!(stats.hits, 0);
    assert_eq!(stats.stored, 0);
    let _ = fs::remove_dir_all(&dir);
}

fn modules_the_engine_refuses_fail_as_without_the_cache(kind: EngineKind) {
    let dir = fresh_dir(&format!("refused-{kind}"));
    let cache = open(&dir);
    let rt = cached(&cache, kind, WasmRuntimeConfig::default());
    let plain = runtime(kind, WasmRuntimeConfig::default());
    for bytes in [
        &br#"(module (func (result i32)))"#[..],
        b"\0asm\x01\0\0\0\x01",
        b"neither",
    ] {
        let expected = plain.load_module(bytes).map(drop).expect_err("refused");
        let found = rt.load_module(bytes).map(drop).expect_err("refused");
        assert_eq!(found.to_string(), expected.to_string());
    }
    assert_eq!(cache.entries().expect("entries"), []);
    let _ = fs::remove_dir_all(&dir);
}

/// Why `ModuleCache::open` refuses `dir`: the typed error inside the
/// `PermissionDenied` it returns, naming the directory.
#[cfg(unix)]
fn refusal(dir: &Path) -> UntrustedCacheDir {
    let refused = ModuleCache::open(dir).expect_err("refused");
    assert_eq!(refused.kind(), std::io::ErrorKind::PermissionDenied);
    assert!(
        refused.to_string().contains(&*dir.to_string_lossy()),
        "{refused}"
    );
    let untrusted = refused
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<UntrustedCacheDir>())
        .unwrap_or_else(|| panic!("not an UntrustedCacheDir: {refused:?}"))
        .clone();
    assert_eq!(untrusted.path, dir);
    assert!(!dir.join("key").exists(), "no key is made");
    untrusted
}

#[cfg(unix)]
#[test]
fn a_directory_others_may_write_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let dir = fresh_dir("shared");
    fs::create_dir_all(&dir).expect("dir");
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o777)).expect("chmod");
    assert_eq!(
        refusal(&dir).fault,
        CacheDirFault::OthersMayWrite { mode: 0o777 }
    );
    let _ = fs::remove_dir_all(&dir);
}

/// Whether this process may give a file to another user: it is root (what it
/// makes, such as `dir`, is root's). The owner checks are testable only then.
#[cfg(unix)]
fn may_chown(dir: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    fs::metadata(dir).expect("the directory").uid() == 0
}

/// The user that files are given to: `nobody`.
#[cfg(unix)]
const OTHER_USER: u32 = 65534;

#[cfg(unix)]
#[test]
fn a_directory_another_user_owns_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let dir = fresh_dir("others");
    fs::create_dir_all(&dir).expect("dir");
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).expect("chmod");
    if may_chown(&dir) {
        std::os::unix::fs::chown(&dir, Some(OTHER_USER), Some(OTHER_USER)).expect("chown");
        assert_eq!(
            refusal(&dir).fault,
            CacheDirFault::NotOwned { owner: OTHER_USER }
        );
    }
    let _ = fs::remove_dir_all(&dir);
}

/// A key that is not the host's own is not trusted: a new one is made, under
/// which the entries sealed before miss.
#[cfg(unix)]
#[test]
fn a_key_another_user_owns_is_replaced() {
    use std::os::unix::fs::MetadataExt;
    let dir = fresh_dir("key-owner");
    let cache = open(&dir);
    if !may_chown(&dir) {
        let _ = fs::remove_dir_all(&dir);
        return;
    }
    add(
        &cached(&cache, EngineKind::Wasmtime, WasmRuntimeConfig::default()),
        ADD,
    );
    let key = dir.join("key");
    // Still mode 0400 and 32 bytes: only the owner is wrong.
    std::os::unix::fs::chown(&key, Some(OTHER_USER), None).expect("chown");
    let reopened = open(&dir);
    assert_ne!(reopened.precompile_key(), cache.precompile_key());
    assert_eq!(fs::metadata(&key).expect("a new key").uid(), 0);
    assert_compiled_again(&reopened);
    let _ = fs::remove_dir_all(&dir);
}

/// A new wasmtime runtime over `cache` loads [`ADD`] by compiling it again:
/// a miss, and the entry written anew.
fn assert_compiled_again(cache: &ModuleCache) {
    let rt = cached(cache, EngineKind::Wasmtime, WasmRuntimeConfig::default());
    assert_eq!(add(&rt, ADD), 5);
    let stats = rt.cache_stats();
    assert_eq!((stats.hits, stats.misses, stats.stored), (0, 1, 1));
}

/// A key file as the host makes it, but elsewhere: `bytes`, mode 0400.
#[cfg(unix)]
fn key_like(path: &Path, bytes: &[u8; 32]) {
    use std::os::unix::fs::PermissionsExt;
    let _ = fs::remove_file(path);
    fs::write(path, bytes).expect("a key-like file");
    fs::set_permissions(path, fs::Permissions::from_mode(0o400)).expect("chmod");
}

/// Makes a FIFO at `path`: opening it to read would wait for a writer.
#[cfg(unix)]
fn fifo(path: &Path) {
    let made = Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("mkfifo runs");
    assert!(made.success(), "mkfifo {}", path.display());
}

#[cfg(unix)]
#[test]
fn a_linked_key_is_replaced_never_followed() {
    let dir = fresh_dir("linked-key");
    let first = open(&dir).precompile_key();
    let key = dir.join("key");
    let outside = temp_path("linked-key-target");
    let planted = [7u8; 32];
    key_like(&outside, &planted);
    fs::remove_file(&key).expect("the key");
    std::os::unix::fs::symlink(&outside, &key).expect("a link");
    let made = open(&dir).precompile_key();
    assert_ne!(made, planted, "the link was followed");
    assert_ne!(made, first);
    assert!(fs::symlink_metadata(&key).expect("a key").is_file());
    assert_eq!(fs::read(&outside).expect("the target"), planted);
    assert_eq!(open(&dir).precompile_key(), made, "the new key is kept");
    // Nor is a FIFO waited on.
    fs::remove_file(&key).expect("the key");
    fifo(&key);
    let made = open(&dir).precompile_key();
    assert!(fs::symlink_metadata(&key).expect("a key").is_file());
    assert_eq!(open(&dir).precompile_key(), made);
    let _ = fs::remove_dir_all(&dir);
    let _ = fs::remove_file(&outside);
}

#[cfg(unix)]
#[test]
fn a_linked_entry_is_a_miss_and_its_target_untouched() {
    let dir = fresh_dir("linked-entry");
    let cache = open(&dir);
    let rt = cached(&cache, EngineKind::Wasmtime, WasmRuntimeConfig::default());
    add(&rt, ADD);
    let path = cache.entry_path(&CacheKey::new(&rt, ADD));
    // A valid entry: loaded, had the link been followed.
    let outside = temp_path("linked-entry-target");
    fs::rename(&path, &outside).expect("the entry moves out");
    let long_ago = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
    fs::File::options()
        .write(true)
        .open(&outside)
        .and_then(|file| file.set_modified(long_ago))
        .expect("dated");
    let bytes = fs::read(&outside).expect("the target");
    std::os::unix::fs::symlink(&outside, &path).expect("a link");
    assert_compiled_again(&cache);
    assert!(
        fs::symlink_metadata(&path).expect("an entry").is_file(),
        "the link is replaced by an entry of its own"
    );
    assert_eq!(fs::read(&outside).expect("the target"), bytes);
    let modified = fs::metadata(&outside).and_then(|m| m.modified());
    assert_eq!(
        modified.expect("a time"),
        long_ago,
        "the target is not touched"
    );
    // Nor is a FIFO waited on.
    fs::remove_file(&path).expect("the entry");
    fifo(&path);
    assert_compiled_again(&cache);
    let _ = fs::remove_dir_all(&dir);
    let _ = fs::remove_file(&outside);
}

/// `add`, with a loop: over bounds that allow none.
const LOOPS: &[u8] = br#"(module (func (export "add") (param i32 i32) (result i32)
    (loop) local.get 0 local.get 1 i32.add))"#;

/// An entry is loaded without the bounds check: one compiled under weak
/// bounds, renamed to the name of strict ones, must not serve them.
#[test]
fn an_entry_renamed_to_a_stricter_configurations_name_is_refused() {
    let dir = fresh_dir("renamed");
    let cache = open(&dir);
    let strict = || WasmRuntimeConfig::default().module_bounds(ModuleBounds::DEFAULT.max_loops(0));
    let expected = runtime(EngineKind::Wasmtime, strict())
        .load_module(LOOPS)
        .map(drop)
        .expect_err("over the bounds");
    let weak = cached(&cache, EngineKind::Wasmtime, WasmRuntimeConfig::default());
    assert_eq!(add(&weak, LOOPS), 5);
    let rt = cached(&cache, EngineKind::Wasmtime, strict());
    fs::rename(
        cache.entry_path(&CacheKey::new(&weak, LOOPS)),
        cache.entry_path(&CacheKey::new(&rt, LOOPS)),
    )
    .expect("renamed");
    let refused = rt.load_module(LOOPS).map(drop).expect_err("still over");
    assert_eq!(refused.to_string(), expected.to_string());
    assert_eq!(rt.cache_stats().hits, 0);
    // Refused by its tag, before the engine read it.
    assert_eq!(rt.inner().stats().precompiled_loaded, 0);
    let _ = fs::remove_dir_all(&dir);
}

/// The wasmtime version in keys is the one wasmtime stamps on what it
/// compiles (its major version: all its own check looks at).
#[test]
fn the_wasmtime_version_is_the_one_it_stamps() {
    let rt = WasmtimeRuntime::new(WasmRuntimeConfig::default()).expect("an engine");
    let mut artifact = rt
        .engine()
        .precompile_module(b"\0asm\x01\0\0\0")
        .expect("compiled");
    let engine = elf_section(&mut artifact, ".wasmtime.engine");
    let stamped = &engine[2..2 + usize::from(engine[1])];
    let major = rt.version().split('.').next().expect("a major version");
    assert_eq!(stamped, major.as_bytes());
}

on_every_engine!(
    keys_change_with_what_changes_the_code,
    each_runtime_keeps_its_stack_limit_on_a_shared_entry,
    the_least_recently_used_entries_are_evicted,
    entries_are_listed_measured_and_cleared,
    handles_filling_one_entry_at_once_all_succeed,
    entries_that_must_not_load_are_misses,
    modules_the_engine_refuses_fail_as_without_the_cache,
);
