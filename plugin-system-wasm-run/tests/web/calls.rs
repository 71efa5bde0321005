//! Calls by name and by handle, host functions, globals, traps.

use super::*;

const ARITH: &str = r#"(module
    (func (export "add") (param i32 i32) (result i32)
        local.get 0 local.get 1 i32.add)
    (func (export "add64") (param i64 i64) (result i64)
        local.get 0 local.get 1 i64.add)
    (func (export "half") (param f64) (result f64)
        local.get 0 f64.const 0.5 f64.mul)
    (func (export "pair") (result i32 f32) i32.const 7 f32.const 1.5)
    (func (export "div") (param i32 i32) (result i32)
        local.get 0 local.get 1 i32.div_s)
    (func (export "boom") unreachable)
    (func $deep (export "deep") (param i32) (result i32)
        local.get 0 i32.const 1 i32.add call $deep)
    (global (export "counter") (mut i32) (i32.const 41))
    (global (export "fixed") i64 (i64.const 9)))"#;

#[wasm_bindgen_test]
fn typed_calls_by_name_and_by_handle() {
    let mut instance = web_instance(ARITH);
    assert_eq!(
        instance
            .call("add", &[WasmValue::I32(2), WasmValue::I32(3)])
            .unwrap(),
        [WasmValue::I32(5)]
    );
    let add = instance.typed::<(i32, i32), i32>("add").unwrap();
    assert_eq!(add.call(&mut *instance, (40, 2)).unwrap(), 42);
    assert_eq!(add.call(&mut *instance, (i32::MAX, 1)).unwrap(), i32::MIN);
    let add64 = instance.typed::<(i64, i64), i64>("add64").unwrap();
    assert_eq!(
        add64.call(&mut *instance, (i64::MAX - 1, 1)).unwrap(),
        i64::MAX
    );
    let half = instance.typed::<f64, f64>("half").unwrap();
    assert_eq!(half.call(&mut *instance, 3.0).unwrap(), 1.5);
    assert_eq!(
        instance.call("pair", &[]).unwrap(),
        [WasmValue::I32(7), WasmValue::F32(1.5)]
    );
    assert_eq!(instance.stats().calls, 6);
}

#[wasm_bindgen_test]
fn wrong_arguments_and_unknown_exports_are_typed_errors() {
    let mut instance = web_instance(ARITH);
    let error = instance.call("add", &[WasmValue::I64(1)]).unwrap_err();
    assert!(matches!(error, WasmError::TypeMismatch { .. }), "{error}");
    let error = instance.call("nope", &[]).unwrap_err();
    assert!(matches!(error, WasmError::ExportNotFound { .. }), "{error}");
}

#[wasm_bindgen_test]
fn traps_carry_the_other_engines_codes_and_words() {
    let mut instance = web_instance(ARITH);
    // Worded as wasmtime and wasmi word it, not as the browser does.
    match instance.call("boom", &[]).unwrap_err() {
        WasmError::Trap { code, message } => {
            assert_eq!(code, TrapCode::Unreachable);
            assert_eq!(message, "wasm `unreachable` instruction executed");
        }
        other => panic!("expected a trap, got {other}"),
    }
    let error = instance
        .call("div", &[WasmValue::I32(1), WasmValue::I32(0)])
        .unwrap_err();
    assert!(
        matches!(
            error,
            WasmError::Trap {
                code: TrapCode::IntegerDivisionByZero,
                ..
            }
        ),
        "{error}"
    );
    let error = instance
        .call("div", &[WasmValue::I32(i32::MIN), WasmValue::I32(-1)])
        .unwrap_err();
    assert!(
        matches!(
            error,
            WasmError::Trap {
                code: TrapCode::IntegerOverflow,
                ..
            }
        ),
        "{error}"
    );
    // The instance still answers after a trap.
    assert_eq!(
        instance
            .call("add", &[WasmValue::I32(1), WasmValue::I32(1)])
            .unwrap(),
        [WasmValue::I32(2)]
    );
    assert_eq!(instance.stats().failed_calls, 3);
}

#[wasm_bindgen_test]
fn deep_recursion_is_a_stack_overflow() {
    let mut instance = web_instance(ARITH);
    let error = instance.call("deep", &[WasmValue::I32(0)]).unwrap_err();
    assert!(matches!(error, WasmError::StackOverflow), "{error}");
}

#[wasm_bindgen_test]
fn globals_read_and_write() {
    let mut instance = web_instance(ARITH);
    assert_eq!(instance.global("counter").unwrap(), WasmValue::I32(41));
    instance.set_global("counter", WasmValue::I32(42)).unwrap();
    assert_eq!(instance.global("counter").unwrap(), WasmValue::I32(42));
    assert_eq!(instance.global("fixed").unwrap(), WasmValue::I64(9));
    let error = instance.set_global("fixed", WasmValue::I64(1)).unwrap_err();
    assert!(
        matches!(error, WasmError::ImmutableGlobal { .. }),
        "{error}"
    );
    let error = instance
        .set_global("counter", WasmValue::F32(1.0))
        .unwrap_err();
    assert!(matches!(error, WasmError::TypeMismatch { .. }), "{error}");
}

