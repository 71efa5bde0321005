//! A loaded WebAssembly plugin: the ABI bridge around one instance.

pub(crate) mod link;

use std::{
    borrow::Cow,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
    time::Duration,
};

use async_trait::async_trait;
use plugin_system_core::{
    BlockingPlugin, Deadline, Imports, InstanceLimits, NextTier, Plugin, PluginContext,
    PluginError, PluginEvent, PluginManifest, PluginResponse, PluginSerializer, PluginUsage,
    SharedEvent, TypedFunc, Value, WasmError, WasmInstance, WasmModule, WasmRuntime, WireFormat,
    checked_range,
};
use serde::Serialize;

use self::link::{SharedLink, lock};
use crate::{
    TimeLimit,
    abi::{self, DisposeForm, InitForm, Shape},
};

/// Fuel a buffer's `dealloc` may use after the call it belonged to ran dry.
const CLEANUP_FUEL: u64 = 1_000_000;

/// Time a buffer's `dealloc` may take after the exchange it belonged to ran out
/// of time (or the exchange's whole budget, when that is shorter): buffers are
/// freed, and the exchange still ends within a small margin of its deadline.
const CLEANUP_TIME: Duration = Duration::from_millis(10);

/// The most the bridge keeps of its event buffer between events: one large
/// event does not hold its memory for the plugin's life.
const KEPT_EVENT_BUFFER: usize = 64 * 1024;

/// What a plugin did so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct PluginStats {
    /// Events handled, failed ones included.
    pub events: u64,
    /// Calls into the plugin that failed.
    pub failures: u64,
    /// Bytes sent to the plugin.
    pub bytes_in: u64,
    /// Bytes the plugin replied with.
    pub bytes_out: u64,
    /// Host functions the plugin called.
    pub host_calls: u64,
    /// Host function calls refused by the plugin's permissions.
    pub host_calls_denied: u64,
    /// Size of the plugin's memory.
    pub memory_bytes: u64,
}

/// The instance and what the bridge keeps of it; behind the plugin's mutex.
pub(crate) struct Bridge {
    pub(crate) instance: Box<dyn WasmInstance>,
    alloc: TypedFunc<i32, i32>,
    dealloc: TypedFunc<(i32, i32), ()>,
    handle: TypedFunc<(i32, i32), i64>,
    shape: Shape,
    pub(crate) link: SharedLink,
    serializer: Arc<dyn PluginSerializer>,
    /// Fuel each call starts with, when metering is on.
    fuel_per_call: Option<u64>,
    /// The time one exchange may take, all its guest calls together (`alloc`,
    /// the export, both `dealloc`s).
    exchange_timeout: Option<Duration>,
    /// The deadline of the exchange under way.
    deadline: Option<Deadline>,
    disposed: bool,
    stats: PluginStats,
    /// Events are serialized here, one after the other, before the copy into
    /// the guest: no allocation per event.
    event_buffer: Vec<u8>,
    /// What it takes to make another instance: a restart, or a move to a
    /// faster tier.
    respawn: Respawn,
    /// Whether the module's faster compilation may still come
    /// ([`WasmModule::next_tier`]): checked before each event until it comes
    /// or is known never to.
    tiering: bool,
    /// The plugin declares itself stateless ([`PluginManifest::is_stateless`]).
    pub(crate) stateless: bool,
    /// The context of the last initialize that succeeded, while tiering: a
    /// new instance is initialized with it.
    initialized: Option<PluginContext>,
    /// Whether guest code ran beyond the start and the manifest query (an
    /// exchange, a restore, a direct export call): a fresh instance would
    /// then lack what it did.
    touched: bool,
}

/// `outcome`, unless it succeeded and freeing its buffers then failed: a
/// call's own failure wins over a failure to free.
fn outcome_first<T>(
    outcome: Result<T, PluginError>,
    freed: Result<(), PluginError>,
) -> Result<T, PluginError> {
    let value = outcome?;
    freed?;
    Ok(value)
}

