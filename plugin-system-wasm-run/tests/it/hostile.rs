//! Hostile guests: each tries to get around a limit as an attacker would, and
//! each is stopped the same way on every engine.
//!
//! Bounds on wall-clock time here are generous (many times the deadline): they
//! never fire on a healthy run, only when a limit does not hold at all.

use std::time::Duration;

// The page's clock in a browser run (std has none there); std's elsewhere.
use plugin_system_core::Instant;
use plugin_system_core::{
    Deadline, DirAccess, FuncType, HostFunc, Imports, WasiConfig, WasmError, WasmRuntimeConfig,
    WasmValue,
};
use plugin_system_wasm_run::EngineKind;

use crate::{instance, on_every_engine, runtime, temp_path};

/// The resident memory of this process, from `/proc` (Linux).
fn resident_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("/proc/self/statm");
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .expect("resident pages");
    pages * 4096
}

const TABLE_BOMB: &str = r#"(module
    (table $t 1 funcref)
    (func (export "grow") (param i32) (result i32)
        (table.grow $t (ref.null func) (local.get 0)))
    (func (export "size") (result i32) (table.size $t)))"#;

fn one_table_grow_of_two_billion_elements_returns_minus_one(kind: EngineKind) {
    // No table limit configured: the default keeps tables within the memory
    // budget, and one instruction cannot commit 16 GiB.
    for config in [
        WasmRuntimeConfig::default(),
        WasmRuntimeConfig::default().max_memory_pages(1),
    ] {
        let before = resident_bytes();
        let mut i = instance(kind, config, TABLE_BOMB);
        let grown = i.call("grow", &[WasmValue::I32(1 << 31)]).unwrap();
        assert_eq!(grown, [WasmValue::I32(-1)]);
        assert_eq!(i.call("size", &[]).unwrap(), [WasmValue::I32(1)]);
        let after = resident_bytes();
        assert!(
            after < before + (256 << 20),
            "resident memory grew from {before} to {after} bytes"
        );
    }
}

fn the_default_table_limit_follows_the_memory_budget(kind: EngineKind) {
    // One page of memory: 64 KiB of 8-byte elements, 8,192 of them.
    let mut i = instance(
        kind,
        WasmRuntimeConfig::default().max_memory_pages(1),
        TABLE_BOMB,
    );
    assert_eq!(
        i.call("grow", &[WasmValue::I32(8191)]).unwrap(),
        [WasmValue::I32(1)]
    );
    assert_eq!(
        i.call("grow", &[WasmValue::I32(1)]).unwrap(),
        [WasmValue::I32(-1)]
    );
    // A configured limit wins over the default, either way.
    let mut i = instance(
        kind,
        WasmRuntimeConfig::default()
            .max_memory_pages(1)
            .max_table_elements(100_000),
        TABLE_BOMB,
    );
    assert_eq!(
        i.call("grow", &[WasmValue::I32(99_999)]).unwrap(),
        [WasmValue::I32(1)]
    );
    assert_eq!(
        i.call("grow", &[WasmValue::I32(1)]).unwrap(),
        [WasmValue::I32(-1)]
    );
}

fn a_table_bomb_in_a_loop_stops_at_the_limit(kind: EngineKind) {
    let wat = r#"(module
        (table $t 0 funcref)
        (func (export "bomb") (result i32)
            (loop $l
                (br_if $l (i32.ne (table.grow $t (ref.null func) (i32.const 65536))
                                  (i32.const -1))))
            (table.size $t)))"#;
    let mut i = instance(kind, WasmRuntimeConfig::default(), wat);
    assert_eq!(i.call("bomb", &[]).unwrap(), [WasmValue::I32(1 << 20)]);
}

fn a_large_declared_table_fails_to_instantiate(kind: EngineKind) {
    let rt = runtime(kind, WasmRuntimeConfig::default().max_memory_pages(1));
    let m = rt.load_module(b"(module (table 100000 funcref))").unwrap();
    let r = rt.instantiate(&m, &Imports::new());
    assert!(
        matches!(r, Err(WasmError::MemoryLimit { .. })),
        "{:?}",
        r.err()
    );
}

