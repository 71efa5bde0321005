//! What each wasmtime store holds besides the wasm objects.

use wasmtime::{Func, StoreLimits, StoreLimitsBuilder};

use crate::shared::StoreLimitValues;

/// wasmtime's limiter for these values.
pub(super) fn store_limits(values: StoreLimitValues) -> StoreLimits {
    let mut limits = StoreLimitsBuilder::new();
    if let Some(bytes) = values.memory_bytes {
        limits = limits.memory_size(bytes);
    }
    if let Some(elements) = values.table_elements {
        limits = limits.table_elements(elements);
    }
    limits.build()
}

/// What each store holds besides the instance.
pub(crate) struct StoreData {
    pub(super) limits: StoreLimits,
    /// The runtime's limits, which a store's own memory cap tightens.
    pub(super) runtime_limits: StoreLimitValues,
    /// What `limits` enforces.
    pub(super) limit_values: StoreLimitValues,
    /// Functions handed to the host as `funcref`s; a core `FuncRef` indexes here.
    pub(super) funcs: Vec<Func>,
    /// The deadline of the call running now, for the host functions it calls.
    pub(super) deadline: Option<plugin_system_core::Deadline>,
    /// The WASI world of the store, made by the first instance that imports WASI.
    #[cfg(feature = "wasi")]
    pub(super) wasi: Option<crate::wasi::WasiWorld>,
}

#[cfg(feature = "wasi")]
impl StoreData {
    /// The store's WASI world.
    pub(super) fn wasi_world(&mut self) -> &mut crate::wasi::WasiWorld {
        crate::wasi::world(&mut self.wasi)
    }
}