impl Bridge {
    pub(crate) fn new(
        mut instance: Box<dyn WasmInstance>,
        shape: Shape,
        link: SharedLink,
        serializer: Arc<dyn PluginSerializer>,
        fuel_per_call: Option<u64>,
        exchange_timeout: Option<Duration>,
        respawn: Respawn,
    ) -> Result<Self, PluginError> {
        let alloc = instance.typed(abi::ALLOC)?;
        let dealloc = instance.typed(abi::DEALLOC)?;
        let handle = instance.typed(abi::HANDLE_EVENT)?;
        Ok(Bridge {
            instance,
            alloc,
            dealloc,
            handle,
            shape,
            link,
            serializer,
            fuel_per_call,
            exchange_timeout,
            deadline: None,
            disposed: false,
            stats: PluginStats::default(),
            event_buffer: Vec::new(),
            tiering: !matches!(respawn.module.next_tier(), NextTier::Final),
            respawn,
            stateless: false,
            initialized: None,
            touched: false,
        })
    }

    /// A fresh instance of `module` (the plugin's own, or its faster
    /// compilation) in a bridge like this one, with its statistics and host
    /// link; not initialized.
    fn respawned(&self, module: Arc<dyn WasmModule>) -> Result<Bridge, PluginError> {
        let respawn = Respawn {
            module,
            ..self.respawn.clone()
        };
        let instance = respawn.runtime.instantiate_with_limits(
            &respawn.module,
            &respawn.imports,
            respawn.limits,
        )?;
        let mut fresh = Bridge::new(
            instance,
            self.shape,
            Arc::clone(&self.link),
            Arc::clone(&self.serializer),
            self.fuel_per_call,
            self.exchange_timeout,
            respawn,
        )?;
        fresh.stats = self.stats;
        fresh.stateless = self.stateless;
        Ok(fresh)
    }

    /// Moves the plugin to its module's faster compilation once that is ready,
    /// if its state can move too: nothing ran in it yet, or it declares itself
    /// stateless, or it hands its state over (`plugin_snapshot` /
    /// `plugin_restore`). The new instance is initialized with the context the
    /// old one was, and given the old one's snapshot; the old one is dropped
    /// without `dispose`, since the plugin lives on. Whatever fails leaves the
    /// plugin where it was, for good: a logged reason, never a failed event.
    fn tier_up(&mut self) {
        if !self.tiering {
            return;
        }
        let next = match self.respawn.module.next_tier() {
            NextTier::Pending => return,
            NextTier::Final => {
                self.tiering = false;
                return;
            }
            NextTier::Ready(next) => next,
        };
        self.tiering = false;
        let id = lock(&self.link).plugin_id.clone();
        let (from, to) = (self.respawn.module.engine(), next.engine());
        let untouched = !self.touched;
        let hands_over = self.shape.snapshot && self.shape.restore;
        if !(untouched || self.stateless || hands_over) {
            tracing::info!(
                "plugin {id} stays on {from} until it is loaded again: it may hold state, \
                 and neither declares itself stateless nor exports plugin_snapshot/plugin_restore"
            );
            return;
        }
        let moved = (|| {
            let state = if untouched || self.stateless {
                None
            } else {
                self.snapshot()?
            };
            let mut fresh = self.respawned(next)?;
            if let Some(context) = &self.initialized {
                fresh.initialize(context)?;
            }
            if let Some(state) = state {
                fresh.restore(&state)?;
            }
            Ok::<_, PluginError>(fresh)
        })();
        match moved {
            Ok(mut fresh) => {
                fresh.stats = self.stats;
                fresh.event_buffer = std::mem::take(&mut self.event_buffer);
                *self = fresh;
                tracing::debug!("plugin {id} moved from {from} to {to}");
            }
            Err(e) => tracing::warn!("plugin {id} stays on {from}: the move to {to} failed: {e}"),
        }
    }

    /// Runs one exchange with the guest (an event, the manifest, initialize,
    /// dispose): fresh fuel, a clean link, and one deadline for all the guest
    /// calls it makes, so that no part of it (a looping `dealloc`) gets a
    /// deadline of its own.
    /// A trap carries the guest's last words ([`LastWords`]) when it left
    /// any.
    fn exchange_with<T>(
        &mut self,
        export: &'static str,
        run: impl FnOnce(&mut Self) -> Result<T, PluginError>,
    ) -> Result<T, PluginError> {
        if export != abi::GET_MANIFEST {
            self.touched = true;
        }
        if let Some(fuel) = self.fuel_per_call {
            self.instance.set_fuel(fuel)?;
        }
        lock(&self.link).begin_call();
        if let Some(timeout) = self.exchange_timeout {
            self.set_deadline(Some(Deadline::after(timeout)));
        }
        let outcome = run(self);
        if self.deadline.is_some() {
            self.set_deadline(None);
        }
        outcome.map_err(|error| lock(&self.link).with_last_words(export, error))
    }

