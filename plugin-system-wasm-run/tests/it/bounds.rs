//! Compiling is bounded: modules past the structural bounds are refused before
//! any engine compiles them, with the same typed error on every engine, and a
//! valid module that passes an engine's own limit is a limit, not a proposal.

use plugin_system_core::{ModuleBound, ModuleBounds, WasmError, WasmRuntimeConfig};
use plugin_system_wasm_run::{EngineKind, inspect};

use crate::{on_every_engine, runtime};

/// A function of `count` times `open ... close`, around `inner`, as binary.
fn repeated(params: &str, open: &str, inner: &str, close: &str, count: usize) -> Vec<u8> {
    let text = format!(
        "(module (func {params} {} {inner} {}))",
        open.repeat(count),
        close.repeat(count)
    );
    wat::parse_str(text).expect("fixture assembles")
}

/// The 120 KB module of the issue: 40,000 nested blocks with results (3 GB to
/// compile on wasmtime).
fn nested_blocks() -> Vec<u8> {
    repeated(
        "(result i32)",
        "block (result i32) ",
        "i32.const 0",
        "end ",
        40_000,
    )
}

/// A function with `n` locals of type `ty`.
fn locals(n: usize, ty: &str) -> Vec<u8> {
    wat::parse_str(format!(
        "(module (func (local {})))",
        format!("{ty} ").repeat(n)
    ))
    .unwrap()
}

/// A function whose `br_table` has `targets` targets besides its default.
fn br_table(targets: usize) -> Vec<u8> {
    wat::parse_str(format!(
        "(module (func (param i32) block local.get 0 br_table {}0 end))",
        "0 ".repeat(targets)
    ))
    .unwrap()
}

/// Asserts that `result` is the limit `bound` in function 0, found `found`.
#[track_caller]
fn assert_limit<T: std::fmt::Debug>(
    result: Result<T, WasmError>,
    bound: ModuleBound,
    found: u64,
    limit: u32,
) {
    assert_eq!(
        module_limit(&result),
        Some((bound, Some(0), Some(found), Some(u64::from(limit)))),
        "{result:?}"
    );
}

/// A [`WasmError::ModuleLimit`]'s bound, function, value found and limit.
type Limit = (ModuleBound, Option<u32>, Option<u64>, Option<u64>);

/// The limit `result` failed with, if it is a [`WasmError::ModuleLimit`].
fn module_limit<T>(result: &Result<T, WasmError>) -> Option<Limit> {
    match result {
        Err(WasmError::ModuleLimit(e)) => Some((e.bound, e.function, e.found, e.limit)),
        _ => None,
    }
}

fn nested_blocks_are_refused_before_compiling(kind: EngineKind) {
    let rt = runtime(kind, WasmRuntimeConfig::default());
    let wasm = nested_blocks();
    let limit = ModuleBounds::DEFAULT.max_nesting_depth;
    let error = rt.load_module(&wasm).map(|_| ()).unwrap_err();
    assert_eq!(error.kind(), "module limit");
    assert_eq!(
        error.to_string(),
        format!(
            "module limit: nesting depth {} in function 0 exceeds the limit {limit}",
            limit + 1
        )
    );
    assert!(
        !error.is_guest_failure(),
        "the module is the caller's input"
    );
    assert_limit(
        rt.validate_bytes(&wasm),
        ModuleBound::NestingDepth,
        u64::from(limit) + 1,
        limit,
    );
    if rt.supported_features().precompile {
        assert_limit(
            rt.precompile(&wasm),
            ModuleBound::NestingDepth,
            u64::from(limit) + 1,
            limit,
        );
    }
}

