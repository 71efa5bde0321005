//! Plugins on a `TieredRuntime`: they answer on wasmi while wasmtime compiles,
//! and move to wasmtime between events when their state can move too. The
//! background compile waits on a gate the test opens, so "before the compile
//! is done" is an order of events, never a timing.

use std::{
    path::PathBuf,
    sync::{
        Arc, Condvar, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
};

use plugin_system_core::{
    Imports, InstanceLimits, NextTier, Plugin, PluginContext, PluginEvent, PluginManifest,
    PluginRuntimeType, PluginSource, RuntimeStats, Value, WasmError, WasmFeatures, WasmInstance,
    WasmModule, WasmRuntime, WasmRuntimeConfig, WasmStore, WasmValue,
};
use plugin_system_wasm::{LoadOptions, WasmPlugin, WasmPluginRuntime};
use plugin_system_wasm_run::{
    EngineKind, ModuleCache, TieredRuntime, WasmtimeRuntime, new_runtime,
};

/// What the gate does with a compile that reaches it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Gate {
    Closed,
    Open,
    Failing,
}

/// wasmtime whose compiles wait until the test opens the gate (or fail when
/// it says so), and are counted.
struct Gated {
    inner: WasmtimeRuntime,
    gate: Mutex<Gate>,
    opened: Condvar,
    compiles: AtomicUsize,
}

impl Gated {
    fn set(&self, gate: Gate) {
        *self.gate.lock().unwrap() = gate;
        self.opened.notify_all();
    }

    fn pass(&self) -> Result<(), WasmError> {
        self.compiles.fetch_add(1, Ordering::SeqCst);
        let mut gate = self.gate.lock().unwrap();
        while *gate == Gate::Closed {
            gate = self.opened.wait(gate).unwrap();
        }
        match *gate {
            Gate::Failing => Err(WasmError::engine("the test failed this compile")),
            _ => Ok(()),
        }
    }
}

impl WasmRuntime for Gated {
    fn name(&self) -> &'static str {
        self.inner.name()
    }
    fn version(&self) -> &'static str {
        self.inner.version()
    }
    fn supported_features(&self) -> WasmFeatures {
        self.inner.supported_features()
    }
    fn config(&self) -> &WasmRuntimeConfig {
        self.inner.config()
    }
    fn load_module(&self, bytes: &[u8]) -> Result<Arc<dyn WasmModule>, WasmError> {
        self.pass()?;
        self.inner.load_module(bytes)
    }
    fn validate_bytes(&self, bytes: &[u8]) -> Result<(), WasmError> {
        self.inner.validate_bytes(bytes)
    }
    fn instantiate(
        &self,
        module: &Arc<dyn WasmModule>,
        imports: &Imports,
    ) -> Result<Box<dyn WasmInstance>, WasmError> {
        self.inner.instantiate(module, imports)
    }
    fn instantiate_with_limits(
        &self,
        module: &Arc<dyn WasmModule>,
        imports: &Imports,
        limits: InstanceLimits,
    ) -> Result<Box<dyn WasmInstance>, WasmError> {
        self.inner.instantiate_with_limits(module, imports, limits)
    }
    fn new_store(&self) -> Result<Box<dyn WasmStore>, WasmError> {
        self.inner.new_store()
    }
    fn precompile(&self, bytes: &[u8]) -> Result<Vec<u8>, WasmError> {
        self.pass()?;
        self.inner.precompile(bytes)
    }
    fn load_precompiled(&self, bytes: &[u8]) -> Result<Arc<dyn WasmModule>, WasmError> {
        self.inner.load_precompiled(bytes)
    }
    fn stats(&self) -> RuntimeStats {
        self.inner.stats()
    }
}

/// A tiered runtime over its own cache directory, whose wasmtime compiles
/// wait on the gate.
struct Setup {
    tiered: Arc<TieredRuntime>,
    gated: Arc<Gated>,
    cache: ModuleCache,
    dir: PathBuf,
}

