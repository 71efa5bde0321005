//! Calls: fuel kept exact across deadline slices, the start function under the
//! deadline and hidden, host errors on both call paths, values bit-exact, linking
//! by name and type, instances sharing a store.

use std::time::Duration;

// The page's clock in a browser run (std has none there); std's elsewhere.
use plugin_system_core::Instant;
use plugin_system_core::{
    Extern, ExternRef, FuncType, HostError, HostFunc, Imports, InstanceHandle, TrapCode, ValType,
    WasmError, WasmRuntimeConfig, WasmValue,
};

use plugin_system_wasm_run::EngineKind;

use crate::on_every_engine;

/// The export a moved start function hides behind on wasmi; no engine shows it.
const START_EXPORT: &str = "\0plugin-system:start";

/// `spin(n)` counts down from `n`: about 15 fuel per round.
const SPIN: &str = r#"(module
    (func (export "spin") (param $n i32)
        (loop $again
            (local.set $n (i32.sub (local.get $n) (i32.const 1)))
            (br_if $again (local.get $n)))))"#;

const FOREVER: &str = r#"(module
    (func (export "forever") (loop $l (br $l)))
    (func (export "one") (result i32) (i32.const 1)))"#;

fn spin_fuel_left(
    kind: EngineKind,
    config: WasmRuntimeConfig,
    rounds: i32,
) -> (Result<(), WasmError>, u64) {
    let runtime = crate::runtime(kind, config);
    let module = runtime.load_module(SPIN.as_bytes()).unwrap();
    let mut instance = runtime.instantiate(&module, &Imports::new()).unwrap();
    let outcome = instance.call("spin", &[WasmValue::I32(rounds)]).map(drop);
    let left = instance.fuel().unwrap();
    assert_eq!(instance.stats().fuel_consumed, Some(FUEL - left));
    (outcome, left)
}

const FUEL: u64 = 100_000_000;

fn fuel_accounting_across_deadline_slices_is_exact(kind: EngineKind) {
    let plain = WasmRuntimeConfig::default().fuel_limit(FUEL);
    let sliced = plain.clone().timeout(Duration::from_secs(60));
    // Many slices: a million rounds burn far more than one slice.
    let (direct, direct_left) = spin_fuel_left(kind, plain.clone(), 1_000_000);
    let (slices, slices_left) = spin_fuel_left(kind, sliced.clone(), 1_000_000);
    direct.unwrap();
    slices.unwrap();
    let burnt = FUEL - direct_left;
    assert!(burnt > 5 * 1_000_000, "burnt only {burnt}");
    assert_eq!(direct_left, slices_left);

    // Running out mid-slice leaves the same fuel on both paths.
    let short = |config: WasmRuntimeConfig| config.fuel_limit(burnt / 2);
    let (direct, direct_left) = {
        let runtime = crate::runtime(kind, short(plain));
        let module = runtime.load_module(SPIN.as_bytes()).unwrap();
        let mut instance = runtime.instantiate(&module, &Imports::new()).unwrap();
        let outcome = instance.call("spin", &[WasmValue::I32(1_000_000)]);
        (outcome, instance.fuel().unwrap())
    };
    let runtime = crate::runtime(kind, short(sliced));
    let module = runtime.load_module(SPIN.as_bytes()).unwrap();
    let mut instance = runtime.instantiate(&module, &Imports::new()).unwrap();
    let outcome = instance.call("spin", &[WasmValue::I32(1_000_000)]);
    assert!(
        matches!(direct, Err(WasmError::FuelExhausted)),
        "{direct:?}"
    );
    assert!(
        matches!(outcome, Err(WasmError::FuelExhausted)),
        "{outcome:?}"
    );
    assert_eq!(instance.fuel().unwrap(), direct_left);

    // And the instance goes on once refuelled.
    instance.set_fuel(FUEL).unwrap();
    instance.call("spin", &[WasmValue::I32(10)]).unwrap();
    assert!(instance.fuel().unwrap() < FUEL);
    let stats = instance.stats();
    assert_eq!((stats.calls, stats.failed_calls), (2, 1));
}

