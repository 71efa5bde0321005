//! WASI preview 1, one implementation for both engines: wasmtime-wasi's.
//!
//! Both engines call the functions wasmtime-wasi generates, through the
//! engine-neutral wrappers of [`calls`] (deadlines, descriptor cap), from host
//! functions of their own (`wasi.rs` in each engine folder). Both build the
//! guest's world here, from the core [`WasiConfig`], so the two engines show a
//! guest the same files, clocks and streams by construction.

pub(crate) mod calls;
mod stdio;

use std::time::Duration;

use plugin_system_core::{
    DirAccess, Imports, ModuleInfo, WasiConfig, WasiOutput, WasiStdin, WasmError,
    WasmRuntimeConfig, wasi::WASI_MODULE,
};
use rand::{SeedableRng, rngs::StdRng};
use wasmtime_wasi::{
    FsPerms, HostMonotonicClock, HostWallClock, WasiCtxBuilder, p1::WasiP1Ctx,
    p2::pipe::MemoryInputPipe,
};

use self::stdio::Capture;

/// The most bytes one WASI call may copy out of guest memory, as wasmtime's
/// default `Store::hostcall_fuel`: a guest cannot make the host allocate more.
pub(crate) const HOSTCALL_FUEL: usize = 128 << 20;

/// A store's WASI world: wasmtime-wasi's context, and the descriptors the guest
/// holds against its cap ([`WasiConfig::max_open_files`]).
pub(crate) struct WasiWorld {
    pub(crate) ctx: WasiP1Ctx,
    /// Descriptors held: stdio, preopens, and what the guest opened since.
    pub(crate) open: u32,
    pub(crate) max_open: u32,
}

impl WasiWorld {
    fn new(config: &WasiConfig) -> Result<Self, WasmError> {
        Ok(WasiWorld {
            ctx: build_ctx(config)?,
            // wasmtime-wasi gives every guest descriptors 0-2, then the preopens.
            open: 3u32.saturating_add(u32::try_from(config.preopens.len()).unwrap_or(u32::MAX)),
            max_open: config
                .max_open_files
                .unwrap_or(plugin_system_core::wasi::DEFAULT_MAX_OPEN_FILES),
        })
    }
}

/// Whether the module imports anything from WASI preview 1.
pub(crate) fn imports_wasi(info: &ModuleInfo) -> bool {
    info.imports.iter().any(|i| i.module == WASI_MODULE)
}

/// Checks that WASI is served when the module asks for it.
///
/// # Errors
/// [`WasmError::Link`] when the module imports WASI functions nobody defines.
fn check_enabled(
    config: &WasmRuntimeConfig,
    imports: &Imports,
    info: &ModuleInfo,
) -> Result<(), WasmError> {
    if crate::shared::wasi_served(config, imports) {
        return Ok(());
    }
    let wanted = info
        .imports
        .iter()
        .any(|i| i.module == WASI_MODULE && imports.get(&i.module, &i.name).is_none());
    if wanted {
        return Err(WasmError::Link {
            message: format!(
                "the module imports `{WASI_MODULE}`, but it was given no WASI world \
                 (Imports::wasi) and this runtime serves none by default \
                 (WasmRuntimeConfig::enable_wasi)"
            ),
        });
    }
    Ok(())
}

/// Readies a store's WASI world before an instance is linked into it: checks that
/// WASI may be offered, and builds the world when the first instance that uses
/// WASI arrives (later instances of the store share it).
///
/// # Errors
/// As [`check_enabled`] and [`build_ctx`].
pub(crate) fn prepare(
    world: &mut Option<WasiWorld>,
    config: &WasmRuntimeConfig,
    imports: &Imports,
    info: &ModuleInfo,
) -> Result<(), WasmError> {
    check_enabled(config, imports, info)?;
    if world.is_none() && (imports.wasi_config().is_some() || imports_wasi(info)) {
        *world = Some(match imports.wasi_config() {
            Some(given) => WasiWorld::new(given)?,
            None => WasiWorld::new(&WasiConfig::new())?,
        });
    }
    Ok(())
}

/// The store's world, for a WASI call. [`prepare`] set it before any instance
/// that imports WASI was linked; the empty world stands in should that not hold.
pub(crate) fn world(world: &mut Option<WasiWorld>) -> &mut WasiWorld {
    world.get_or_insert_with(|| WasiWorld {
        ctx: WasiCtxBuilder::new().build_p1(),
        open: 3,
        max_open: plugin_system_core::wasi::DEFAULT_MAX_OPEN_FILES,
    })
}

