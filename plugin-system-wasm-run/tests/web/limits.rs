//! The limits that hold inside the browser: memory and table caps, and fuel.

use super::*;

const GROWS: &str = r#"(module
    (memory (export "memory") 1)
    (func (export "grow") (param i32) (result i32) local.get 0 memory.grow))"#;

#[wasm_bindgen_test]
fn memory_grow_past_the_cap_returns_minus_one() {
    let runtime = web_runtime(WasmRuntimeConfig::default().max_memory_pages(3));
    let module = load(&runtime, GROWS);
    let mut instance = runtime.instantiate(&module, &Imports::new()).unwrap();
    assert_eq!(
        instance.call("grow", &[WasmValue::I32(2)]).unwrap(),
        [WasmValue::I32(1)]
    );
    assert_eq!(
        instance.call("grow", &[WasmValue::I32(1)]).unwrap(),
        [WasmValue::I32(-1)]
    );
    // A memory bomb gets -1 too, and the memory stays as it was.
    assert_eq!(
        instance.call("grow", &[WasmValue::I32(60_000)]).unwrap(),
        [WasmValue::I32(-1)]
    );
    let memory = instance.memory().unwrap();
    assert_eq!(memory.pages(), 3);
    assert!(matches!(
        memory.grow(1).unwrap_err(),
        WasmError::MemoryLimit { .. }
    ));
}

#[wasm_bindgen_test]
fn a_memory_that_starts_past_the_cap_is_refused() {
    let runtime = web_runtime(WasmRuntimeConfig::default().max_memory_pages(2));
    let module = load(&runtime, r#"(module (memory 5))"#);
    let error = runtime
        .instantiate(&module, &Imports::new())
        .map(drop)
        .unwrap_err();
    assert!(matches!(error, WasmError::MemoryLimit { .. }), "{error}");
}

#[wasm_bindgen_test]
fn an_imported_memory_is_capped_too() {
    let runtime = web_runtime(WasmRuntimeConfig::default().max_memory_pages(2));
    let module = load(
        &runtime,
        r#"(module
            (import "env" "memory" (memory 1))
            (func (export "grow") (param i32) (result i32) local.get 0 memory.grow))"#,
    );
    let mut imports = Imports::new();
    imports.memory(
        "env",
        "memory",
        plugin_system_core::MemoryType::new(1, None),
    );
    let mut instance = runtime.instantiate(&module, &imports).unwrap();
    assert_eq!(
        instance.call("grow", &[WasmValue::I32(1)]).unwrap(),
        [WasmValue::I32(1)]
    );
    assert_eq!(
        instance.call("grow", &[WasmValue::I32(1)]).unwrap(),
        [WasmValue::I32(-1)]
    );
}

const LOOPS: &str = r#"(module
    (import "env" "tick" (func $tick))
    (global $g (mut i32) (i32.const 5))
    (global (export "g") (mut i32) (i32.const 6))
    (func (export "forever") (loop $l (br $l)))
    (func (export "count") (param $n i32) (result i32)
        (loop $l
            (local.set $n (i32.sub (local.get $n) (i32.const 1)))
            (br_if $l (i32.gt_s (local.get $n) (i32.const 0))))
        (global.get $g))
    (func (export "tick") call $tick)
    (func (export "boom") unreachable))"#;

fn metered(fuel: u64) -> Box<dyn WasmInstance> {
    let runtime = web_runtime(WasmRuntimeConfig::default().fuel_limit(fuel));
    let module = load(&runtime, LOOPS);
    let mut imports = Imports::new();
    imports.func(
        "env",
        "tick",
        HostFunc::new(FuncType::default(), |caller, _, _| {
            caller.consume_fuel(1_000);
            Ok(())
        }),
    );
    runtime.instantiate(&module, &imports).unwrap()
}