fn deadline_stops_an_endless_loop(kind: EngineKind) {
    let limit = Duration::from_millis(200);
    for config in [
        WasmRuntimeConfig::default().timeout(limit),
        WasmRuntimeConfig::default()
            .timeout(limit)
            .fuel_limit(u64::MAX),
    ] {
        let runtime = crate::runtime(kind, config);
        let module = runtime.load_module(FOREVER.as_bytes()).unwrap();
        let mut instance = runtime.instantiate(&module, &Imports::new()).unwrap();
        let started = Instant::now();
        let outcome = instance.call("forever", &[]);
        let elapsed = started.elapsed();
        assert!(
            matches!(outcome, Err(WasmError::Timeout { limit: l }) if l == limit),
            "{outcome:?}"
        );
        // The call ended, not hung; how soon is for the benches (a loaded
        // machine stretches any tighter bound).
        assert!(
            elapsed < Duration::from_secs(10),
            "stopped after {elapsed:?}"
        );
        // Still usable, with or without a deadline.
        assert_eq!(instance.call("one", &[]).unwrap(), [WasmValue::I32(1)]);
        instance.set_timeout(None);
        assert_eq!(instance.call("one", &[]).unwrap(), [WasmValue::I32(1)]);
    }
}

fn functions_translated_lazily_under_a_deadline_run(kind: EngineKind) {
    // Each of these bodies would cost wasmi over a million fuel to translate at
    // its default price: more than one deadline slice holds.
    let body = "i32.const 1 drop ".repeat(120_000);
    let wat = format!(
        r#"(module
            (func $a {body})
            (func $b {body})
            (func (export "run") (result i32) call $a call $b i32.const 7))"#
    );
    let runtime = crate::runtime(
        kind,
        WasmRuntimeConfig::default().timeout(Duration::from_secs(60)),
    );
    let module = runtime.load_module(wat.as_bytes()).unwrap();
    let mut instance = runtime.instantiate(&module, &Imports::new()).unwrap();
    assert_eq!(instance.call("run", &[]).unwrap(), [WasmValue::I32(7)]);
}

