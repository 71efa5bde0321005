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
//! # WASI
//!
//! A WASI guest gets the world given with
//! [`Imports::wasi`](plugin_system_core::Imports::wasi): its arguments,
//! environment, preopened folders, and where its stdin, stdout and stderr go.
//! That is the one switch WASI needs (`WasmRuntimeConfig::enable_wasi` only
//! serves the empty world to a module given none). A reactor's `_initialize`
//! has run when `instantiate` returns.
//!
//! ```
//! use plugin_system_core::{Imports, OutputBuffer, WasiConfig, WasiOutput, WasmRuntimeConfig, wasi};
//! use plugin_system_wasm_run::{EngineKind, new_runtime};
//!
//! let runtime = new_runtime(EngineKind::Auto, WasmRuntimeConfig::default())?;
//! let module = runtime.load_module(br#"(module
//!     (import "wasi_snapshot_preview1" "fd_write"
//!         (func $fd_write (param i32 i32 i32 i32) (result i32)))
//!     (memory (export "memory") 1)
//!     (data (i32.const 8) "\10\00\00\00\06\00\00\00hello\n")
//!     (func (export "_start")
//!         (drop (call $fd_write (i32.const 1) (i32.const 8) (i32.const 1) (i32.const 0)))))"#)?;
//! let stdout = OutputBuffer::new(1 << 16);
//! let imports = Imports::new().with_wasi(WasiConfig::new().stdout(WasiOutput::Capture(stdout.clone())));
//! let mut instance = runtime.instantiate(&module, &imports)?;
//! assert_eq!(wasi::run_command(&mut *instance)?, 0);
//! assert_eq!(stdout.to_string_lossy(), "hello\n");
//! # Ok::<(), plugin_system_core::WasmError>(())
//! ```
//!
//! # Guest memory
//!
//! Guests pass addresses as `i32`s; [`GuestPtr`](plugin_system_core::GuestPtr)
//! keeps them unsigned. C strings are read with `WasmMemory::read_cstr`, a
//! `(ptr << 32) | len` result with `read_slice`, and a
//! [`GuestAllocator`](plugin_system_core::GuestAllocator) writes the host's
//! arguments into buffers of the guest's own heap.
//!
//! ```
//! use plugin_system_core::{GuestAllocator, GuestPtr, GuestSlice, WasmRuntimeConfig};
//! use plugin_system_wasm_run::{EngineKind, new_runtime};
//!
//! let runtime = new_runtime(EngineKind::Auto, WasmRuntimeConfig::default())?;
//! let module = runtime.load_module(br#"(module
//!     (memory (export "memory") 1)
//!     (global $next (mut i32) (i32.const 1024))
//!     (data (i32.const 16) "a greeting\00")
//!     (func (export "malloc") (param $n i32) (result i32) (local $p i32)
//!         (local.set $p (global.get $next))
//!         (global.set $next (i32.add (local.get $p) (local.get $n)))
//!         (local.get $p))
//!     (func (export "free") (param i32))
//!     ;; char *greeting(void)
//!     (func (export "greeting") (result i32) (i32.const 16))
//!     ;; (ptr << 32) | len of the bytes at ptr, as plugin exports return
//!     (func (export "echo") (param $p i32) (param $n i32) (result i64)
//!         (i64.or (i64.shl (i64.extend_i32_u (local.get $p)) (i64.const 32))
//!                 (i64.extend_i32_u (local.get $n)))))"#)?;
//! let mut instance = runtime.instantiate(&module, &Default::default())?;
//!
//! let greeting = instance.typed::<(), GuestPtr>("greeting")?.call(&mut *instance, ())?;
//! let memory = instance.memory().expect("a memory");
//! assert_eq!(memory.read_cstr(greeting, 4096)?, "a greeting");
//!
//! let heap = GuestAllocator::c(&mut *instance)?;
//! let input = heap.write(&mut *instance, b"bytes in")?;
//! let packed = instance
//!     .typed::<(GuestPtr, i32), i64>("echo")?
//!     .call(&mut *instance, (input.ptr, input.len as i32))?;
//! let memory = instance.memory().expect("a memory");
//! assert_eq!(memory.read_slice(GuestSlice::unpack(packed))?, b"bytes in");
//! heap.free(&mut *instance, input.ptr, Some(input.len))?;
//! # Ok::<(), plugin_system_core::WasmError>(())
//! ```
//!
//! # A cache of compiled modules
//!
//! [`ModuleCache`] keeps what wasmtime compiled in a directory, so that the next
//! load of the same module with the same settings, in any process, skips
//! compiling: `ModuleCache::open(dir)?.new_runtime(kind, config)?` (or
//! [`ModuleCache::wrap`] around a runtime of your own). Entries are sealed with
//! a key of the cache's, bounded in size (least recently used evicted first),
//! safe to fill from several processes at once, and never a reason for a load
//! to fail. On wasmi, which compiles nothing ahead of time, it passes through.
//! See [`ModuleCache`] for what names an entry.
//!
//! # Features
//! - `wasmtime` (default): the wasmtime engine.
//! - `wasmi` (default): the wasmi engine.
//! - `web` (off): `WebRuntime`, the browser's own WebAssembly behind the same
//!   traits, for hosts built for `wasm32-unknown-unknown` with wasm-bindgen
//!   (nothing on other targets). See its docs for the limits it holds.
//!
//! With only `wasmi`, the build contains no compiler, for targets without a JIT.

