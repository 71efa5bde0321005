//! The plugin system in one crate: every layer re-exported under a short name,
//! the items most programs need at the top level, and the `plugin-system`
//! command-line tool (`inspect` and `call` a module, `run` a WASI program, on
//! either engine).
//!
//! | module | crate | what it holds |
//! |---|---|---|
//! | [`core`] | `plugin-system-core` | the engine-neutral traits, values, types and [`WasmError`] |
//! | [`wasm`] | `plugin-system-wasm` | the plugin layer over any [`WasmRuntime`] |
//! | [`wasm_run`] | `plugin-system-wasm-run` | the engines: wasmtime (JIT) and wasmi (interpreter) |
//! | [`host`] | `plugin-system-host` | plugin lifecycle for host applications |
//!
//! ```
//! use plugin_system::{EngineKind, Imports, WasmRuntimeConfig, WasmValue, new_runtime};
//!
//! // `Auto` picks wasmtime where a JIT is allowed and built in, else wasmi.
//! let runtime = new_runtime(EngineKind::Auto, WasmRuntimeConfig::default().fuel_limit(10_000))?;
//! let module = runtime.load_module(br#"(module
//!     (func (export "add") (param i32 i32) (result i32)
//!         local.get 0 local.get 1 i32.add))"#)?;
//! let mut instance = runtime.instantiate(&module, &Imports::new())?;
//! assert_eq!(instance.call("add", &[WasmValue::I32(2), WasmValue::I32(3)])?, [WasmValue::I32(5)]);
//! # Ok::<(), plugin_system::WasmError>(())
//! ```
//!
//! The same from a shell:
//!
//! ```text
//! $ plugin-system call add.wat add 2 3
//! 5
//! $ plugin-system inspect add.wat --json
//! ```
//!
//! # Features
//! - `wasmtime` (default): the wasmtime engine.
//! - `wasmi` (default): the wasmi engine.
//! - `wasi` (default): WASI preview 1 on every engine built in.
//!
//! At least one engine must be on for [`new_runtime`] to succeed.

pub use plugin_system_core as core;
pub use plugin_system_host as host;
pub use plugin_system_wasm as wasm;
pub use plugin_system_wasm_run as wasm_run;

pub use plugin_system_core::{
    Caller, DirAccess, ExportType, ExternType, FuncType, HostError, HostFunc, ImportType, Imports,
    InstanceLimits, ModuleInfo, OutputBuffer, TrapCode, UnknownImports, ValType, ValidationReport,
    WasiConfig, WasiOutput, WasiStdin, WasmError, WasmFeatures, WasmInstance, WasmMemory,
    WasmModule, WasmRuntime, WasmRuntimeConfig, WasmValue, wasi,
};
pub use plugin_system_wasm_run::{EngineKind, new_runtime};

#[cfg(feature = "wasmi")]
pub use plugin_system_wasm_run::WasmiRuntime;
#[cfg(feature = "wasmtime")]
pub use plugin_system_wasm_run::WasmtimeRuntime;
