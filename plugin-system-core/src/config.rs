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
    /// Offer WASI preview 1 to modules that import it.
    pub enable_wasi: bool,
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