    /// Puts the guest's calls under `deadline`. An engine without shared
    /// deadlines keeps its per-call timeout, which the instance has already.
    fn set_deadline(&mut self, deadline: Option<Deadline>) {
        self.deadline = deadline;
        if let Err(e) = self.instance.set_deadline(deadline) {
            tracing::debug!("the engine keeps per-call deadlines: {e}");
        }
    }

    /// The error for a call that returned a failure value: a denied host call
    /// first, then the guest's own message.
    fn guest_failure(&self, export: &'static str, what: &str) -> PluginError {
        let mut link = lock(&self.link);
        if let Some(function) = link.denied.take() {
            return PluginError::PermissionDenied { function };
        }
        PluginError::Guest {
            export,
            message: link
                .error
                .take()
                .unwrap_or_else(|| format!("{export} returned {what}")),
        }
    }

    /// Copies `input` into a fresh guest buffer; the caller frees it.
    fn write_input(
        &mut self,
        export: &'static str,
        input: &[u8],
    ) -> Result<(i32, i32), PluginError> {
        let len = i32::try_from(input.len()).map_err(|_| PluginError::Protocol {
            export,
            message: format!(
                "a message of {} bytes does not fit the 32-bit ABI",
                input.len()
            ),
        })?;
        let ptr = self.alloc.call(&mut *self.instance, len)?;
        if ptr == 0 && len > 0 {
            return Err(PluginError::Protocol {
                export,
                message: format!("alloc({len}) returned 0"),
            });
        }
        let written = match self.instance.memory() {
            Some(memory) => memory
                .write(u64::from(ptr as u32), input)
                .map_err(|e| e.to_string()),
            None => Err("the plugin has no memory".to_owned()),
        };
        if let Err(message) = written {
            return self.free_after(
                ptr,
                len,
                Err(PluginError::Protocol {
                    export,
                    message: format!(
                        "alloc({len}) returned {ptr:#x}, which is not in memory: {message}"
                    ),
                }),
            );
        }
        self.stats.bytes_in += input.len() as u64;
        Ok((ptr, len))
    }

    /// Frees a guest buffer. A call that ran out of fuel or time still has its
    /// buffers freed, with a little of each to do it. The clock is read only
    /// `after_failure`, or after host work on the guest's time (decoding a
    /// reply): a guest call that succeeded ended within its deadline.
    ///
    /// # Errors
    /// The `dealloc` call's failure (a trap, a loop cut by the deadline): the
    /// guest's allocator is broken, so the exchange fails even when the call
    /// before succeeded. Callers let an earlier failure win over this one.
    fn free(&mut self, ptr: i32, len: i32, after_failure: bool) -> Result<(), PluginError> {
        if self.fuel_per_call.is_some()
            && self.instance.fuel().is_ok_and(|left| left < CLEANUP_FUEL)
        {
            self.instance.set_fuel(CLEANUP_FUEL)?;
        }
        if after_failure
            && let Some(deadline) = self.deadline
            && deadline.has_passed()
        {
            self.set_deadline(Some(Deadline::after(CLEANUP_TIME.min(deadline.limit()))));
        }
        self.dealloc
            .call(&mut *self.instance, (ptr, len))
            .map_err(|e| {
                tracing::warn!("dealloc({ptr:#x}, {len}) failed: {e}");
                PluginError::from(e)
            })
    }

    /// Frees a buffer after a call whose outcome was `outcome`: that outcome's
    /// failure wins over a failure to free.
    fn free_after<T>(
        &mut self,
        ptr: i32,
        len: i32,
        outcome: Result<T, PluginError>,
    ) -> Result<T, PluginError> {
        let freed = self.free(ptr, len, outcome.is_err());
        outcome_first(outcome, freed)
    }