fn a_huge_declared_memory_is_refused_before_it_is_committed(kind: EngineKind) {
    // wasmi commits a memory's minimum at once (65,536 pages: 4 GiB); the
    // limit must refuse it before, from the runtime's config or an instance's own.
    let huge = "(module (memory 65536))";
    let before = resident_bytes();
    let rt = runtime(kind, WasmRuntimeConfig::default().max_memory_pages(16));
    let m = rt.load_module(huge.as_bytes()).unwrap();
    let r = rt.instantiate(&m, &Imports::new());
    assert!(
        matches!(r, Err(WasmError::MemoryLimit { .. })),
        "{:?}",
        r.err()
    );
    let rt = runtime(kind, WasmRuntimeConfig::default());
    let m = rt.load_module(huge.as_bytes()).unwrap();
    let limits = plugin_system_core::InstanceLimits::new().max_memory_bytes(1 << 20);
    let r = rt.instantiate_with_limits(&m, &Imports::new(), limits);
    assert!(
        matches!(r, Err(WasmError::MemoryLimit { .. })),
        "{:?}",
        r.err()
    );
    let after = resident_bytes();
    assert!(
        after < before + (256 << 20),
        "resident memory grew from {before} to {after} bytes"
    );
}

const SPIN: &str = r#"(module
    (func (export "spin") (loop $l (br $l)))
    (func (export "quick") (result i32) i32.const 1))"#;

fn a_zero_timeout_fails_every_call_alike(kind: EngineKind) {
    let mut i = instance(
        kind,
        WasmRuntimeConfig::default().timeout(Duration::ZERO),
        SPIN,
    );
    let r = i.call("quick", &[]);
    assert!(matches!(r, Err(WasmError::Timeout { .. })), "{r:?}");
    assert_eq!(i.stats().failed_calls, 1);
}

fn a_shared_deadline_ends_a_run_of_calls(kind: EngineKind) {
    let mut i = instance(kind, WasmRuntimeConfig::default(), SPIN);
    let limit = Duration::from_millis(100);
    i.set_deadline(Some(Deadline::after(limit))).unwrap();
    assert_eq!(i.call("quick", &[]).unwrap(), [WasmValue::I32(1)]);
    let started = Instant::now();
    let r = i.call("spin", &[]);
    assert!(
        matches!(r, Err(WasmError::Timeout { limit: l }) if l == limit),
        "{r:?}"
    );
    assert!(started.elapsed() < limit * 50);
    // Used up: the next call does not start.
    let r = i.call("quick", &[]);
    assert!(matches!(r, Err(WasmError::Timeout { .. })), "{r:?}");
    // Lifted: calls run again; the tighter of a timeout and a deadline wins.
    i.set_deadline(None).unwrap();
    assert_eq!(i.call("quick", &[]).unwrap(), [WasmValue::I32(1)]);
    i.set_timeout(Some(Duration::from_secs(600)));
    i.set_deadline(Some(Deadline::after(limit))).unwrap();
    let r = i.call("spin", &[]);
    assert!(
        matches!(r, Err(WasmError::Timeout { limit: l }) if l == limit),
        "{r:?}"
    );
}

/// A host function that takes `pause` and returns.
fn slow_host(pause: Duration) -> Imports {
    let mut imports = Imports::new();
    imports.func(
        "env",
        "slow",
        HostFunc::new(FuncType::new([], []), move |_, _, _| {
            std::thread::sleep(pause);
            Ok(())
        }),
    );
    imports
}

fn time_in_host_functions_counts_against_the_deadline(kind: EngineKind) {
    // wasmi charges no fuel for time in the host: without a look at the clock
    // when the host returns, a guest calling a slow host function in a loop
    // ran many times past its deadline.
    let wat = r#"(module
        (import "env" "slow" (func $slow))
        (func (export "loop") (loop $l (call $slow) (br $l))))"#;
    let limit = Duration::from_millis(100);
    let rt = runtime(kind, WasmRuntimeConfig::default().timeout(limit));
    let module = rt.load_module(wat.as_bytes()).unwrap();
    let mut i = rt
        .instantiate(&module, &slow_host(Duration::from_millis(5)))
        .unwrap();
    let started = Instant::now();
    let r = i.call("loop", &[]);
    assert!(
        matches!(r, Err(WasmError::Timeout { limit: l }) if l == limit),
        "{r:?}"
    );
    assert!(started.elapsed() < limit * 10, "{:?}", started.elapsed());
    // One slow host call that outlives the deadline ends the call too.
    let mut i = rt
        .instantiate(&module, &slow_host(Duration::from_millis(150)))
        .unwrap();
    let r = i.call("loop", &[]);
    assert!(matches!(r, Err(WasmError::Timeout { .. })), "{r:?}");
}