const USES_HOST: &str = r#"(module
    (import "env" "double" (func $double (param i32) (result i32)))
    (import "env" "big" (func $big (param i64) (result i64)))
    (memory (export "memory") 1)
    (data (i32.const 0) "hi from wasm")
    (func (export "quadruple") (param i32) (result i32)
        local.get 0 call $double call $double)
    (func (export "big") (param i64) (result i64) local.get 0 call $big))"#;

fn host_imports() -> Imports {
    let mut imports = Imports::new();
    imports.func(
        "env",
        "double",
        HostFunc::new(
            FuncType::new([ValType::I32], [ValType::I32]),
            |caller, args, results| {
                let n = args[0].as_i32().unwrap_or(0);
                if n < 0 {
                    return Err(HostError::new("negative"));
                }
                // The caller's memory is the guest's.
                let memory = caller.memory().expect("the guest's memory");
                assert_eq!(memory.read_vec(0, 12).unwrap(), b"hi from wasm");
                results[0] = WasmValue::I32(n * 2);
                Ok(())
            },
        ),
    );
    imports.func(
        "env",
        "big",
        HostFunc::new(
            FuncType::new([ValType::I64], [ValType::I64]),
            |_, args, results| {
                results[0] = WasmValue::I64(args[0].as_i64().unwrap_or(0) + 1);
                Ok(())
            },
        ),
    );
    imports
}

#[wasm_bindgen_test]
fn host_functions_are_called_with_the_guests_memory() {
    let mut instance = instance_with(USES_HOST, &host_imports());
    assert_eq!(
        instance.call("quadruple", &[WasmValue::I32(5)]).unwrap(),
        [WasmValue::I32(20)]
    );
    assert_eq!(
        instance.call("big", &[WasmValue::I64(1 << 40)]).unwrap(),
        [WasmValue::I64((1 << 40) + 1)]
    );
}

#[wasm_bindgen_test]
fn a_host_functions_error_is_a_host_error() {
    let mut instance = instance_with(USES_HOST, &host_imports());
    let error = instance
        .call("quadruple", &[WasmValue::I32(-1)])
        .unwrap_err();
    match error {
        WasmError::Host { function, source } => {
            assert_eq!(function, "env::double");
            assert_eq!(source.message(), "negative");
        }
        other => panic!("expected a host error, got {other}"),
    }
}

#[wasm_bindgen_test]
fn a_host_function_of_another_type_is_a_link_error() {
    let runtime = web_runtime(WasmRuntimeConfig::default());
    let module = load(&runtime, USES_HOST);
    let mut imports = host_imports();
    imports.func(
        "env",
        "double",
        HostFunc::new(FuncType::default(), |_, _, _| Ok(())),
    );
    let error = runtime
        .instantiate(&module, &imports)
        .map(drop)
        .unwrap_err();
    assert!(matches!(error, WasmError::Link { .. }), "{error}");
}

#[wasm_bindgen_test]
fn deadlines_and_fuel_are_refused_not_ignored() {
    let mut instance = web_instance(ARITH);
    assert!(matches!(
        instance.fuel().unwrap_err(),
        WasmError::Unsupported { .. }
    ));
    assert!(matches!(
        instance.set_fuel(10).unwrap_err(),
        WasmError::Unsupported { .. }
    ));
    let deadline = plugin_system_core::Deadline::after(std::time::Duration::from_secs(1));
    assert!(!deadline.has_passed(), "the page's clock runs");
    assert!(matches!(
        instance.set_deadline(Some(deadline)).unwrap_err(),
        WasmError::Unsupported { .. }
    ));
    instance.set_timeout(Some(std::time::Duration::from_millis(5)));
    let error = instance
        .call("add", &[WasmValue::I32(1), WasmValue::I32(1)])
        .unwrap_err();
    assert!(matches!(error, WasmError::Unsupported { .. }), "{error}");
    instance.set_timeout(None);
    assert_eq!(
        instance
            .call("add", &[WasmValue::I32(1), WasmValue::I32(1)])
            .unwrap(),
        [WasmValue::I32(2)]
    );
}

