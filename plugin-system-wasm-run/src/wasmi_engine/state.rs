//! What each store holds besides the wasm objects.

use std::collections::HashMap;

use plugin_system_core::{PAGE_SIZE, WasmRuntimeConfig, WasmValue};
use wasmi::{Memory, Store, StoreLimits, StoreLimitsBuilder};

/// Fuel a store holds when metering is off: more than any call can burn.
pub(crate) const UNMETERED_FUEL: u64 = u64::MAX;

/// The data of a [`Store`].
pub(crate) struct HostState {
    /// Memory and table limits, consulted by wasmi on every grow.
    limits: StoreLimits,
    /// `max_memory_pages`, for messages.
    pub(crate) max_memory_pages: Option<u64>,
    /// The default memory of the calling instance, which host functions see as the
    /// caller's. wasmi's `Caller` does not tell which instance calls, so the store
    /// sets this to the current instance's before every call into the guest.
    pub(crate) default_memory: Option<Memory>,
    /// Function references handed to the host; a core `FuncRef` is an index here.
    /// wasmi's `Func` has no equality, so a reference handed out twice takes two slots.
    pub(crate) funcrefs: Vec<wasmi::Func>,
    /// The `externref` object of each host value passed in, made once.
    pub(crate) externrefs: HashMap<u64, wasmi::ExternRef>,
    /// Argument buffer of host function calls, reused to avoid allocating per call.
    pub(crate) host_args: Vec<WasmValue>,
    /// Result buffer of host function calls, reused likewise.
    pub(crate) host_results: Vec<WasmValue>,
    /// The WASI world of the store, made by the first instance that imports WASI.
    #[cfg(feature = "wasi")]
    pub(crate) wasi: Option<wasmtime_wasi::p1::WasiP1Ctx>,
}

#[cfg(feature = "wasi")]
impl HostState {
    /// The store's WASI world.
    pub(crate) fn wasi_ctx(&mut self) -> &mut wasmtime_wasi::p1::WasiP1Ctx {
        crate::wasi::world(&mut self.wasi)
    }
}

/// A store with the configured limits and the initial fuel: `fuel_limit`, or
/// [`UNMETERED_FUEL`] when metering is off.
pub(crate) fn new_store(engine: &wasmi::Engine, config: &WasmRuntimeConfig) -> Store<HostState> {
    let mut limits = StoreLimitsBuilder::new();
    if let Some(pages) = config.max_memory_pages {
        let bytes = pages.saturating_mul(PAGE_SIZE);
        limits = limits.memory_size(usize::try_from(bytes).unwrap_or(usize::MAX));
    }
    if let Some(elements) = config.max_table_elements {
        limits = limits.table_elements(usize::try_from(elements).unwrap_or(usize::MAX));
    }
    let state = HostState {
        limits: limits.build(),
        max_memory_pages: config.max_memory_pages,
        default_memory: None,
        funcrefs: Vec::new(),
        externrefs: HashMap::new(),
        host_args: Vec::new(),
        host_results: Vec::new(),
        #[cfg(feature = "wasi")]
        wasi: None,
    };
    let mut store = Store::new(engine, state);
    store.limiter(|state| &mut state.limits);
    set_fuel(&mut store, config.fuel_limit.unwrap_or(UNMETERED_FUEL));
    store
}

/// The fuel left in the store.
pub(crate) fn fuel_left(store: &Store<HostState>) -> u64 {
    // Cannot fail: every engine of this runtime has fuel metering on.
    store.get_fuel().unwrap_or(0)
}

/// Sets the fuel left in the store.
pub(crate) fn set_fuel(store: &mut Store<HostState>, fuel: u64) {
    // Cannot fail: every engine of this runtime has fuel metering on.
    let outcome = store.set_fuel(fuel);
    debug_assert!(outcome.is_ok(), "fuel metering is always on");
}
