//! [`WasmPluginRuntime`]: loads plugins over any [`WasmRuntime`].

use std::sync::{Arc, Mutex};

use plugin_system_core::{
    DirAccess, FilesystemAccessLevel, HostFunction, HostFunctions, InstanceLimits, Plugin,
    PluginContext, PluginError, PluginLoadOptions, PluginManifest, PluginPermissions,
    PluginRuntime, PluginRuntimeType, PluginSerializer, PluginSource, WasiConfig, WasiOutput,
    WasmError, WasmRuntime, WireFormat, check_manifests_agree, wasi::WASI_MODULE,
};

use crate::{
    HybridSerializer, JsonSerializer, MessagePackSerializer, PostcardSerializer, abi,
    plugin::{Bridge, Respawn, WasmPlugin, link},
    time_limit::{self, TimeLimit},
};

/// What a caller may add when loading a plugin.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct LoadOptions {
    /// The manifest, instead of the one the plugin exports.
    pub manifest: Option<PluginManifest>,
    /// The manifest of a plugin that exports none (`plugin_get_manifest` is
    /// optional in the ABI); the plugin's own wins when it has one.
    pub fallback_manifest: Option<PluginManifest>,
    /// The permissions, instead of the manifest's `requiredHostFunctions` with the
    /// default limits.
    pub permissions: Option<PluginPermissions>,
    /// The WASI world of a plugin that imports WASI (built for `wasm32-wasip1`),
    /// instead of the empty one: no arguments, environment or directories, stdin
    /// closed, output discarded. Its directories must fit the plugin's
    /// `filesystem_access` permission. Ignored for a plugin that does not import
    /// WASI. Giving a world is all WASI needs (the engine's `enable_wasi` may
    /// stay off).
    pub wasi: Option<WasiConfig>,
    /// The manifest the host read for this plugin (its `plugin.toml`): used as
    /// the plugin's manifest, and the plugin's own `plugin_get_manifest`, when
    /// it has one, must agree with it on `id` and `version`.
    pub declared_manifest: Option<PluginManifest>,
    /// Host functions for this plugin alone, over those registered on the
    /// runtime (one of the same name wins).
    pub host_functions: Option<HostFunctions>,
    /// Fuel for each call of this plugin, instead of the engine's `fuel_limit`.
    /// The engine must meter fuel (have a `fuel_limit`), or the plugin does
    /// not load. On an engine without deadlines this is all that bounds the
    /// plugin ([`TimeLimit::FuelOnly`]).
    pub fuel: Option<u64>,
}

impl LoadOptions {
    /// Nothing added.
    pub fn new() -> Self {
        Self::default()
    }

    /// Uses this manifest; the plugin's `plugin_get_manifest` is not called.
    pub fn manifest(mut self, manifest: PluginManifest) -> Self {
        self.manifest = Some(manifest);
        self
    }

    /// Uses this manifest if the plugin exports no `plugin_get_manifest`.
    /// A [`manifest`](Self::manifest) given as well wins over both; a plugin
    /// whose `plugin_get_manifest` fails does not load (the fallback is for
    /// plugins without one, not for broken ones).
    pub fn fallback_manifest(mut self, manifest: PluginManifest) -> Self {
        self.fallback_manifest = Some(manifest);
        self
    }

    /// Grants these permissions.
    pub fn permissions(mut self, permissions: PluginPermissions) -> Self {
        self.permissions = Some(permissions);
        self
    }

    /// Gives a plugin that imports WASI this world.
    ///
    /// A guest's stderr captured here (`WasiOutput::Capture`) goes with its
    /// traps: the end of what it wrote during the call that trapped (at most
    /// [`LastWords::STDERR_TAIL`](plugin_system_core::LastWords::STDERR_TAIL)
    /// bytes) is in the error, [`PluginError::Trapped`], as is what it said
    /// with `set_error` before trapping.
    ///
    /// ```
    /// use plugin_system_core::{OutputBuffer, WasiConfig, WasiOutput};
    /// use plugin_system_wasm::LoadOptions;
    ///
    /// let stderr = OutputBuffer::new(64 << 10);
    /// let options = LoadOptions::new()
    ///     .wasi(WasiConfig::new().stderr(WasiOutput::Capture(stderr.clone())));
    /// # let _ = options;
    /// ```
    pub fn wasi(mut self, wasi: WasiConfig) -> Self {
        self.wasi = Some(wasi);
        self
    }

    /// The manifest the host read for the plugin; the plugin's own must agree.
    pub fn declared_manifest(mut self, manifest: PluginManifest) -> Self {
        self.declared_manifest = Some(manifest);
        self
    }

    /// Host functions for this plugin alone.
    pub fn host_functions(mut self, functions: HostFunctions) -> Self {
        self.host_functions = Some(functions);
        self
    }

    /// Fuel for each call of this plugin.
    pub fn fuel(mut self, fuel: u64) -> Self {
        self.fuel = Some(fuel);
        self
    }
}