fn the_start_function_runs_under_the_deadline(kind: EngineKind) {
    let limit = Duration::from_millis(100);
    let runtime = crate::runtime(kind, WasmRuntimeConfig::default().timeout(limit));
    let endless = runtime
        .load_module(br#"(module (func $s (loop $l (br $l))) (start $s))"#)
        .unwrap();
    let started = Instant::now();
    let outcome = runtime.instantiate(&endless, &Imports::new()).map(drop);
    assert!(
        matches!(outcome, Err(WasmError::Timeout { .. })),
        "{outcome:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "ended, not hung"
    );
    assert_eq!(runtime.stats().instances_active, 0);
}

fn the_start_function_runs_once_and_stays_hidden(kind: EngineKind) {
    let runtime = crate::runtime(kind, WasmRuntimeConfig::default().fuel_limit(1_000));
    let module = runtime
        .load_module(
            br#"(module
                (global $g (export "g") (mut i32) (i32.const 0))
                (func $s (global.set $g (i32.add (global.get $g) (i32.const 7))))
                (start $s))"#,
        )
        .unwrap();
    assert!(module.info().has_start);
    assert!(!module.has_export(START_EXPORT));
    let mut instance = runtime.instantiate(&module, &Imports::new()).unwrap();
    assert_eq!(instance.global("g").unwrap(), WasmValue::I32(7));
    assert!(
        instance.fuel().unwrap() < 1_000,
        "the start function burns the instance's fuel"
    );
    assert!(matches!(
        instance.func(START_EXPORT),
        Err(WasmError::ExportNotFound { .. })
    ));

    let trapping = runtime
        .load_module(br#"(module (func $s unreachable) (start $s))"#)
        .unwrap();
    let outcome = runtime.instantiate(&trapping, &Imports::new()).map(drop);
    assert!(
        matches!(
            outcome,
            Err(WasmError::Trap {
                code: TrapCode::Unreachable,
                ..
            })
        ),
        "{outcome:?}"
    );
}

fn host_errors_keep_the_function_name_on_both_call_paths(kind: EngineKind) {
    let wat = br#"(module
        (import "env" "fail" (func $fail (param i32)))
        (import "env" "peek" (func $peek (param i32) (result i32)))
        (memory (export "memory") 1)
        (data (i32.const 8) "\2a")
        (func (export "fail") (call $fail (i32.const 3)))
        (func (export "peek") (result i32) (call $peek (i32.const 8))))"#;
    let mut imports = Imports::new();
    imports.func(
        "env",
        "fail",
        HostFunc::new(FuncType::new([ValType::I32], []), |_, args, _| {
            Err(HostError::new(format!("refused {}", args[0])))
        }),
    );
    imports.func(
        "env",
        "peek",
        HostFunc::new(
            FuncType::new([ValType::I32], [ValType::I32]),
            |caller, args, out| {
                let memory = caller.memory().ok_or_else(|| HostError::new("no memory"))?;
                let at = args[0].as_i32().unwrap_or(0) as u64;
                let byte = memory.read_u8(at).map_err(HostError::from_error)?;
                out[0] = WasmValue::I32(i32::from(byte));
                Ok(())
            },
        ),
    );
    for timeout in [None, Some(Duration::from_secs(60))] {
        let mut config = WasmRuntimeConfig::default();
        config.timeout = timeout;
        let runtime = crate::runtime(kind, config);
        let module = runtime.load_module(wat).unwrap();
        let mut instance = runtime.instantiate(&module, &imports).unwrap();
        match instance.call("fail", &[]) {
            Err(WasmError::Host { function, source }) => {
                assert_eq!(function, "env::fail");
                assert_eq!(source.message(), "refused 3");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(instance.call("peek", &[]).unwrap(), [WasmValue::I32(42)]);
    }
}

fn values_cross_bit_exact(kind: EngineKind) {
    let runtime = crate::runtime(kind, WasmRuntimeConfig::default());
    let module = runtime
        .load_module(
            br#"(module
                (func $f (export "f32") (param f32) (result f32) local.get 0)
                (func (export "f64") (param f64) (result f64) local.get 0)
                (func (export "v128") (param v128) (result v128) local.get 0)
                (func (export "ext") (param externref) (result externref) local.get 0)
                (func (export "fref") (result funcref) ref.func $f)
                (func (export "is_null") (param funcref) (result i32) local.get 0 ref.is_null))"#,
        )
        .unwrap();
    let mut instance = runtime.instantiate(&module, &Imports::new()).unwrap();
    let nan32 = WasmValue::F32(f32::from_bits(0x7fc0_0001));
    assert!(instance.call("f32", &[nan32]).unwrap()[0].bit_eq(&nan32));
    let nan64 = WasmValue::F64(f64::from_bits(0x7ff8_0000_0000_0001));
    assert!(instance.call("f64", &[nan64]).unwrap()[0].bit_eq(&nan64));
    let v = WasmValue::V128(0x0102_0304_0506_0708_090a_0b0c_0d0e_0f10);
    assert_eq!(instance.call("v128", &[v]).unwrap(), [v]);
    let host = WasmValue::ExternRef(Some(ExternRef(u64::MAX)));
    assert_eq!(instance.call("ext", &[host]).unwrap(), [host]);
    let null = WasmValue::ExternRef(None);
    assert_eq!(instance.call("ext", &[null]).unwrap(), [null]);
    let fref = instance.call("fref", &[]).unwrap()[0];
    assert!(matches!(fref, WasmValue::FuncRef(Some(_))));
    assert_eq!(
        instance.call("is_null", &[fref]).unwrap(),
        [WasmValue::I32(0)]
    );
    let forged = WasmValue::FuncRef(Some(plugin_system_core::FuncRef::from_raw(999)));
    assert!(matches!(
        instance.call("is_null", &[forged]),
        Err(WasmError::TypeMismatch { .. })
    ));
}

fn memory_limits_refuse_growth_without_trapping(kind: EngineKind) {
    let runtime = crate::runtime(kind, WasmRuntimeConfig::default().max_memory_pages(2));
    let module = runtime
        .load_module(
            br#"(module (memory (export "memory") 1)
                (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0))))"#,
        )
        .unwrap();
    let mut instance = runtime.instantiate(&module, &Imports::new()).unwrap();
    assert_eq!(
        instance.call("grow", &[WasmValue::I32(5)]).unwrap(),
        [WasmValue::I32(-1)]
    );
    let memory = instance.memory().unwrap();
    assert_eq!(memory.grow(1).unwrap(), 1);
    assert!(matches!(memory.grow(1), Err(WasmError::MemoryLimit { .. })));
    assert_eq!(memory.pages(), 2);
    assert_eq!(instance.stats().memory_pages, Some(2));

    let big = runtime.load_module(br#"(module (memory 3))"#).unwrap();
    let outcome = runtime.instantiate(&big, &Imports::new()).map(drop);
    assert!(
        matches!(outcome, Err(WasmError::MemoryLimit { .. })),
        "{outcome:?}"
    );
}

