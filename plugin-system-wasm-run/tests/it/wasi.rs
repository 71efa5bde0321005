//! WASI preview 1: the world a guest sees, the same on every engine, checked with
//! the probe guests (`cargo xtask guests`) byte for byte.

use std::{
    path::{Path, PathBuf},
    sync::Arc,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use plugin_system_core::{
    DirAccess, FuncType, HostError, HostFunc, Imports, OutputBuffer, TrapCode, ValType, WasiConfig,
    WasiOutput, WasmError, WasmModule, WasmRuntime, WasmRuntimeConfig, WasmValue,
    wasi::run_command,
};
use plugin_system_wasm_run::EngineKind;

use crate::{on_every_engine, runtime, temp_path};

/// A guest built by `cargo xtask guests`.
fn guest(relative: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../guests/target")
        .join(relative);
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read the guest {}: {e}; run `cargo xtask guests` \
             (scripts/setup.sh installs what it needs)",
            path.display()
        )
    })
}

/// The two builds of the probe: the same commands and output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Probe {
    Rust,
    C,
}

const PROBES: [Probe; 2] = [Probe::Rust, Probe::C];

impl Probe {
    fn bytes(self) -> Vec<u8> {
        match self {
            Probe::Rust => guest("wasm32-wasip1/release/wasi-probe.wasm"),
            Probe::C => guest("c/wasi_probe.wasm"),
        }
    }

    fn load(self, rt: &dyn WasmRuntime) -> Arc<dyn WasmModule> {
        rt.load_module(&self.bytes())
            .unwrap_or_else(|e| panic!("the {self:?} probe loads: {e}"))
    }
}

fn wasi_runtime(kind: EngineKind) -> Arc<dyn WasmRuntime> {
    runtime(kind, WasmRuntimeConfig::default().enable_wasi(true))
}

/// What one run of a command left behind.
#[derive(Debug)]
struct Run {
    exit: Result<i32, WasmError>,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

impl Run {
    fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }

    fn code(&self) -> i32 {
        match &self.exit {
            Ok(code) => *code,
            Err(e) => panic!("expected an exit code, got {e:?}; {self:?}"),
        }
    }

    /// Exit 0 with exactly this stdout and nothing on stderr.
    #[track_caller]
    fn assert_ok(&self, stdout: &str) {
        assert_eq!(
            (self.code(), self.stdout(), self.stderr()),
            (0, stdout.to_owned(), String::new())
        );
    }

    /// The probe's I/O failure: exit 1, `error: ...` on stderr, no stdout.
    #[track_caller]
    fn assert_io_error(&self) {
        assert_eq!(self.code(), 1, "{self:?}");
        let err = self.stderr();
        assert!(
            err.starts_with("error: ") && err.ends_with('\n'),
            "an error on stderr: {err:?}"
        );
        assert_eq!(self.stdout(), "", "nothing on stdout");
    }
}

/// Runs `module` as a command with `argv` (argv[0] `probe`) in the world `wasi`,
/// its stdout and stderr captured.
fn run_module(
    rt: &dyn WasmRuntime,
    module: &Arc<dyn WasmModule>,
    argv: &[&str],
    wasi: WasiConfig,
) -> Run {
    let (stdout, stderr) = (OutputBuffer::new(1 << 20), OutputBuffer::new(1 << 20));
    let mut imports = Imports::new();
    imports.wasi(
        wasi.args(std::iter::once("probe").chain(argv.iter().copied()))
            .stdout(WasiOutput::Capture(stdout.clone()))
            .stderr(WasiOutput::Capture(stderr.clone())),
    );
    let mut instance = rt
        .instantiate(module, &imports)
        .unwrap_or_else(|e| panic!("the probe instantiates: {e:?}"));
    let exit = run_command(&mut *instance);
    Run {
        exit,
        stdout: stdout.contents(),
        stderr: stderr.contents(),
    }
}

/// Runs `probe` on a fresh runtime of `kind` with WASI on.
fn run(kind: EngineKind, probe: Probe, argv: &[&str], wasi: WasiConfig) -> Run {
    let rt = wasi_runtime(kind);
    let module = probe.load(&*rt);
    run_module(&*rt, &module, argv, wasi)
}

/// A directory of its own for one test on one engine, removed at the end.
struct TempDir(PathBuf);

impl TempDir {
    fn new(test: &str, kind: EngineKind) -> Self {
        let path = temp_path(&format!("wasi-{test}-{kind:?}"));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("temp dir");
        TempDir(path)
    }

    fn path(&self) -> &Path {
        &self.0
    }

