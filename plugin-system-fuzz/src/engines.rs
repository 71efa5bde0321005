//! The engines the targets run on, built once per process (an engine is costly
//! to build, a fuzzer runs thousands of inputs a second).

use std::{sync::Arc, sync::OnceLock, time::Duration};

use arbitrary::Unstructured;
use plugin_system_core::{ExternRef, FuncType, ValType, WasmRuntime, WasmRuntimeConfig, WasmValue};
use plugin_system_wasm_run::{EngineKind, new_runtime};

/// Both engines, wasmtime first.
pub(crate) const KINDS: [EngineKind; 2] = [EngineKind::Wasmtime, EngineKind::Wasmi];

/// Pages a guest memory may reach under the limited configuration (1 MiB).
pub(crate) const MAX_MEMORY_PAGES: u64 = 16;

/// Elements a guest table may reach under the limited configuration.
pub(crate) const MAX_TABLE_ELEMENTS: u64 = 10_000;

/// Fuel of one call under the limited configuration.
pub(crate) const FUEL: u64 = 200_000;

/// The deadline of one call: far above what the fuel allows, it only fires when
/// something other than guest instructions (a host path) runs long.
pub(crate) const TIMEOUT: Duration = Duration::from_secs(5);

/// A pair of runtimes, wasmtime then wasmi, of one configuration.
pub(crate) type Pair = [Arc<dyn WasmRuntime>; 2];

fn build(config: &WasmRuntimeConfig) -> Pair {
    KINDS.map(|kind| {
        new_runtime(kind, config.clone())
            .unwrap_or_else(|e| panic!("cannot build the {kind} engine: {e}"))
    })
}

/// Both engines with their defaults: for loading and reading modules.
pub(crate) fn plain() -> &'static Pair {
    static PAIR: OnceLock<Pair> = OnceLock::new();
    PAIR.get_or_init(|| build(&WasmRuntimeConfig::default()))
}

/// The configuration with every limit small: memory, tables, stack, fuel and
/// a deadline.
pub(crate) fn limited_config() -> WasmRuntimeConfig {
    WasmRuntimeConfig::default()
        .max_memory_pages(MAX_MEMORY_PAGES)
        .max_table_elements(MAX_TABLE_ELEMENTS)
        .max_stack_depth(1_000)
        .fuel_limit(FUEL)
        .timeout(TIMEOUT)
}

/// Both engines under [`limited_config`].
pub(crate) fn limited() -> &'static Pair {
    static PAIR: OnceLock<Pair> = OnceLock::new();
    PAIR.get_or_init(|| build(&limited_config()))
}

/// Calls made per generated module, at most.
const MAX_CALLS: usize = 20;

/// The calls the smith targets make: each exported function in turn, round
/// and round, with arguments drawn from `args`; every function once, then on
/// while the input lasts, at most [`MAX_CALLS`].
pub(crate) fn call_plan(
    functions: &[(String, FuncType)],
    args: &[u8],
) -> Vec<(String, Vec<WasmValue>)> {
    let mut u = Unstructured::new(args);
    let mut plan = Vec::new();
    for (call, (name, ty)) in functions.iter().cycle().take(MAX_CALLS).enumerate() {
        if call >= functions.len() && u.is_empty() {
            break;
        }
        let args = ty
            .params()
            .iter()
            .map(|&t| arbitrary_value(&mut u, t))
            .collect();
        plan.push((name.clone(), args));
    }
    plan
}

/// An argument of type `ty` from the input; zero (or null) once the input is
/// used up.
pub(crate) fn arbitrary_value(u: &mut Unstructured<'_>, ty: ValType) -> WasmValue {
    let value = match ty {
        ValType::I32 => u.arbitrary().map(WasmValue::I32),
        ValType::I64 => u.arbitrary().map(WasmValue::I64),
        ValType::F32 => u
            .arbitrary()
            .map(|bits| WasmValue::F32(f32::from_bits(bits))),
        ValType::F64 => u
            .arbitrary()
            .map(|bits| WasmValue::F64(f64::from_bits(bits))),
        ValType::V128 => u.arbitrary().map(WasmValue::V128),
        ValType::FuncRef => Ok(WasmValue::FuncRef(None)),
        ValType::ExternRef => u
            .arbitrary::<Option<u64>>()
            .map(|r| WasmValue::ExternRef(r.map(ExternRef))),
        // Other references (GC, exceptions) are off in the generated modules;
        // the host has no value of them to give but null.
        ValType::Ref(_) => Ok(ty.default_value()),
    };
    value.unwrap_or_else(|_| ty.default_value())
}

/// A wasm-smith configuration of what both engines accept, with small limits:
/// no threads, memory64, GC, exceptions, function references, wide arithmetic
/// or custom page sizes (wasmi has none of them), no imports (the targets give
/// none), every item exported (so the targets can reach them), memories of at
/// most 4 MiB and tables of at most 20,000 elements declared (beyond the
/// limits above on purpose: instantiation must refuse them with a typed
/// error).
pub(crate) fn smith_config() -> wasm_smith::Config {
    wasm_smith::Config {
        threads_enabled: false,
        shared_everything_threads_enabled: false,
        memory64_enabled: false,
        gc_enabled: false,
        exceptions_enabled: false,
        custom_descriptors_enabled: false,
        custom_page_sizes_enabled: false,
        wide_arithmetic_enabled: false,
        // wasm-smith needs GC types for typed function references.
        reference_types_enabled: true,
        simd_enabled: true,
        relaxed_simd_enabled: true,
        multi_value_enabled: true,
        bulk_memory_enabled: true,
        tail_call_enabled: true,
        extended_const_enabled: true,
        saturating_float_to_int_enabled: true,
        sign_extension_ops_enabled: true,
        max_imports: 0,
        max_memories: 2,
        max_tables: 2,
        max_memory32_bytes: 4 << 20,
        max_table_elements: 20_000,
        max_funcs: 20,
        max_instructions: 200,
        max_exports: 40,
        max_data_segments: 10,
        max_element_segments: 10,
        max_elements: 100,
        max_globals: 20,
        max_types: 30,
        export_everything: true,
        ..wasm_smith::Config::default()
    }
}

/// A module generated from the input under `config`, as bytes; `None` when the
/// input is too short to make one.
pub(crate) fn smith_module(
    u: &mut Unstructured<'_>,
    config: wasm_smith::Config,
) -> Option<Vec<u8>> {
    wasm_smith::Module::new(config, u)
        .ok()
        .map(|module| module.to_bytes())
}

/// The configuration of the differential target: small memory and table
/// limits as [`limited_config`], the same stack depth, fuel to stop endless
/// loops (each engine counts it its own way: an outcome of running out is not
/// compared) and a short deadline behind it.
pub(crate) fn differential_config() -> WasmRuntimeConfig {
    WasmRuntimeConfig::default()
        .max_memory_pages(MAX_MEMORY_PAGES)
        .max_table_elements(MAX_TABLE_ELEMENTS)
        .max_stack_depth(1_000)
        .fuel_limit(1_000_000)
        .timeout(Duration::from_secs(2))
}

/// Both engines under [`differential_config`].
pub(crate) fn differential() -> &'static Pair {
    static PAIR: OnceLock<Pair> = OnceLock::new();
    PAIR.get_or_init(|| build(&differential_config()))
}