    /// Reads the packed reply of `export`, decodes it, and frees it.
    fn take_reply<T>(
        &mut self,
        export: &'static str,
        packed: i64,
        cap: usize,
        decode: impl FnOnce(&[u8]) -> Result<T, PluginError>,
    ) -> Result<T, PluginError> {
        let Some((ptr, len)) = abi::unpack(packed) else {
            return Err(self.guest_failure(export, if packed == 0 { "0" } else { "-1" }));
        };
        let (ptr_i32, len_i32) = (ptr as i32, len as i32);
        if len as usize > cap {
            return self.free_after(
                ptr_i32,
                len_i32,
                Err(PluginError::Protocol {
                    export,
                    message: format!("a reply of {len} bytes is over the limit of {cap}"),
                }),
            );
        }
        // In place where the engine lends its memory; the web engine copies
        // the reply alone.
        let reply = match self.instance.memory() {
            Some(memory) => memory.bytes_at(u64::from(ptr), len as usize),
            // No memory: only the empty reply at 0 lies inside.
            None => checked_range(u64::from(ptr), len as usize, 0).map(|_| Cow::Borrowed(&[][..])),
        };
        let decoded = match reply {
            // A reply outside memory is not freed: its pointer means nothing.
            Err(e) => {
                return Err(PluginError::Protocol {
                    export,
                    message: format!("the reply ({ptr:#x}, {len}) is outside memory: {e}"),
                });
            }
            Ok(bytes) => decode(&bytes),
        };
        self.stats.bytes_out += u64::from(len);
        if ptr != 0 || len != 0 {
            // The host's decoding ran on the guest's time: the deadline may
            // have passed since the guest returned, and the reply is still
            // freed, with a little time to do it.
            let freed = self.free(ptr_i32, len_i32, true);
            return outcome_first(decoded, freed);
        }
        decoded
    }

    /// Sends `input` to a `(ptr, len) -> i64` export and decodes the reply; frees
    /// both buffers on every path.
    fn exchange<T>(
        &mut self,
        export: &'static str,
        input: &[u8],
        cap: usize,
        decode: impl FnOnce(&[u8]) -> Result<T, PluginError>,
    ) -> Result<T, PluginError> {
        self.exchange_with(export, |bridge| {
            let (ptr, len) = bridge.write_input(export, input)?;
            let called = bridge.handle.call(&mut *bridge.instance, (ptr, len));
            let packed = bridge.free_after(ptr, len, called.map_err(PluginError::from))?;
            bridge.take_reply(export, packed, cap, decode)
        })
    }

    fn ensure_live(&self) -> Result<(), PluginError> {
        if self.disposed {
            return Err(PluginError::Disposed {
                id: lock(&self.link).plugin_id.clone(),
            });
        }
        Ok(())
    }

    /// Runs one event with `run`, counted in the statistics (a failure too).
    fn counted_event<T>(
        &mut self,
        run: impl FnOnce(&mut Self) -> Result<T, PluginError>,
    ) -> Result<T, PluginError> {
        self.ensure_live()?;
        self.tier_up();
        self.stats.events += 1;
        let outcome = run(self);
        if outcome.is_err() {
            self.stats.failures += 1;
        }
        outcome
    }

    /// One event, start to end.
    pub(crate) fn handle_event(
        &mut self,
        event: &PluginEvent,
    ) -> Result<PluginResponse, PluginError> {
        self.counted_event(|bridge| {
            let serializer = Arc::clone(&bridge.serializer);
            let mut bytes = std::mem::take(&mut bridge.event_buffer);
            bytes.clear();
            let outcome = serializer
                .serialize_event_into(event, &mut bytes)
                .map_err(PluginError::from)
                .and_then(|()| {
                    bridge.exchange(
                        abi::HANDLE_EVENT,
                        &bytes,
                        abi::MAX_RESPONSE_BYTES,
                        |reply| Ok(serializer.deserialize_response(reply)?),
                    )
                });
            bytes.clear();
            bytes.shrink_to(KEPT_EVENT_BUFFER);
            bridge.event_buffer = bytes;
            outcome
        })
    }

