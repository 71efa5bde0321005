//! Calls, values, globals and traps.

use plugin_system_core::{
    ExternRef, FuncType, TrapCode, ValType, WasmError, WasmRuntimeConfig, WasmValue,
};
use plugin_system_wasm_run::EngineKind;

use crate::{instance, on_every_engine};

const CALLS: &str = r#"(module
    (func $add (export "add") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add)
    (func (export "swap") (param i64 f64) (result f64 i64) local.get 1 local.get 0)
    (func (export "f32") (param f32) (result f32) local.get 0)
    (func (export "f64") (param f64) (result f64) local.get 0)
    (func (export "v128") (param v128) (result v128) local.get 0)
    (func (export "ext") (param externref) (result externref) local.get 0)
    (func (export "fref") (result funcref) ref.func $add)
    (func (export "is_null") (param funcref) (result i32) local.get 0 ref.is_null)
    (func (export "nothing"))
    (elem declare func $add))"#;

fn calls_by_name_and_by_handle(kind: EngineKind) {
    let mut i = instance(kind, WasmRuntimeConfig::default(), CALLS);
    assert_eq!(
        i.call("add", &[WasmValue::I32(2), WasmValue::I32(40)])
            .unwrap(),
        [WasmValue::I32(42)]
    );
    assert_eq!(i.call("nothing", &[]).unwrap(), []);
    let add = i.func("add").unwrap();
    assert_eq!(
        add.ty(),
        &FuncType::new([ValType::I32, ValType::I32], [ValType::I32])
    );
    let mut out = [WasmValue::I32(0)];
    for n in 0..100 {
        i.call_func(&add, &[WasmValue::I32(n), WasmValue::I32(1)], &mut out)
            .unwrap();
        assert_eq!(out[0], WasmValue::I32(n + 1));
    }
    assert_eq!(i.stats().calls, 102);
    let names: Vec<String> = i.functions().into_iter().map(|(n, _)| n).collect();
    assert!(names.contains(&"add".to_string()) && names.contains(&"swap".to_string()));
}

fn typed_functions(kind: EngineKind) {
    let mut i = instance(kind, WasmRuntimeConfig::default(), CALLS);
    let add = i.typed::<(i32, i32), i32>("add").unwrap();
    assert_eq!(add.call(i.as_mut(), (i32::MAX, 1)).unwrap(), i32::MIN);
    let swap = i.typed::<(i64, f64), (f64, i64)>("swap").unwrap();
    assert_eq!(swap.call(i.as_mut(), (7, 0.25)).unwrap(), (0.25, 7));
    let nothing = i.typed::<(), ()>("nothing").unwrap();
    nothing.call(i.as_mut(), ()).unwrap();
    let wrong = i.typed::<i32, i32>("add");
    assert!(
        matches!(wrong, Err(WasmError::TypeMismatch { .. })),
        "{:?}",
        wrong.err()
    );
    let wrong = i.typed::<(i32, i32), i64>("add");
    assert!(matches!(wrong, Err(WasmError::TypeMismatch { .. })));
}

fn every_value_type_round_trips(kind: EngineKind) {
    let mut i = instance(kind, WasmRuntimeConfig::default(), CALLS);
    let nan32 = f32::from_bits(0x7fa0_0001);
    let out = i.call("f32", &[WasmValue::F32(nan32)]).unwrap();
    assert!(
        out[0].bit_eq(&WasmValue::F32(nan32)),
        "NaN payload kept: {out:?}"
    );
    let nan64 = f64::from_bits(0x7ff0_0000_0000_0001);
    let out = i.call("f64", &[WasmValue::F64(nan64)]).unwrap();
    assert!(out[0].bit_eq(&WasmValue::F64(nan64)));
    assert_eq!(
        i.call("f64", &[WasmValue::F64(-0.0)]).unwrap()[0]
            .as_f64()
            .unwrap()
            .to_bits(),
        (-0.0f64).to_bits()
    );
    let v = 0x0123_4567_89ab_cdef_fedc_ba98_7654_3210u128;
    assert_eq!(
        i.call("v128", &[WasmValue::V128(v)]).unwrap(),
        [WasmValue::V128(v)]
    );
    let ext = WasmValue::ExternRef(Some(ExternRef(99)));
    assert_eq!(i.call("ext", &[ext]).unwrap(), [ext]);
    assert_eq!(
        i.call("ext", &[WasmValue::ExternRef(None)]).unwrap(),
        [WasmValue::ExternRef(None)]
    );
    let fref = i.call("fref", &[]).unwrap()[0];
    assert!(matches!(fref, WasmValue::FuncRef(Some(_))), "{fref:?}");
    assert_eq!(
        i.call("is_null", &[fref]).unwrap(),
        [WasmValue::I32(0)],
        "a funcref goes back in"
    );
    assert_eq!(
        i.call("is_null", &[WasmValue::FuncRef(None)]).unwrap(),
        [WasmValue::I32(1)]
    );
}

fn wrong_arguments_are_type_errors(kind: EngineKind) {
    let mut i = instance(kind, WasmRuntimeConfig::default(), CALLS);
    for args in [
        &[][..],
        &[WasmValue::I32(1)],
        &[WasmValue::I64(1), WasmValue::I32(1)],
        &[WasmValue::I32(1); 3],
    ] {
        let r = i.call("add", args);
        assert!(
            matches!(r, Err(WasmError::TypeMismatch { .. })),
            "{args:?}: {r:?}"
        );
    }
    let r = i.call("missing", &[]);
    assert!(
        matches!(
            r,
            Err(WasmError::ExportNotFound {
                kind: plugin_system_core::ExportKind::Function,
                ..
            })
        ),
        "{r:?}"
    );
    let add = i.func("add").unwrap();
    let mut too_few = [];
    assert!(
        i.call_func(&add, &[WasmValue::I32(1), WasmValue::I32(1)], &mut too_few)
            .is_err()
    );
    let mut other = instance(kind, WasmRuntimeConfig::default(), CALLS);
    let mut out = [WasmValue::I32(0)];
    let r = other.call_func(&add, &[WasmValue::I32(1), WasmValue::I32(1)], &mut out);
    assert!(
        matches!(r, Err(WasmError::TypeMismatch { .. })),
        "a handle of another instance: {r:?}"
    );
    assert_eq!(
        i.call("add", &[WasmValue::I32(1), WasmValue::I32(1)])
            .unwrap(),
        [WasmValue::I32(2)]
    );
}

