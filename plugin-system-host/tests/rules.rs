//! The manager's rules on both engines, with WAT plugins: dependency order
//! and every dependency failure, manifest errors, every state transition,
//! grants narrower than the declaration, `Busy` on a full mailbox, host
//! functions that fail or panic, and the statistics. `tests/manager.rs`
//! checks the same rules with plain Rust plugins.

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use plugin_system_core::{HostFunction, HostFunctionError, PluginEvent, Value, WasmRuntimeConfig};
use plugin_system_host::{
    Decision, DependencyError, Grant, ManagerError, ManifestError, PluginManager, PluginPackage,
    PluginState, PolicyTable, RestartPolicy, StateChange,
};
use plugin_system_wasm::WasmPluginRuntime;
use plugin_system_wasm_run::{EngineKind, new_runtime};
use tokio::sync::broadcast;

/// A plugin in WAT: `plugin_handle_event` traps on an event over 1,000
/// bytes ([`crash`]), else runs `work` and answers `{"success":true}`;
/// `fields` adds exports and data. `$call` calls the host function whose
/// name is at `ptr` (`len` bytes) with `null`; on a non-zero status it sets
/// the error `status N: <the host's message>` and returns the status.
fn plugin_wat(work: &str, fields: &str) -> String {
    format!(
        r#"(module
  (import "plugin_system" "host_call" (func $host_call (param i32 i32 i32 i32) (result i32)))
  (import "plugin_system" "host_result_len" (func $host_result_len (result i32)))
  (import "plugin_system" "host_result" (func $host_result (param i32)))
  (import "plugin_system" "set_error" (func $set_error (param i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "{{\"success\":true}}")
  (data (i32.const 48) "null")
  (data (i32.const 64) "status ?: ")
  (global $heap (mut i32) (i32.const 4096))
  (func $alloc (export "alloc") (param $len i32) (result i32) (local $p i32)
    (local.set $p (global.get $heap))
    (global.set $heap (i32.add (local.get $p) (local.get $len)))
    (if (i32.gt_u (global.get $heap) (i32.const 60000)) (then (global.set $heap (i32.const 4096))))
    (local.get $p))
  (func (export "dealloc") (param i32 i32))
  (func $call (param $name i32) (param $len i32) (result i32) (local $status i32) (local $n i32)
    (local.set $status
      (call $host_call (local.get $name) (local.get $len) (i32.const 48) (i32.const 4)))
    (if (local.get $status) (then
      (i32.store8 (i32.const 71) (i32.add (i32.const 48) (local.get $status)))
      (local.set $n (call $host_result_len))
      (call $host_result (i32.const 74))
      (call $set_error (i32.const 64) (i32.add (i32.const 10) (local.get $n)))))
    (local.get $status))
  (func (export "plugin_handle_event") (param $at i32) (param $len i32) (result i64) (local $out i32)
    (if (i32.gt_u (local.get $len) (i32.const 1000)) (then unreachable))
    {work}
    (local.set $out (call $alloc (i32.const 16)))
    (memory.copy (local.get $out) (i32.const 16) (i32.const 16))
    (i64.or (i64.shl (i64.extend_i32_u (local.get $out)) (i64.const 32)) (i64.const 16)))
  {fields})"#
    )
}

/// A plugin whose events call each host function of `names` in turn, and
/// fail (with `status N: ...`) at the first non-zero status.
fn caller(names: &[&str]) -> String {
    let (mut work, mut data) = (String::new(), String::new());
    for (i, name) in names.iter().enumerate() {
        let at = 2048 + 64 * i;
        data += &format!("(data (i32.const {at}) \"{name}\")\n");
        work += &format!(
            "(if (call $call (i32.const {at}) (i32.const {})) (then (return (i64.const 0))))\n",
            name.len()
        );
    }
    plugin_wat(&work, &data)
}

/// An idle plugin.
fn quiet() -> String {
    plugin_wat("", "")
}

/// `plugin_initialize` that fails, saying why.
const FAILS_INIT: &str = r#"(data (i32.const 3500) "the plugin refuses to start")
  (func (export "plugin_initialize") (result i32)
    (call $set_error (i32.const 3500) (i32.const 27))
    (i32.const 1))"#;

/// `plugin_get_manifest`, answering a JSON manifest of `id` and `version`.
fn manifest_export(id: &str, version: &str) -> String {
    let json = format!(
        r#"{{"id":"{id}","name":"n","version":"{version}","description":"its own","runtime":"wasm"}}"#
    );
    let packed = (3072u64 << 32) | json.len() as u64;
    format!(
        r#"(data (i32.const 3072) "{}")
  (func (export "plugin_get_manifest") (result i64) (i64.const {packed}))"#,
        json.replace('"', "\\\"")
    )
}

/// An event the plugins of [`plugin_wat`] trap on.
fn crash() -> PluginEvent {
    PluginEvent::new("crash".repeat(250))
}

/// A plugin folder in `root`: `plugin.wat` and a `plugin.toml` of `version`
/// with `extra` lines.
fn write_plugin(root: &Path, id: &str, version: &str, wat: &str, extra: &str) -> PathBuf {
    let dir = root.join(id);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("plugin.wat"), wat).unwrap();
    let toml = format!(
        "id = \"{id}\"\nname = \"{id}\"\nversion = \"{version}\"\ndescription = \"wat\"\n\
         runtime = \"wasm\"\nmodule = \"plugin.wat\"\n{extra}\n"
    );
    std::fs::write(dir.join("plugin.toml"), toml).unwrap();
    dir
}

