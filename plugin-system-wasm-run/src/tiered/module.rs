//! A module on the quick tier, and the slot its faster compilation lands in.

use std::{
    any::Any,
    sync::{Arc, OnceLock},
};

use plugin_system_core::{ModuleInfo, NextTier, ValidationReport, WasmModule};

/// Where the background compile of one module's bytes puts its result; shared
/// by every quick module loaded from those bytes while it runs.
#[derive(Default)]
pub(super) struct Slot {
    /// `None` inside: none will come to this process (the compile failed, or
    /// was handed to another).
    compiled: OnceLock<Option<Arc<dyn WasmModule>>>,
}

impl Slot {
    pub(super) fn ready(&self, module: Arc<dyn WasmModule>) {
        let _ = self.compiled.set(Some(module));
    }

    pub(super) fn fail(&self) {
        let _ = self.compiled.set(None);
    }

    pub(super) fn next_tier(&self) -> NextTier {
        match self.compiled.get() {
            None => NextTier::Pending,
            Some(None) => NextTier::Final,
            Some(Some(module)) => NextTier::Ready(Arc::clone(module)),
        }
    }
}

/// A module compiled by the quick runtime, with the slot of its faster
/// compilation: what [`TieredRuntime::load_module`](super::TieredRuntime)
/// returns while the optimizing runtime compiles.
pub(super) struct QuickModule {
    pub(super) inner: Arc<dyn WasmModule>,
    pub(super) slot: Arc<Slot>,
}

impl WasmModule for QuickModule {
    fn info(&self) -> &ModuleInfo {
        self.inner.info()
    }

    fn engine(&self) -> &'static str {
        self.inner.engine()
    }

    fn validate(&self) -> ValidationReport {
        self.inner.validate()
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn next_tier(&self) -> NextTier {
        self.slot.next_tier()
    }
}