    /// One event on its way to several plugins, in this plugin's wire format
    /// as the first of them to need it encoded it.
    pub(crate) fn handle_shared_event(
        &mut self,
        event: &SharedEvent,
    ) -> Result<PluginResponse, PluginError> {
        self.counted_event(|bridge| {
            let serializer = Arc::clone(&bridge.serializer);
            let bytes = event.encoded(serializer.format(), |event| {
                Ok(serializer.serialize_event(event)?)
            })?;
            bridge.exchange(abi::HANDLE_EVENT, bytes, abi::MAX_RESPONSE_BYTES, |reply| {
                Ok(serializer.deserialize_response(reply)?)
            })
        })
    }

    /// What the plugin holds: its memory, and the fuel it burnt.
    pub(crate) fn usage(&mut self) -> PluginUsage {
        PluginUsage::new(
            self.instance.memory().map(|m| m.size()),
            self.instance.stats().fuel_consumed,
        )
    }

    /// One event already in the plugin's wire format; the reply as the plugin
    /// wrote it.
    pub(crate) fn handle_event_bytes(&mut self, event: &[u8]) -> Result<Vec<u8>, PluginError> {
        self.counted_event(|bridge| {
            bridge.exchange(abi::HANDLE_EVENT, event, abi::MAX_RESPONSE_BYTES, |reply| {
                Ok(reply.to_vec())
            })
        })
    }

    /// The manifest the plugin exports, if it exports one.
    pub(crate) fn read_manifest(&mut self) -> Result<Option<PluginManifest>, PluginError> {
        if !self.shape.manifest {
            return Ok(None);
        }
        self.exchange_with(abi::GET_MANIFEST, |bridge| {
            let get = bridge.instance.typed::<(), i64>(abi::GET_MANIFEST)?;
            let packed = get.call(&mut *bridge.instance, ())?;
            let serializer = Arc::clone(&bridge.serializer);
            bridge.take_reply(
                abi::GET_MANIFEST,
                packed,
                abi::MAX_MANIFEST_BYTES,
                |bytes| {
                    serializer.deserialize_manifest(bytes).map_err(|e| {
                        PluginError::InvalidManifest {
                            message: e.to_string(),
                        }
                    })
                },
            )
        })
        .map(Some)
    }

    /// The state `plugin_snapshot` gives, if the plugin exports it and gives
    /// any (0 is none).
    pub(crate) fn snapshot(&mut self) -> Result<Option<Vec<u8>>, PluginError> {
        self.ensure_live()?;
        if !self.shape.snapshot {
            return Ok(None);
        }
        self.exchange_with(abi::SNAPSHOT, |bridge| {
            let get = bridge.instance.typed::<(), i64>(abi::SNAPSHOT)?;
            let packed = get.call(&mut *bridge.instance, ())?;
            if packed == 0 {
                return Ok(None);
            }
            bridge
                .take_reply(abi::SNAPSHOT, packed, abi::MAX_RESPONSE_BYTES, |bytes| {
                    Ok(bytes.to_vec())
                })
                .map(Some)
        })
    }

    /// Gives `state` to `plugin_restore`, if the plugin exports it.
    pub(crate) fn restore(&mut self, state: &[u8]) -> Result<bool, PluginError> {
        self.ensure_live()?;
        if !self.shape.restore {
            return Ok(false);
        }
        let status = self.exchange_with(abi::RESTORE, |bridge| {
            let restore = bridge.instance.typed::<(i32, i32), i32>(abi::RESTORE)?;
            let (ptr, len) = bridge.write_input(abi::RESTORE, state)?;
            let called = restore.call(&mut *bridge.instance, (ptr, len));
            bridge.free_after(ptr, len, called.map_err(PluginError::from))
        })?;
        if status != 0 {
            return Err(self.guest_failure(abi::RESTORE, &status.to_string()));
        }
        Ok(true)
    }

    pub(crate) fn initialize(&mut self, context: &PluginContext) -> Result<(), PluginError> {
        self.ensure_live()?;
        self.tier_up();
        let Some(form) = self.shape.initialize else {
            return Ok(());
        };
        let status = self.exchange_with(abi::INITIALIZE, |bridge| match form {
            InitForm::Bare => {
                let init = bridge.instance.typed::<(), i32>(abi::INITIALIZE)?;
                Ok(init.call(&mut *bridge.instance, ())?)
            }
            InitForm::WithContext => {
                let bytes = bridge.serializer.serialize_value(&context_value(context))?;
                let init = bridge.instance.typed::<(i32, i32), i32>(abi::INITIALIZE)?;
                let (ptr, len) = bridge.write_input(abi::INITIALIZE, &bytes)?;
                let called = init.call(&mut *bridge.instance, (ptr, len));
                bridge.free_after(ptr, len, called.map_err(PluginError::from))
            }
        })?;
        if status != 0 {
            self.stats.failures += 1;
            return Err(self.guest_failure(abi::INITIALIZE, &status.to_string()));
        }
        if self.tiering {
            self.initialized = Some(context.clone());
        }
        Ok(())
    }

