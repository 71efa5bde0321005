//! The engine-neutral core of the plugin system: the traits an engine implements
//! ([`WasmRuntime`], [`WasmModule`], [`WasmInstance`], [`WasmMemory`]), the values
//! and types that cross the boundary, and one error type, [`WasmError`].
//!
//! It also holds the plugin layer's data: the models a host and a plugin exchange
//! ([`PluginEvent`], [`PluginResponse`], [`PluginManifest`]) with their dynamic
//! [`Value`]s, the [`PluginPermissions`] a host grants, and the
//! [`PluginSerializer`] trait whose JSON / MessagePack / postcard implementations
//! live in `plugin-system-wasm`.
//!
//! This crate has no engine, no wire format and no async runtime, so that a third
//! party can write an engine against it alone. The engines live in
//! `plugin-system-wasm-run`.
//!
//! ```
//! use plugin_system_core::{FuncType, HostFunc, Imports, ValType, WasmValue};
//!
//! // A host function that guests import as `env.log_i32`.
//! let log = HostFunc::new(FuncType::new([ValType::I32], []), |_caller, args, _results| {
//!     assert_eq!(args[0], WasmValue::I32(42));
//!     Ok(())
//! });
//! let mut imports = Imports::new();
//! imports.func("env", "log_i32", log);
//! ```
//!
//! # Features
//! - `web` (off): the browser's monotonic clock (`performance.now()`, through
//!   wasm-bindgen) for [`Deadline`] on `wasm32-unknown-unknown`, which has no
//!   clock of its own. It changes nothing on other targets.

mod clock;
mod config;
mod deadline;
mod error;
mod guest;
mod imports;
mod instance;
mod memory;
mod module;
mod plugin;
mod runtime;
mod store;
mod types;
mod value;
pub mod wasi;

pub use clock::Instant;
pub use config::{InstanceLimits, ModuleBounds, WasmFeatures, WasmRuntimeConfig};
pub use deadline::Deadline;
pub use error::{
    BoxError, ErrorChain, ExportKind, HostError, ModuleBound, ModuleLimitError, Result, TrapCode,
    WasmError,
};
pub use guest::{GuestAllocator, GuestPtr, GuestSlice};
pub use imports::{Caller, Extern, HostFunc, Imports, UnknownImports};
pub use instance::{
    Func, InstanceId, InstanceStats, TypedFunc, WasmInstance, WasmParams, WasmResults, WasmTy,
};
pub use memory::{PAGE_SIZE, WasmMemory, checked_range};
pub use module::{ModuleInfo, NextTier, ValidationReport, WasmModule};
pub use plugin::{
    BlockingPlugin, DEFAULT_MAX_MESSAGE_SIZE, FilesystemAccessLevel, HostCall, HostFunction,
    HostFunctionError, HostFunctions, LastWords, ParseEnumError, Plugin, PluginContext,
    PluginError, PluginEvent, PluginLoadOptions, PluginManifest, PluginOrigin, PluginPermissions,
    PluginResponse, PluginRuntime, PluginRuntimeType, PluginSerializer, PluginSource, PluginUsage,
    SerializationError, SharedEvent, Timestamp, TimestampParseError, Value, ValueError, ValueMap,
    WireFormat, check_manifests_agree,
};
pub use runtime::{
    InstanceGuard, MAX_MODULE_FILE_BYTES, RuntimeCounters, RuntimeStats, WasmRuntime,
    read_module_file,
};
pub use store::{InstanceHandle, WasmStore};
pub use types::{ExportType, ExternType, FuncType, GlobalType, ImportType, MemoryType, TableType};
pub use value::{
    AnyRef, ExternRef, FuncRef, HeapType, OpaqueRef, ParseValTypeError, RefType, ValType, WasmValue,
};
pub use wasi::{DirAccess, OutputBuffer, Preopen, WasiConfig, WasiOutput, WasiStdin};

#[cfg(test)]
mod tests;
