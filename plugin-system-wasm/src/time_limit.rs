//! How long a plugin may run, as its engine can keep it: a wall-clock deadline
//! where the engine can interrupt a call, else fuel alone.
//!
//! The web engine (the browser's own WebAssembly) cannot interrupt
//! synchronous guest code on the page's thread, and says so: its
//! [`WasmFeatures::deadlines`](plugin_system_core::WasmFeatures::deadlines) is
//! `false` and it refuses timeouts. Dropping the plugin's
//! `max_execution_time` there in silence would let a host believe a plugin is
//! bounded when nothing stops it; refusing every plugin would leave the web
//! without plugins. So on such an engine a plugin loads only when the engine
//! meters fuel, which then alone stops a looping plugin, and the plugin says
//! that its time limit is not enforced ([`WasmPlugin::time_limit`]).
//!
//! [`WasmPlugin::time_limit`]: crate::WasmPlugin::time_limit

use std::time::Duration;

use plugin_system_core::{PluginError, WasmError, WasmRuntime};

/// What bounds each exchange of a plugin with its guest (an event, the
/// manifest, initialize, dispose).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TimeLimit {
    /// An exchange that runs longer ends in
    /// [`WasmError::Timeout`](plugin_system_core::WasmError::Timeout): the
    /// plugin's `max_execution_time`, or the engine's `timeout` when that is
    /// shorter. Fuel, when metered, applies as well.
    Deadline(Duration),
    /// The engine cannot interrupt a running call (the web engine): the
    /// plugin's `max_execution_time` is **not** enforced, and a plugin that
    /// loops is stopped by fuel alone, with
    /// [`WasmError::FuelExhausted`](plugin_system_core::WasmError::FuelExhausted).
    FuelOnly {
        /// The limit the plugin's permissions asked for, not enforced.
        max_execution_time: Duration,
        /// The fuel each exchange gets afresh.
        fuel_per_exchange: u64,
    },
}

impl TimeLimit {
    /// The limit for a plugin whose exchanges have `deadline` (none on an
    /// engine without deadlines) and `fuel` each.
    ///
    /// # Errors
    /// [`unbounded`] when there is neither.
    pub(crate) fn new(
        runtime: &dyn WasmRuntime,
        deadline: Option<Duration>,
        max_execution_time: Duration,
        fuel: Option<u64>,
    ) -> Result<Self, PluginError> {
        match (deadline, fuel) {
            (Some(limit), _) => Ok(TimeLimit::Deadline(limit)),
            (None, Some(fuel_per_exchange)) => Ok(TimeLimit::FuelOnly {
                max_execution_time,
                fuel_per_exchange,
            }),
            (None, None) => Err(unbounded(runtime)),
        }
    }

    /// Whether a wall-clock limit holds.
    pub fn is_enforced(&self) -> bool {
        matches!(self, TimeLimit::Deadline(_))
    }
}

/// Whether `runtime` can put a deadline on a call.
///
/// # Errors
/// [`unbounded`] for an engine that can neither interrupt a call nor meter
/// fuel: nothing would stop a looping plugin there, not even its start
/// function, so it is refused before any guest code runs.
pub(crate) fn engine_keeps_deadlines(runtime: &dyn WasmRuntime) -> Result<bool, PluginError> {
    if runtime.supported_features().deadlines {
        return Ok(true);
    }
    if runtime.config().fuel_limit.is_none() {
        return Err(unbounded(runtime));
    }
    Ok(false)
}

/// [`WasmError::Unsupported`] for a plugin that nothing would bound.
fn unbounded(runtime: &dyn WasmRuntime) -> PluginError {
    PluginError::Wasm(WasmError::Unsupported {
        feature: format!(
            "plugins on the {} engine without fuel: it cannot interrupt a call, so its \
             max_execution_time is not enforced and only fuel stops a looping plugin \
             (set the engine's fuel_limit)",
            runtime.name()
        ),
    })
}

/// Says once, when a plugin loads, that its time limit does not hold.
pub(crate) fn warn_if_not_enforced(plugin_id: &str, engine: &str, limit: TimeLimit) {
    if let TimeLimit::FuelOnly {
        max_execution_time,
        fuel_per_exchange,
    } = limit
    {
        tracing::warn!(
            "plugin {plugin_id}: its max_execution_time of {max_execution_time:?} is not \
             enforced on the {engine} engine, which cannot interrupt a call; fuel \
             ({fuel_per_exchange} per exchange) is what stops it"
        );
    }
}