fn recursion_past_the_depth_limit_is_a_stack_overflow(kind: EngineKind) {
    let runtime = crate::runtime(kind, WasmRuntimeConfig::default().max_stack_depth(100));
    let module = runtime
        .load_module(
            br#"(module (func $r (export "r") (param i32)
                (if (local.get 0) (then (call $r (i32.sub (local.get 0) (i32.const 1)))))))"#,
        )
        .unwrap();
    let mut instance = runtime.instantiate(&module, &Imports::new()).unwrap();
    instance.call("r", &[WasmValue::I32(50)]).unwrap();
    // Far past the limit on both engines: wasmi counts frames, wasmtime turns
    // the depth into native stack bytes.
    let outcome = instance.call("r", &[WasmValue::I32(100_000)]);
    assert!(
        matches!(outcome, Err(WasmError::StackOverflow)),
        "{outcome:?}"
    );
    instance.call("r", &[WasmValue::I32(50)]).unwrap();
}

fn missing_proposals_are_unsupported_not_invalid(kind: EngineKind) {
    let runtime = crate::runtime(kind, WasmRuntimeConfig::default());
    let features = runtime.supported_features();
    for (wat, feature, supported) in [
        (
            &br#"(module (memory i64 1))"#[..],
            "memory64",
            features.memory64,
        ),
        (
            br#"(module (tag $e) (func (export "f") (throw $e)))"#,
            "exceptions",
            features.exceptions,
        ),
    ] {
        for outcome in [
            runtime.load_module(wat).map(drop),
            runtime.validate_bytes(wat),
        ] {
            if supported {
                assert!(outcome.is_ok(), "{feature}: {outcome:?}");
            } else {
                assert!(
                    matches!(&outcome, Err(WasmError::Unsupported { feature: f }) if f == feature),
                    "{outcome:?}"
                );
            }
        }
    }
    assert!(matches!(
        runtime.load_module(b"\0asm\x01\0\0\0\x01"),
        Err(WasmError::InvalidModule { .. })
    ));
}

fn links_by_name_and_type(kind: EngineKind) {
    let runtime = crate::runtime(kind, WasmRuntimeConfig::default());
    let module = runtime
        .load_module(br#"(module (import "env" "f" (func (param i32))) (import "env" "f" (func (param i32))))"#)
        .unwrap();
    match runtime.instantiate(&module, &Imports::new()).map(drop) {
        Err(WasmError::Link { message }) => {
            assert!(
                message.contains("env::f") && message.contains("(i32) -> ()"),
                "{message}"
            )
        }
        other => panic!("{other:?}"),
    }
    let mut imports = Imports::new();
    imports.func(
        "env",
        "f",
        HostFunc::new(FuncType::default(), |_, _, _| Ok(())),
    );
    assert!(matches!(
        runtime.instantiate(&module, &imports).map(drop),
        Err(WasmError::Link { .. })
    ));
    let mut imports = Imports::new();
    imports.func(
        "env",
        "f",
        HostFunc::new(FuncType::new([ValType::I32], []), |_, _, _| Ok(())),
    );
    runtime.instantiate(&module, &imports).unwrap();
}

fn fuel_needs_metering_and_modules_stay_with_their_runtime(kind: EngineKind) {
    let runtime = crate::runtime(kind, WasmRuntimeConfig::default());
    let module = runtime.load_module(FOREVER.as_bytes()).unwrap();
    let mut instance = runtime.instantiate(&module, &Imports::new()).unwrap();
    assert!(matches!(
        instance.fuel(),
        Err(WasmError::Unsupported { .. })
    ));
    assert!(matches!(
        instance.set_fuel(1),
        Err(WasmError::Unsupported { .. })
    ));
    assert_eq!(instance.stats().fuel_consumed, None);
    assert_eq!(runtime.stats().instances_active, 1);
    drop(instance);
    assert_eq!(runtime.stats().instances_active, 0);

    let other = crate::runtime(kind, WasmRuntimeConfig::default());
    assert!(matches!(
        other.instantiate(&module, &Imports::new()).map(drop),
        Err(WasmError::ForeignModule { .. })
    ));
}

/// Exports a memory, a table, a mutable global and a function for [`USER`].
const PROVIDER: &str = r#"(module
    (memory (export "mem") 1)
    (table (export "tab") 2 funcref)
    (global (export "count") (mut i32) (i32.const 1))
    (func $seven (export "seven") (result i32) i32.const 7)
    (elem (i32.const 0) $seven)
    (func (export "peek") (param i32) (result i32) local.get 0 i32.load)
    (func (export "poke") (param i32 i32) local.get 0 local.get 1 i32.store))"#;