    pub(crate) fn dispose(&mut self) -> Result<(), PluginError> {
        if self.disposed {
            return Ok(());
        }
        self.disposed = true;
        let Some(form) = self.shape.dispose else {
            return Ok(());
        };
        self.exchange_with(abi::DISPOSE, |bridge| {
            match form {
                DisposeForm::Unit => {
                    let f = bridge.instance.typed::<(), ()>(abi::DISPOSE)?;
                    f.call(&mut *bridge.instance, ())?;
                }
                DisposeForm::Status => {
                    let f = bridge.instance.typed::<(), i32>(abi::DISPOSE)?;
                    f.call(&mut *bridge.instance, ())?;
                }
                DisposeForm::Packed => {
                    let f = bridge.instance.typed::<(), i64>(abi::DISPOSE)?;
                    let packed = f.call(&mut *bridge.instance, ())?;
                    // The result is ignored, as in the Dart original; the buffer is
                    // freed.
                    if abi::unpack(packed).is_some() {
                        let _ignored = bridge.take_reply(
                            abi::DISPOSE,
                            packed,
                            abi::MAX_RESPONSE_BYTES,
                            |_| Ok(()),
                        );
                    }
                }
            }
            Ok(())
        })
    }

    pub(crate) fn stats(&mut self) -> PluginStats {
        let mut stats = self.stats;
        let link = lock(&self.link);
        stats.host_calls = link.host_calls;
        stats.host_calls_denied = link.host_calls_denied;
        drop(link);
        stats.memory_bytes = self.instance.memory().map_or(0, |m| m.size());
        stats
    }
}

/// The context as the guest reads it: `{"pluginId": ..., "config": {...}}`.
fn context_value(context: &PluginContext) -> Value {
    Value::from_iter([
        (
            "pluginId".to_owned(),
            Value::from(context.plugin_id.as_str()),
        ),
        ("config".to_owned(), Value::Map(context.config.clone())),
    ])
}

/// A plugin compiled to WebAssembly, loaded by
/// [`WasmPluginRuntime`](crate::WasmPluginRuntime).
///
/// The synchronous methods (`*_sync`) run the guest on the calling thread; the
/// [`Plugin`] methods run it on tokio's blocking pool when called inside a tokio
/// runtime, so a long event does not hold up other tasks (in a browser page,
/// which has one thread, on the caller's). Calls to one plugin
/// are serialized; different plugins run in parallel.
pub struct WasmPlugin {
    manifest: PluginManifest,
    bridge: Arc<Mutex<Bridge>>,
    time_limit: TimeLimit,
}

/// What it takes to make a fresh instance of a plugin: its compiled module
/// and the imports and limits it was instantiated with.
#[derive(Clone)]
pub(crate) struct Respawn {
    pub(crate) runtime: Arc<dyn WasmRuntime>,
    pub(crate) module: Arc<dyn WasmModule>,
    pub(crate) imports: Imports,
    pub(crate) limits: InstanceLimits,
}

impl std::fmt::Debug for WasmPlugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WasmPlugin")
            .field("id", &self.manifest.id)
            .finish_non_exhaustive()
    }
}

fn locked(bridge: &Mutex<Bridge>) -> MutexGuard<'_, Bridge> {
    // A panic inside a call leaves the bridge as consistent as a trap does.
    bridge.lock().unwrap_or_else(PoisonError::into_inner)
}

impl WasmPlugin {
    pub(crate) fn new(manifest: PluginManifest, mut bridge: Bridge, time_limit: TimeLimit) -> Self {
        bridge.stateless = manifest.is_stateless();
        WasmPlugin {
            manifest,
            bridge: Arc::new(Mutex::new(bridge)),
            time_limit,
        }
    }

