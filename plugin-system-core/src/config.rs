//! Engine configuration and feature reporting.

use std::time::Duration;

/// How an engine is set up: optimisation, limits, WASI.
///
/// Every limit here is enforced by both engines, with the same observable
/// behaviour: see each field.
///
/// ```
/// use plugin_system_core::WasmRuntimeConfig;
/// use std::time::Duration;
///
/// let config = WasmRuntimeConfig::default()
///     .max_memory_pages(16)
///     .fuel_limit(1_000_000)
///     .timeout(Duration::from_millis(100));
/// assert_eq!(config.max_memory_pages, Some(16));
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct WasmRuntimeConfig {
    /// Optimise compiled code (wasmtime: Cranelift `speed` instead of `none`). Default `true`.
    pub enable_optimization: bool,
    /// Most 64 KiB pages any one memory may have. `memory.grow` past it returns -1;
    /// a module whose minimum is larger fails to instantiate with
    /// [`WasmError::MemoryLimit`](crate::WasmError::MemoryLimit).
    pub max_memory_pages: Option<u64>,
    /// Most nested wasm calls. Deeper recursion ends in
    /// [`WasmError::StackOverflow`](crate::WasmError::StackOverflow). wasmi counts frames
    /// exactly; wasmtime bounds its native stack to a size derived from this depth.
    pub max_stack_depth: Option<u32>,
    /// Fuel each new instance starts with. `None` turns metering off. Running out is
    /// [`WasmError::FuelExhausted`](crate::WasmError::FuelExhausted).
    pub fuel_limit: Option<u64>,
    /// Wall-clock deadline of every call into the guest (and of the start function).
    /// Running past it is [`WasmError::Timeout`](crate::WasmError::Timeout).
    pub timeout: Option<Duration>,
    /// Most elements any one table may have. `table.grow` past it returns -1; a
    /// module whose minimum is larger fails to instantiate with
    /// [`WasmError::MemoryLimit`](crate::WasmError::MemoryLimit). When `None`,
    /// engines keep tables within the memory budget: `max_memory_pages` worth of
    /// 8-byte elements, at least 4,096 and at most 2^20 (the most without a
    /// memory limit), since one `table.grow` is a single instruction that could
    /// otherwise commit gigabytes before any deadline looks.
    pub max_table_elements: Option<u64>,
    /// Serve WASI preview 1, with the empty world of
    /// [`WasiConfig::new`](crate::WasiConfig::new), to modules that import it
    /// and were given no world. A world given with
    /// [`Imports::wasi`](crate::Imports::wasi) turns WASI on by itself.
    pub enable_wasi: bool,
    /// Structural bounds a module must keep to be compiled, checked before the
    /// engine sees it. See [`ModuleBounds`].
    pub module_bounds: ModuleBounds,
}

impl Default for WasmRuntimeConfig {
    fn default() -> Self {
        WasmRuntimeConfig {
            enable_optimization: true,
            max_memory_pages: None,
            max_stack_depth: None,
            fuel_limit: None,
            timeout: None,
            max_table_elements: None,
            enable_wasi: false,
            module_bounds: ModuleBounds::DEFAULT,
        }
    }
}

impl WasmRuntimeConfig {
    /// Sets [`enable_optimization`](Self::enable_optimization).
    pub fn enable_optimization(mut self, on: bool) -> Self {
        self.enable_optimization = on;
        self
    }

    /// Sets [`max_memory_pages`](Self::max_memory_pages).
    pub fn max_memory_pages(mut self, pages: u64) -> Self {
        self.max_memory_pages = Some(pages);
        self
    }

    /// Sets [`max_stack_depth`](Self::max_stack_depth).
    pub fn max_stack_depth(mut self, depth: u32) -> Self {
        self.max_stack_depth = Some(depth);
        self
    }

    /// Sets [`fuel_limit`](Self::fuel_limit).
    pub fn fuel_limit(mut self, fuel: u64) -> Self {
        self.fuel_limit = Some(fuel);
        self
    }

    /// Sets [`timeout`](Self::timeout).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Sets [`max_table_elements`](Self::max_table_elements).
    pub fn max_table_elements(mut self, elements: u64) -> Self {
        self.max_table_elements = Some(elements);
        self
    }

    /// Sets [`enable_wasi`](Self::enable_wasi).
    pub fn enable_wasi(mut self, on: bool) -> Self {
        self.enable_wasi = on;
        self
    }

    /// Sets [`module_bounds`](Self::module_bounds).
    pub fn module_bounds(mut self, bounds: ModuleBounds) -> Self {
        self.module_bounds = bounds;
        self
    }
}