// The rules in `shared.rs` and `deadline.rs` are written once for the native
// engines; a build with the web engine alone uses only some of them.
#![cfg_attr(
    not(any(feature = "wasmtime", feature = "wasmi")),
    allow(
        dead_code,
        reason = "rules shared with the native engines, not built in"
    )
)]

use std::{fmt, str::FromStr, sync::Arc};

pub use plugin_system_core::{WasmError, WasmRuntime, WasmRuntimeConfig};

mod bounds;
// The module cache and tiering need files and threads, which a browser page
// (`wasm32-unknown-unknown`) has not.
#[cfg(not(all(target_family = "wasm", target_os = "unknown")))]
mod cache;
mod deadline;
mod module_info;
mod module_kind;
mod shared;
#[cfg(feature = "wasmi")]
mod start_export;
#[cfg(not(all(target_family = "wasm", target_os = "unknown")))]
mod tiered;
#[cfg(feature = "wasi")]
mod wasi;
#[cfg(feature = "wasmi")]
mod wasmi_engine;
#[cfg(feature = "wasmtime")]
mod wasmtime_engine;
#[cfg(all(feature = "web", target_family = "wasm", target_os = "unknown"))]
mod web_engine;

pub use bounds::{CodeShape, Peak};
#[cfg(not(all(target_family = "wasm", target_os = "unknown")))]
pub use cache::{
    CacheDirFault, CacheEntry, CacheKey, CacheStats, CachedRuntime, ModuleCache, UntrustedCacheDir,
};
pub use module_info::{Inspection, check_imports, inspect, read_module_info};
pub use module_kind::{ModuleKind, NOT_A_MODULE, module_kind};
pub use plugin_system_core::{ModuleBound, ModuleBounds};
#[cfg(not(all(target_family = "wasm", target_os = "unknown")))]
pub use tiered::{DEFAULT_COMPILE_THREADS, TieredRuntime};
#[cfg(feature = "wasmi")]
pub use wasmi_engine::WasmiRuntime;
#[cfg(feature = "wasmtime")]
pub use wasmtime_engine::WasmtimeRuntime;
#[cfg(all(feature = "web", target_family = "wasm", target_os = "unknown"))]
pub use web_engine::WebRuntime;