/// Imports all of [`PROVIDER`]'s exports as `p.*`.
const USER: &str = r#"(module
    (import "p" "mem" (memory 1))
    (import "p" "tab" (table 2 funcref))
    (import "p" "count" (global $count (mut i32)))
    (import "p" "seven" (func $seven (result i32)))
    (type $t (func (result i32)))
    (func $eight (result i32) i32.const 8)
    (elem (i32.const 1) $eight)
    (func (export "peek") (param i32) (result i32) local.get 0 i32.load)
    (func (export "poke") (param i32 i32) local.get 0 local.get 1 i32.store)
    (func (export "bump") (result i32)
        (global.set $count (i32.add (global.get $count) (i32.const 1)))
        global.get $count)
    (func (export "call_at") (param i32) (result i32) local.get 0 call_indirect (type $t))
    (func (export "direct") (result i32) call $seven))"#;

/// `p.<name>` as the export `name` of `instance`, for every name of [`USER`]'s imports.
fn exports_of(instance: InstanceHandle) -> Imports {
    let mut imports = Imports::new();
    for name in ["mem", "tab", "count", "seven"] {
        let name = name.to_string();
        imports.define("p", name.clone(), Extern::Export { instance, name });
    }
    imports
}

fn linked_instances_share_memory_table_global_and_function(kind: EngineKind) {
    let runtime = crate::runtime(kind, WasmRuntimeConfig::default().fuel_limit(FUEL));
    let provider = runtime.load_module(PROVIDER.as_bytes()).unwrap();
    let user = runtime.load_module(USER.as_bytes()).unwrap();
    let mut store = runtime.new_store().unwrap();
    let p = store.instantiate(&provider, &Imports::new()).unwrap();
    let u = store.instantiate(&user, &exports_of(p)).unwrap();
    assert_eq!((p.index(), u.index()), (0, 1));

    // One memory: each sees the other's writes.
    let i32s = |v: i32| WasmValue::I32(v);
    let user_instance = store.instance(u).unwrap();
    user_instance.call("poke", &[i32s(16), i32s(42)]).unwrap();
    let provider_instance = store.instance(p).unwrap();
    assert_eq!(
        provider_instance.call("peek", &[i32s(16)]).unwrap(),
        [i32s(42)]
    );
    provider_instance
        .call("poke", &[i32s(32), i32s(-5)])
        .unwrap();
    assert_eq!(
        provider_instance.memory().unwrap().read_u32(16).unwrap(),
        42
    );
    let user_instance = store.instance(u).unwrap();
    assert_eq!(user_instance.call("peek", &[i32s(32)]).unwrap(), [i32s(-5)]);
    assert!(
        user_instance.memory().is_none(),
        "the user exports no memory"
    );

    // One global.
    assert_eq!(user_instance.call("bump", &[]).unwrap(), [i32s(2)]);
    let provider_instance = store.instance(p).unwrap();
    assert_eq!(provider_instance.global("count").unwrap(), i32s(2));
    provider_instance.set_global("count", i32s(10)).unwrap();
    let user_instance = store.instance(u).unwrap();
    assert_eq!(user_instance.call("bump", &[]).unwrap(), [i32s(11)]);

    // One table: the provider's element and the user's own, and the function itself.
    assert_eq!(
        user_instance.call("call_at", &[i32s(0)]).unwrap(),
        [i32s(7)]
    );
    assert_eq!(
        user_instance.call("call_at", &[i32s(1)]).unwrap(),
        [i32s(8)]
    );
    assert_eq!(user_instance.call("direct", &[]).unwrap(), [i32s(7)]);

    // Each member keeps its own functions and handles.
    let user_peek = user_instance.func("peek").unwrap();
    assert!(user_instance.func("seven").is_err(), "not re-exported");
    let provider_instance = store.instance(p).unwrap();
    assert!(matches!(
        provider_instance.call_func(&user_peek, &[i32s(0)], &mut [i32s(0)]),
        Err(WasmError::TypeMismatch { .. })
    ));
    // Fuel is the store's: both instances burnt it.
    assert!(provider_instance.fuel().unwrap() < FUEL);

    assert!(matches!(
        store.instance(InstanceHandle::from_index(2)),
        Err(WasmError::InstanceNotFound { index: 2 })
    ));
}