fn host_work_counts_against_fuel(kind: EngineKind) {
    // Each host call charges 1,000,000 fuel for work the guest costs the host;
    // 10,000,000 fuel pays for about ten, deadline or not.
    let wat = r#"(module
        (import "env" "work" (func $work))
        (global $calls (mut i32) (i32.const 0))
        (func (export "loop") (loop $l
            (global.set $calls (i32.add (global.get $calls) (i32.const 1)))
            (call $work) (br $l)))
        (func (export "calls") (result i32) (global.get $calls)))"#;
    let mut imports = Imports::new();
    imports.func(
        "env",
        "work",
        HostFunc::new(FuncType::new([], []), |caller, _, _| {
            caller.consume_fuel(1_000_000);
            Ok(())
        }),
    );
    for config in [
        WasmRuntimeConfig::default().fuel_limit(10_000_000),
        WasmRuntimeConfig::default()
            .fuel_limit(10_000_000)
            .timeout(Duration::from_secs(600)),
    ] {
        let rt = runtime(kind, config);
        let module = rt.load_module(wat.as_bytes()).unwrap();
        let mut i = rt.instantiate(&module, &imports).unwrap();
        let r = i.call("loop", &[]);
        assert!(matches!(r, Err(WasmError::FuelExhausted)), "{r:?}");
        assert_eq!(i.fuel().unwrap(), 0);
        i.set_fuel(1_000).unwrap();
        let calls = i.call("calls", &[]);
        assert!(
            matches!(calls.as_deref(), Ok([WasmValue::I32(n)]) if (10..=11).contains(n)),
            "{calls:?}"
        );
    }
}

/// `poll_oneoff` with one clock subscription: `sleep(ns, flags)` (flags 1:
/// an absolute time), returning the errno.
const SLEEPER: &str = r#"(module
    (import "wasi_snapshot_preview1" "poll_oneoff"
        (func $poll (param i32 i32 i32 i32) (result i32)))
    (memory (export "memory") 1)
    (func (export "sleep") (param $ns i64) (param $flags i32) (result i32)
        (i64.store (i32.const 0) (i64.const 7))
        (i32.store8 (i32.const 8) (i32.const 0))
        (i32.store (i32.const 16) (i32.const 1))
        (i64.store (i32.const 24) (local.get $ns))
        (i64.store (i32.const 32) (i64.const 0))
        (i32.store16 (i32.const 40) (local.get $flags))
        (call $poll (i32.const 0) (i32.const 64) (i32.const 1) (i32.const 128))))"#;

fn blocking_wasi_sleeps_end_at_the_deadline(kind: EngineKind) {
    let limit = Duration::from_millis(200);
    let rt = runtime(
        kind,
        WasmRuntimeConfig::default()
            .enable_wasi(true)
            .timeout(limit),
    );
    let module = rt.load_module(SLEEPER.as_bytes()).unwrap();
    let mut i = rt.instantiate(&module, &Imports::new()).unwrap();
    // A short sleep is a sleep.
    assert_eq!(
        i.call("sleep", &[WasmValue::I64(1_000_000), WasmValue::I32(0)])
            .unwrap(),
        [WasmValue::I32(0)]
    );
    for (ns, flags) in [
        (10_000_000_000i64, 0), // 10 s from now
        (-1, 1),                // until the end of time
    ] {
        let started = Instant::now();
        let r = i.call("sleep", &[WasmValue::I64(ns), WasmValue::I32(flags)]);
        assert!(
            matches!(r, Err(WasmError::Timeout { limit: l }) if l == limit),
            "sleep({ns}, {flags}): {r:?}"
        );
        assert!(started.elapsed() < limit * 10, "{:?}", started.elapsed());
    }
}