/// Which engine to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum EngineKind {
    /// wasmtime: compiles to native code; fastest to run, slower to start.
    Wasmtime,
    /// wasmi: interprets; starts at once, runs slower, needs no JIT.
    Wasmi,
    /// The web engine where it is built in (a browser page), else wasmtime
    /// where the target allows a JIT and it is built in, else wasmi. The
    /// environment variable `PLUGIN_SYSTEM_ENGINE` (`wasmtime`, `wasmi` or
    /// `tiered`) overrides the choice at run time.
    #[default]
    Auto,
    /// Both: a module starts on wasmi at once and moves to wasmtime when its
    /// background compile, into the default [`ModuleCache`], is done; from
    /// the cache, it starts on wasmtime ([`TieredRuntime`]).
    Tiered,
    /// The browser's own WebAssembly (`WebRuntime`): feature `web`, in a host
    /// built for `wasm32-unknown-unknown`.
    Web,
}

/// Whether this build has the web engine.
const WEB_BUILT_IN: bool = cfg!(all(
    feature = "web",
    target_family = "wasm",
    target_os = "unknown"
));

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
                if WEB_BUILT_IN {
                    EngineKind::Web
                } else if TARGET_ALLOWS_JIT && cfg!(feature = "wasmtime") {
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
            EngineKind::Auto => cfg!(any(feature = "wasmtime", feature = "wasmi")) || WEB_BUILT_IN,
            EngineKind::Tiered => {
                cfg!(all(feature = "wasmtime", feature = "wasmi")) && TARGET_ALLOWS_JIT
            }
            EngineKind::Web => WEB_BUILT_IN,
        }
    }

    /// The engines built in (tiering is a mode over two of them, not an
    /// engine of its own).
    pub fn available() -> Vec<EngineKind> {
        [EngineKind::Wasmtime, EngineKind::Wasmi, EngineKind::Web]
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
            EngineKind::Tiered => "tiered",
            EngineKind::Web => "web",
        })
    }
}

/// The error of parsing an [`EngineKind`].
#[derive(Debug, Clone, thiserror::Error)]
#[error("unknown engine `{0}`: expected wasmtime, wasmi, auto, tiered or web")]
pub struct UnknownEngine(String);

impl FromStr for EngineKind {
    type Err = UnknownEngine;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "wasmtime" => Ok(EngineKind::Wasmtime),
            "wasmi" => Ok(EngineKind::Wasmi),
            "auto" => Ok(EngineKind::Auto),
            "tiered" => Ok(EngineKind::Tiered),
            "web" => Ok(EngineKind::Web),
            _ => Err(UnknownEngine(s.to_string())),
        }
    }
}

/// Creates a runtime of the given kind. [`EngineKind::Tiered`] compiles into
/// [`ModuleCache::open_default`]'s directory.
///
/// # Errors
/// [`WasmError::Unsupported`] when the engine is not built in; an engine error
/// when the configuration cannot be honoured; [`WasmError::Io`] when the
/// tiered runtime has no usable cache directory.
pub fn new_runtime(
    kind: EngineKind,
    config: WasmRuntimeConfig,
) -> Result<Arc<dyn WasmRuntime>, WasmError> {
    match kind.resolve() {
        #[cfg(feature = "wasmtime")]
        EngineKind::Wasmtime => Ok(Arc::new(WasmtimeRuntime::new(config)?)),
        #[cfg(feature = "wasmi")]
        EngineKind::Wasmi => Ok(Arc::new(WasmiRuntime::new(config)?)),
        #[cfg(all(feature = "web", target_family = "wasm", target_os = "unknown"))]
        EngineKind::Web => Ok(Arc::new(WebRuntime::new(config)?)),
        #[cfg(not(all(target_family = "wasm", target_os = "unknown")))]
        EngineKind::Tiered => {
            let cache = ModuleCache::open_default().map_err(|source| WasmError::Io {
                path: ModuleCache::default_dir().unwrap_or_default(),
                source,
            })?;
            Ok(Arc::new(cache.new_tiered_runtime(config)?))
        }
        other => {
            // A build without the engine asked for has no use for its config.
            let _ = config;
            Err(WasmError::Unsupported {
                feature: format!("engine {other} (not built in)"),
            })
        }
    }
}