impl Setup {
    fn new(name: &str) -> Setup {
        let dir = std::env::temp_dir().join(format!(
            "plugin-system-tiered-{name}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        let cache = ModuleCache::open(&dir).unwrap();
        let config = WasmRuntimeConfig::default().fuel_limit(10_000_000);
        let gated = Arc::new(Gated {
            inner: WasmtimeRuntime::with_precompile_key(config.clone(), cache.precompile_key())
                .unwrap(),
            gate: Mutex::new(Gate::Closed),
            opened: Condvar::new(),
            compiles: AtomicUsize::new(0),
        });
        let quick = new_runtime(EngineKind::Wasmi, config).unwrap();
        let optimized = cache.wrap(Arc::clone(&gated) as Arc<dyn WasmRuntime>);
        let tiered = Arc::new(TieredRuntime::new(quick, optimized).unwrap());
        Setup {
            tiered,
            gated,
            cache,
            dir,
        }
    }

    /// Opens the gate and waits for every compile queued so far.
    fn finish_compiles(&self, gate: Gate) {
        self.gated.set(gate);
        self.tiered.wait_for_compiles();
    }

    fn plugins(&self) -> WasmPluginRuntime {
        WasmPluginRuntime::new(Arc::clone(&self.tiered) as Arc<dyn WasmRuntime>)
    }
}

impl Drop for Setup {
    fn drop(&mut self) {
        // A compile left waiting would keep its thread.
        self.gated.set(Gate::Open);
        self.tiered.wait_for_compiles();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

const PREFIX: &str = r#"{"success":true,"data":{"n":""#;
const SUFFIX: &str = r#""}}"#;

/// A plugin that counts its events (`n`, as four digits in a string);
/// `plugin_initialize` sets the count to 100; with `hands_over`, it exports
/// `plugin_snapshot`/`plugin_restore` of the count.
fn counter(hands_over: bool) -> Vec<u8> {
    let at = 16 + PREFIX.len();
    let reply_len = PREFIX.len() + 4 + SUFFIX.len();
    let digits: String = (0..4)
        .map(|i| {
            let unit = 10_i32.pow(3 - i);
            format!(
                "(i32.store8 (i32.const {}) (i32.add (i32.const 48) \
                 (i32.rem_u (i32.div_u (global.get $n) (i32.const {unit})) (i32.const 10))))\n",
                at + i as usize
            )
        })
        .collect();
    let snapshot = if hands_over {
        r#"(func (export "plugin_snapshot") (result i64)
             (i32.store (i32.const 900) (global.get $n))
             (i64.const 0x0000038400000004))
           (func (export "plugin_restore") (param $at i32) (param $len i32) (result i32)
             (if (i32.ne (local.get $len) (i32.const 4)) (then (return (i32.const 1))))
             (global.set $n (i32.load (local.get $at)))
             (i32.const 0))"#
    } else {
        ""
    };
    format!(
        r#"(module
  (memory (export "memory") 1)
  (data (i32.const 16) "{prefix}0000{suffix}")
  (global $n (mut i32) (i32.const 0))
  (func (export "alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "dealloc") (param i32 i32))
  (func (export "plugin_initialize") (result i32)
    (global.set $n (i32.const 100))
    (i32.const 0))
  {snapshot}
  (func (export "plugin_handle_event") (param i32 i32) (result i64)
    (global.set $n (i32.add (global.get $n) (i32.const 1)))
    {digits}
    (i64.const {packed})))"#,
        prefix = PREFIX.replace('"', "\\\""),
        suffix = SUFFIX.replace('"', "\\\""),
        packed = (16_i64 << 32) | reply_len as i64,
    )
    .into_bytes()
}

fn manifest(stateless: bool) -> PluginManifest {
    let mut manifest = PluginManifest::new(
        "plugin.counter",
        "Counter",
        "1.0.0",
        "counts events",
        PluginRuntimeType::Wasm,
    );
    if stateless {
        manifest.metadata = Some(
            [(PluginManifest::STATELESS_KEY.to_owned(), Value::Bool(true))]
                .into_iter()
                .collect(),
        );
    }
    manifest
}

fn load(setup: &Setup, bytes: &[u8], stateless: bool) -> WasmPlugin {
    setup
        .plugins()
        .load(
            &PluginSource::bytes(bytes.to_vec()),
            LoadOptions::new().manifest(manifest(stateless)),
        )
        .unwrap()
}

/// Sends one event and reads the count it answers with.
fn tick(plugin: &WasmPlugin) -> u32 {
    let response = plugin.handle_event_sync(&PluginEvent::new("tick")).unwrap();
    response
        .data
        .get("n")
        .and_then(Value::as_str)
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count in {response:?}"))
}

fn initialize(plugin: &WasmPlugin) {
    plugin
        .initialize_sync(&PluginContext::new("plugin.counter"))
        .unwrap();
}

#[test]
fn a_plugin_answers_on_wasmi_before_the_compile_and_moves_with_its_state() {
    let setup = Setup::new("state");
    let bytes = counter(true);
    let plugin = load(&setup, &bytes, false);
    assert_eq!(plugin.engine(), "wasmi");
    initialize(&plugin);
    // The compile waits on the gate: these answers come before it is done.
    for expected in 101..=150 {
        assert_eq!(tick(&plugin), expected);
    }
    assert_eq!(plugin.engine(), "wasmi");
    assert_eq!(setup.tiered.compiles_pending(), 1);

    setup.finish_compiles(Gate::Open);
    // The next event moves it: the count goes on from the snapshot.
    for expected in 151..=200 {
        assert_eq!(tick(&plugin), expected);
    }
    assert_eq!(plugin.engine(), "wasmtime");
    let stats = plugin.stats();
    assert_eq!((stats.events, stats.failures), (100, 0), "no event lost");

    // The compile went to the cache: the next load starts on wasmtime.
    assert_eq!(setup.cache.entries().unwrap().len(), 1);
    let again = load(&setup, &bytes, false);
    assert_eq!(again.engine(), "wasmtime");
    assert_eq!(setup.tiered.optimized().cache_stats().hits, 1);
    assert_eq!(
        setup.gated.compiles.load(Ordering::SeqCst),
        1,
        "compiled once"
    );
}

#[test]
fn a_stateless_plugin_moves_and_is_initialized_again() {
    let setup = Setup::new("stateless");
    let plugin = load(&setup, &counter(false), true);
    initialize(&plugin);
    assert_eq!(tick(&plugin), 101);
    assert_eq!(tick(&plugin), 102);
    setup.finish_compiles(Gate::Open);
    // A fresh instance, initialized with the same context: what the plugin
    // declared it may lose, it loses.
    assert_eq!(tick(&plugin), 101);
    assert_eq!(plugin.engine(), "wasmtime");
}

#[test]
fn a_plugin_that_may_hold_state_stays_until_it_is_loaded_again() {
    let setup = Setup::new("stays");
    let bytes = counter(false);
    let plugin = load(&setup, &bytes, false);
    initialize(&plugin);
    assert_eq!(tick(&plugin), 101);
    setup.finish_compiles(Gate::Open);
    for expected in 102..=110 {
        assert_eq!(tick(&plugin), expected);
    }
    assert_eq!(plugin.engine(), "wasmi", "its state cannot move");
    assert_eq!(load(&setup, &bytes, false).engine(), "wasmtime");
}

#[test]
fn a_plugin_not_yet_used_moves_before_it_is_initialized() {
    let setup = Setup::new("fresh");
    let plugin = load(&setup, &counter(false), false);
    assert_eq!(plugin.engine(), "wasmi");
    setup.finish_compiles(Gate::Open);
    initialize(&plugin);
    assert_eq!(plugin.engine(), "wasmtime");
    assert_eq!(tick(&plugin), 101);
}

#[test]
fn state_restored_before_any_event_moves_with_the_plugin() {
    let setup = Setup::new("restored");
    let plugin = load(&setup, &counter(true), false);
    // A reload restores the previous version's state before any event.
    assert!(Plugin::restore(&plugin, &500_u32.to_le_bytes()).unwrap());
    setup.finish_compiles(Gate::Open);
    assert_eq!(tick(&plugin), 501);
    assert_eq!(plugin.engine(), "wasmtime");
}

#[test]
fn a_move_that_fails_leaves_the_plugin_serving_where_it_was() {
    let setup = Setup::new("bad-move");
    // Its restore refuses any state: the move fails at its last step.
    let bytes = String::from_utf8(counter(true))
        .unwrap()
        .replace(
            "(if (i32.ne (local.get $len) (i32.const 4)) (then (return (i32.const 1))))",
            "(return (i32.const 1))",
        )
        .into_bytes();
    let plugin = load(&setup, &bytes, false);
    initialize(&plugin);
    assert_eq!(tick(&plugin), 101);
    setup.finish_compiles(Gate::Open);
    for expected in 102..=104 {
        assert_eq!(tick(&plugin), expected, "no event fails, none is lost");
    }
    assert_eq!(plugin.engine(), "wasmi");
    assert_eq!(plugin.stats().failures, 0);
}

#[test]
fn a_failed_compile_leaves_the_plugin_on_wasmi() {
    let setup = Setup::new("failed");
    let bytes = counter(true);
    let plugin = load(&setup, &bytes, false);
    initialize(&plugin);
    assert_eq!(tick(&plugin), 101);
    setup.finish_compiles(Gate::Failing);
    // Not tried again while a module of the failed compile lives.
    let module = setup.tiered.load_module(&bytes).unwrap();
    assert!(matches!(module.next_tier(), NextTier::Final));
    assert_eq!(setup.tiered.compiles_pending(), 0);
    for expected in 102..=105 {
        assert_eq!(tick(&plugin), expected);
    }
    assert_eq!(plugin.engine(), "wasmi");
    assert!(setup.cache.entries().unwrap().is_empty());
}

#[test]
fn loads_while_a_compile_runs_share_it() {
    let setup = Setup::new("shared");
    let bytes = counter(true);
    let modules: Vec<_> = (0..3)
        .map(|_| setup.tiered.load_module(&bytes).unwrap())
        .collect();
    assert!(
        modules
            .iter()
            .all(|m| m.engine() == "wasmi" && matches!(m.next_tier(), NextTier::Pending))
    );
    setup.finish_compiles(Gate::Open);
    assert_eq!(setup.gated.compiles.load(Ordering::SeqCst), 1);
    for module in &modules {
        let NextTier::Ready(compiled) = module.next_tier() else {
            panic!("not ready: {:?}", module.next_tier());
        };
        assert_eq!(compiled.engine(), "wasmtime");
        assert_eq!(compiled.hash(), module.hash());
    }
}

#[test]
fn a_module_wasmi_cannot_run_is_compiled_by_wasmtime_at_once() {
    let setup = Setup::new("unsupported");
    setup.gated.set(Gate::Open);
    // GC: wasmtime runs it, wasmi lacks the proposal.
    let bytes = br#"(module
        (type $s (struct (field i32)))
        (func (export "f") (result i32)
            (struct.get $s 0 (struct.new $s (i32.const 7)))))"#;
    let module = setup.tiered.load_module(bytes).unwrap();
    assert_eq!(module.engine(), "wasmtime");
    assert!(matches!(module.next_tier(), NextTier::Final));
    let mut instance = setup.tiered.instantiate(&module, &Imports::new()).unwrap();
    assert_eq!(instance.call("f", &[]).unwrap(), [WasmValue::I32(7)]);
}

#[test]
fn the_tiered_runtime_refuses_what_it_cannot_do() {
    let setup = Setup::new("refuses");
    let Err(err) = setup.tiered.new_store() else {
        panic!("a store on the tiered runtime");
    };
    assert_eq!(err.kind(), "unsupported feature", "{err}");
    let quick = new_runtime(
        EngineKind::Wasmi,
        WasmRuntimeConfig::default().max_memory_pages(7),
    )
    .unwrap();
    let optimized = setup
        .cache
        .new_runtime(EngineKind::Wasmtime, WasmRuntimeConfig::default())
        .unwrap();
    let err = TieredRuntime::new(quick, optimized).unwrap_err();
    assert_eq!(err.kind(), "unsupported feature", "{err}");
    let err = setup
        .cache
        .new_runtime(EngineKind::Tiered, WasmRuntimeConfig::default())
        .unwrap_err();
    assert!(err.to_string().contains("new_tiered_runtime"), "{err}");
    // Invalid bytes are the quick engine's error, and nothing is queued.
    let err = setup
        .tiered
        .load_module(b"\0asm\x01\0\0\0\x99")
        .unwrap_err();
    assert_eq!(err.kind(), "invalid module", "{err}");
    assert_eq!(setup.tiered.compiles_pending(), 0);
}
