//! A store that holds several instances, so that they can share memories,
//! tables, globals and functions.

use std::sync::Arc;

use crate::{
    error::{Result, WasmError},
    imports::Imports,
    instance::WasmInstance,
    module::WasmModule,
};

/// The place of an instance in its [`WasmStore`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct InstanceHandle(usize);

impl InstanceHandle {
    /// The handle of the `index`-th instance of a store. Only engines need this.
    pub fn from_index(index: usize) -> Self {
        InstanceHandle(index)
    }

    /// The index of the instance in its store.
    pub fn index(self) -> usize {
        self.0
    }

    /// The index, when a store of `len` instances could have given this handle out.
    ///
    /// # Errors
    /// [`WasmError::InstanceNotFound`] otherwise.
    pub fn checked_index(self, len: usize) -> Result<usize> {
        if self.0 < len {
            Ok(self.0)
        } else {
            Err(WasmError::InstanceNotFound { index: self.0 })
        }
    }
}

/// Several instances in one store: a later instance may import what an earlier
/// one exports ([`Extern::Export`](crate::Extern::Export)), memories, tables and
/// globals included, as WebAssembly's linking allows.
///
/// The instances of a store share its fuel, its deadline and its limits, and
/// live as long as the store. A plugin host mostly wants one instance per store,
/// which is what [`WasmRuntime::instantiate`](crate::WasmRuntime::instantiate)
/// gives; a store of several is for modules built to be linked together.
pub trait WasmStore: Send {
    /// Instantiates `module` in this store and runs its start function.
    ///
    /// # Errors
    /// As [`WasmRuntime::instantiate`](crate::WasmRuntime::instantiate); an
    /// [`Extern::Export`](crate::Extern::Export) of a missing instance or export is
    /// a [`WasmError::Link`](crate::WasmError::Link). When the start function
    /// fails, what it did to imported memories and tables stays done.
    fn instantiate(
        &mut self,
        module: &Arc<dyn WasmModule>,
        imports: &Imports,
    ) -> Result<InstanceHandle>;

    /// The instance at `handle`, to call and inspect.
    ///
    /// # Errors
    /// [`WasmError::ExportNotFound`](crate::WasmError::ExportNotFound) with kind
    /// `instance` for a handle this store did not give out.
    fn instance(&mut self, handle: InstanceHandle) -> Result<&mut dyn WasmInstance>;
}