    /// A subdirectory, created.
    fn dir(&self, name: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::create_dir_all(&path).expect("subdirectory");
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Sorted entry names of a host directory.
fn host_ls(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

// ---------------------------------------------------------------------------
// Arguments and environment

fn args_include_argv0(kind: EngineKind) {
    for probe in PROBES {
        run(
            kind,
            probe,
            &["args", "a b", "", "ünï=cödé"],
            WasiConfig::new(),
        )
        .assert_ok("probe\nargs\na b\n\nünï=cödé\n");
    }
}

fn environment_is_empty_by_default(kind: EngineKind) {
    for probe in PROBES {
        run(kind, probe, &["env"], WasiConfig::new()).assert_ok("");
    }
}

fn environment_is_what_is_given(kind: EngineKind) {
    for probe in PROBES {
        let wasi = WasiConfig::new().env("ZED", "last").env("ALPHA", "a=b c");
        run(kind, probe, &["env"], wasi).assert_ok("ALPHA=a=b c\nZED=last\n");
    }
}

fn a_later_variable_wins(kind: EngineKind) {
    for probe in PROBES {
        let wasi = WasiConfig::new().env("KEY", "first").env("KEY", "second");
        run(kind, probe, &["env"], wasi).assert_ok("KEY=second\n");
    }
}

fn inherited_environment_is_the_host_one(kind: EngineKind) {
    let path = std::env::var("PATH").expect("the test process has PATH");
    for probe in PROBES {
        let r = run(kind, probe, &["env"], WasiConfig::new().inherit_env());
        assert_eq!(r.code(), 0, "{r:?}");
        let out = r.stdout();
        assert!(
            out.lines().any(|l| l == format!("PATH={path}")),
            "PATH is inherited: {out}"
        );
        // A variable given explicitly wins over the inherited one.
        let wasi = WasiConfig::new().inherit_env().env("PATH", "/guest/bin");
        let r = run(kind, probe, &["env"], wasi);
        let paths: Vec<&str> = r
            .stdout
            .split(|&b| b == b'\n')
            .filter(|l| l.starts_with(b"PATH="))
            .map(|l| std::str::from_utf8(l).unwrap())
            .collect();
        assert_eq!(paths, ["PATH=/guest/bin"], "{probe:?}");
    }
}

// ---------------------------------------------------------------------------
// Standard streams

fn stdin_is_copied_to_stdout(kind: EngineKind) {
    // Every byte value, and more than one read's worth.
    let input: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    for probe in PROBES {
        let r = run(
            kind,
            probe,
            &["cat"],
            WasiConfig::new().stdin_bytes(input.clone()),
        );
        assert_eq!(r.code(), 0, "{probe:?}: {}", r.stderr());
        assert_eq!(r.stdout.len(), input.len(), "{probe:?}");
        assert!(r.stdout == input, "{probe:?}: stdin comes out unchanged");
        assert_eq!(r.stderr(), "");
        // Closed stdin: end of file at once.
        run(kind, probe, &["cat"], WasiConfig::new()).assert_ok("");
    }
}

fn stderr_is_captured_apart_from_stdout(kind: EngineKind) {
    let r = run(
        kind,
        Probe::Rust,
        &["stderr", "to the side"],
        WasiConfig::new(),
    );
    assert_eq!(
        (r.code(), r.stdout(), r.stderr()),
        (0, String::new(), "to the side\n".to_owned())
    );
}

fn unknown_commands_print_the_usage(kind: EngineKind) {
    for probe in PROBES {
        let r = run(kind, probe, &["no-such-command"], WasiConfig::new());
        assert_eq!(r.code(), 2, "{probe:?}");
        assert!(r.stderr().starts_with("usage: "), "{}", r.stderr());
        assert_eq!(r.stdout(), "");
    }
}

fn output_is_discarded_without_a_world(kind: EngineKind) {
    // A module that imports WASI but gets no `imports.wasi(..)`: the empty world,
    // so no argv[1] and the probe fails with its usage (on a discarded stderr).
    let rt = wasi_runtime(kind);
    for probe in PROBES {
        let module = probe.load(&*rt);
        let mut instance = rt.instantiate(&module, &Imports::new()).unwrap();
        assert_eq!(run_command(&mut *instance).unwrap(), 2, "{probe:?}");
    }
}

fn captured_output_stops_at_its_limit(kind: EngineKind) {
    let rt = wasi_runtime(kind);
    let module = Probe::Rust.load(&*rt);
    // One write longer than the limit: the first 16 bytes are kept.
    let stdout = OutputBuffer::new(16);
    let stderr = OutputBuffer::new(4096);
    let mut imports = Imports::new();
    imports.wasi(
        WasiConfig::new()
            .args(["probe", "cat"])
            .stdin_bytes(&b"0123456789abcdefghijklmnopqrstuvwxyz"[..])
            .stdout(WasiOutput::Capture(stdout.clone()))
            .stderr(WasiOutput::Capture(stderr.clone())),
    );
    let mut instance = rt.instantiate(&module, &imports).unwrap();
    let exit = run_command(&mut *instance);
    assert_eq!(stdout.contents(), b"0123456789abcdef");
    assert!(stdout.is_truncated());
    // That write itself succeeds (what did not fit is dropped); none follows.
    assert_eq!(exit.unwrap(), 0);
    assert_eq!(stderr.to_string_lossy(), "");

    // Many writes (one line each): the write after the limit fails, the guest
    // sees an I/O error.
    let stdout = OutputBuffer::new(16);
    let stderr = OutputBuffer::new(4096);
    let mut imports = Imports::new();
    imports.wasi(
        WasiConfig::new()
            .args(["probe", "args", "0123456789", "abcdefghij", "more", "more"])
            .stdout(WasiOutput::Capture(stdout.clone()))
            .stderr(WasiOutput::Capture(stderr.clone())),
    );
    let mut instance = rt.instantiate(&module, &imports).unwrap();
    assert_eq!(run_command(&mut *instance).unwrap(), 1);
    assert_eq!(stdout.contents(), b"probe\nargs\n01234");
    assert!(stdout.is_truncated());
    assert!(
        stderr.to_string_lossy().starts_with("error: "),
        "{}",
        stderr.to_string_lossy()
    );

    // The host goes on.
    run_module(&*rt, &module, &["args", "x"], WasiConfig::new()).assert_ok("probe\nargs\nx\n");
}

// ---------------------------------------------------------------------------
// Files in a read-write preopen

fn files_are_written_and_read_back(kind: EngineKind) {
    let tmp = TempDir::new("files", kind);
    let data = tmp.dir("data");
    let rw = || WasiConfig::new().preopen(&data, "/data", DirAccess::ReadWrite);
    for probe in PROBES {
        let name = format!("/data/{probe:?}.txt");
        let host = data.join(format!("{probe:?}.txt"));
        run(kind, probe, &["write", &name, "hello wasi"], rw()).assert_ok("");
        assert_eq!(std::fs::read(&host).unwrap(), b"hello wasi");
        run(kind, probe, &["read", &name], rw()).assert_ok("hello wasi");
        // write truncates
        run(kind, probe, &["write", &name, "hi"], rw()).assert_ok("");
        assert_eq!(std::fs::read(&host).unwrap(), b"hi");
        // A file the host put there.
        std::fs::write(data.join("from-host"), b"\x00\xffbytes").unwrap();
        let r = run(kind, probe, &["read", "/data/from-host"], rw());
        assert_eq!((r.code(), r.stdout), (0, b"\x00\xffbytes".to_vec()));
        // Reading a file that is not there.
        run(kind, probe, &["read", "/data/missing"], rw()).assert_io_error();
    }
    let r = run(kind, Probe::Rust, &["read", "/data/missing"], rw());
    assert!(
        r.stderr().starts_with("error: NotFound: "),
        "{}",
        r.stderr()
    );

    run(kind, Probe::Rust, &["append", "/data/log", "one "], rw()).assert_ok("");
    run(kind, Probe::Rust, &["append", "/data/log", "two"], rw()).assert_ok("");
    assert_eq!(std::fs::read(data.join("log")).unwrap(), b"one two");
    run(kind, Probe::Rust, &["stat", "/data/log"], rw()).assert_ok("file 7\n");
    run(kind, Probe::Rust, &["stat", "/data"], rw()).assert_ok("dir\n");
}

fn the_preopen_can_be_the_current_directory(kind: EngineKind) {
    let tmp = TempDir::new("cwd", kind);
    let data = tmp.dir("data");
    let rw = || WasiConfig::new().preopen(&data, ".", DirAccess::ReadWrite);
    for probe in PROBES {
        run(kind, probe, &["write", "note", "relative"], rw()).assert_ok("");
        assert_eq!(std::fs::read(data.join("note")).unwrap(), b"relative");
        run(kind, probe, &["read", "note"], rw()).assert_ok("relative");
        run(kind, probe, &["ls", "."], rw()).assert_ok("note\n");
        std::fs::remove_file(data.join("note")).unwrap();
    }
}

fn directories_are_made_listed_renamed_and_removed(kind: EngineKind) {
    let tmp = TempDir::new("dirs", kind);
    let data = tmp.dir("data");
    let rw = || WasiConfig::new().preopen(&data, "/data", DirAccess::ReadWrite);
    let probe = |argv: &[&str]| run(kind, Probe::Rust, argv, rw());

    probe(&["mkdir", "/data/sub"]).assert_ok("");
    assert!(data.join("sub").is_dir());
    probe(&["mkdir", "/data/sub"]).assert_io_error();
    probe(&["write", "/data/b", "B"]).assert_ok("");
    probe(&["write", "/data/a", "A"]).assert_ok("");
    probe(&["ls", "/data"]).assert_ok("a\nb\nsub\n");
    probe(&["stat", "/data/sub"]).assert_ok("dir\n");

    probe(&["rename", "/data/a", "/data/sub/c"]).assert_ok("");
    assert_eq!(host_ls(&data), ["b", "sub"]);
    assert_eq!(std::fs::read(data.join("sub/c")).unwrap(), b"A");
    probe(&["ls", "/data/sub"]).assert_ok("c\n");
    probe(&["read", "/data/sub/c"]).assert_ok("A");
    probe(&["rename", "/data/sub", "/data/moved"]).assert_ok("");
    assert_eq!(host_ls(&data), ["b", "moved"]);

    probe(&["rm", "/data/b"]).assert_ok("");
    probe(&["rm", "/data/b"]).assert_io_error();
    probe(&["rm", "/data/moved"]).assert_io_error(); // a directory, not a file
    assert_eq!(host_ls(&data), ["moved"]);
    probe(&["ls", "/data"]).assert_ok("moved\n");
    probe(&["ls", "/data/nothing"]).assert_io_error();
}

fn directory_listings_are_sorted(kind: EngineKind) {
    let tmp = TempDir::new("sorted", kind);
    let data = tmp.dir("data");
    for name in ["zeta", "alpha", "Mid", "_under", "0num", "béta"] {
        std::fs::write(data.join(name), name).unwrap();
    }
    std::fs::create_dir(data.join("dir")).unwrap();
    for probe in PROBES {
        let wasi = WasiConfig::new().preopen(&data, "/data", DirAccess::ReadOnly);
        run(kind, probe, &["ls", "/data"], wasi)
            .assert_ok("0num\nMid\n_under\nalpha\nbéta\ndir\nzeta\n");
    }
}

// ---------------------------------------------------------------------------
// The sandbox

fn a_read_only_preopen_refuses_changes(kind: EngineKind) {
    let tmp = TempDir::new("readonly", kind);
    let data = tmp.dir("data");
    std::fs::write(data.join("f"), "original").unwrap();
    std::fs::create_dir(data.join("d")).unwrap();
    let ro = || WasiConfig::new().preopen(&data, "/data", DirAccess::ReadOnly);
    let unchanged = || {
        assert_eq!(host_ls(&data), ["d", "f"]);
        assert_eq!(std::fs::read(data.join("f")).unwrap(), b"original");
        assert!(host_ls(&data.join("d")).is_empty());
    };
    for probe in PROBES {
        run(kind, probe, &["read", "/data/f"], ro()).assert_ok("original");
        run(kind, probe, &["ls", "/data"], ro()).assert_ok("d\nf\n");
        run(kind, probe, &["write", "/data/f", "changed"], ro()).assert_io_error();
        run(kind, probe, &["write", "/data/new", "x"], ro()).assert_io_error();
        unchanged();
    }
    let rust = |argv: &[&str]| run(kind, Probe::Rust, argv, ro());
    for argv in [
        &["append", "/data/f", "more"][..],
        &["mkdir", "/data/e"],
        &["mkdir", "/data/d/e"],
        &["rm", "/data/f"],
        &["rename", "/data/f", "/data/g"],
        &["rename", "/data/d", "/data/e"],
        &["symlink", "f", "/data/link"],
    ] {
        rust(argv).assert_io_error();
        unchanged();
    }
    rust(&["stat", "/data/f"]).assert_ok("file 8\n");
}

/// A preopened `data` next to a `secret` file, both in one temp dir.
struct Escape {
    tmp: TempDir,
    data: PathBuf,
    secret: PathBuf,
}

const SECRET: &str = "the host's secret";

impl Escape {
    fn new(test: &str, kind: EngineKind) -> Self {
        let tmp = TempDir::new(test, kind);
        let data = tmp.dir("data");
        let secret = tmp.path().join("secret");
        std::fs::write(&secret, SECRET).unwrap();
        std::fs::write(data.join("inside"), "inside").unwrap();
        Escape { tmp, data, secret }
    }

    fn assert_secret_intact(&self) {
        assert_eq!(std::fs::read_to_string(&self.secret).unwrap(), SECRET);
        let listing = host_ls(self.tmp.path());
        assert!(
            listing
                .iter()
                .all(|n| ["data", "ro", "secret"].contains(&n.as_str())),
            "nothing new next to the preopen: {listing:?}"
        );
    }
}

/// The guest failed and saw nothing of the secret.
#[track_caller]
fn assert_refused(r: &Run) {
    r.assert_io_error();
    assert!(!r.stdout().contains(SECRET));
}

fn dot_dot_does_not_leave_the_preopen(kind: EngineKind) {
    let e = Escape::new("dotdot", kind);
    std::fs::create_dir(e.data.join("d")).unwrap();
    for access in [DirAccess::ReadOnly, DirAccess::ReadWrite] {
        for probe in PROBES {
            let at_data = || WasiConfig::new().preopen(&e.data, "/data", access);
            let at_dot = || WasiConfig::new().preopen(&e.data, ".", access);
            for (wasi, path) in [
                (at_data(), "/data/../secret"),
                (at_data(), "/data/../data/../secret"),
                (at_dot(), "../secret"),
                (at_dot(), "./../secret"),
                (at_dot(), "/secret"),
            ] {
                assert_refused(&run(kind, probe, &["read", path], wasi));
            }
            run(kind, probe, &["ls", ".."], at_dot()).assert_io_error();
            run(kind, probe, &["ls", "/data/.."], at_data()).assert_io_error();
            let r = run(
                kind,
                probe,
                &["write", "/data/../secret", "owned"],
                at_data(),
            );
            r.assert_io_error();
            // `..` that stays inside is fine; one that steps out and back in is
            // refused (wasmtime-wasi checks every step).
            run(kind, probe, &["read", "/data/d/../inside"], at_data()).assert_ok("inside");
            run(kind, probe, &["read", "d/../inside"], at_dot()).assert_ok("inside");
            run(kind, probe, &["read", "/data/../data/inside"], at_data()).assert_io_error();
            e.assert_secret_intact();
        }
    }
    let at_data = WasiConfig::new().preopen(&e.data, "/data", DirAccess::ReadWrite);
    run(
        kind,
        Probe::Rust,
        &["rename", "/data/inside", "/data/../stolen"],
        at_data,
    )
    .assert_io_error();
    e.assert_secret_intact();
}

fn absolute_host_paths_are_not_visible(kind: EngineKind) {
    let e = Escape::new("absolute", kind);
    let secret = e.secret.to_str().unwrap().to_owned();
    let inside = e.data.join("inside").to_str().unwrap().to_owned();
    for probe in PROBES {
        for path in ["/etc/passwd", secret.as_str(), inside.as_str()] {
            let wasi = WasiConfig::new().preopen(&e.data, "/data", DirAccess::ReadWrite);
            assert_refused(&run(kind, probe, &["read", path], wasi));
        }
        let wasi = WasiConfig::new().preopen(&e.data, "/data", DirAccess::ReadWrite);
        run(kind, probe, &["write", &secret, "owned"], wasi).assert_io_error();
        e.assert_secret_intact();
    }
}

fn host_symlinks_out_of_the_preopen_are_not_followed(kind: EngineKind) {
    let e = Escape::new("hostlink", kind);
    std::os::unix::fs::symlink(&e.secret, e.data.join("absolute")).unwrap();
    std::os::unix::fs::symlink("../secret", e.data.join("relative")).unwrap();
    std::os::unix::fs::symlink(e.tmp.path(), e.data.join("parent")).unwrap();
    std::os::unix::fs::symlink("inside", e.data.join("sibling")).unwrap();
    for access in [DirAccess::ReadOnly, DirAccess::ReadWrite] {
        let wasi = || WasiConfig::new().preopen(&e.data, "/data", access);
        for probe in PROBES {
            for path in ["/data/absolute", "/data/relative", "/data/parent/secret"] {
                assert_refused(&run(kind, probe, &["read", path], wasi()));
            }
            run(kind, probe, &["ls", "/data/parent"], wasi()).assert_io_error();
            // Writing through a link out is refused too.
            run(kind, probe, &["write", "/data/relative", "owned"], wasi()).assert_io_error();
            run(kind, probe, &["write", "/data/parent/new", "x"], wasi()).assert_io_error();
            // A link that stays inside is followed.
            run(kind, probe, &["read", "/data/sibling"], wasi()).assert_ok("inside");
        }
        e.assert_secret_intact();
    }
}

fn guest_symlinks_cannot_point_out(kind: EngineKind) {
    let e = Escape::new("guestlink", kind);
    let secret = e.secret.to_str().unwrap().to_owned();
    let rw = || WasiConfig::new().preopen(&e.data, "/data", DirAccess::ReadWrite);
    let rust = |argv: &[&str]| run(kind, Probe::Rust, argv, rw());
    for (target, link) in [
        ("../secret", "/data/up"),
        (secret.as_str(), "/data/abs"),
        ("/etc/passwd", "/data/passwd"),
        ("sub/../../secret", "/data/updown"),
    ] {
        // Either the link is refused, or it exists and cannot be followed.
        let made = rust(&["symlink", target, link]);
        if made.code() == 0 {
            assert_refused(&rust(&["read", link]));
            rust(&["write", link, "owned"]).assert_io_error();
        } else {
            made.assert_io_error();
        }
        for probe in PROBES {
            assert_refused(&run(kind, probe, &["read", link], rw()));
        }
        e.assert_secret_intact();
    }
    // A link inside the preopen is made and followed.
    rust(&["symlink", "inside", "/data/ok"]).assert_ok("");
    rust(&["read", "/data/ok"]).assert_ok("inside");
    assert_eq!(
        std::fs::read_link(e.data.join("ok")).unwrap(),
        Path::new("inside")
    );
}

fn nothing_is_visible_without_a_preopen(kind: EngineKind) {
    for probe in PROBES {
        for argv in [
            &["ls", "/"][..],
            &["ls", "."],
            &["ls", "/tmp"],
            &["read", "/etc/passwd"],
            &["read", "Cargo.toml"],
            &["write", "/tmp/wasi-probe-must-not-exist", "x"],
        ] {
            run(kind, probe, argv, WasiConfig::new()).assert_io_error();
        }
    }
    assert!(!Path::new("/tmp/wasi-probe-must-not-exist").exists());
}

// ---------------------------------------------------------------------------
// Clocks and random numbers

/// The seconds of a `realtime N` line.
fn realtime(r: &Run) -> u64 {
    assert_eq!(r.code(), 0, "{r:?}");
    let out = r.stdout();
    let mut lines = out.lines();
    let seconds = lines
        .next()
        .and_then(|l| l.strip_prefix("realtime "))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("a realtime line: {out:?}"));
    assert_eq!(lines.collect::<Vec<_>>(), ["monotonic ok"], "{out:?}");
    seconds
}

fn clocks_tell_the_host_time(kind: EngineKind) {
    for probe in PROBES {
        let guest = realtime(&run(kind, probe, &["clock"], WasiConfig::new()));
        let host = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        assert!(guest.abs_diff(host) < 60, "{probe:?}: {guest} vs {host}");
    }
}

fn deterministic_clocks_stand_at_the_epoch(kind: EngineKind) {
    for probe in PROBES {
        let r = run(kind, probe, &["clock"], WasiConfig::new().deterministic(1));
        r.assert_ok("realtime 0\nmonotonic ok\n");
    }
}

fn random_hex(r: &Run, bytes: usize) -> String {
    assert_eq!(r.code(), 0, "{r:?}");
    let out = r.stdout();
    let hex = out.strip_suffix('\n').expect("one line");
    assert_eq!(hex.len(), 2 * bytes, "{out:?}");
    assert!(
        hex.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
        "{out:?}"
    );
    hex.to_owned()
}

fn random_bytes_are_random(kind: EngineKind) {
    for probe in PROBES {
        let first = random_hex(&run(kind, probe, &["random", "32"], WasiConfig::new()), 32);
        let second = random_hex(&run(kind, probe, &["random", "32"], WasiConfig::new()), 32);
        assert_ne!(first, second, "{probe:?}");
        random_hex(&run(kind, probe, &["random", "0"], WasiConfig::new()), 0);
        random_hex(
            &run(kind, probe, &["random", "1000"], WasiConfig::new()),
            1000,
        );
    }
}

fn seeded_random_bytes_repeat_on_every_engine(kind: EngineKind) {
    let other = match kind {
        EngineKind::Wasmtime => EngineKind::Wasmi,
        _ => EngineKind::Wasmtime,
    };
    for probe in PROBES {
        let seeded = |kind, seed| {
            random_hex(
                &run(
                    kind,
                    probe,
                    &["random", "32"],
                    WasiConfig::new().deterministic(seed),
                ),
                32,
            )
        };
        let first = seeded(kind, 42);
        assert_eq!(
            first,
            seeded(kind, 42),
            "{probe:?}: the same on a second run"
        );
        assert_eq!(first, seeded(other, 42), "{probe:?}: the same on {other:?}");
        assert_ne!(
            first,
            seeded(kind, 43),
            "{probe:?}: another seed, other bytes"
        );
    }
}

fn sleep_sleeps(kind: EngineKind) {
    let start = Instant::now();
    run(kind, Probe::Rust, &["sleep", "10"], WasiConfig::new()).assert_ok("slept\n");
    assert!(start.elapsed() >= Duration::from_millis(10));
    // With the stepping clock of deterministic mode too.
    run(
        kind,
        Probe::Rust,
        &["sleep", "10"],
        WasiConfig::new().deterministic(0),
    )
    .assert_ok("slept\n");
    // Under a deadline that it keeps.
    let rt = runtime(
        kind,
        WasmRuntimeConfig::default()
            .enable_wasi(true)
            .timeout(Duration::from_secs(10)),
    );
    let module = Probe::Rust.load(&*rt);
    run_module(&*rt, &module, &["sleep", "10"], WasiConfig::new()).assert_ok("slept\n");
}

// ---------------------------------------------------------------------------
// Exit codes, traps and reactors

fn exit_codes_are_returned(kind: EngineKind) {
    let rt = wasi_runtime(kind);
    for probe in PROBES {
        let module = probe.load(&*rt);
        for code in [0, 3, 125] {
            let r = run_module(
                &*rt,
                &module,
                &["exit", &code.to_string()],
                WasiConfig::new(),
            );
            assert_eq!(
                (r.code(), r.stdout(), r.stderr()),
                (code, String::new(), String::new())
            );
        }
        // `_start` called directly: proc_exit is an error.
        let mut imports = Imports::new();
        imports.wasi(WasiConfig::new().args(["probe", "exit", "3"]));
        let mut instance = rt.instantiate(&module, &imports).unwrap();
        let r = instance.call("_start", &[]);
        assert!(
            matches!(r, Err(WasmError::Exit { code: 3 })),
            "{probe:?}: {r:?}"
        );
        let e = r.unwrap_err();
        assert!(e.is_guest_failure());
        assert_eq!(e.to_string(), "exited with code 3");
        // A `_start` that returns.
        let mut imports = Imports::new();
        imports.wasi(WasiConfig::new().args(["probe", "args"]));
        let mut instance = rt.instantiate(&module, &imports).unwrap();
        let r = instance.call("_start", &[]);
        assert!(
            matches!(&r, Ok(v) if v.is_empty()) || matches!(r, Err(WasmError::Exit { code: 0 })),
            "{probe:?}: {r:?}"
        );
    }
}

fn a_panic_is_a_trap_with_its_message(kind: EngineKind) {
    let rt = wasi_runtime(kind);
    let module = Probe::Rust.load(&*rt);
    let r = run_module(&*rt, &module, &["panic"], WasiConfig::new());
    assert!(
        matches!(
            r.exit,
            Err(WasmError::Trap {
                code: TrapCode::Unreachable,
                ..
            })
        ),
        "{r:?}"
    );
    assert!(r.exit.as_ref().unwrap_err().is_guest_failure());
    assert!(r.stderr().contains("probe panic"), "{}", r.stderr());
    assert_eq!(r.stdout(), "");
    run_module(&*rt, &module, &["args"], WasiConfig::new()).assert_ok("probe\nargs\n");
}

fn reactors_are_initialized_before_their_exports(kind: EngineKind) {
    let rt = wasi_runtime(kind);
    let module = rt
        .load_module(&guest("c/wasi_reactor.wasm"))
        .expect("the reactor loads");
    let stdout = OutputBuffer::new(4096);
    let mut imports = Imports::new();
    imports.wasi(WasiConfig::new().stdout(WasiOutput::Capture(stdout.clone())));
    let mut instance = rt.instantiate(&module, &imports).unwrap();
    assert_eq!(
        instance.call("was_initialized", &[]).unwrap(),
        [WasmValue::I32(1)]
    );
    assert_eq!(stdout.to_string_lossy(), "");
    assert_eq!(instance.call("greet", &[]).unwrap(), [WasmValue::I32(42)]);
    assert_eq!(stdout.to_string_lossy(), "hello from reactor\n");
    assert_eq!(instance.call("greet", &[]).unwrap(), [WasmValue::I32(42)]);
    assert_eq!(
        stdout.to_string_lossy(),
        "hello from reactor\nhello from reactor\n"
    );
    // The empty world: output discarded, the reactor still works.
    let mut instance = rt.instantiate(&module, &Imports::new()).unwrap();
    assert_eq!(
        instance.call("was_initialized", &[]).unwrap(),
        [WasmValue::I32(1)]
    );
    assert_eq!(instance.call("greet", &[]).unwrap(), [WasmValue::I32(42)]);
    // A reactor is no command.
    assert!(matches!(
        run_command(&mut *instance),
        Err(WasmError::ExportNotFound { .. })
    ));
}

fn a_reactor_may_exit_from_its_initializer(kind: EngineKind) {
    let rt = wasi_runtime(kind);
    let reactor = |code: i32| {
        let wat = format!(
            r#"(module
                (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
                (memory (export "memory") 1)
                (func (export "_initialize") (call $exit (i32.const {code})))
                (func (export "five") (result i32) i32.const 5))"#
        );
        rt.load_module(wat.as_bytes()).unwrap()
    };
    // Exit 0 is a success: the instance is ready.
    let mut instance = rt.instantiate(&reactor(0), &Imports::new()).unwrap();
    assert_eq!(instance.call("five", &[]).unwrap(), [WasmValue::I32(5)]);
    // Any other code fails the instantiation with that code.
    let r = rt.instantiate(&reactor(3), &Imports::new());
    assert!(
        matches!(r, Err(WasmError::Exit { code: 3 })),
        "{:?}",
        r.err()
    );
}

fn exit_codes_outside_wasi_range_fail_the_call(kind: EngineKind) {
    // WASI preview 1 exit codes are 0..126; wasmtime-wasi refuses the others
    // (the probe's -1 is 0xffff_ffff to `proc_exit`).
    let rt = wasi_runtime(kind);
    for probe in PROBES {
        let module = probe.load(&*rt);
        for code in ["126", "255", "-1"] {
            let r = run_module(&*rt, &module, &["exit", code], WasiConfig::new());
            // The guest's failure, named the same on both engines.
            match &r.exit {
                Err(e @ WasmError::Host { function, .. }) => {
                    assert_eq!(function, "wasi_snapshot_preview1");
                    assert!(e.is_guest_failure());
                }
                other => panic!("{probe:?} exit {code}: {other:?}"),
            }
        }
        assert_runtime_goes_on(&*rt, &module);
    }
}

fn the_callers_definitions_win_over_wasi(kind: EngineKind) {
    let rt = wasi_runtime(kind);
    let module = Probe::Rust.load(&*rt);
    let stdout = OutputBuffer::new(4096);
    let mut imports = Imports::new();
    imports
        .func(
            "wasi_snapshot_preview1",
            "random_get",
            HostFunc::new(
                FuncType::new([ValType::I32, ValType::I32], [ValType::I32]),
                |caller, args, results| {
                    let ptr = args[0].as_i32().unwrap_or(0) as u32 as u64;
                    let len = args[1].as_i32().unwrap_or(0) as u32 as usize;
                    let memory = caller.memory().ok_or_else(|| HostError::new("no memory"))?;
                    memory.fill(ptr, len, 0xab).map_err(HostError::from_error)?;
                    results[0] = WasmValue::I32(0);
                    Ok(())
                },
            ),
        )
        .wasi(
            WasiConfig::new()
                .args(["probe", "random", "4"])
                .stdout(WasiOutput::Capture(stdout.clone())),
        );
    let mut instance = rt.instantiate(&module, &imports).unwrap();
    assert_eq!(run_command(&mut *instance).unwrap(), 0);
    assert_eq!(stdout.to_string_lossy(), "abababab\n");
}

// ---------------------------------------------------------------------------
// Limits with WASI

/// The probe still runs on `rt` after a limit stopped it.
#[track_caller]
fn assert_runtime_goes_on(rt: &dyn WasmRuntime, module: &Arc<dyn WasmModule>) {
    run_module(rt, module, &["args", "again"], WasiConfig::new()).assert_ok("probe\nargs\nagain\n");
}

fn spinning_runs_out_of_fuel(kind: EngineKind) {
    let rt = runtime(
        kind,
        WasmRuntimeConfig::default()
            .enable_wasi(true)
            .fuel_limit(20_000_000),
    );
    let module = Probe::Rust.load(&*rt);
    let r = run_module(&*rt, &module, &["spin"], WasiConfig::new());
    assert!(matches!(r.exit, Err(WasmError::FuelExhausted)), "{r:?}");
    assert_runtime_goes_on(&*rt, &module);
}

fn spinning_runs_out_of_time(kind: EngineKind) {
    let limit = Duration::from_millis(200);
    let rt = runtime(
        kind,
        WasmRuntimeConfig::default()
            .enable_wasi(true)
            .timeout(limit),
    );
    let module = Probe::Rust.load(&*rt);
    let start = Instant::now();
    let r = run_module(&*rt, &module, &["spin"], WasiConfig::new());
    let took = start.elapsed();
    assert!(
        matches!(r.exit, Err(WasmError::Timeout { limit: l }) if l == limit),
        "{r:?}"
    );
    assert!(took >= limit && took < Duration::from_secs(10), "{took:?}");
    assert_runtime_goes_on(&*rt, &module);
}

fn allocating_past_the_memory_limit_fails(kind: EngineKind) {
    let rt = runtime(
        kind,
        WasmRuntimeConfig::default()
            .enable_wasi(true)
            .max_memory_pages(100),
    );
    let module = Probe::Rust.load(&*rt);
    run_module(&*rt, &module, &["alloc", "1"], WasiConfig::new()).assert_ok("allocated 1\n");
    let r = run_module(&*rt, &module, &["alloc", "64"], WasiConfig::new());
    let e = r.exit.as_ref().expect_err("64 MiB do not fit in 100 pages");
    assert!(e.is_guest_failure(), "{r:?}");
    assert!(matches!(e, WasmError::Trap { .. }), "{r:?}");
    assert!(r.stderr().contains("memory allocation"), "{}", r.stderr());
    assert_eq!(r.stdout(), "");
    assert_runtime_goes_on(&*rt, &module);
}

fn deep_recursion_is_a_stack_overflow(kind: EngineKind) {
    let rt = wasi_runtime(kind);
    let module = Probe::Rust.load(&*rt);
    run_module(&*rt, &module, &["recurse", "1000"], WasiConfig::new()).assert_ok("1000\n");
    let r = run_module(&*rt, &module, &["recurse", "1000000"], WasiConfig::new());
    assert!(matches!(r.exit, Err(WasmError::StackOverflow)), "{r:?}");
    assert_runtime_goes_on(&*rt, &module);
}

// ---------------------------------------------------------------------------
// Configuration errors

fn one_switch_turns_wasi_on(kind: EngineKind) {
    // WASI off in the config: a world given with `Imports::wasi` is enough.
    let rt = runtime(kind, WasmRuntimeConfig::default());
    for probe in PROBES {
        let module = probe.load(&*rt);
        let run = run_module(&*rt, &module, &["args", "one"], WasiConfig::new());
        assert_eq!(run.code(), 0, "{probe:?}: {run:?}");
        assert!(run.stdout().contains("one"), "{probe:?}: {run:?}");
        // Neither switch: the module's WASI imports are missing, and the
        // error names both ways to serve them.
        match rt.instantiate(&module, &Imports::new()) {
            Err(WasmError::Link { message }) => assert!(
                message.contains("Imports::wasi") && message.contains("enable_wasi"),
                "{probe:?}: {message}"
            ),
            other => panic!("{probe:?}: a link error, got {:?}", other.err()),
        }
    }
    // A world for a module that does not import WASI harms nothing.
    let module = rt.load_module(b"(module)").unwrap();
    let mut imports = Imports::new();
    imports.wasi(WasiConfig::new());
    assert!(rt.instantiate(&module, &imports).is_ok());
    assert!(rt.instantiate(&module, &Imports::new()).is_ok());
    // `enable_wasi` alone serves the empty world to a module given none.
    let rt = runtime(kind, WasmRuntimeConfig::default().enable_wasi(true));
    let module = Probe::C.load(&*rt);
    let mut instance = rt.instantiate(&module, &Imports::new()).expect("served");
    // No arguments: the probe lists its commands and exits 2.
    assert_eq!(run_command(&mut *instance).expect("runs"), 2);
}

fn a_missing_preopen_is_an_io_error(kind: EngineKind) {
    let tmp = TempDir::new("missing", kind);
    let rt = wasi_runtime(kind);
    let module = Probe::Rust.load(&*rt);
    let missing = tmp.path().join("not-there");
    let file = tmp.path().join("a-file");
    std::fs::write(&file, "x").unwrap();
    for host in [&missing, &file] {
        let mut imports = Imports::new();
        imports.wasi(WasiConfig::new().preopen(host, "/data", DirAccess::ReadOnly));
        match rt.instantiate(&module, &imports) {
            Err(WasmError::Io { path, .. }) => assert_eq!(&path, host),
            other => panic!("an I/O error for {}, got {:?}", host.display(), other.err()),
        }
    }
    assert_runtime_goes_on(&*rt, &module);
}

on_every_engine!(
    args_include_argv0,
    environment_is_empty_by_default,
    environment_is_what_is_given,
    a_later_variable_wins,
    inherited_environment_is_the_host_one,
    stdin_is_copied_to_stdout,
    stderr_is_captured_apart_from_stdout,
    unknown_commands_print_the_usage,
    output_is_discarded_without_a_world,
    captured_output_stops_at_its_limit,
    files_are_written_and_read_back,
    the_preopen_can_be_the_current_directory,
    directories_are_made_listed_renamed_and_removed,
    directory_listings_are_sorted,
    a_read_only_preopen_refuses_changes,
    dot_dot_does_not_leave_the_preopen,
    absolute_host_paths_are_not_visible,
    host_symlinks_out_of_the_preopen_are_not_followed,
    guest_symlinks_cannot_point_out,
    nothing_is_visible_without_a_preopen,
    clocks_tell_the_host_time,
    deterministic_clocks_stand_at_the_epoch,
    random_bytes_are_random,
    seeded_random_bytes_repeat_on_every_engine,
    sleep_sleeps,
    exit_codes_are_returned,
    a_panic_is_a_trap_with_its_message,
    reactors_are_initialized_before_their_exports,
    a_reactor_may_exit_from_its_initializer,
    exit_codes_outside_wasi_range_fail_the_call,
    the_callers_definitions_win_over_wasi,
    spinning_runs_out_of_fuel,
    spinning_runs_out_of_time,
    allocating_past_the_memory_limit_fails,
    deep_recursion_is_a_stack_overflow,
    one_switch_turns_wasi_on,
    a_missing_preopen_is_an_io_error,
);

// ---------------------------------------------------------------------------
// Both engines, one transcript

/// Runs a mixed script of commands on `kind` (deterministic, in a directory of
/// its own) and writes down everything the guest showed: exit, stdout, stderr,
/// and the host directory after each step.
fn transcript(kind: EngineKind) -> Vec<u8> {
    let e = Escape::new("transcript", kind);
    std::os::unix::fs::symlink("../secret", e.data.join("out")).unwrap();
    let ro = e.tmp.dir("ro");
    std::fs::write(ro.join("fixed"), "read-only").unwrap();
    let rt = wasi_runtime(kind);
    let modules = [Probe::Rust.load(&*rt), Probe::C.load(&*rt)];
    let script: &[(Probe, &[&str])] = &[
        (Probe::Rust, &["args", "one", "two words"]),
        (Probe::C, &["args", "one", "two words"]),
        (Probe::Rust, &["env"]),
        (Probe::C, &["env"]),
        (Probe::Rust, &["cat"]),
        (Probe::C, &["cat"]),
        (Probe::Rust, &["stderr", "side"]),
        (Probe::Rust, &["write", "/data/a", "alpha"]),
        (Probe::C, &["write", "/data/b", "beta"]),
        (Probe::Rust, &["append", "/data/a", "+"]),
        (Probe::C, &["read", "/data/a"]),
        (Probe::Rust, &["mkdir", "/data/sub"]),
        (Probe::Rust, &["rename", "/data/b", "/data/sub/b"]),
        (Probe::Rust, &["ls", "/data"]),
        (Probe::C, &["ls", "/data/sub"]),
        (Probe::Rust, &["stat", "/data/sub/b"]),
        (Probe::Rust, &["rm", "/data/sub/b"]),
        (Probe::Rust, &["rm", "/data/sub/b"]),
        (Probe::Rust, &["read", "/data/../secret"]),
        (Probe::C, &["read", "/data/../secret"]),
        (Probe::Rust, &["read", "/data/out"]),
        (Probe::Rust, &["symlink", "/etc/passwd", "/data/pw"]),
        (Probe::Rust, &["read", "/data/pw"]),
        (Probe::Rust, &["write", "/ro/fixed", "changed"]),
        (Probe::C, &["write", "/ro/fixed", "changed"]),
        (Probe::Rust, &["mkdir", "/ro/d"]),
        (Probe::Rust, &["read", "/ro/fixed"]),
        (Probe::Rust, &["ls", "/"]),
        (Probe::C, &["ls", "/nowhere"]),
        (Probe::Rust, &["read", "/etc/passwd"]),
        (Probe::Rust, &["clock"]),
        (Probe::C, &["clock"]),
        (Probe::Rust, &["random", "48"]),
        (Probe::C, &["random", "48"]),
        (Probe::Rust, &["sleep", "1"]),
        (Probe::Rust, &["exit", "7"]),
        (Probe::C, &["exit", "7"]),
        (Probe::Rust, &["panic"]),
        (Probe::Rust, &["bogus"]),
        (Probe::C, &["bogus"]),
    ];
    let mut out = Vec::new();
    for (probe, argv) in script {
        let module = &modules[usize::from(*probe == Probe::C)];
        let wasi = WasiConfig::new()
            .env("HOME", "/data")
            .env("LANG", "C")
            .stdin_bytes(&b"piped\x00in\n"[..])
            .preopen(&e.data, "/data", DirAccess::ReadWrite)
            .preopen(&ro, "/ro", DirAccess::ReadOnly)
            .deterministic(2024);
        let r = run_module(&*rt, module, argv, wasi);
        let exit = match &r.exit {
            Ok(code) => format!("exit {code}"),
            Err(e) => format!("error {}", e.kind()),
        };
        out.extend_from_slice(format!("$ {probe:?} {argv:?}\n{exit}\nstdout:\n").as_bytes());
        out.extend_from_slice(&r.stdout);
        out.extend_from_slice(b"\nstderr:\n");
        out.extend_from_slice(&r.stderr);
        out.extend_from_slice(format!("\nhost: {:?}\n", host_ls(&e.data)).as_bytes());
    }
    e.assert_secret_intact();
    out
}

#[test]
fn both_engines_show_the_same_world() {
    let wasmtime = transcript(EngineKind::Wasmtime);
    let wasmi = transcript(EngineKind::Wasmi);
    if wasmtime != wasmi {
        let (a, b) = (
            String::from_utf8_lossy(&wasmtime),
            String::from_utf8_lossy(&wasmi),
        );
        for (i, (x, y)) in a.lines().zip(b.lines()).enumerate() {
            assert_eq!(x, y, "line {i} differs; wasmtime:\n{a}\nwasmi:\n{b}");
        }
        panic!("the transcripts differ in length; wasmtime:\n{a}\nwasmi:\n{b}");
    }
    // And the script did what it says.
    let text = String::from_utf8_lossy(&wasmtime);
    for expected in [
        "$ Rust [\"args\", \"one\", \"two words\"]\nexit 0\nstdout:\nprobe\nargs\none\ntwo words\n\n",
        "$ C [\"env\"]\nexit 0\nstdout:\nHOME=/data\nLANG=C\n\n",
        "$ C [\"cat\"]\nexit 0\nstdout:\npiped\u{0}in\n\n",
        "$ C [\"read\", \"/data/a\"]\nexit 0\nstdout:\nalpha+\n",
        "$ Rust [\"ls\", \"/data\"]\nexit 0\nstdout:\na\ninside\nout\nsub\n",
        "$ Rust [\"clock\"]\nexit 0\nstdout:\nrealtime 0\nmonotonic ok\n",
        "$ Rust [\"exit\", \"7\"]\nexit 7\n",
        "$ Rust [\"panic\"]\nerror trap\n",
    ] {
        assert!(text.contains(expected), "{expected:?} in:\n{text}");
    }
}