fn host_functions_see_the_memory_of_the_called_instance(kind: EngineKind) {
    let module = br#"(module
        (import "env" "peek" (func $peek (result i32)))
        (memory (export "memory") 1)
        (func (export "set") (param i32) i32.const 0 local.get 0 i32.store8)
        (func (export "peek") (result i32) call $peek))"#;
    let mut imports = Imports::new();
    imports.func(
        "env",
        "peek",
        HostFunc::new(FuncType::new([], [ValType::I32]), |caller, _, out| {
            let memory = caller.memory().ok_or_else(|| HostError::new("no memory"))?;
            let byte = memory.read_u8(0).map_err(HostError::from_error)?;
            out[0] = WasmValue::I32(i32::from(byte));
            Ok(())
        }),
    );
    for timeout in [None, Some(Duration::from_secs(60))] {
        let mut config = WasmRuntimeConfig::default();
        config.timeout = timeout;
        let runtime = crate::runtime(kind, config);
        let module = runtime.load_module(module).unwrap();
        let mut store = runtime.new_store().unwrap();
        let a = store.instantiate(&module, &imports).unwrap();
        let b = store.instantiate(&module, &imports).unwrap();
        store
            .instance(a)
            .unwrap()
            .call("set", &[WasmValue::I32(1)])
            .unwrap();
        store
            .instance(b)
            .unwrap()
            .call("set", &[WasmValue::I32(2)])
            .unwrap();
        for (handle, byte) in [(a, 1), (b, 2), (a, 1)] {
            let instance = store.instance(handle).unwrap();
            assert_eq!(instance.call("peek", &[]).unwrap(), [WasmValue::I32(byte)]);
        }
    }
}