#[wasm_bindgen_test]
fn a_runaway_loop_is_stopped_by_fuel() {
    let mut instance = metered(100_000);
    let error = instance.call("forever", &[]).unwrap_err();
    assert!(matches!(error, WasmError::FuelExhausted), "{error}");
    assert_eq!(instance.fuel().unwrap(), 0);
    // Refilled, the instance runs again; its globals kept their indices.
    instance.set_fuel(1_000).unwrap();
    assert_eq!(
        instance.call("count", &[WasmValue::I32(3)]).unwrap(),
        [WasmValue::I32(5)]
    );
    assert_eq!(instance.global("g").unwrap(), WasmValue::I32(6));
    assert!(instance.fuel().unwrap() < 1_000);
    assert!(instance.stats().fuel_consumed.unwrap() > 100_000);
}

#[wasm_bindgen_test]
fn fuel_is_charged_per_iteration_and_by_host_functions() {
    let mut instance = metered(1_000_000);
    instance.call("count", &[WasmValue::I32(1)]).unwrap();
    let one = 1_000_000 - instance.fuel().unwrap();
    instance.set_fuel(1_000_000).unwrap();
    instance.call("count", &[WasmValue::I32(101)]).unwrap();
    let many = 1_000_000 - instance.fuel().unwrap();
    assert!(
        many >= one + 100,
        "one: {one}, a hundred more iterations: {many}"
    );
    instance.set_fuel(1_000_000).unwrap();
    instance.call("tick", &[]).unwrap();
    assert!(instance.fuel().unwrap() <= 1_000_000 - 1_000);
}

#[wasm_bindgen_test]
fn the_guests_own_trap_stays_a_trap_under_fuel() {
    let mut instance = metered(1_000);
    let error = instance.call("boom", &[]).unwrap_err();
    assert!(
        matches!(
            error,
            WasmError::Trap {
                code: TrapCode::Unreachable,
                ..
            }
        ),
        "{error}"
    );
}

#[wasm_bindgen_test]
fn a_module_without_imports_is_metered_too() {
    let runtime = web_runtime(WasmRuntimeConfig::default().fuel_limit(50));
    let module = load(
        &runtime,
        r#"(module
            (global (export "g") i32 (i32.const 1))
            (func (export "forever") (loop $l (br $l))))"#,
    );
    let mut instance = runtime.instantiate(&module, &Imports::new()).unwrap();
    assert!(matches!(
        instance.call("forever", &[]).unwrap_err(),
        WasmError::FuelExhausted
    ));
    assert_eq!(instance.global("g").unwrap(), WasmValue::I32(1));
}

#[wasm_bindgen_test]
fn a_start_function_runs_on_the_same_fuel() {
    let runtime = web_runtime(WasmRuntimeConfig::default().fuel_limit(1_000));
    let module = load(
        &runtime,
        r#"(module (func $s (loop $l (br $l))) (start $s))"#,
    );
    let error = runtime
        .instantiate(&module, &Imports::new())
        .map(drop)
        .unwrap_err();
    assert!(matches!(error, WasmError::FuelExhausted), "{error}");
}

#[wasm_bindgen_test]
fn table_grow_past_the_limit_returns_minus_one() {
    let runtime = web_runtime(WasmRuntimeConfig::default().max_table_elements(10));
    let module = load(
        &runtime,
        r#"(module
            (table $t 2 funcref)
            (func (export "grow") (param i32) (result i32)
                (table.grow $t (ref.null func) (local.get 0))))"#,
    );
    let mut instance = runtime.instantiate(&module, &Imports::new()).unwrap();
    assert_eq!(
        instance.call("grow", &[WasmValue::I32(8)]).unwrap(),
        [WasmValue::I32(2)]
    );
    assert_eq!(
        instance.call("grow", &[WasmValue::I32(1)]).unwrap(),
        [WasmValue::I32(-1)]
    );
    // Without a setting, tables stay within the default (2^20 elements).
    let runtime = runtime_default();
    let module = load(
        &runtime,
        r#"(module
            (table $t 0 funcref)
            (func (export "grow") (param i32) (result i32)
                (table.grow $t (ref.null func) (local.get 0))))"#,
    );
    let mut instance = runtime.instantiate(&module, &Imports::new()).unwrap();
    assert_eq!(
        instance.call("grow", &[WasmValue::I32(1 << 21)]).unwrap(),
        [WasmValue::I32(-1)]
    );
}