/// The guest's world as wasmtime-wasi holds it.
///
/// # Errors
/// [`WasmError::Io`] when a preopened directory cannot be opened.
fn build_ctx(config: &WasiConfig) -> Result<WasiP1Ctx, WasmError> {
    let mut builder = WasiCtxBuilder::new();
    builder.envs(&environment(config));
    builder.args(&config.args);
    for preopen in &config.preopens {
        let perms = match preopen.access {
            DirAccess::ReadOnly => FsPerms::ReadOnly,
            DirAccess::ReadWrite => FsPerms::ReadWrite,
        };
        // Check first: wasmtime-wasi's error does not keep the io::Error.
        match std::fs::metadata(&preopen.host) {
            Ok(meta) if meta.is_dir() => {}
            Ok(_) => {
                return Err(WasmError::Io {
                    path: preopen.host.clone(),
                    source: std::io::Error::new(
                        std::io::ErrorKind::NotADirectory,
                        "a preopen must be a directory",
                    ),
                });
            }
            Err(source) => {
                return Err(WasmError::Io {
                    path: preopen.host.clone(),
                    source,
                });
            }
        }
        builder
            .preopened_dir(&preopen.host, &preopen.guest, perms)
            .map_err(|e| WasmError::Io {
                path: preopen.host.clone(),
                source: std::io::Error::other(format!("{e:#}")),
            })?;
    }
    match &config.stdin {
        WasiStdin::Closed => {}
        WasiStdin::Bytes(bytes) => {
            builder.stdin(MemoryInputPipe::new(bytes.to_vec()));
        }
        WasiStdin::Inherit => {
            builder.inherit_stdin();
        }
    }
    match &config.stdout {
        WasiOutput::Discard => {}
        WasiOutput::Inherit => {
            builder.inherit_stdout();
        }
        WasiOutput::Capture(buffer) => {
            builder.stdout(Capture(buffer.clone()));
        }
    }
    match &config.stderr {
        WasiOutput::Discard => {}
        WasiOutput::Inherit => {
            builder.inherit_stderr();
        }
        WasiOutput::Capture(buffer) => {
            builder.stderr(Capture(buffer.clone()));
        }
    }
    if let Some(seed) = config.deterministic {
        builder
            .wall_clock(FixedWallClock)
            .monotonic_clock(SteppingClock::default())
            .secure_random(StdRng::seed_from_u64(seed))
            .insecure_random(StdRng::seed_from_u64(seed.wrapping_add(1)))
            .insecure_random_seed(u128::from(seed));
    }
    Ok(builder.build_p1())
}

/// The guest's environment: the host's when inherited, then the given variables,
/// each name once with its last value (wasmtime-wasi's builder keeps duplicates,
/// and a guest's `getenv` would see the first).
///
/// Inherited variables whose name or value is not UTF-8 are left out: the guest's
/// environment is UTF-8, and wasmtime-wasi's own `inherit_env` panics on them.
fn environment(config: &WasiConfig) -> Vec<(String, String)> {
    let inherited = config
        .inherit_env
        .then(std::env::vars_os)
        .into_iter()
        .flatten()
        .filter_map(|(key, value)| Some((key.into_string().ok()?, value.into_string().ok()?)));
    last_wins(inherited.chain(config.env.iter().cloned()))
}

/// `vars` with each name once, in the order names first appear, with the value
/// given last.
fn last_wins(vars: impl IntoIterator<Item = (String, String)>) -> Vec<(String, String)> {
    let mut merged: Vec<(String, String)> = Vec::new();
    let mut index = std::collections::HashMap::new();
    for (key, value) in vars {
        match index.get(&key) {
            Some(&i) => merged[i] = (key, value),
            None => {
                index.insert(key.clone(), merged.len());
                merged.push((key, value));
            }
        }
    }
    merged
}

/// The exit code a WASI call's error carries, when it is `proc_exit`.
pub(crate) fn exit_code(error: &wiggle::error::Error) -> Option<i32> {
    error
        .downcast_ref::<wasmtime_wasi::I32Exit>()
        .map(|exit| exit.0)
}

/// A wall clock that stands still at the Unix epoch.
struct FixedWallClock;

impl HostWallClock for FixedWallClock {
    fn resolution(&self) -> Duration {
        Duration::from_nanos(1)
    }

    fn now(&self) -> Duration {
        Duration::ZERO
    }
}

/// A monotonic clock that advances a fixed step on every reading, so that loops
/// waiting for time to pass still end, the same way on every run.
#[derive(Default)]
struct SteppingClock {
    nanos: std::sync::atomic::AtomicU64,
}

/// How far [`SteppingClock`] advances per reading.
const CLOCK_STEP: u64 = 1_000_000;

impl HostMonotonicClock for SteppingClock {
    fn resolution(&self) -> u64 {
        CLOCK_STEP
    }

    fn now(&self) -> u64 {
        self.nanos
            .fetch_add(CLOCK_STEP, std::sync::atomic::Ordering::Relaxed)
    }
}
