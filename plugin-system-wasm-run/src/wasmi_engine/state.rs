//! What each store holds besides the wasm objects.

use std::collections::HashMap;

use plugin_system_core::{WasmRuntimeConfig, WasmValue};
use wasmi::{Memory, Store, StoreLimits, StoreLimitsBuilder};

use crate::shared::StoreLimitValues;

/// Fuel a store holds when metering is off: more than any call can burn.
pub(crate) const UNMETERED_FUEL: u64 = u64::MAX;

/// The data of a [`Store`].
pub(crate) struct StoreData {
    /// Memory and table limits, consulted by wasmi on every grow.
    limits: StoreLimits,
    /// The runtime's limits, which a store's own memory cap tightens.
    pub(crate) runtime_limits: StoreLimitValues,
    /// What `limits` enforces, for messages.
    pub(crate) limit_values: StoreLimitValues,
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
    /// The deadline of the call running now, for the host functions it calls.
    pub(crate) deadline: Option<plugin_system_core::Deadline>,
    /// Whether the user's fuel is metered (the engine always meters, to slice
    /// calls under a deadline).
    pub(crate) metered: bool,
    /// Fuel host functions charged beyond what the store held (a deadline
    /// slice): taken from the rest of the budget when the call resumes.
    pub(crate) fuel_debt: u64,
    /// The WASI world of the store, made by the first instance that imports WASI.
    #[cfg(feature = "wasi")]
    pub(crate) wasi: Option<crate::wasi::WasiWorld>,
}

impl StoreData {
    /// Caps the store's memories at `max_bytes` from now on, under the
    /// runtime's limit.
    pub(crate) fn set_memory_cap(&mut self, max_bytes: Option<u64>) {
        self.limit_values = self.runtime_limits.capped(max_bytes);
        self.limits = store_limits(self.limit_values);
    }
}

/// wasmi's limiter for these values.
fn store_limits(values: StoreLimitValues) -> StoreLimits {
    let mut limits = StoreLimitsBuilder::new();
    if let Some(bytes) = values.memory_bytes {
        limits = limits.memory_size(bytes);
    }
    if let Some(elements) = values.table_elements {
        limits = limits.table_elements(elements);
    }
    limits.build()
}

#[cfg(feature = "wasi")]
impl StoreData {
    /// The store's WASI world.
    pub(crate) fn wasi_world(&mut self) -> &mut crate::wasi::WasiWorld {
        crate::wasi::world(&mut self.wasi)
    }
}

/// A store with the configured limits and the initial fuel: `fuel_limit`, or
/// [`UNMETERED_FUEL`] when metering is off.
pub(crate) fn new_store(engine: &wasmi::Engine, config: &WasmRuntimeConfig) -> Store<StoreData> {
    let limit_values = StoreLimitValues::new(config);
    let state = StoreData {
        limits: store_limits(limit_values),
        runtime_limits: limit_values,
        limit_values,
        default_memory: None,
        funcrefs: Vec::new(),
        externrefs: HashMap::new(),
        host_args: Vec::new(),
        host_results: Vec::new(),
        deadline: None,
        metered: config.fuel_limit.is_some(),
        fuel_debt: 0,
        #[cfg(feature = "wasi")]
        wasi: None,
    };
    let mut store = Store::new(engine, state);
    store.limiter(|state| &mut state.limits);
    set_fuel(&mut store, config.fuel_limit.unwrap_or(UNMETERED_FUEL));
    store
}

/// The fuel left in the store.
pub(crate) fn fuel_left(store: &Store<StoreData>) -> u64 {
    // Cannot fail: every engine of this runtime has fuel metering on.
    store.get_fuel().unwrap_or(0)
}

/// Sets the fuel left in the store.
pub(crate) fn set_fuel(store: &mut Store<StoreData>, fuel: u64) {
    // Cannot fail: every engine of this runtime has fuel metering on.
    let outcome = store.set_fuel(fuel);
    debug_assert!(outcome.is_ok(), "fuel metering is always on");
}