fn blocks_with_results_are_counted_nested_or_not(kind: EngineKind) {
    let rt = runtime(kind, WasmRuntimeConfig::default());
    let limit = ModuleBounds::DEFAULT.max_result_blocks;
    // 40,000 blocks one after another take as much to compile as nested ones.
    let flat = repeated(
        "",
        "",
        &"block (result i32) i32.const 0 end drop ".repeat(40_000),
        "",
        1,
    );
    assert_limit(
        rt.load_module(&flat),
        ModuleBound::ResultBlocks,
        u64::from(limit) + 1,
        limit,
    );
    let ifs = repeated(
        "",
        "",
        &"i32.const 1 if (result i32) i32.const 0 else i32.const 1 end drop ".repeat(40_000),
        "",
        1,
    );
    assert_limit(
        rt.load_module(&ifs),
        ModuleBound::ResultBlocks,
        u64::from(limit) + 1,
        limit,
    );
    // Blocks without results cost no more than other code.
    let plain = repeated("", "", &"block nop end ".repeat(40_000), "", 1);
    rt.load_module(&plain).expect("plain blocks load");
}

fn loops_are_counted(kind: EngineKind) {
    let rt = runtime(kind, WasmRuntimeConfig::default());
    let limit = ModuleBounds::DEFAULT.max_loops;
    let loops = repeated("", "", &"loop nop end ".repeat(40_000), "", 1);
    assert_limit(
        rt.load_module(&loops),
        ModuleBound::Loops,
        u64::from(limit) + 1,
        limit,
    );
    let within = repeated("", "", &"loop nop end ".repeat(limit as usize), "", 1);
    rt.load_module(&within)
        .expect("loops within the bound load");
}

fn locals_are_counted_with_parameters(kind: EngineKind) {
    let rt = runtime(kind, WasmRuntimeConfig::default());
    let limit = ModuleBounds::DEFAULT.max_locals;
    assert_limit(
        rt.load_module(&locals(50_000, "i64")),
        ModuleBound::Locals,
        50_000,
        limit,
    );
    let with_params = wat::parse_str(format!(
        "(module (func (param i32 i32) (local {})))",
        "i32 ".repeat(limit as usize - 1)
    ))
    .unwrap();
    assert_limit(
        rt.load_module(&with_params),
        ModuleBound::Locals,
        u64::from(limit) + 1,
        limit,
    );
    // At the bound, every engine compiles it: the bound is no tighter than
    // wasmi's own limit, so both engines take the same modules.
    rt.load_module(&locals(limit as usize, "i64"))
        .expect("locals at the bound load");
}

fn a_huge_br_table_is_a_limit_and_needs_no_proposal(kind: EngineKind) {
    let wasm = br_table(1_000_000);
    let rt = runtime(kind, WasmRuntimeConfig::default());
    let limit = ModuleBounds::DEFAULT.max_br_table_targets;
    assert_limit(
        rt.load_module(&wasm),
        ModuleBound::BrTableTargets,
        1_000_000,
        limit,
    );
    // Without the bounds the engine decides, and a refusal names no proposal: the
    // module uses none.
    let unbounded = runtime(
        kind,
        WasmRuntimeConfig::default().module_bounds(ModuleBounds::UNBOUNDED),
    );
    match unbounded.load_module(&wasm) {
        Ok(_) => {}
        Err(WasmError::ModuleLimit(e)) if e.bound == ModuleBound::Engine => {}
        Err(other) => panic!("expected a load or the engine's limit, got {other:?}"),
    }
}

fn an_engine_limit_is_a_module_limit(kind: EngineKind) {
    // Valid WebAssembly (the JS API allows 50,000 locals) that wasmi cannot
    // translate: a limit, on the engine that has it, never an invalid module.
    // Fuel makes wasmi translate at load rather than at the first call.
    let rt = runtime(
        kind,
        WasmRuntimeConfig::default()
            .fuel_limit(1_000)
            .module_bounds(ModuleBounds::UNBOUNDED),
    );
    match (kind, rt.load_module(&locals(50_000, "i32"))) {
        (EngineKind::Wasmtime, Ok(_)) => {}
        (EngineKind::Wasmi, Err(WasmError::ModuleLimit(e))) if e.bound == ModuleBound::Engine => {
            // The engine's own error is kept as the cause.
            let cause = std::error::Error::source(&*e).expect("the engine's error");
            assert!(!cause.to_string().is_empty());
        }
        (_, other) => panic!("unexpected outcome on {kind}: {other:?}"),
    }
}