/// Loads WebAssembly plugins that follow the guest ABI (ABI.md) on one engine,
/// and offers them the host functions registered here.
///
/// Each plugin gets its own instance, with the limits of its permissions in
/// force from instantiation on (its start function and manifest included):
/// - the deadline of a call is the plugin's `max_execution_time` (5 s by
///   default), or the engine's `timeout` when that is shorter. On an engine
///   that cannot interrupt a call (the web engine: `supported_features()`
///   without `deadlines`) there is none: a plugin loads there only when the
///   engine meters fuel, fuel alone stops it, and
///   [`WasmPlugin::time_limit`] says so ([`TimeLimit::FuelOnly`]);
/// - each of its memories may grow to `max_memory_bytes` (50 MiB by default),
///   or the engine's `max_memory_pages` when that is smaller: past it the
///   guest's `memory.grow` returns -1, and a plugin whose memory starts larger
///   does not load ([`WasmError::MemoryLimit`](plugin_system_core::WasmError::MemoryLimit));
/// - fuel (`fuel_limit` of the engine's config) is given afresh to every call.
///
/// Stack depth is the engine's (`max_stack_depth`): engines fix it for all
/// their instances, so the `max_call_depth` permission cannot narrow it.
#[derive(Clone)]
pub struct WasmPluginRuntime {
    runtime: Arc<dyn WasmRuntime>,
    serializer: Arc<dyn PluginSerializer>,
    host_functions: HostFunctions,
}