fn runtime_default() -> WebRuntime {
    web_runtime(WasmRuntimeConfig::default())
}

#[wasm_bindgen_test]
fn an_imported_table_is_capped_too() {
    let runtime = web_runtime(WasmRuntimeConfig::default().max_table_elements(4));
    let module = load(
        &runtime,
        r#"(module
            (import "env" "t" (table $t 1 funcref))
            (func (export "grow") (param i32) (result i32)
                (table.grow $t (ref.null func) (local.get 0))))"#,
    );
    let ty = plugin_system_core::TableType {
        element: ValType::FuncRef,
        minimum: 1,
        maximum: None,
    };
    let mut imports = Imports::new();
    imports.table("env", "t", ty, WasmValue::FuncRef(None));
    let mut instance = runtime.instantiate(&module, &imports).unwrap();
    assert_eq!(
        instance.call("grow", &[WasmValue::I32(3)]).unwrap(),
        [WasmValue::I32(1)]
    );
    assert_eq!(
        instance.call("grow", &[WasmValue::I32(1)]).unwrap(),
        [WasmValue::I32(-1)]
    );
}

#[wasm_bindgen_test]
fn an_instances_own_memory_cap_tightens_the_runtimes() {
    use plugin_system_core::InstanceLimits;

    let runtime = web_runtime(WasmRuntimeConfig::default().max_memory_pages(8));
    let module = load(&runtime, GROWS);
    let tight = InstanceLimits::new().max_memory_bytes(2 * 65_536);
    let mut instance = runtime
        .instantiate_with_limits(&module, &Imports::new(), tight)
        .unwrap();
    assert_eq!(
        instance.call("grow", &[WasmValue::I32(1)]).unwrap(),
        [WasmValue::I32(1)]
    );
    assert_eq!(
        instance.call("grow", &[WasmValue::I32(1)]).unwrap(),
        [WasmValue::I32(-1)]
    );
    // A looser one does not loosen the runtime's; the same limits twice share
    // one compiled module, and the runtime's own stay as they were.
    let loose = InstanceLimits::new().max_memory_bytes(100 * 65_536);
    let mut instance = runtime
        .instantiate_with_limits(&module, &Imports::new(), loose)
        .unwrap();
    assert_eq!(
        instance.call("grow", &[WasmValue::I32(7)]).unwrap(),
        [WasmValue::I32(1)]
    );
    assert_eq!(
        instance.call("grow", &[WasmValue::I32(1)]).unwrap(),
        [WasmValue::I32(-1)]
    );
    let mut again = runtime
        .instantiate_with_limits(&module, &Imports::new(), tight)
        .unwrap();
    assert_eq!(
        again.call("grow", &[WasmValue::I32(2)]).unwrap(),
        [WasmValue::I32(-1)]
    );
    let mut plain = runtime.instantiate(&module, &Imports::new()).unwrap();
    assert_eq!(
        plain.call("grow", &[WasmValue::I32(7)]).unwrap(),
        [WasmValue::I32(1)]
    );
    // An instance cap below the module's start is refused, and a cap cannot
    // change once the memory exists.
    let below = InstanceLimits::new().max_memory_bytes(0);
    let error = runtime
        .instantiate_with_limits(&module, &Imports::new(), below)
        .map(drop)
        .unwrap_err();
    assert!(matches!(error, WasmError::MemoryLimit { .. }), "{error}");
    let error = plain.set_memory_limit(Some(65_536)).unwrap_err();
    assert!(matches!(error, WasmError::Unsupported { .. }), "{error}");
}
