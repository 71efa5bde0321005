//! Limits are enforced, the same way on every engine, and the runtime survives them.

use std::time::{Duration, Instant};

use plugin_system_core::{Imports, WasmError, WasmRuntimeConfig, WasmValue};
use plugin_system_wasm_run::EngineKind;

use crate::{instance, on_every_engine, runtime};

const BOMB: &str = r#"(module
    (memory (export "memory") 1)
    (func (export "grow") (param i32) (result i32) local.get 0 memory.grow)
    (func (export "bomb") (result i32) (local $r i32)
        (loop $l
            (local.set $r (memory.grow (i32.const 1)))
            (br_if $l (i32.ne (local.get $r) (i32.const -1))))
        memory.size))"#;

const SPIN: &str = r#"(module
    (func (export "spin") (loop $l (br $l)))
    (func (export "count") (param i32) (result i32) (local $i i32)
        (loop $l
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br_if $l (i32.lt_u (local.get $i) (local.get 0))))
        local.get $i)
    (func (export "recurse") (param i32) (result i32)
        local.get 0 i32.const 1 i32.add call 2)
    (func (export "quick") (result i32) i32.const 1))"#;

fn memory_grow_past_the_limit_returns_minus_one(kind: EngineKind) {
    let mut i = instance(
        kind,
        WasmRuntimeConfig::default().max_memory_pages(10),
        BOMB,
    );
    assert_eq!(
        i.call("grow", &[WasmValue::I32(9)]).unwrap(),
        [WasmValue::I32(1)]
    );
    assert_eq!(
        i.call("grow", &[WasmValue::I32(1)]).unwrap(),
        [WasmValue::I32(-1)]
    );
    assert_eq!(
        i.call("bomb", &[]).unwrap(),
        [WasmValue::I32(10)],
        "a memory bomb stops at the limit"
    );
    let host_grow = i.memory().unwrap().grow(1);
    assert!(
        matches!(host_grow, Err(WasmError::MemoryLimit { .. })),
        "{host_grow:?}"
    );
}

fn a_large_minimum_memory_fails_to_instantiate(kind: EngineKind) {
    let rt = runtime(kind, WasmRuntimeConfig::default().max_memory_pages(10));
    let m = rt.load_module(b"(module (memory 11))").unwrap();
    let r = rt.instantiate(&m, &Imports::new());
    assert!(
        matches!(r, Err(WasmError::MemoryLimit { .. })),
        "{:?}",
        r.err()
    );
    assert!(r.err().unwrap().is_guest_failure());
    let ok = rt.load_module(b"(module (memory 10))").unwrap();
    assert!(
        rt.instantiate(&ok, &Imports::new()).is_ok(),
        "the runtime goes on"
    );
}

fn unbounded_recursion_is_a_stack_overflow(kind: EngineKind) {
    for config in [
        WasmRuntimeConfig::default(),
        WasmRuntimeConfig::default().max_stack_depth(1000),
    ] {
        let mut i = instance(kind, config, SPIN);
        let r = i.call("recurse", &[WasmValue::I32(0)]);
        assert!(matches!(r, Err(WasmError::StackOverflow)), "{r:?}");
        assert_eq!(r.unwrap_err().to_string(), "stack overflow");
        assert_eq!(
            i.call("quick", &[]).unwrap(),
            [WasmValue::I32(1)],
            "usable after the overflow"
        );
    }
}

fn stack_depth_limit_allows_what_fits(kind: EngineKind) {
    let mut i = instance(
        kind,
        WasmRuntimeConfig::default().max_stack_depth(1000),
        r#"(module (func $d (export "depth") (param i32) (result i32)
            (if (result i32) (i32.eqz (local.get 0))
                (then (i32.const 0))
                (else (i32.add (i32.const 1) (call $d (i32.sub (local.get 0) (i32.const 1))))))))"#,
    );
    assert_eq!(
        i.call("depth", &[WasmValue::I32(100)]).unwrap(),
        [WasmValue::I32(100)]
    );
    assert!(matches!(
        i.call("depth", &[WasmValue::I32(1_000_000)]),
        Err(WasmError::StackOverflow)
    ));
}

fn fuel_is_metered_and_refillable(kind: EngineKind) {
    let mut i = instance(kind, WasmRuntimeConfig::default().fuel_limit(50_000), SPIN);
    assert_eq!(i.fuel().unwrap(), 50_000);
    assert_eq!(
        i.call("count", &[WasmValue::I32(100)]).unwrap(),
        [WasmValue::I32(100)]
    );
    let left = i.fuel().unwrap();
    assert!(
        left < 50_000 && left > 40_000,
        "a 100-iteration loop costs fuel: {left}"
    );
    assert_eq!(i.stats().fuel_consumed, Some(50_000 - left));
    let r = i.call("spin", &[]);
    assert!(matches!(r, Err(WasmError::FuelExhausted)), "{r:?}");
    assert_eq!(i.fuel().unwrap(), 0);
    assert!(matches!(
        i.call("quick", &[]),
        Err(WasmError::FuelExhausted)
    ));
    i.set_fuel(1000).unwrap();
    assert_eq!(i.call("quick", &[]).unwrap(), [WasmValue::I32(1)]);
    i.add_fuel(500).unwrap();
    let now = i.fuel().unwrap();
    assert!(now > 1000 && now <= 1500, "{now}");
    assert!(i.stats().fuel_consumed.unwrap() >= 50_000);
}