impl std::fmt::Debug for WasmPluginRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WasmPluginRuntime")
            .field("engine", &self.runtime.name())
            .field("serializer", &self.serializer)
            .field(
                "host_functions",
                &self.host_functions.names().collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// Refuses WASI directories beyond the plugin's filesystem permission: any
/// directory needs `readOnly`, a writable one `readWrite`.
fn check_directories(wasi: &WasiConfig, granted: FilesystemAccessLevel) -> Result<(), PluginError> {
    for preopen in &wasi.preopens {
        let needed = match preopen.access {
            DirAccess::ReadOnly => FilesystemAccessLevel::ReadOnly,
            DirAccess::ReadWrite => FilesystemAccessLevel::ReadWrite,
        };
        if !granted.allows(needed) {
            return Err(PluginError::FilesystemDenied {
                path: preopen.host.clone(),
                needed,
                granted,
            });
        }
    }
    Ok(())
}

/// The serializer for a plugin that declares `format`.
fn serializer_for(format: WireFormat) -> Arc<dyn PluginSerializer> {
    match format {
        WireFormat::MessagePack => Arc::new(MessagePackSerializer::new()),
        WireFormat::Postcard => Arc::new(PostcardSerializer::new()),
        _ => Arc::new(JsonSerializer::new()),
    }
}

impl WasmPluginRuntime {
    /// Plugins on `runtime`, spoken to in JSON (and answered in JSON or
    /// MessagePack) unless a plugin declares its format.
    pub fn new(runtime: Arc<dyn WasmRuntime>) -> Self {
        WasmPluginRuntime {
            runtime,
            serializer: Arc::new(HybridSerializer::new(false)),
            host_functions: HostFunctions::new(),
        }
    }

    /// Speaks `serializer` with plugins that declare no format.
    pub fn with_serializer(mut self, serializer: Arc<dyn PluginSerializer>) -> Self {
        self.serializer = serializer;
        self
    }

    /// Offers `function` to plugins as `name`, for those whose permissions allow it.
    pub fn register_host_function(
        &mut self,
        name: impl Into<String>,
        function: HostFunction,
    ) -> &mut Self {
        self.host_functions.register(name, function);
        self
    }

    /// The engine.
    pub fn runtime(&self) -> &Arc<dyn WasmRuntime> {
        &self.runtime
    }

    /// Loads a plugin: checks its digest, compiles it, checks its ABI version and
    /// exports before instantiating it, reads its manifest. Runs on this thread
    /// (compiling a large plugin on wasmtime takes a while: from async code, call
    /// it through `spawn_blocking`).
    ///
    /// # Errors
    /// [`PluginError::Io`], [`PluginError::Integrity`], [`PluginError::Wasm`] (the
    /// engine refused the module, or instantiating failed; `Unsupported`, before
    /// anything else, on an engine that neither keeps deadlines nor meters
    /// fuel, where nothing would stop the plugin), [`PluginError::AbiVersion`],
    /// [`PluginError::InvalidPlugin`], [`PluginError::InvalidManifest`].
    pub fn load(
        &self,
        source: &PluginSource,
        options: LoadOptions,
    ) -> Result<WasmPlugin, PluginError> {
        let deadlines = time_limit::engine_keeps_deadlines(&*self.runtime)?;
        let bytes = source.load()?;
        let module = self.runtime.load_module(&bytes)?;
        let shape = abi::check(module.info())?;
        let serializer = abi::declared_format(&*module)?
            .map_or_else(|| Arc::clone(&self.serializer), serializer_for);

        let mut host_functions = self.host_functions.clone();
        if let Some(own) = &options.host_functions {
            for name in own.names() {
                if let Some(function) = own.get(name) {
                    host_functions.register(name, function.clone());
                }
            }
        }
        let shared = Arc::new(Mutex::new(link::Link::new(
            host_functions,
            Arc::clone(&serializer),
        )));
        let mut imports = link::imports(&shared);
        // The budgets hold from the start: a start function, a reactor's
        // `_initialize` and `plugin_get_manifest` run under them too.
        let budget = options.permissions.clone().unwrap_or_default();
        if module.imports().iter().any(|i| i.module == WASI_MODULE) {
            let wasi = options.wasi.clone().unwrap_or_default();
            check_directories(&wasi, budget.filesystem_access)?;
            if let WasiOutput::Capture(buffer) = &wasi.stderr {
                link::lock(&shared).stderr = Some((buffer.clone(), buffer.written()));
            }
            imports.wasi(wasi);
        }
        let mut limits = InstanceLimits::new().max_memory_bytes(budget.max_memory_bytes);
        // An engine without deadlines refuses a timeout; fuel bounds the plugin there.
        if deadlines {
            limits = limits.timeout(budget.max_execution_time);
        }
        let instance = self
            .runtime
            .instantiate_with_limits(&module, &imports, limits)?;
        let fuel = match (options.fuel, self.runtime.config().fuel_limit) {
            (Some(_), None) => {
                return Err(PluginError::Wasm(WasmError::Unsupported {
                    feature: "fuel for this plugin: the engine meters no fuel (set its fuel_limit)"
                        .into(),
                }));
            }
            (Some(fuel), Some(_)) => Some(fuel),
            (None, engine) => engine,
        };
        let exchange_timeout = limits.timeout_under(self.runtime.config().timeout);
        let time_limit = TimeLimit::new(
            &*self.runtime,
            exchange_timeout,
            budget.max_execution_time,
            fuel,
        )?;
        let respawn = Respawn {
            runtime: Arc::clone(&self.runtime),
            module,
            imports,
            limits,
        };
        let mut bridge = Bridge::new(
            instance,
            shape,
            Arc::clone(&shared),
            serializer,
            fuel,
            exchange_timeout,
            respawn,
        )?;

        let manifest = match (options.manifest, options.declared_manifest) {
            (Some(manifest), _) => manifest,
            (None, Some(declared)) => {
                if let Some(own) = bridge.read_manifest()? {
                    check_manifests_agree(&declared, &own)?;
                }
                declared
            }
            (None, None) => bridge
                .read_manifest()?
                .or(options.fallback_manifest)
                .ok_or_else(|| PluginError::InvalidManifest {
                    message: "the plugin exports no `plugin_get_manifest` and none was given"
                        .into(),
                })?,
        };
        if manifest.id.trim().is_empty() {
            return Err(PluginError::InvalidManifest {
                message: "the manifest's `id` is empty".into(),
            });
        }
        let permissions = options.permissions.unwrap_or_else(|| {
            PluginPermissions::default()
                .with_host_functions(manifest.required_host_functions.iter().cloned())
        });
        {
            let mut link = link::lock(&shared);
            link.plugin_id.clone_from(&manifest.id);
            link.allowed.clone_from(&permissions.allowed_host_functions);
        }
        time_limit::warn_if_not_enforced(&manifest.id, self.runtime.name(), time_limit);
        Ok(WasmPlugin::new(manifest, bridge, time_limit))
    }

    /// Loads a plugin and initializes it with an empty configuration: what most
    /// hosts do in one step.
    ///
    /// # Errors
    /// As [`load`](Self::load), and the plugin's initialization failing.
    pub fn load_and_initialize(
        &self,
        source: &PluginSource,
        options: LoadOptions,
    ) -> Result<WasmPlugin, PluginError> {
        let plugin = self.load(source, options)?;
        let context = PluginContext::new(plugin_system_core::Plugin::manifest(&plugin).id.clone());
        plugin.initialize_sync(&context)?;
        Ok(plugin)
    }
}

/// The seam a host loads WebAssembly plugins through: what the host granted
/// becomes this runtime's [`LoadOptions`].
impl PluginRuntime for WasmPluginRuntime {
    fn runtime_type(&self) -> PluginRuntimeType {
        PluginRuntimeType::Wasm
    }

    fn load(
        &self,
        source: &PluginSource,
        options: &PluginLoadOptions,
    ) -> Result<Arc<dyn Plugin>, PluginError> {
        let mut load = LoadOptions::new()
            .permissions(options.permissions.clone())
            .host_functions(options.host_functions.clone());
        load.declared_manifest.clone_from(&options.manifest);
        load.fuel = options.fuel;
        load.wasi.clone_from(&options.wasi);
        Ok(Arc::new(WasmPluginRuntime::load(self, source, load)?))
    }
}