#[wasm_bindgen_test]
fn a_reactors_initialize_runs_once_at_instantiation() {
    let mut instance = web_instance(
        r#"(module
            (global $ready (mut i32) (i32.const 0))
            (func (export "_initialize") (global.set $ready (i32.const 1)))
            (func (export "ready") (result i32) (global.get $ready)))"#,
    );
    assert_eq!(instance.call("ready", &[]).unwrap(), [WasmValue::I32(1)]);
    let error = instance.call("_initialize", &[]).unwrap_err();
    assert!(matches!(error, WasmError::Unsupported { .. }), "{error}");
}

#[wasm_bindgen_test]
fn deep_recursion_through_host_calls_leaves_the_host_whole() {
    // Each level calls the host, and each module has frames of another size,
    // so that the stack runs out at many points, some inside the host's own
    // code: every run must end as a stack overflow and leave the host usable.
    let imports = host_imports();
    for locals in 0..60 {
        let wat = format!(
            r#"(module
                (import "env" "double" (func $double (param i32) (result i32)))
                (import "env" "big" (func $big (param i64) (result i64)))
                (memory (export "memory") 1)
                (data (i32.const 0) "hi from wasm")
                (func $deep (export "deep") (param i32) (result i32) {}
                    (drop (call $double (i32.const 1)))
                    local.get 0 i32.const 1 i32.add call $deep))"#,
            "(local i64)".repeat(locals)
        );
        let mut instance = instance_with(&wat, &imports);
        let error = instance.call("deep", &[WasmValue::I32(0)]).unwrap_err();
        assert!(matches!(error, WasmError::StackOverflow), "{error}");
        assert_eq!(
            instance
                .call("deep", &[WasmValue::I32(0)])
                .unwrap_err()
                .kind(),
            "stack overflow"
        );
    }
    let mut instance = instance_with(USES_HOST, &imports);
    assert_eq!(
        instance.call("quadruple", &[WasmValue::I32(5)]).unwrap(),
        [WasmValue::I32(20)]
    );
}

#[wasm_bindgen_test]
fn host_functions_take_and_give_every_number_type_and_several_results() {
    let mut imports = Imports::new();
    imports.func(
        "env",
        "split",
        HostFunc::new(
            FuncType::new(
                [ValType::F32, ValType::F64],
                [ValType::I32, ValType::I64, ValType::F64],
            ),
            |_, args, results| {
                let (a, b) = (
                    args[0].as_f32().unwrap_or(0.0),
                    args[1].as_f64().unwrap_or(0.0),
                );
                results[0] = WasmValue::I32(a as i32);
                results[1] = WasmValue::I64(i64::MIN);
                results[2] = WasmValue::F64(b * 2.0);
                Ok(())
            },
        ),
    );
    let mut instance = instance_with(
        r#"(module
            (import "env" "split" (func $split (param f32 f64) (result i32 i64 f64)))
            (func (export "go") (param f32 f64) (result i32 i64 f64)
                local.get 0 local.get 1 call $split))"#,
        &imports,
    );
    assert_eq!(
        instance
            .call("go", &[WasmValue::F32(7.5), WasmValue::F64(0.25)])
            .unwrap(),
        [
            WasmValue::I32(7),
            WasmValue::I64(i64::MIN),
            WasmValue::F64(0.5)
        ]
    );
}

#[wasm_bindgen_test]
fn references_the_host_and_the_guest_hand_out_come_back_as_they_were() {
    use plugin_system_core::ExternRef;

    let mut imports = Imports::new();
    imports.func(
        "env",
        "echo",
        HostFunc::new(
            FuncType::new([ValType::ExternRef], [ValType::ExternRef]),
            |_, args, results| {
                results[0] = args[0];
                Ok(())
            },
        ),
    );
    let mut instance = instance_with(
        r#"(module
            (import "env" "echo" (func $echo (param externref) (result externref)))
            (table $t 1 funcref)
            (elem declare func $seven)
            (func $seven (result i32) i32.const 7)
            (func (export "echo") (param externref) (result externref) local.get 0 call $echo)
            (func (export "seven") (result funcref) ref.func $seven)
            (func (export "call") (param funcref) (result i32)
                (table.set $t (i32.const 0) (local.get 0))
                (call_indirect $t (result i32) (i32.const 0))))"#,
        &imports,
    );
    let host = WasmValue::ExternRef(Some(ExternRef(u64::MAX)));
    assert_eq!(instance.call("echo", &[host]).unwrap(), [host]);
    let seven = instance.call("seven", &[]).unwrap()[0];
    assert_eq!(
        instance.call("seven", &[]).unwrap()[0],
        seven,
        "one handle per function"
    );
    assert_eq!(
        instance.call("call", &[seven]).unwrap(),
        [WasmValue::I32(7)]
    );
    let unknown = WasmValue::FuncRef(Some(plugin_system_core::FuncRef::from_raw(99)));
    let error = instance.call("call", &[unknown]).unwrap_err();
    assert!(matches!(error, WasmError::TypeMismatch { .. }), "{error}");
}