fn fuel_needs_a_limit(kind: EngineKind) {
    let mut i = instance(kind, WasmRuntimeConfig::default(), SPIN);
    assert!(matches!(i.fuel(), Err(WasmError::Unsupported { .. })));
    assert!(matches!(i.set_fuel(10), Err(WasmError::Unsupported { .. })));
    assert_eq!(i.stats().fuel_consumed, None);
}

fn fuel_limits_the_start_function(kind: EngineKind) {
    let rt = runtime(kind, WasmRuntimeConfig::default().fuel_limit(10_000));
    let m = rt
        .load_module(br#"(module (func $s (loop $l (br $l))) (start $s))"#)
        .unwrap();
    assert!(matches!(
        rt.instantiate(&m, &Imports::new()),
        Err(WasmError::FuelExhausted)
    ));
}

fn a_deadline_stops_an_endless_loop(kind: EngineKind) {
    let deadline = Duration::from_millis(300);
    let mut i = instance(kind, WasmRuntimeConfig::default().timeout(deadline), SPIN);
    let start = Instant::now();
    let r = i.call("spin", &[]);
    let took = start.elapsed();
    assert!(
        matches!(r, Err(WasmError::Timeout { limit }) if limit == deadline),
        "{r:?}"
    );
    assert!(took >= deadline, "stopped early: {took:?}");
    assert!(
        took < deadline * 2,
        "stopped within twice the deadline: {took:?}"
    );
    assert_eq!(
        i.call("quick", &[]).unwrap(),
        [WasmValue::I32(1)],
        "usable after the timeout"
    );
    i.set_timeout(None);
    assert_eq!(
        i.call("count", &[WasmValue::I32(1000)]).unwrap(),
        [WasmValue::I32(1000)]
    );
}

fn a_deadline_combines_with_fuel(kind: EngineKind) {
    let config = WasmRuntimeConfig::default()
        .fuel_limit(30_000)
        .timeout(Duration::from_secs(30));
    let mut i = instance(kind, config, SPIN);
    assert!(matches!(i.call("spin", &[]), Err(WasmError::FuelExhausted)));
    i.set_fuel(5_000_000).unwrap();
    assert_eq!(
        i.call("count", &[WasmValue::I32(10)]).unwrap(),
        [WasmValue::I32(10)]
    );
    let left = i.fuel().unwrap();
    assert!(
        left < 5_000_000 && left > 4_999_000,
        "exact accounting across slices: {left}"
    );
    i.set_timeout(Some(Duration::from_millis(100)));
    i.set_fuel(u64::MAX / 4).unwrap();
    assert!(matches!(
        i.call("spin", &[]),
        Err(WasmError::Timeout { .. })
    ));
}

fn a_timeout_in_one_instance_never_stops_another(kind: EngineKind) {
    let rt = runtime(kind, WasmRuntimeConfig::default());
    let module = rt.load_module(SPIN.as_bytes()).unwrap();
    let mut looping = rt.instantiate(&module, &Imports::new()).unwrap();
    let mut working = rt.instantiate(&module, &Imports::new()).unwrap();
    looping.set_timeout(Some(Duration::from_millis(50)));
    working.set_timeout(Some(Duration::from_secs(60)));
    let worker = std::thread::spawn(move || {
        // Long enough to span the other instance's deadline on every engine.
        working.call("count", &[WasmValue::I32(20_000_000)])
    });
    assert!(matches!(
        looping.call("spin", &[]),
        Err(WasmError::Timeout { .. })
    ));
    assert_eq!(
        worker.join().unwrap().unwrap(),
        [WasmValue::I32(20_000_000)]
    );
}

fn a_deadline_covers_the_start_function(kind: EngineKind) {
    let rt = runtime(
        kind,
        WasmRuntimeConfig::default().timeout(Duration::from_millis(100)),
    );
    let m = rt
        .load_module(br#"(module (func $s (loop $l (br $l))) (start $s))"#)
        .unwrap();
    let r = rt.instantiate(&m, &Imports::new());
    assert!(matches!(r, Err(WasmError::Timeout { .. })), "{:?}", r.err());
    assert_eq!(rt.stats().instances_active, 0);
}

on_every_engine!(
    memory_grow_past_the_limit_returns_minus_one,
    a_large_minimum_memory_fails_to_instantiate,
    unbounded_recursion_is_a_stack_overflow,
    stack_depth_limit_allows_what_fits,
    fuel_is_metered_and_refillable,
    fuel_needs_a_limit,
    fuel_limits_the_start_function,
    a_deadline_stops_an_endless_loop,
    a_deadline_combines_with_fuel,
    a_timeout_in_one_instance_never_stops_another,
    a_deadline_covers_the_start_function,
);
