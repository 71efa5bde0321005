//! The engines of the plugin system: [`WasmtimeRuntime`] (Cranelift JIT, for
//! desktops) and [`WasmiRuntime`] (an interpreter, for platforms that forbid a
//! JIT and for instant start-up), both behind the [`WasmRuntime`] trait of
//! `plugin-system-core`, with the same observable behaviour and the same limits.
//!
//! ```
//! use plugin_system_core::{WasmRuntimeConfig, WasmValue};
//! use plugin_system_wasm_run::{EngineKind, new_runtime};
//!
//! let runtime = new_runtime(EngineKind::Auto, WasmRuntimeConfig::default().fuel_limit(10_000))?;
//! let module = runtime.load_module(br#"(module
//!     (func (export "add") (param i32 i32) (result i32)
//!         local.get 0 local.get 1 i32.add))"#)?;
//! let mut instance = runtime.instantiate(&module, &Default::default())?;
//! assert_eq!(instance.call("add", &[WasmValue::I32(2), WasmValue::I32(3)])?, [WasmValue::I32(5)]);
//! # Ok::<(), plugin_system_core::WasmError>(())
//! ```
//!
//! # Features
//! - `wasmtime` (default): the wasmtime engine.
//! - `wasmi` (default): the wasmi engine.
//!
//! With only `wasmi`, the build contains no compiler, for targets without a JIT.

use std::{fmt, str::FromStr, sync::Arc};

pub use plugin_system_core::{WasmError, WasmRuntime, WasmRuntimeConfig};

mod bounds;
mod deadline;
mod module_info;
mod shared;
#[cfg(feature = "wasmi")]
mod start_export;
#[cfg(feature = "wasi")]
mod wasi;
#[cfg(feature = "wasmi")]
mod wasmi_engine;
#[cfg(feature = "wasmtime")]
mod wasmtime_engine;

pub use bounds::{CodeShape, Peak};
pub use module_info::{Inspection, inspect};
pub use plugin_system_core::{ModuleBound, ModuleBounds};
#[cfg(feature = "wasmi")]
pub use wasmi_engine::WasmiRuntime;
#[cfg(feature = "wasmtime")]
pub use wasmtime_engine::WasmtimeRuntime;

/// Which engine to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum EngineKind {
    /// wasmtime: compiles to native code; fastest to run, slower to start.
    Wasmtime,
    /// wasmi: interprets; starts at once, runs slower, needs no JIT.
    Wasmi,
    /// wasmtime where the target allows a JIT and it is built in, else wasmi.
    /// The environment variable `PLUGIN_SYSTEM_ENGINE` (`wasmtime` or `wasmi`)
    /// overrides the choice at run time.
    #[default]
    Auto,
}

/// Whether the target lets a process map executable memory (Apple's mobile
/// platforms and wasm hosts do not).
const TARGET_ALLOWS_JIT: bool = !cfg!(any(
    target_os = "ios",
    target_os = "tvos",
    target_os = "watchos",
    target_os = "visionos",
    target_family = "wasm"
));

impl EngineKind {
    /// The engine that will run: `Auto` resolved, the others unchanged.
    pub fn resolve(self) -> EngineKind {
        match self {
            EngineKind::Auto => {
                if let Ok(name) = std::env::var("PLUGIN_SYSTEM_ENGINE")
                    && let Ok(kind) = name.parse::<EngineKind>()
                    && kind != EngineKind::Auto
                    && kind.is_available()
                {
                    return kind;
                }
                if TARGET_ALLOWS_JIT && cfg!(feature = "wasmtime") {
                    EngineKind::Wasmtime
                } else {
                    EngineKind::Wasmi
                }
            }
            other => other,
        }
    }

    /// Whether this build contains the engine.
    pub fn is_available(self) -> bool {
        match self {
            EngineKind::Wasmtime => cfg!(feature = "wasmtime"),
            EngineKind::Wasmi => cfg!(feature = "wasmi"),
            EngineKind::Auto => cfg!(any(feature = "wasmtime", feature = "wasmi")),
        }
    }

    /// The engines built in.
    pub fn available() -> Vec<EngineKind> {
        [EngineKind::Wasmtime, EngineKind::Wasmi]
            .into_iter()
            .filter(|k| k.is_available())
            .collect()
    }
}

impl fmt::Display for EngineKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            EngineKind::Wasmtime => "wasmtime",
            EngineKind::Wasmi => "wasmi",
            EngineKind::Auto => "auto",
        })
    }
}

/// The error of parsing an [`EngineKind`].
#[derive(Debug, Clone, thiserror::Error)]
#[error("unknown engine `{0}`: expected wasmtime, wasmi or auto")]
pub struct UnknownEngine(String);

impl FromStr for EngineKind {
    type Err = UnknownEngine;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "wasmtime" => Ok(EngineKind::Wasmtime),
            "wasmi" => Ok(EngineKind::Wasmi),
            "auto" => Ok(EngineKind::Auto),
            _ => Err(UnknownEngine(s.to_string())),
        }
    }
}

/// Creates a runtime of the given kind.
///
/// # Errors
/// [`WasmError::Unsupported`] when the engine is not built in; an engine error
/// when the configuration cannot be honoured.
pub fn new_runtime(
    kind: EngineKind,
    config: WasmRuntimeConfig,
) -> Result<Arc<dyn WasmRuntime>, WasmError> {
    match kind.resolve() {
        #[cfg(feature = "wasmtime")]
        EngineKind::Wasmtime => Ok(Arc::new(WasmtimeRuntime::new(config)?)),
        #[cfg(feature = "wasmi")]
        EngineKind::Wasmi => Ok(Arc::new(WasmiRuntime::new(config)?)),
        other => Err(WasmError::Unsupported {
            feature: format!("engine {other} (not built in)"),
        }),
    }
}