/// [`write_plugin`] at version 1.0.0, read.
fn package(root: &Path, id: &str, wat: &str, extra: &str) -> PluginPackage {
    let dir = write_plugin(root, id, "1.0.0", wat, extra);
    PluginPackage::read(&dir).unwrap_or_else(|e| panic!("{e}"))
}

/// A fresh folder for the scenario `name` on `kind`.
fn temp_root(name: &str, kind: EngineKind) -> PathBuf {
    let root = std::env::temp_dir().join(format!(
        "plugin-system-host-rules-{name}-{kind:?}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();
    root
}

/// A manager over the engine `kind` configured with `config`.
fn builder(kind: EngineKind, config: WasmRuntimeConfig) -> plugin_system_host::ManagerBuilder {
    let engine = new_runtime(kind, config).expect("engine built in");
    PluginManager::builder().runtime(Arc::new(WasmPluginRuntime::new(engine)))
}

/// The changes published so far.
fn drain(changes: &mut broadcast::Receiver<StateChange>) -> Vec<StateChange> {
    std::iter::from_fn(|| changes.try_recv().ok()).collect()
}

/// Polls `check` (for an asynchronous restart) for up to 30 s.
async fn eventually(mut check: impl FnMut() -> bool) -> bool {
    for _ in 0..3000 {
        if check() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    false
}

/// Runs `scenario` on each engine, as two tests.
macro_rules! on_both_engines {
    ($scenario:ident: $wasmtime:ident, $wasmi:ident) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $wasmtime() {
            $scenario(EngineKind::Wasmtime).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $wasmi() {
            $scenario(EngineKind::Wasmi).await;
        }
    };
}

/// Plugins load after what they need; every dependency failure leaves its
/// plugin in `error` with a reason naming the chain, and the others load;
/// an unload of a needed plugin is refused, then cascades.
async fn dependencies(kind: EngineKind) {
    let root = temp_root("deps", kind);
    let m = builder(kind, WasmRuntimeConfig::default())
        .host_version(semver::Version::new(1, 5, 0))
        .build();
    let mut changes = m.subscribe();
    let at = |id: &str, version: &str, extra: &str| {
        PluginPackage::read(&write_plugin(&root, id, version, &quiet(), extra)).unwrap()
    };
    // Names sort against the dependency order: only the dependencies order them.
    let report = m
        .load_packages(vec![
            at(
                "plugin.m-top",
                "1.0.0",
                r#"dependencies = ["plugin.a-icons"]"#,
            ),
            at(
                "plugin.a-icons",
                "1.0.0",
                r#"dependencies = ["plugin.z-base@^1.1"]"#,
            ),
            at("plugin.z-base", "1.2.0", ""),
            at(
                "plugin.old",
                "1.0.0",
                r#"dependencies = ["plugin.z-base@^2"]"#,
            ),
            at(
                "plugin.orphan",
                "1.0.0",
                r#"dependencies = ["plugin.gone"]"#,
            ),
            at(
                "plugin.needs-orphan",
                "1.0.0",
                r#"dependencies = ["plugin.orphan"]"#,
            ),
            at(
                "plugin.cycle-a",
                "1.0.0",
                r#"dependencies = ["plugin.cycle-b"]"#,
            ),
            at(
                "plugin.cycle-b",
                "1.0.0",
                r#"dependencies = ["plugin.cycle-a"]"#,
            ),
            at("plugin.future", "1.0.0", r#"minHostVersion = "99.0.0""#),
            at("plugin.past", "1.0.0", r#"maxHostVersion = "1.0.0""#),
            package(&root, "plugin.broken", &plugin_wat("", FAILS_INIT), ""),
            at(
                "plugin.needs-broken",
                "1.0.0",
                r#"dependencies = ["plugin.broken"]"#,
            ),
        ])
        .await;
    assert_eq!(
        report.loaded,
        ["plugin.z-base", "plugin.a-icons", "plugin.m-top"],
        "{kind:?}: {:?}",
        report.failed
    );
    let published = drain(&mut changes);
    let when = |id: &str, to: PluginState| {
        published
            .iter()
            .position(|c| c.plugin_id == id && c.to == to)
            .unwrap_or_else(|| panic!("{kind:?}: {id} never {to}: {published:?}"))
    };
    assert!(
        when("plugin.z-base", PluginState::Ready) < when("plugin.a-icons", PluginState::Loading)
            && when("plugin.a-icons", PluginState::Ready)
                < when("plugin.m-top", PluginState::Loading),
        "{kind:?}: each loads after what it needs: {published:?}"
    );

    let failed: HashMap<&str, &ManagerError> = report
        .failed
        .iter()
        .map(|(id, e)| (id.as_str(), e))
        .collect();
    assert_eq!(failed.len(), 9, "{kind:?}: {failed:?}");
    let text = |id: &str| failed[id].to_string();
    assert!(
        matches!(failed["plugin.old"], ManagerError::Dependency(DependencyError::Version {
            dependency, required, found, ..
        }) if dependency == "plugin.z-base" && required == "^2" && found == "1.2.0"),
        "{kind:?}: {}",
        text("plugin.old")
    );
    assert!(
        text("plugin.old").contains("^2"),
        "{kind:?}: {}",
        text("plugin.old")
    );
    assert!(
        matches!(failed["plugin.orphan"], ManagerError::Dependency(DependencyError::Missing {
            dependency, ..
        }) if dependency == "plugin.gone"),
        "{kind:?}: {}",
        text("plugin.orphan")
    );
    assert!(
        matches!(failed["plugin.needs-orphan"], ManagerError::Dependency(
            DependencyError::DependencyFailed { chain, .. }
        ) if chain == &["plugin.needs-orphan", "plugin.orphan", "plugin.gone"]),
        "{kind:?}: {}",
        text("plugin.needs-orphan")
    );
    assert!(
        text("plugin.needs-orphan")
            .contains("plugin.needs-orphan needs plugin.orphan, which needs plugin.gone"),
        "{kind:?}: {}",
        text("plugin.needs-orphan")
    );
    for id in ["plugin.cycle-a", "plugin.cycle-b"] {
        assert!(
            matches!(
                failed[id],
                ManagerError::Dependency(DependencyError::Cycle { .. })
            ) && text(id).contains("plugin.cycle-a")
                && text(id).contains("plugin.cycle-b"),
            "{kind:?}: {}",
            text(id)
        );
    }
    for (id, bound) in [("plugin.future", ">=99.0.0"), ("plugin.past", "<=1.0.0")] {
        assert!(
            matches!(
                failed[id],
                ManagerError::Dependency(DependencyError::HostVersion { .. })
            ) && text(id).contains(bound)
                && text(id).contains("1.5.0"),
            "{kind:?}: {}",
            text(id)
        );
    }
    // A dependency that resolved but failed to initialize.
    assert_eq!(failed["plugin.broken"].kind(), "plugin failed", "{kind:?}");
    assert!(
        text("plugin.broken").contains("refuses to start"),
        "{kind:?}: {}",
        text("plugin.broken")
    );
    assert!(
        matches!(failed["plugin.needs-broken"], ManagerError::DependencyNotReady {
            dependency, state: PluginState::Error, ..
        } if dependency == "plugin.broken"),
        "{kind:?}: {}",
        text("plugin.needs-broken")
    );
    for info in m.plugins() {
        if failed.contains_key(info.id.as_str()) {
            assert_eq!(info.state, PluginState::Error, "{kind:?}: {}", info.id);
            assert!(info.reason.is_some(), "{kind:?}: {}", info.id);
        } else {
            assert_eq!(info.state, PluginState::Ready, "{kind:?}: {}", info.id);
        }
    }

    // The base is needed: refused with its dependents, then unloaded after them.
    let refused = m.unload("plugin.z-base", false).await.unwrap_err();
    assert!(
        matches!(&refused, ManagerError::HasDependents { dependents, .. }
            if dependents == &["plugin.a-icons", "plugin.m-top"]),
        "{kind:?}: {refused}"
    );
    assert_eq!(
        m.state("plugin.z-base"),
        Some(PluginState::Ready),
        "{kind:?}"
    );
    assert!(
        m.send_event("plugin.z-base", PluginEvent::new("x"))
            .await
            .is_ok(),
        "{kind:?}: still serving"
    );
    let gone = m.unload("plugin.z-base", true).await.unwrap();
    assert_eq!(
        gone,
        ["plugin.m-top", "plugin.a-icons", "plugin.z-base"],
        "{kind:?}"
    );
    let disposed: Vec<String> = drain(&mut changes)
        .into_iter()
        .filter(|c| c.to == PluginState::Disposed)
        .map(|c| c.plugin_id)
        .collect();
    assert_eq!(disposed, gone, "{kind:?}");
    m.shutdown().await;
}

on_both_engines!(
    dependencies: dependency_order_and_failures_on_wasmtime,
    dependency_order_and_failures_on_wasmi
);

/// A manifest that is not TOML names its file and line; a refused value
/// names its key; a module whose own manifest disagrees with its
/// plugin.toml on id or version does not load, saying which; the others
/// load.
async fn manifests(kind: EngineKind) {
    let root = temp_root("manifests", kind);
    let m = builder(kind, WasmRuntimeConfig::default()).build();
    // Line 7 is the first after the generated keys.
    write_plugin(
        &root,
        "plugin.syntax",
        "1.0.0",
        &quiet(),
        "subscribesTo = = [\"a\"]",
    );
    write_plugin(&root, "plugin.bad-version", "one", &quiet(), "");
    write_plugin(
        &root,
        "plugin.bad-limit",
        "1.0.0",
        &quiet(),
        "[permissions]\nmaxExecutionTimeMs = 0",
    );
    let liar = |id: &str, version: &str| plugin_wat("", &manifest_export(id, version));
    write_plugin(
        &root,
        "plugin.liar-id",
        "1.0.0",
        &liar("plugin.someone-else", "1.0.0"),
        "",
    );
    write_plugin(
        &root,
        "plugin.liar-version",
        "1.0.0",
        &liar("plugin.liar-version", "2.0.0"),
        "",
    );
    write_plugin(
        &root,
        "plugin.honest",
        "1.0.0",
        &liar("plugin.honest", "1.0.0"),
        "",
    );
    write_plugin(&root, "plugin.plain", "1.0.0", &quiet(), "");
    let report = m.load_dir(&root).await;

    let mut loaded = report.loaded.clone();
    loaded.sort();
    assert_eq!(
        loaded,
        ["plugin.honest", "plugin.plain"],
        "{kind:?}: {:?} {:?}",
        report.failed,
        report.unreadable
    );
    assert_eq!(
        report.unreadable.len(),
        3,
        "{kind:?}: {:?}",
        report.unreadable
    );
    let unreadable = |id: &str| -> &ManifestError {
        let path = root.join(id).join("plugin.toml");
        report
            .unreadable
            .iter()
            .find(|e| e.path() == path)
            .unwrap_or_else(|| panic!("{kind:?}: {id} was read: {:?}", report.unreadable))
    };
    let syntax = unreadable("plugin.syntax");
    assert!(
        matches!(syntax, ManifestError::Syntax { line: 7, .. })
            && syntax.to_string().contains(&format!(
                "{}:7:",
                root.join("plugin.syntax/plugin.toml").display()
            )),
        "{kind:?}: {syntax}"
    );
    for (id, key) in [
        ("plugin.bad-version", "version"),
        ("plugin.bad-limit", "permissions.maxExecutionTimeMs"),
    ] {
        let error = unreadable(id);
        assert!(
            error.key() == Some(key) && error.to_string().contains(&format!("`{key}`")),
            "{kind:?}: {error}"
        );
    }

    let failed: HashMap<&str, &ManagerError> = report
        .failed
        .iter()
        .map(|(id, e)| (id.as_str(), e))
        .collect();
    assert_eq!(failed.len(), 2, "{kind:?}: {failed:?}");
    for (id, says) in [
        (
            "plugin.liar-id",
            "says id `plugin.someone-else`, its plugin.toml says `plugin.liar-id`",
        ),
        (
            "plugin.liar-version",
            "says version `2.0.0`, its plugin.toml says `1.0.0`",
        ),
    ] {
        let error = failed[id];
        assert!(
            error.kind() == "invalid manifest" && error.to_string().contains(says),
            "{kind:?}: {error}"
        );
        assert_eq!(m.state(id), Some(PluginState::Error), "{kind:?}: {id}");
    }
    // The plugin.toml is the manifest; the module's own only had to agree.
    assert_eq!(
        m.manifest("plugin.honest").map(|m| m.description),
        Some("wat".to_owned()),
        "{kind:?}"
    );
    assert!(
        m.send_event("plugin.honest", PluginEvent::new("x"))
            .await
            .is_ok(),
        "{kind:?}"
    );
    m.shutdown().await;
}

on_both_engines!(
    manifests: manifest_errors_name_file_line_key_and_field_on_wasmtime,
    manifest_errors_name_file_line_key_and_field_on_wasmi
);

/// Every transition is published: a failed `plugin_initialize` (left in
/// `error` with its reason, then loaded again), a fault and its restart, a
/// quarantine and a revival, and the unload.
async fn transitions(kind: EngineKind) {
    let root = temp_root("states", kind);
    let m = builder(kind, WasmRuntimeConfig::default())
        .restart_policy(
            RestartPolicy::default()
                .backoff(Duration::ZERO, 1.0, Duration::ZERO)
                .breaker(2, Duration::from_secs(600)),
        )
        .build();
    let mut changes = m.subscribe();
    let flaky = package(&root, "plugin.flaky", &plugin_wat("", FAILS_INIT), "");
    let error = m.load_package(flaky.clone()).await.unwrap_err();
    assert!(
        error.kind() == "plugin failed" && error.to_string().contains("refuses to start"),
        "{kind:?}: {error}"
    );
    assert_eq!(
        m.state("plugin.flaky"),
        Some(PluginState::Error),
        "{kind:?}"
    );
    let info = m.plugins().into_iter().next().unwrap();
    assert!(
        info.reason
            .as_deref()
            .is_some_and(|r| r.contains("refuses to start")),
        "{kind:?}: {info:?}"
    );
    let wrong = m
        .send_event("plugin.flaky", PluginEvent::new("x"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            wrong,
            ManagerError::WrongState {
                state: PluginState::Error,
                ..
            }
        ),
        "{kind:?}: {wrong}"
    );

    // Fixed on disk: it loads again.
    std::fs::write(root.join("plugin.flaky/plugin.wat"), quiet()).unwrap();
    m.load_package(flaky).await.unwrap();
    assert!(
        m.send_event("plugin.flaky", PluginEvent::new("x"))
            .await
            .is_ok(),
        "{kind:?}"
    );
    // A trap: a restart. The next event waits for it, traps again, and the
    // breaker (2 faults) puts the plugin in quarantine.
    let trap = m.send_event("plugin.flaky", crash()).await.unwrap_err();
    assert_eq!(trap.kind(), "trap", "{kind:?}: {trap}");
    let trap = m.send_event("plugin.flaky", crash()).await.unwrap_err();
    assert_eq!(trap.kind(), "trap", "{kind:?}: {trap}");
    assert_eq!(
        m.state("plugin.flaky"),
        Some(PluginState::Quarantined),
        "{kind:?}"
    );
    let refused = m
        .send_event("plugin.flaky", PluginEvent::new("x"))
        .await
        .unwrap_err();
    assert!(
        matches!(refused, ManagerError::Quarantined { .. }),
        "{kind:?}: {refused}"
    );
    m.revive("plugin.flaky").await.unwrap();
    let in_place = m.plugin_stats("plugin.flaky").unwrap().events_in_place;
    assert!(
        m.send_event("plugin.flaky", PluginEvent::new("x"))
            .await
            .is_ok(),
        "{kind:?}"
    );
    // A fresh instance's first event is cold: it went to the plugin's own
    // thread, not this task's.
    assert_eq!(
        m.plugin_stats("plugin.flaky").unwrap().events_in_place,
        in_place,
        "{kind:?}"
    );
    m.unload("plugin.flaky", false).await.unwrap();

    let mut seen = Vec::new();
    for change in drain(&mut changes) {
        assert_eq!(change.plugin_id, "plugin.flaky", "{kind:?}");
        if matches!(change.to, PluginState::Error | PluginState::Quarantined) {
            assert!(change.reason.is_some(), "{kind:?}: {change:?}");
        }
        seen.push(format!("{}>{}", change.from, change.to));
    }
    assert_eq!(
        seen,
        [
            "unloaded>loading",
            "loading>loaded",
            "loaded>initializing",
            "initializing>error",
            "error>loading",
            "loading>loaded",
            "loaded>initializing",
            "initializing>ready",
            "ready>initializing",
            "initializing>ready",
            "ready>quarantined",
            "quarantined>initializing",
            "initializing>ready",
            "ready>disposed",
        ],
        "{kind:?}"
    );
    assert_eq!(
        m.plugin_stats("plugin.flaky").unwrap().restarts,
        2,
        "{kind:?}"
    );
}

on_both_engines!(
    transitions: every_transition_is_published_on_wasmtime,
    every_transition_is_published_on_wasmi
);

/// A grant narrower than the declaration: the plugin may call only what it
/// was granted, the record shows both, and a refusal stops the load.
async fn grants(kind: EngineKind) {
    let root = temp_root("grants", kind);
    let narrow = Grant::default().with_host_functions(["log", "fs.wipe"]);
    let m = builder(kind, WasmRuntimeConfig::default())
        .policy(
            PolicyTable::new(Decision::GrantAll)
                .with("plugin.narrow", Decision::Grant(narrow))
                .with("plugin.shady", Decision::Refuse("not signed".into())),
        )
        .host_function("log", HostFunction::new(|_, _| Ok(Value::Null)))
        .host_function(
            "editor.get_text",
            HostFunction::new(|_, _| Ok(Value::from("text"))),
        )
        .build();
    let asks = "requiredHostFunctions = [\"editor.get_text\", \"log\"]\n\
                [permissions]\nmaxMemoryBytes = 1048576";
    let wat = caller(&["log", "editor.get_text"]);
    let report = m
        .load_packages(vec![
            package(&root, "plugin.narrow", &wat, asks),
            package(&root, "plugin.full", &wat, asks),
            package(&root, "plugin.shady", &wat, asks),
        ])
        .await;
    assert_eq!(
        report.loaded,
        ["plugin.full", "plugin.narrow"],
        "{kind:?}: {:?}",
        report.failed
    );
    let record = m.permissions("plugin.narrow").unwrap();
    assert_eq!(
        record.declared.host_functions,
        ["editor.get_text", "log"],
        "{kind:?}"
    );
    assert_eq!(
        record.granted.host_functions,
        ["log"],
        "{kind:?}: never more than declared"
    );
    assert_eq!(record.granted.max_memory_bytes, Some(1_048_576), "{kind:?}");
    let full = m.permissions("plugin.full").unwrap();
    assert_eq!(full.granted, full.declared, "{kind:?}");

    assert!(
        m.send_event("plugin.full", PluginEvent::new("x"))
            .await
            .is_ok(),
        "{kind:?}"
    );
    // `log` is answered; `editor.get_text` is denied to the guest.
    let denied = m
        .send_event("plugin.narrow", PluginEvent::new("x"))
        .await
        .unwrap_err();
    assert!(
        matches!(&denied, ManagerError::Plugin { .. }) && denied.kind() == "permission denied",
        "{kind:?}: {denied}"
    );
    assert!(
        denied.to_string().contains("editor.get_text"),
        "{kind:?}: {denied}"
    );
    let from_host = m
        .call_host_function("plugin.narrow", "editor.get_text", Value::Null)
        .unwrap_err();
    assert!(
        matches!(from_host, ManagerError::HostFunctionDenied { .. }),
        "{kind:?}: {from_host}"
    );
    let (id, refused) = &report.failed[0];
    assert!(
        id == "plugin.shady"
            && matches!(refused, ManagerError::PermissionRefused { reason, .. } if reason == "not signed"),
        "{kind:?}: {refused}"
    );
    assert_eq!(
        m.state("plugin.shady"),
        Some(PluginState::Error),
        "{kind:?}"
    );
    assert!(m.permissions("plugin.shady").is_none(), "{kind:?}");
    // The denied call counted as a call of neither function.
    let s = m.statistics();
    assert_eq!(s.host_functions.total_calls, 3, "{kind:?}: {s:?}");
    m.shutdown().await;
}

on_both_engines!(
    grants: grants_are_narrowed_and_enforced_on_wasmtime,
    grants_are_narrowed_and_enforced_on_wasmi
);

/// A plugin stuck in a loop fills its mailbox of one: the next event is
/// refused with `Busy` at once, and another plugin still answers.
async fn busy(kind: EngineKind) {
    let root = temp_root("busy", kind);
    let m = builder(kind, WasmRuntimeConfig::default())
        .mailbox_capacity(1)
        // Quarantined at its first timeout: what it had queued is refused
        // then, without a second deadline to wait for.
        .restart_policy_for(
            "plugin.stuck",
            RestartPolicy::default().breaker(1, Duration::from_secs(600)),
        )
        .build();
    let report = m
        .load_packages(vec![
            package(
                &root,
                "plugin.stuck",
                &plugin_wat("(loop $l (br $l))", ""),
                "subscribesTo = [\"doc.*\"]\n[permissions]\nmaxExecutionTimeMs = 3000",
            ),
            package(
                &root,
                "plugin.quick",
                &quiet(),
                r#"subscribesTo = ["doc.*"]"#,
            ),
        ])
        .await;
    assert!(report.failed.is_empty(), "{kind:?}: {:?}", report.failed);

    // Filled once the worker has taken the first event (it loops) and a
    // second waits: until the worker takes the first, the second is refused.
    let mut posted = Vec::new();
    for _ in 0..3000 {
        match m.post_event("plugin.stuck", PluginEvent::new("doc.saved")) {
            Ok(answer) => posted.push(answer),
            Err(ManagerError::Busy { capacity: 1, .. }) => {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            Err(other) => panic!("{kind:?}: {other}"),
        }
        if posted.len() == 2 {
            break;
        }
    }
    assert_eq!(posted.len(), 2, "{kind:?}: the mailbox took two");
    // Full: every sender is refused at once, however many at a time.
    let senders: Vec<_> = (0..4)
        .map(|_| {
            let m = m.clone();
            tokio::spawn(async move {
                m.send_event("plugin.stuck", PluginEvent::new("doc.saved"))
                    .await
            })
        })
        .collect();
    for sender in senders {
        let sent = sender.await.unwrap().unwrap_err();
        assert!(
            matches!(&sent, ManagerError::Busy { id, capacity: 1 } if id == "plugin.stuck")
                && sent.kind() == "busy",
            "{kind:?}: {sent}"
        );
    }
    let answers = m.dispatch_event(PluginEvent::new("doc.saved")).await;
    let by_id = |id: &str| &answers.iter().find(|(i, _)| i == id).unwrap().1;
    assert!(
        matches!(by_id("plugin.stuck"), Err(ManagerError::Busy { .. })),
        "{kind:?}: {answers:?}"
    );
    assert!(by_id("plugin.quick").is_ok(), "{kind:?}: {answers:?}");
    assert!(
        m.send_event("plugin.quick", PluginEvent::new("doc.opened"))
            .await
            .is_ok(),
        "{kind:?}"
    );

    // The running one ends at its deadline; the queued one is refused.
    let mut answers = Vec::new();
    for answer in posted {
        answers.push(answer.await);
    }
    assert_eq!(
        answers[0].as_ref().unwrap_err().kind(),
        "timeout",
        "{kind:?}: {answers:?}"
    );
    assert!(
        matches!(answers[1], Err(ManagerError::Quarantined { .. })),
        "{kind:?}: {answers:?}"
    );
    assert_eq!(
        m.plugin_stats("plugin.stuck").unwrap().events_handled,
        1,
        "{kind:?}: only the one that ran"
    );
    assert_eq!(
        m.plugin_stats("plugin.quick").unwrap().events_handled,
        2,
        "{kind:?}"
    );
    m.shutdown().await;
}

on_both_engines!(
    busy: a_full_mailbox_is_busy_on_wasmtime,
    a_full_mailbox_is_busy_on_wasmi
);

/// A host function that fails and one that panics give the guest status 1
/// with the message; one not registered, status 3; the host carries on,
/// and each call is counted.
async fn host_failures(kind: EngineKind) {
    let root = temp_root("host", kind);
    let m = builder(kind, WasmRuntimeConfig::default())
        .host_function("log", HostFunction::new(|_, _| Ok(Value::Null)))
        .host_function(
            "editor.fails",
            HostFunction::new(|_, _| Err(HostFunctionError::new("no text today"))),
        )
        .host_function(
            "editor.explodes",
            HostFunction::new(|_, _| panic!("a host function that panics")),
        )
        .build();
    let declares = |name: &str| format!("requiredHostFunctions = [\"{name}\"]");
    let report = m
        .load_packages(vec![
            package(&root, "plugin.ok", &caller(&["log"]), &declares("log")),
            package(
                &root,
                "plugin.fails",
                &caller(&["editor.fails"]),
                &declares("editor.fails"),
            ),
            package(
                &root,
                "plugin.explodes",
                &caller(&["editor.explodes"]),
                &declares("editor.explodes"),
            ),
            package(
                &root,
                "plugin.lost",
                &caller(&["editor.nothing"]),
                &declares("editor.nothing"),
            ),
        ])
        .await;
    assert!(report.failed.is_empty(), "{kind:?}: {:?}", report.failed);
    let send = |id: &'static str| m.send_event(id, PluginEvent::new("x"));
    for (id, says) in [
        ("plugin.fails", "status 1: "),
        ("plugin.fails", "no text today"),
        ("plugin.explodes", "status 1: "),
        ("plugin.explodes", "panicked"),
        ("plugin.lost", "status 3: "),
    ] {
        let error = send(id).await.unwrap_err();
        assert!(
            error.kind() == "plugin failed" && error.to_string().contains(says),
            "{kind:?}: {id}: {error}"
        );
        assert!(send("plugin.ok").await.is_ok(), "{kind:?}: after {id}");
    }
    // From the host too: an error, not a panic.
    let panicked = m
        .call_host_function("plugin.explodes", "editor.explodes", Value::Null)
        .unwrap_err();
    assert!(
        matches!(panicked, ManagerError::HostFunctionFailed { .. })
            && panicked.kind() == "host function failed",
        "{kind:?}: {panicked}"
    );
    for id in ["plugin.fails", "plugin.explodes", "plugin.lost"] {
        let stats = m.plugin_stats(id).unwrap();
        assert_eq!(m.state(id), Some(PluginState::Ready), "{kind:?}: {id}");
        assert_eq!(stats.restarts, 0, "{kind:?}: {id}: nothing poisoned");
        assert_eq!(stats.events_handled, stats.failures, "{kind:?}: {id}");
    }
    let s = m.statistics();
    // log, editor.fails, editor.explodes, events.emit.
    assert_eq!(s.host_functions.total_functions, 4, "{kind:?}: {s:?}");
    assert_eq!(s.host_functions.total_calls, 5 + 2 + 3, "{kind:?}: {s:?}");
    assert_eq!(
        s.host_functions.most_called.as_deref(),
        Some("log"),
        "{kind:?}"
    );
    assert_eq!(s.host_functions.most_called_count, 5, "{kind:?}");
    assert_eq!(s.plugins["plugin.ok"].failures, 0, "{kind:?}");
    m.shutdown().await;
}

on_both_engines!(
    host_failures: host_function_failures_and_panics_on_wasmtime,
    host_function_failures_and_panics_on_wasmi
);

/// The statistics after a known run: every count, and the Dart keys.
async fn statistics(kind: EngineKind) {
    let root = temp_root("stats", kind);
    let m = builder(kind, WasmRuntimeConfig::default().fuel_limit(10_000_000))
        .host_function("log", HostFunction::new(|_, _| Ok(Value::Null)))
        .restart_policy(RestartPolicy::default().backoff(Duration::ZERO, 1.0, Duration::ZERO))
        .build();
    let report = m
        .load_packages(vec![
            package(
                &root,
                "plugin.a",
                &caller(&["log"]),
                "requiredHostFunctions = [\"log\"]\nsubscribesTo = [\"doc.*\"]",
            ),
            package(
                &root,
                "plugin.b",
                &quiet(),
                r#"subscribesTo = ["doc.saved"]"#,
            ),
            package(&root, "plugin.flaky", &plugin_wat("", FAILS_INIT), ""),
        ])
        .await;
    assert_eq!(
        report.loaded,
        ["plugin.a", "plugin.b"],
        "{kind:?}: {:?}",
        report.failed
    );
    for _ in 0..2 {
        let answers = m.dispatch_event(PluginEvent::new("doc.saved")).await;
        assert!(
            answers.len() == 2 && answers.iter().all(|(_, a)| a.is_ok()),
            "{kind:?}: {answers:?}"
        );
    }
    m.send_event("plugin.a", PluginEvent::new("doc.opened"))
        .await
        .unwrap();
    let trap = m.send_event("plugin.b", crash()).await.unwrap_err();
    assert_eq!(trap.kind(), "trap", "{kind:?}: {trap}");
    assert!(
        eventually(|| m.plugin_stats("plugin.b").unwrap().restarts == 1
            && m.state("plugin.b") == Some(PluginState::Ready))
        .await,
        "{kind:?}: restarted"
    );

    let s = m.statistics();
    assert_eq!(
        (s.registry.total, s.registry.ready, s.registry.error),
        (3, 2, 1),
        "{kind:?}"
    );
    assert_eq!(
        s.host_functions.total_functions, 2,
        "{kind:?}: log, events.emit"
    );
    assert_eq!(s.host_functions.total_calls, 3, "{kind:?}");
    assert_eq!(
        s.host_functions.most_called.as_deref(),
        Some("log"),
        "{kind:?}"
    );
    assert_eq!(s.host_functions.most_called_count, 3, "{kind:?}");
    assert_eq!(s.dispatcher.total_dispatched, 4, "{kind:?}");
    assert_eq!(s.dispatcher.unique_types, 3, "{kind:?}");
    assert_eq!(
        s.dispatcher.most_common.as_deref(),
        Some("doc.saved"),
        "{kind:?}"
    );
    assert_eq!(s.dispatcher.most_common_count, 2, "{kind:?}");
    assert_eq!(s.permissions.total_plugins, 3, "{kind:?}");
    assert!(
        (s.permissions.avg_host_functions - 1.0 / 3.0).abs() < 1e-9,
        "{kind:?}: {}",
        s.permissions.avg_host_functions
    );
    // The failed initialize (an error) and the trap (a warning).
    assert_eq!(s.errors.total_errors, 2, "{kind:?}: {:?}", s.errors);
    assert_eq!(s.errors.plugins_with_errors, 2, "{kind:?}");
    assert_eq!(
        s.errors.by_severity.get("error").copied(),
        Some(1),
        "{kind:?}"
    );
    assert_eq!(
        s.errors.by_severity.get("warning").copied(),
        Some(1),
        "{kind:?}"
    );
    let a = m.plugin_stats("plugin.a").unwrap();
    assert_eq!(
        (a.events_handled, a.failures, a.restarts),
        (3, 0, 0),
        "{kind:?}"
    );
    let b = m.plugin_stats("plugin.b").unwrap();
    assert_eq!(
        (b.events_handled, b.failures, b.restarts),
        (3, 1, 1),
        "{kind:?}"
    );
    assert_eq!(s.plugins["plugin.a"], a, "{kind:?}");
    for stats in [&a, &b] {
        assert_eq!(stats.memory_pages, Some(1), "{kind:?}");
        assert!(stats.median_time.is_some(), "{kind:?}");
    }
    assert!(
        a.fuel_consumed.is_some_and(|f| f > 0),
        "{kind:?}: {:?}",
        a.fuel_consumed
    );

    // The Dart keys, as a host would print them.
    let json = serde_json::to_value(&s).unwrap();
    for (group, keys) in [
        (
            "registry",
            &["total", "ready", "error", "loading", "initializing"][..],
        ),
        (
            "host_functions",
            &[
                "total_functions",
                "total_calls",
                "most_called",
                "most_called_count",
            ],
        ),
        (
            "dispatcher",
            &[
                "total_dispatched",
                "unique_types",
                "most_common",
                "most_common_count",
            ],
        ),
        (
            "permissions",
            &[
                "total_plugins",
                "avg_host_functions",
                "plugins_with_network",
                "plugins_with_filesystem",
            ],
        ),
        (
            "errors",
            &[
                "total_errors",
                "plugins_with_errors",
                "most_errors_plugin",
                "by_severity",
            ],
        ),
    ] {
        for key in keys {
            assert!(
                json[group].get(key).is_some(),
                "{kind:?}: {group}.{key} in {json}"
            );
        }
    }
    assert_eq!(json["registry"]["total"], 3, "{kind:?}");
    assert_eq!(json["host_functions"]["total_calls"], 3, "{kind:?}");
    assert_eq!(json["dispatcher"]["most_common"], "doc.saved", "{kind:?}");
    assert_eq!(json["errors"]["by_severity"]["error"], 1, "{kind:?}");
    let b_json = &json["plugins"]["plugin.b"];
    for key in [
        "events_handled",
        "failures",
        "median_us",
        "p99_us",
        "restarts",
        "fuel_consumed",
        "memory_pages",
    ] {
        assert!(b_json.get(key).is_some(), "{kind:?}: {key} in {b_json}");
    }
    assert_eq!(b_json["failures"], 1, "{kind:?}");
    assert!(b_json["median_us"].is_u64(), "{kind:?}");
    m.shutdown().await;
}

on_both_engines!(
    statistics: statistics_count_with_the_dart_keys_on_wasmtime,
    statistics_count_with_the_dart_keys_on_wasmi
);