    /// What bounds each exchange with the plugin: a deadline, or, on an
    /// engine that cannot interrupt a call (the web engine), fuel alone, its
    /// `max_execution_time` not enforced. A host that needs a wall-clock bound
    /// there runs its plugins in a Web Worker it can terminate.
    pub fn time_limit(&self) -> TimeLimit {
        self.time_limit
    }

    /// The engine the plugin's instance runs on now: with a tiered runtime,
    /// the quick one's until the plugin moves (see
    /// [`WasmModule::next_tier`]).
    pub fn engine(&self) -> &'static str {
        locked(&self.bridge).respawn.module.engine()
    }

    /// Replaces the instance with a fresh one of the same module (nothing is
    /// compiled again), keeping the statistics and the host link; the plugin
    /// must be initialized again. For a plugin whose last call trapped, ran
    /// out of fuel or time, or broke the ABI.
    ///
    /// # Errors
    /// As instantiating the module at load.
    pub fn restart_sync(&self) -> Result<(), PluginError> {
        let mut bridge = locked(&self.bridge);
        let module = Arc::clone(&bridge.respawn.module);
        *bridge = bridge.respawned(module)?;
        Ok(())
    }

    /// Initializes the plugin on this thread.
    ///
    /// # Errors
    /// As [`Plugin::initialize`].
    pub fn initialize_sync(&self, context: &PluginContext) -> Result<(), PluginError> {
        locked(&self.bridge).initialize(context)
    }

    /// Handles one event on this thread: the fast path.
    ///
    /// # Errors
    /// As [`Plugin::handle_event`].
    pub fn handle_event_sync(&self, event: &PluginEvent) -> Result<PluginResponse, PluginError> {
        locked(&self.bridge).handle_event(event)
    }

    /// Sends an event already serialized in the plugin's
    /// [`wire_format`](Self::wire_format) and returns the plugin's reply as it
    /// wrote it, not decoded: on this thread, with no codec on either side.
    ///
    /// For hosts that serialize an event once and send it to many plugins of
    /// one format, or relay messages that arrive already serialized. The bytes
    /// are not checked (the plugin reads them as it reads any event), and the
    /// reply is whatever the plugin returned, copied out of its memory: a
    /// response with `success: false` comes back as `Ok` like any other, and
    /// [`decode_response`](Self::decode_response) reads it as
    /// [`handle_event_sync`](Self::handle_event_sync) would. Everything else is
    /// as there: the deadline and fuel, the 100 MiB cap on the reply, typed
    /// errors, both buffers freed on every path, the statistics.
    ///
    /// # Errors
    /// As [`Plugin::handle_event`], except that nothing is serialized here.
    pub fn handle_event_bytes_sync(&self, event: &[u8]) -> Result<Vec<u8>, PluginError> {
        locked(&self.bridge).handle_event_bytes(event)
    }

    /// [`handle_event_bytes_sync`](Self::handle_event_bytes_sync) off the
    /// async executor, as the [`Plugin`] methods run.
    ///
    /// # Errors
    /// As [`handle_event_bytes_sync`](Self::handle_event_bytes_sync).
    pub async fn handle_event_bytes(&self, event: Vec<u8>) -> Result<Vec<u8>, PluginError> {
        self.off_executor(move |bridge| bridge.handle_event_bytes(&event))
            .await
    }

    /// Reads a reply of this plugin (from
    /// [`handle_event_bytes_sync`](Self::handle_event_bytes_sync)) as the
    /// typed path does: with the serializer the plugin was loaded with, which
    /// for a plugin that declares no format may read more than
    /// [`wire_format`](Self::wire_format) (the default hybrid serializer
    /// writes JSON and reads JSON or MessagePack).
    ///
    /// # Errors
    /// [`PluginError::Serialization`] when the bytes are not a response.
    pub fn decode_response(&self, reply: &[u8]) -> Result<PluginResponse, PluginError> {
        let serializer = Arc::clone(&locked(&self.bridge).serializer);
        Ok(serializer.deserialize_response(reply)?)
    }

    /// The wire format the plugin is spoken to in: the one its module
    /// declares, or the runtime's serializer's.
    pub fn wire_format(&self) -> WireFormat {
        locked(&self.bridge).serializer.format()
    }

    /// Disposes the plugin on this thread.
    ///
    /// # Errors
    /// As [`Plugin::dispose`].
    pub fn dispose_sync(&self) -> Result<(), PluginError> {
        locked(&self.bridge).dispose()
    }

    /// Calls a host function as this plugin would, with its permissions.
    ///
    /// # Errors
    /// [`PluginError::PermissionDenied`], [`PluginError::HostFunctionNotFound`] or
    /// the function's [`PluginError::HostFunction`].
    pub fn call_host_function(&self, name: &str, args: Value) -> Result<Value, PluginError> {
        let link = Arc::clone(&locked(&self.bridge).link);
        let mut link = lock(&link);
        link.call(name, args)
    }

    /// What the plugin did so far.
    pub fn stats(&self) -> PluginStats {
        locked(&self.bridge).stats()
    }

    /// Calls a function the plugin exports, beyond the ABI (for diagnostics and
    /// tests, such as `plugin_live_buffers`).
    ///
    /// # Errors
    /// As [`WasmInstance::call`].
    pub fn call_export(
        &self,
        name: &str,
        args: &[plugin_system_core::WasmValue],
    ) -> Result<Vec<plugin_system_core::WasmValue>, WasmError> {
        let mut bridge = locked(&self.bridge);
        bridge.touched = true;
        bridge.instance.call(name, args)
    }

    #[cfg(not(all(target_family = "wasm", target_os = "unknown")))]
    async fn off_executor<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Bridge) -> Result<T, PluginError> + Send + 'static,
    ) -> Result<T, PluginError> {
        let bridge = Arc::clone(&self.bridge);
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => handle
                .spawn_blocking(move || work(&mut locked(&bridge)))
                .await
                .unwrap_or_else(|e| {
                    Err(PluginError::Wasm(WasmError::engine_in(
                        "the plugin call did not finish",
                        e,
                    )))
                }),
            Err(_) => work(&mut locked(&bridge)),
        }
    }

    /// A page has one thread and no blocking pool: the guest runs in place.
    #[cfg(all(target_family = "wasm", target_os = "unknown"))]
    async fn off_executor<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Bridge) -> Result<T, PluginError> + Send + 'static,
    ) -> Result<T, PluginError> {
        work(&mut locked(&self.bridge))
    }
}

