//! A compiled module and what can be known about it without running it.

use std::{any::Any, sync::Arc};

use crate::types::{ExportType, ExternType, ImportType, MemoryType, TableType};

/// What a module declares, read once when it is loaded. The same on every engine.
#[derive(Debug, Clone, Default)]
pub struct ModuleInfo {
    /// Size of the binary in bytes.
    pub size: usize,
    /// SHA-256 of the binary.
    pub sha256: [u8; 32],
    /// The binary format version from the header (1 for core modules).
    pub binary_version: u32,
    /// Imports, in order.
    pub imports: Vec<ImportType>,
    /// Exports, in order.
    pub exports: Vec<ExportType>,
    /// Memories the module defines itself (not imported ones).
    pub memories: Vec<MemoryType>,
    /// Tables the module defines itself.
    pub tables: Vec<TableType>,
    /// Custom sections by name, in order (a name may repeat).
    pub custom_sections: Vec<(String, Vec<u8>)>,
    /// Whether the module has a start function.
    pub has_start: bool,
}

impl ModuleInfo {
    /// The type of export `name`, if there is one.
    pub fn export(&self, name: &str) -> Option<&ExternType> {
        self.exports.iter().find(|e| e.name == name).map(|e| &e.ty)
    }

    /// The first custom section called `name`.
    pub fn custom_section(&self, name: &str) -> Option<&[u8]> {
        self.custom_sections
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, d)| d.as_slice())
    }
}

/// Findings of [`WasmModule::validate`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ValidationReport {
    /// Problems that stop the module from running under this configuration.
    pub errors: Vec<String>,
    /// Things that may surprise a host but do not stop the module.
    pub warnings: Vec<String>,
}

impl ValidationReport {
    /// Whether there are no errors.
    pub fn is_valid(&self) -> bool {
        self.errors.is_empty()
    }
}

/// Whether a faster compilation of a module is on its way
/// ([`WasmModule::next_tier`]).
#[derive(Clone)]
pub enum NextTier {
    /// None will come: the module is as fast as it gets, or the faster compile
    /// failed.
    Final,
    /// A faster engine is compiling the module.
    Pending,
    /// The faster compilation, ready to be instantiated by the same runtime.
    Ready(Arc<dyn WasmModule>),
}

impl std::fmt::Debug for NextTier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NextTier::Final => f.write_str("Final"),
            NextTier::Pending => f.write_str("Pending"),
            NextTier::Ready(module) => write!(f, "Ready({})", module.engine()),
        }
    }
}

/// A module compiled by one engine, ready to be instantiated any number of times.
///
/// Cheap to share: engines hand it out as `Arc<dyn WasmModule>`.
pub trait WasmModule: Send + Sync + 'static {
    /// What the module declares.
    fn info(&self) -> &ModuleInfo;

    /// The name of the engine that compiled it.
    fn engine(&self) -> &'static str;

    /// Checks the module against the engine's configuration and features: errors
    /// for what would stop it (a minimum memory over the limit), warnings for what
    /// may surprise (no exported memory).
    fn validate(&self) -> ValidationReport;

    /// The engine's own type, for the engine to downcast.
    fn as_any(&self) -> &dyn Any;

    /// A faster compilation of the same bytes, for a runtime that starts
    /// modules on a quick tier (an interpreter) while a faster one (a JIT)
    /// compiles them. An instance of this module may be replaced by one of the
    /// [`Ready`](NextTier::Ready) module, made by the same runtime, when its
    /// state allows. [`Final`](NextTier::Final) unless the runtime tiers.
    fn next_tier(&self) -> NextTier {
        NextTier::Final
    }

    /// Size of the binary in bytes.
    fn size(&self) -> usize {
        self.info().size
    }

    /// SHA-256 of the binary.
    fn hash(&self) -> [u8; 32] {
        self.info().sha256
    }

    /// SHA-256 of the binary, as lowercase hex.
    fn hash_hex(&self) -> String {
        hex::encode(self.info().sha256)
    }

    /// The binary format version.
    fn binary_version(&self) -> u32 {
        self.info().binary_version
    }

    /// The imports, with their types.
    fn imports(&self) -> &[ImportType] {
        &self.info().imports
    }

    /// The exports, with their types.
    fn exports(&self) -> &[ExportType] {
        &self.info().exports
    }

    /// The type of export `name`, if there is one.
    fn export(&self, name: &str) -> Option<&ExternType> {
        self.info().export(name)
    }

    /// Whether the module exports `name`.
    fn has_export(&self, name: &str) -> bool {
        self.export(name).is_some()
    }

    /// The first custom section called `name`.
    fn custom_section(&self, name: &str) -> Option<&[u8]> {
        self.info().custom_section(name)
    }

    /// Names of the custom sections, in order.
    fn custom_section_names(&self) -> Vec<&str> {
        self.info()
            .custom_sections
            .iter()
            .map(|(n, _)| n.as_str())
            .collect()
    }
}

impl std::fmt::Debug for dyn WasmModule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WasmModule")
            .field("engine", &self.engine())
            .field("size", &self.size())
            .field("sha256", &self.hash_hex())
            .finish()
    }
}