fn globals(kind: EngineKind) {
    let mut i = instance(
        kind,
        WasmRuntimeConfig::default(),
        r#"(module
            (global (export "counter") (mut i32) (i32.const 5))
            (global (export "pi") f64 (f64.const 3.5))
            (func (export "get") (result i32) global.get 0))"#,
    );
    assert_eq!(i.global("counter").unwrap(), WasmValue::I32(5));
    assert_eq!(i.global("pi").unwrap(), WasmValue::F64(3.5));
    i.set_global("counter", WasmValue::I32(9)).unwrap();
    assert_eq!(
        i.call("get", &[]).unwrap(),
        [WasmValue::I32(9)],
        "the guest sees the host's write"
    );
    assert!(matches!(
        i.set_global("pi", WasmValue::F64(1.0)),
        Err(WasmError::ImmutableGlobal { .. })
    ));
    assert!(matches!(
        i.set_global("counter", WasmValue::I64(1)),
        Err(WasmError::TypeMismatch { .. })
    ));
    assert!(matches!(
        i.global("nope"),
        Err(WasmError::ExportNotFound {
            kind: plugin_system_core::ExportKind::Global,
            ..
        })
    ));
    assert!(matches!(
        i.set_global("get", WasmValue::I32(1)),
        Err(WasmError::ExportNotFound { .. })
    ));
    let globals = i.globals();
    assert_eq!(globals.len(), 2);
    assert!(globals.iter().any(|(n, g)| n == "counter" && g.mutable));
}

fn start_function_runs_at_instantiation(kind: EngineKind) {
    let mut i = instance(
        kind,
        WasmRuntimeConfig::default(),
        r#"(module (global (export "g") (mut i32) (i32.const 0))
            (func $s (global.set 0 (i32.const 7))) (start $s))"#,
    );
    assert_eq!(i.global("g").unwrap(), WasmValue::I32(7));
    let rt = crate::runtime(kind, WasmRuntimeConfig::default());
    let m = rt
        .load_module(br#"(module (func $s unreachable) (start $s))"#)
        .unwrap();
    let r = rt.instantiate(&m, &Default::default());
    assert!(
        matches!(
            r,
            Err(WasmError::Trap {
                code: TrapCode::Unreachable,
                ..
            })
        ),
        "{:?}",
        r.err()
    );
    assert_eq!(rt.stats().instances_active, 0);
}

fn traps_have_codes_and_leave_the_instance_usable(kind: EngineKind) {
    let mut i = instance(
        kind,
        WasmRuntimeConfig::default(),
        r#"(module
            (type $t (func (result i32)))
            (table 2 funcref)
            (elem (i32.const 1) $other)
            (func $other (param i32) (result i32) local.get 0)
            (memory 1)
            (func (export "unreachable") unreachable)
            (func (export "div") (param i32 i32) (result i32) local.get 0 local.get 1 i32.div_s)
            (func (export "oob") (result i32) i32.const 65536 i32.load)
            (func (export "null") (result i32) i32.const 0 call_indirect (type $t))
            (func (export "sig") (result i32) i32.const 1 call_indirect (type $t))
            (func (export "table") (result i32) i32.const 5 call_indirect (type $t))
            (func (export "trunc") (result i32) f32.const nan i32.trunc_f32_s)
            (func (export "ok") (result i32) i32.const 1))"#,
    );
    let cases: &[(&str, &[WasmValue], TrapCode)] = &[
        ("unreachable", &[], TrapCode::Unreachable),
        (
            "div",
            &[WasmValue::I32(1), WasmValue::I32(0)],
            TrapCode::IntegerDivisionByZero,
        ),
        (
            "div",
            &[WasmValue::I32(i32::MIN), WasmValue::I32(-1)],
            TrapCode::IntegerOverflow,
        ),
        ("oob", &[], TrapCode::MemoryOutOfBounds),
        ("null", &[], TrapCode::IndirectCallToNull),
        ("sig", &[], TrapCode::BadSignature),
        ("table", &[], TrapCode::TableOutOfBounds),
        ("trunc", &[], TrapCode::BadConversionToInteger),
    ];
    for (name, args, want) in cases {
        let r = i.call(name, args);
        match &r {
            Err(WasmError::Trap { code, message }) => {
                assert_eq!(code, want, "{name}: {message}");
                assert!(r.as_ref().unwrap_err().is_guest_failure());
                assert_eq!(r.as_ref().unwrap_err().to_string(), format!("trap: {want}"));
            }
            other => panic!("{name}: expected trap {want}, got {other:?}"),
        }
        assert_eq!(
            i.call("ok", &[]).unwrap(),
            [WasmValue::I32(1)],
            "usable after {name}"
        );
    }
    assert_eq!(i.stats().failed_calls, cases.len() as u64);
}

on_every_engine!(
    calls_by_name_and_by_handle,
    typed_functions,
    every_value_type_round_trips,
    wrong_arguments_are_type_errors,
    globals,
    start_function_runs_at_instantiation,
    traps_have_codes_and_leave_the_instance_usable,
);