fn exports_of_missing_instances_or_names_do_not_link(kind: EngineKind) {
    let runtime = crate::runtime(kind, WasmRuntimeConfig::default());
    let provider = runtime.load_module(PROVIDER.as_bytes()).unwrap();
    let user = runtime.load_module(USER.as_bytes()).unwrap();
    let mut store = runtime.new_store().unwrap();
    let p = store.instantiate(&provider, &Imports::new()).unwrap();
    let link_message = |outcome: Result<InstanceHandle, WasmError>| match outcome {
        Err(WasmError::Link { message }) => message,
        other => panic!("{other:?}"),
    };

    let message =
        link_message(store.instantiate(&user, &exports_of(InstanceHandle::from_index(3))));
    assert!(
        message.contains("p::mem") && message.contains("no instance 3"),
        "{message}"
    );

    let mut imports = exports_of(p);
    let missing = Extern::Export {
        instance: p,
        name: "eight".into(),
    };
    imports.define("p", "seven", missing);
    let message = link_message(store.instantiate(&user, &imports));
    assert!(
        message.contains("p::seven") && message.contains("`eight`"),
        "{message}"
    );

    // The hidden start export is no export for linking either.
    let started = runtime
        .load_module(br#"(module (func $s) (start $s) (func (export "f")))"#)
        .unwrap();
    let s = store.instantiate(&started, &Imports::new()).unwrap();
    let mut imports = exports_of(p);
    imports.define(
        "p",
        "seven",
        Extern::Export {
            instance: s,
            name: START_EXPORT.into(),
        },
    );
    link_message(store.instantiate(&user, &imports));

    // Wrong kind, wrong signature, too small: type mismatches.
    for (name, given) in [("seven", "mem"), ("seven", "peek"), ("count", "seven")] {
        let mut imports = exports_of(p);
        imports.define(
            "p",
            name,
            Extern::Export {
                instance: p,
                name: given.into(),
            },
        );
        let message = link_message(store.instantiate(&user, &imports));
        assert!(message.contains(&format!("p::{name}")), "{message}");
    }
    let small = runtime
        .load_module(br#"(module (memory (export "mem") 0) (table (export "tab") 1 funcref))"#)
        .unwrap();
    let small = store.instantiate(&small, &Imports::new()).unwrap();
    for name in ["mem", "tab"] {
        let mut imports = exports_of(p);
        imports.define(
            "p",
            name,
            Extern::Export {
                instance: small,
                name: name.into(),
            },
        );
        let message = link_message(store.instantiate(&user, &imports));
        assert!(message.contains(&format!("p::{name}")), "{message}");
    }

    // The store goes on, its failed instantiations left out.
    let u = store.instantiate(&user, &exports_of(p)).unwrap();
    assert_eq!(u.index(), 3);
    assert_eq!(runtime.stats().instances_active, 4);
}

fn exports_need_a_store(kind: EngineKind) {
    let runtime = crate::runtime(kind, WasmRuntimeConfig::default());
    let user = runtime.load_module(USER.as_bytes()).unwrap();
    match runtime.instantiate(&user, &exports_of(InstanceHandle::from_index(0))) {
        Err(WasmError::Link { message }) => {
            assert!(
                message.contains("p::mem") && message.contains("new_store"),
                "{message}"
            );
        }
        other => panic!("{:?}", other.map(drop)),
    }
    assert_eq!(runtime.stats().instances_active, 0);
}

fn a_failed_start_function_leaves_its_writes_in_shared_memory(kind: EngineKind) {
    let runtime = crate::runtime(kind, WasmRuntimeConfig::default().fuel_limit(FUEL));
    let provider = runtime.load_module(PROVIDER.as_bytes()).unwrap();
    let failing = runtime
        .load_module(
            br#"(module
                (import "p" "mem" (memory 1))
                (import "p" "count" (global $count (mut i32)))
                (func $s
                    (i32.store (i32.const 64) (i32.const 99))
                    (global.set $count (i32.const 50))
                    unreachable)
                (start $s))"#,
        )
        .unwrap();
    let mut store = runtime.new_store().unwrap();
    let p = store.instantiate(&provider, &Imports::new()).unwrap();
    let fuel_before = store.instance(p).unwrap().fuel().unwrap();
    let mut imports = Imports::new();
    for name in ["mem", "count"] {
        imports.define(
            "p",
            name,
            Extern::Export {
                instance: p,
                name: name.into(),
            },
        );
    }
    let outcome = store.instantiate(&failing, &imports);
    assert!(
        matches!(
            outcome,
            Err(WasmError::Trap {
                code: TrapCode::Unreachable,
                ..
            })
        ),
        "{outcome:?}"
    );
    let provider = store.instance(p).unwrap();
    assert_eq!(provider.memory().unwrap().read_u32(64).unwrap(), 99);
    assert_eq!(provider.global("count").unwrap(), WasmValue::I32(50));
    assert!(
        provider.fuel().unwrap() < fuel_before,
        "the start burnt the store's fuel"
    );
    assert_eq!(
        runtime.stats().instances_active,
        1,
        "the failed one is not counted"
    );
}

fn every_member_counts_as_active_until_the_store_drops(kind: EngineKind) {
    let runtime = crate::runtime(kind, WasmRuntimeConfig::default());
    let provider = runtime.load_module(PROVIDER.as_bytes()).unwrap();
    let user = runtime.load_module(USER.as_bytes()).unwrap();
    let mut store = runtime.new_store().unwrap();
    assert_eq!(
        runtime.stats().instances_active,
        0,
        "an empty store holds none"
    );
    let p = store.instantiate(&provider, &Imports::new()).unwrap();
    assert_eq!(runtime.stats().instances_active, 1);
    store.instantiate(&user, &exports_of(p)).unwrap();
    let stats = runtime.stats();
    assert_eq!((stats.instances_active, stats.instances_created), (2, 2));
    drop(store);
    assert_eq!(runtime.stats().instances_active, 0);
}

on_every_engine!(
    fuel_accounting_across_deadline_slices_is_exact,
    deadline_stops_an_endless_loop,
    functions_translated_lazily_under_a_deadline_run,
    the_start_function_runs_under_the_deadline,
    the_start_function_runs_once_and_stays_hidden,
    host_errors_keep_the_function_name_on_both_call_paths,
    values_cross_bit_exact,
    memory_limits_refuse_growth_without_trapping,
    recursion_past_the_depth_limit_is_a_stack_overflow,
    missing_proposals_are_unsupported_not_invalid,
    links_by_name_and_type,
    fuel_needs_metering_and_modules_stay_with_their_runtime,
    linked_instances_share_memory_table_global_and_function,
    host_functions_see_the_memory_of_the_called_instance,
    exports_of_missing_instances_or_names_do_not_link,
    exports_need_a_store,
    a_failed_start_function_leaves_its_writes_in_shared_memory,
    every_member_counts_as_active_until_the_store_drops,
);