fn functions_and_function_size_are_bounded(kind: EngineKind) {
    let ten = format!("(module {})", "(func)".repeat(10));
    let rt = runtime(
        kind,
        WasmRuntimeConfig::default().module_bounds(ModuleBounds::DEFAULT.max_functions(9)),
    );
    let ten = rt.load_module(ten.as_bytes());
    assert_eq!(
        module_limit(&ten),
        Some((ModuleBound::Functions, None, Some(10), Some(9))),
        "{ten:?}"
    );
    // Imported functions count too.
    let imports = format!(
        "(module {} (func))",
        r#"(import "env" "f" (func))"#.repeat(9)
    );
    assert!(matches!(
        module_limit(&rt.load_module(imports.as_bytes())),
        Some((ModuleBound::Functions, ..))
    ));

    let big = repeated("", "", &"nop ".repeat(200), "", 1);
    let rt = runtime(
        kind,
        WasmRuntimeConfig::default().module_bounds(ModuleBounds::DEFAULT.max_function_size(100)),
    );
    let big = rt.load_module(&big);
    match module_limit(&big) {
        Some((ModuleBound::FunctionSize, Some(0), Some(size), Some(100))) => assert!(size > 200),
        _ => panic!("expected the function size limit, got {big:?}"),
    }
}

fn the_function_is_named_in_the_function_index_space(kind: EngineKind) {
    let wasm = wat::parse_str(
        r#"(module
            (import "env" "f" (func))
            (func)
            (func loop nop end loop nop end))"#,
    )
    .unwrap();
    let rt = runtime(
        kind,
        WasmRuntimeConfig::default().module_bounds(ModuleBounds::DEFAULT.max_loops(1)),
    );
    match rt.load_module(&wasm) {
        Err(WasmError::ModuleLimit(e))
            if (e.bound, e.function, e.found, e.limit)
                == (ModuleBound::Loops, Some(2), Some(2), Some(1)) => {}
        other => panic!("expected the loops limit in function 2, got {other:?}"),
    }
}

fn inspect_reads_without_compiling(kind: EngineKind) {
    let rt = runtime(kind, WasmRuntimeConfig::default());
    // Past a bound: reported, with the shape of the code, not refused.
    let report = inspect(&*rt, &nested_blocks()).expect("inspect reports");
    assert_eq!(report.code.nesting_depth.value, 40_000);
    assert_eq!(report.code.nesting_depth.function, Some(0));
    assert!(!report.validation.is_valid());
    assert!(
        report.validation.errors[0].starts_with("module limit: nesting depth 40000 in function 0"),
        "{:?}",
        report.validation
    );
    assert_eq!(rt.stats().modules_loaded, 0, "nothing was compiled");

    let fine = inspect(&*rt, br#"(module (func (export "f")))"#).unwrap();
    assert!(fine.validation.is_valid(), "{:?}", fine.validation);
    assert_eq!(fine.info.exports.len(), 1);
    assert_eq!(fine.code.functions, 1);

    assert!(matches!(
        inspect(&*rt, b"\0asm\x01\0\0\0\x01"),
        Err(WasmError::InvalidModule { .. })
    ));
    // Invalid past a bound too: invalid first.
    let invalid = repeated(
        "(result i64)",
        "block (result i32) ",
        "i32.const 0",
        "end ",
        3_000,
    );
    assert!(matches!(
        inspect(&*rt, &invalid),
        Err(WasmError::InvalidModule { .. })
    ));
}

on_every_engine!(
    nested_blocks_are_refused_before_compiling,
    blocks_with_results_are_counted_nested_or_not,
    loops_are_counted,
    locals_are_counted_with_parameters,
    a_huge_br_table_is_a_limit_and_needs_no_proposal,
    an_engine_limit_is_a_module_limit,
    functions_and_function_size_are_bounded,
    the_function_is_named_in_the_function_index_space,
    inspect_reads_without_compiling,
);