/// Structural bounds on the code of a module, checked in one pass over its bytes
/// before any engine compiles it, the same way on every engine.
///
/// Compiling is not linear in a module's size: on wasmtime, 120 KB of blocks with
/// results take 3 GB of memory to compile, 80 KB of loops take 90 s, 500 KB of
/// empty functions take 600 MB. A module past a bound fails to load with
/// [`WasmError::ModuleLimit`](crate::WasmError::ModuleLimit), which names the
/// bound, the function, the value found and the limit.
///
/// The defaults sit well above what compilers emit and at or below the limits of
/// the engines themselves, so that a module either passes on every engine or is
/// refused by the same bound on every engine. The largest values seen in real
/// programs are those of yosys (69 MB, built for WASI), which loads with room to
/// spare, as CPython (26 MB) and resvg do; the costs are wasmtime's, measured
/// on one function (or module) at the limit:
///
/// | bound | default | largest seen | why |
/// |---|---|---|---|
/// | [`max_nesting_depth`](Self::max_nesting_depth) | 2,048 | 533 | compile time grows faster than depth past it (4,096: 10× the cost per byte) |
/// | [`max_function_size`](Self::max_function_size) | 7,654,321 bytes | 223,045 | the JS API's limit, kept by V8, SpiderMonkey and wasmparser |
/// | [`max_locals`](Self::max_locals) | 30,000 | 666 | wasmi's own limit of parameters and locals (the JS API allows 50,000) |
/// | [`max_br_table_targets`](Self::max_br_table_targets) | 65,520 | 723 | V8's limit |
/// | [`max_result_blocks`](Self::max_result_blocks) | 4,096 | 1,276 | compile memory grows with their square: 4,096 take 140 MB, 40,000 take 3 GB |
/// | [`max_loops`](Self::max_loops) | 1,024 | 258 | compile time grows with their square: 1,024 take 70 ms, 40,000 take 90 s |
/// | [`max_functions`](Self::max_functions) | 250,000 | 46,499 | each costs about 6 KB to compile, even empty: 250,000 take 1.5 GB |
///
/// ```
/// use plugin_system_core::{ModuleBounds, WasmRuntimeConfig};
///
/// let bounds = ModuleBounds::default().max_nesting_depth(256);
/// let config = WasmRuntimeConfig::default().module_bounds(bounds);
/// assert_eq!(config.module_bounds.max_nesting_depth, 256);
/// assert_eq!(config.module_bounds.max_locals, ModuleBounds::DEFAULT.max_locals);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct ModuleBounds {
    /// Most blocks, loops, ifs and trys open at once in one function.
    pub max_nesting_depth: u32,
    /// Most bytes of one function body (its locals and code).
    pub max_function_size: u32,
    /// Most parameters and locals of one function, together.
    pub max_locals: u32,
    /// Most targets of one `br_table`, its default not counted.
    pub max_br_table_targets: u32,
    /// Most blocks, loops, ifs and trys with parameters or results in one function.
    pub max_result_blocks: u32,
    /// Most loops in one function.
    pub max_loops: u32,
    /// Most functions of a module, imported and defined.
    pub max_functions: u32,
}

impl ModuleBounds {
    /// The defaults: see the table on [`ModuleBounds`].
    pub const DEFAULT: ModuleBounds = ModuleBounds {
        max_nesting_depth: 2_048,
        max_function_size: 7_654_321,
        max_locals: 30_000,
        max_br_table_targets: 65_520,
        max_result_blocks: 4_096,
        max_loops: 1_024,
        max_functions: 250_000,
    };

    /// No bound at all: every module goes to the engine as it is. For modules
    /// from a trusted source only; the engines' own limits still apply.
    pub const UNBOUNDED: ModuleBounds = ModuleBounds {
        max_nesting_depth: u32::MAX,
        max_function_size: u32::MAX,
        max_locals: u32::MAX,
        max_br_table_targets: u32::MAX,
        max_result_blocks: u32::MAX,
        max_loops: u32::MAX,
        max_functions: u32::MAX,
    };

    /// Sets [`max_nesting_depth`](Self::max_nesting_depth).
    #[must_use]
    pub const fn max_nesting_depth(mut self, depth: u32) -> Self {
        self.max_nesting_depth = depth;
        self
    }

    /// Sets [`max_function_size`](Self::max_function_size).
    #[must_use]
    pub const fn max_function_size(mut self, bytes: u32) -> Self {
        self.max_function_size = bytes;
        self
    }

    /// Sets [`max_locals`](Self::max_locals).
    #[must_use]
    pub const fn max_locals(mut self, locals: u32) -> Self {
        self.max_locals = locals;
        self
    }

    /// Sets [`max_br_table_targets`](Self::max_br_table_targets).
    #[must_use]
    pub const fn max_br_table_targets(mut self, targets: u32) -> Self {
        self.max_br_table_targets = targets;
        self
    }