#[async_trait]
impl Plugin for WasmPlugin {
    fn manifest(&self) -> &PluginManifest {
        &self.manifest
    }

    async fn initialize(&self, context: PluginContext) -> Result<(), PluginError> {
        self.off_executor(move |bridge| bridge.initialize(&context))
            .await
    }

    async fn handle_event(&self, event: PluginEvent) -> Result<PluginResponse, PluginError> {
        self.off_executor(move |bridge| bridge.handle_event(&event))
            .await
    }

    async fn dispose(&self) -> Result<(), PluginError> {
        self.off_executor(Bridge::dispose).await
    }

    fn blocking(&self) -> Option<&dyn BlockingPlugin> {
        Some(self)
    }

    fn usage(&self) -> PluginUsage {
        locked(&self.bridge).usage()
    }

    fn restart(&self) -> Result<(), PluginError> {
        self.restart_sync()
    }

    fn snapshot(&self) -> Result<Option<Vec<u8>>, PluginError> {
        locked(&self.bridge).snapshot()
    }

    fn restore(&self, state: &[u8]) -> Result<bool, PluginError> {
        locked(&self.bridge).restore(state)
    }
}

impl BlockingPlugin for WasmPlugin {
    fn initialize_blocking(&self, context: &PluginContext) -> Result<(), PluginError> {
        self.initialize_sync(context)
    }

    fn handle_event_blocking(&self, event: &PluginEvent) -> Result<PluginResponse, PluginError> {
        self.handle_event_sync(event)
    }

    fn handle_shared_event_blocking(
        &self,
        event: &SharedEvent,
    ) -> Result<PluginResponse, PluginError> {
        locked(&self.bridge).handle_shared_event(event)
    }

    fn dispose_blocking(&self) -> Result<(), PluginError> {
        self.dispose_sync()
    }
}

// Hosts share plugins across tasks.
const _: () = {
    const fn shared<T: Send + Sync + 'static>() {}
    shared::<WasmPlugin>();
};