/// Opens the preopened directory (descriptor 3) again and again until WASI
/// refuses: `open_all() -> (opened, errno)`; `close(fd)`.
const OPENER: &str = r#"(module
    (import "wasi_snapshot_preview1" "path_open"
        (func $open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
    (import "wasi_snapshot_preview1" "fd_close" (func $close (param i32) (result i32)))
    (memory (export "memory") 1)
    (data (i32.const 256) ".")
    (func (export "open_all") (result i32 i32) (local $n i32) (local $errno i32)
        (block $done
            (loop $l
                (local.set $errno
                    (call $open (i32.const 3) (i32.const 0) (i32.const 256) (i32.const 1)
                        (i32.const 2) (i64.const 0) (i64.const 0) (i32.const 0) (i32.const 0)))
                (br_if $done (local.get $errno))
                (local.set $n (i32.add (local.get $n) (i32.const 1)))
                (br_if $l (i32.lt_u (local.get $n) (i32.const 100000)))))
        (local.get $n) (local.get $errno))
    (func (export "last") (result i32) (i32.load (i32.const 0)))
    (func (export "close") (param i32) (result i32) (call $close (local.get 0))))"#;

fn a_guest_cannot_hold_more_descriptors_than_its_cap(kind: EngineKind) {
    let dir = temp_path(&format!("fd-cap-{kind:?}"));
    std::fs::create_dir_all(&dir).unwrap();
    let rt = runtime(kind, WasmRuntimeConfig::default().enable_wasi(true));
    let module = rt.load_module(OPENER.as_bytes()).unwrap();
    for (cap, expected) in [
        (None, plugin_system_core::wasi::DEFAULT_MAX_OPEN_FILES - 4),
        (Some(10), 6),
    ] {
        let mut wasi = WasiConfig::new().preopen(&dir, "/d", DirAccess::ReadOnly);
        if let Some(cap) = cap {
            wasi = wasi.max_open_files(cap);
        }
        let mut imports = Imports::new();
        imports.wasi(wasi);
        let mut i = rt.instantiate(&module, &imports).unwrap();
        // stdio and the preopen hold 4; EMFILE is errno 33.
        let opened = i.call("open_all", &[]).unwrap();
        assert_eq!(
            opened,
            [WasmValue::I32(expected as i32), WasmValue::I32(33)],
            "cap {cap:?}"
        );
        // Closing one makes room for one.
        let last = i.call("last", &[]).unwrap()[0];
        assert_eq!(i.call("close", &[last]).unwrap(), [WasmValue::I32(0)]);
        assert_eq!(
            i.call("open_all", &[]).unwrap(),
            [WasmValue::I32(1), WasmValue::I32(33)]
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// The differential fuzz target's finding, reduced: on wasmi 2.0.0 this lane
/// store (past a 16-bit offset, its value from another SIMD instruction)
/// crashed the host process with SIGSEGV. wasmi refuses the module by name;
/// wasmtime stores the byte.
fn a_lane_store_wasmi_runs_wrongly_never_reaches_it(kind: EngineKind) {
    let wat = r#"(module (memory 10)
        (func (export "f") (result i32) (local v128)
            i32.const 0
            v128.const i32x4 1 2 3 0x00360000
            local.tee 0
            local.get 0
            local.get 0
            v128.bitselect
            v128.store8_lane offset=338637 14
            i32.const 338637
            i32.load8_u))"#;
    let rt = runtime(kind, WasmRuntimeConfig::default());
    match (kind, rt.load_module(wat.as_bytes())) {
        (EngineKind::Wasmi, Err(WasmError::Unsupported { feature })) => {
            assert!(feature.contains("v128.store8_lane"), "{feature}");
        }
        (EngineKind::Wasmtime, Ok(module)) => {
            let mut i = rt.instantiate(&module, &Imports::new()).unwrap();
            assert_eq!(i.call("f", &[]).unwrap(), [WasmValue::I32(0x36)]);
        }
        (_, other) => panic!("{kind:?}: {other:?}"),
    }
    // The same store within a 16-bit offset runs alike on both.
    let near = wat.replace("338637", "65535");
    let mut i = instance(kind, WasmRuntimeConfig::default(), &near);
    assert_eq!(i.call("f", &[]).unwrap(), [WasmValue::I32(0x36)]);
}

on_every_engine!(
    a_lane_store_wasmi_runs_wrongly_never_reaches_it,
    one_table_grow_of_two_billion_elements_returns_minus_one,
    the_default_table_limit_follows_the_memory_budget,
    a_table_bomb_in_a_loop_stops_at_the_limit,
    a_large_declared_table_fails_to_instantiate,
    a_huge_declared_memory_is_refused_before_it_is_committed,
    a_zero_timeout_fails_every_call_alike,
    a_shared_deadline_ends_a_run_of_calls,
    time_in_host_functions_counts_against_the_deadline,
    host_work_counts_against_fuel,
    blocking_wasi_sleeps_end_at_the_deadline,
    a_guest_cannot_hold_more_descriptors_than_its_cap,
);