    /// Sets [`max_result_blocks`](Self::max_result_blocks).
    #[must_use]
    pub const fn max_result_blocks(mut self, blocks: u32) -> Self {
        self.max_result_blocks = blocks;
        self
    }

    /// Sets [`max_loops`](Self::max_loops).
    #[must_use]
    pub const fn max_loops(mut self, loops: u32) -> Self {
        self.max_loops = loops;
        self
    }

    /// Sets [`max_functions`](Self::max_functions).
    #[must_use]
    pub const fn max_functions(mut self, functions: u32) -> Self {
        self.max_functions = functions;
        self
    }
}

impl Default for ModuleBounds {
    fn default() -> Self {
        ModuleBounds::DEFAULT
    }
}

/// What an engine implements: WebAssembly proposals and runtime services.
///
/// Engines report this truthfully: a `false` here means a module that needs the
/// feature fails with [`WasmError::Unsupported`](crate::WasmError::Unsupported).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct WasmFeatures {
    /// WASI preview 1.
    pub wasi: bool,
    /// Multi-value returns.
    pub multi_value: bool,
    /// Bulk memory operations.
    pub bulk_memory: bool,
    /// Reference types.
    pub reference_types: bool,
    /// Fixed-width SIMD.
    pub simd: bool,
    /// Relaxed SIMD.
    pub relaxed_simd: bool,
    /// Threads and shared memory.
    pub threads: bool,
    /// Tail calls.
    pub tail_calls: bool,
    /// Exception handling.
    pub exceptions: bool,
    /// 64-bit memories.
    pub memory64: bool,
    /// Several memories per module.
    pub multi_memory: bool,
    /// Extended constant expressions.
    pub extended_const: bool,
    /// Garbage-collected types.
    pub gc: bool,
    /// Typed function references.
    pub function_references: bool,
    /// Fuel metering.
    pub fuel: bool,
    /// Per-call wall-clock deadlines.
    pub deadlines: bool,
    /// Compiling ahead of time to bytes that load back.
    pub precompile: bool,
}

impl WasmFeatures {
    /// Each feature by name, for display.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, bool)> {
        [
            ("wasi", self.wasi),
            ("multi_value", self.multi_value),
            ("bulk_memory", self.bulk_memory),
            ("reference_types", self.reference_types),
            ("simd", self.simd),
            ("relaxed_simd", self.relaxed_simd),
            ("threads", self.threads),
            ("tail_calls", self.tail_calls),
            ("exceptions", self.exceptions),
            ("memory64", self.memory64),
            ("multi_memory", self.multi_memory),
            ("extended_const", self.extended_const),
            ("gc", self.gc),
            ("function_references", self.function_references),
            ("fuel", self.fuel),
            ("deadlines", self.deadlines),
            ("precompile", self.precompile),
        ]
        .into_iter()
    }
}

/// Limits of one instance, tighter than its runtime's: what a host that shares
/// one runtime between plugins with different budgets gives each
/// ([`WasmRuntime::instantiate_with_limits`](crate::WasmRuntime::instantiate_with_limits)).
/// They are in force from the start, so they bound the start function (and a
/// WASI reactor's `_initialize`) too. Each only tightens the runtime's limit:
/// the smaller of the two applies.
///
/// ```
/// use plugin_system_core::InstanceLimits;
/// use std::time::Duration;
///
/// let limits = InstanceLimits::new()
///     .timeout(Duration::from_secs(5))
///     .max_memory_bytes(50 << 20);
/// assert_eq!(limits.max_memory_bytes, Some(50 << 20));
/// assert!(!limits.is_none());
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct InstanceLimits {
    /// Deadline of every call, as [`WasmRuntimeConfig::timeout`].
    pub timeout: Option<Duration>,
    /// Most bytes any one memory may have, as
    /// [`WasmRuntimeConfig::max_memory_pages`] (but in bytes, rounded down to
    /// whole pages by the engines' limiters).
    pub max_memory_bytes: Option<u64>,
}

impl InstanceLimits {
    /// No limits beyond the runtime's.
    pub const fn new() -> Self {
        InstanceLimits {
            timeout: None,
            max_memory_bytes: None,
        }
    }

    /// Sets [`timeout`](Self::timeout).
    #[must_use]
    pub const fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Sets [`max_memory_bytes`](Self::max_memory_bytes).
    #[must_use]
    pub const fn max_memory_bytes(mut self, bytes: u64) -> Self {
        self.max_memory_bytes = Some(bytes);
        self
    }

    /// Whether no limit is set.
    pub const fn is_none(&self) -> bool {
        self.timeout.is_none() && self.max_memory_bytes.is_none()
    }

    /// The deadline of an instance of a runtime whose `timeout` is `runtime`:
    /// the tighter one.
    pub fn timeout_under(&self, runtime: Option<Duration>) -> Option<Duration> {
        match (runtime, self.timeout) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}
