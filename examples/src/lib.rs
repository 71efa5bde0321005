//! Example host programs for the plugin system: `demo` (an editor hosting the
//! example plugins through the `PluginManager`; `cargo xtask demo` builds the
//! guests and runs it) and `engines` (one guest on both engines against every
//! limit: `cargo run -p examples --example engines`).
//!
//! The library is the demo's editor, shared with the tests that load its
//! plugins on both engines:
//!
//! - [`stage_plugins`] makes a plugins folder from `examples/plugins/` (one
//!   folder per plugin, each with its `plugin.toml`) and the modules that
//!   `cargo xtask guests` built from `guests/`: binaries are built from
//!   source, never checked in.
//! - [`editor`] builds the editor's `PluginManager` over one engine, with its
//!   host functions (`editor.get_text`, `net.post`, both recorded in a
//!   [`HostLog`]) and its [`EditorPolicy`], which keeps the network from the
//!   plugins the user has not trusted.
//! - [`dot`]: an embedder calling a C library's string exports (graphviz's
//!   shape) with the core's guest helpers; `cargo run -p examples --example
//!   dot`.

pub mod dot;

use std::{
    fs,
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
};

use anyhow::{Context as _, Result, bail};
use plugin_system_core::{
    HostFunction, HostFunctionError, PluginManifest, Value, ValueMap, WasmRuntimeConfig,
};
use plugin_system_host::{Decision, Grant, PermissionPolicy, PluginManager, discover};
use plugin_system_wasm::WasmPluginRuntime;
use plugin_system_wasm_run::{EngineKind, ModuleCache, new_runtime};

/// The document open in the editor.
pub const DOCUMENT: &str = "fn main() {\n    println!(\"hello, plugins\");\n}\n";

/// The host functions that reach the network, which [`EditorPolicy`] grants
/// only to trusted plugins.
pub const NETWORK_PREFIX: &str = "net.";

/// The fuel of each plugin call, unless a plugin's grant sets its own.
pub const FUEL: u64 = 50_000_000;

/// Where `cargo xtask guests` builds the Rust plugins and the C programs,
/// relative to `guests/target/`: a module a `plugin.toml` names but its
/// folder lacks is looked up there.
const BUILT_MODULES: [&str; 2] = ["wasm32-unknown-unknown/release", "c"];

/// `examples/plugins/`: the example plugin folders, without their built
/// modules.
pub fn plugin_folders() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("plugins")
}

/// A module that `cargo xtask guests` built, by its path under
/// `guests/target/` (`wasm32-wasip1/release/wasi-probe.wasm`).
///
/// # Errors
///
/// When it is not there, with the command that builds it.
pub fn guest(relative: &str) -> Result<PathBuf> {
    let path = guests_target().join(relative);
    if !path.is_file() {
        bail!(
            "{} is not built: run `cargo xtask demo` (or `cargo xtask guests`)",
            path.display()
        );
    }
    Ok(path)
}

fn guests_target() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../guests/target")
}

/// Makes a plugins folder at `dest`: a copy of every folder of
/// [`plugin_folders`], with each module its `plugin.toml` names and the folder
/// lacks copied in from the guest build (`guests/target/`).
///
/// # Errors
///
/// When a manifest cannot be read, a module is not built (the message says
/// to run `cargo xtask demo`), or a copy fails.
pub fn stage_plugins(dest: &Path) -> Result<()> {
    let source = plugin_folders();
    copy_dir(&source, dest)?;
    let discovery = discover(dest);
    if let Some(error) = discovery.errors.first() {
        bail!("a plugin folder of {} is broken: {error}", source.display());
    }
    for package in &discovery.packages {
        if package.module.is_file() {
            continue;
        }
        let name = package
            .module
            .file_name()
            .with_context(|| format!("{} names no module file", package.manifest_path.display()))?;
        let built = BUILT_MODULES
            .iter()
            .map(|dir| guests_target().join(dir).join(name))
            .find(|path| path.is_file());
        let Some(built) = built else {
            bail!(
                "the module {} of {} is not built: run `cargo xtask demo` (or `cargo xtask guests`)",
                name.to_string_lossy(),
                package.manifest.id
            );
        };
        fs::copy(&built, &package.module).with_context(|| {
            format!(
                "cannot copy {} to {}",
                built.display(),
                package.module.display()
            )
        })?;
    }
    Ok(())
}

/// Copies the folder `from` into `to`, subfolders included.
fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    fs::create_dir_all(to).with_context(|| format!("cannot create {}", to.display()))?;
    let entries = fs::read_dir(from).with_context(|| format!("cannot read {}", from.display()))?;
    for entry in entries {
        let entry = entry.with_context(|| format!("cannot read {}", from.display()))?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            fs::copy(entry.path(), &target)
                .with_context(|| format!("cannot copy {}", entry.path().display()))?;
        }
    }
    Ok(())
}

/// The editor's permission policy: a plugin gets what it declares, except the
/// host functions that reach the network ([`NETWORK_PREFIX`]), which only the
/// plugins the user has trusted get.
#[derive(Debug, Clone, Default)]
pub struct EditorPolicy {
    trusted: Vec<String>,
}

impl EditorPolicy {
    /// Trusts the plugin `id` with the network too.
    #[must_use]
    pub fn trust(mut self, id: impl Into<String>) -> Self {
        self.trusted.push(id.into());
        self
    }
}

impl PermissionPolicy for EditorPolicy {
    fn decide(&self, manifest: &PluginManifest, declared: &Grant) -> Decision {
        if self.trusted.contains(&manifest.id) {
            return Decision::GrantAll;
        }
        let offline = declared
            .host_functions
            .iter()
            .filter(|name| !name.starts_with(NETWORK_PREFIX))
            .cloned();
        Decision::Grant(declared.clone().with_host_functions(offline))
    }
}

/// What the editor's host functions did, one line per call, for the demo to
/// show. Cheap to clone: the clones share the lines.
#[derive(Debug, Clone, Default)]
pub struct HostLog(Arc<Mutex<Vec<String>>>);

impl HostLog {
    fn push(&self, line: String) {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(line);
    }

    /// The lines logged since the last call, oldest first.
    pub fn take(&self) -> Vec<String> {
        std::mem::take(
            &mut *self
                .0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }
}

/// The editor: a `PluginManager` over the engine `kind`, whose host functions
/// log to `log`, with [`EditorPolicy`] (no plugin trusted). Build it inside a
/// tokio runtime's context; its plugins run on that runtime. Compiled plugins
/// are kept in the plugin system's cache of compiled code
/// ([`ModuleCache::open_default`]), so that the next start compiles nothing.
///
/// Host functions:
/// - `editor.get_text`: the text of the open document, [`DOCUMENT`];
/// - `net.post` `{url, body}`: pretends to post `body` to `url`, and answers
///   `{url}` where it can be read.
///
/// # Errors
///
/// When the engine cannot be built.
pub fn editor(kind: EngineKind, log: &HostLog) -> Result<PluginManager> {
    editor_with(kind, log, EditorPolicy::default())
}

/// [`editor`] with another policy.
///
/// # Errors
///
/// When the engine cannot be built.
pub fn editor_with(
    kind: EngineKind,
    log: &HostLog,
    policy: impl PermissionPolicy + 'static,
) -> Result<PluginManager> {
    let config = WasmRuntimeConfig::default()
        .max_memory_pages(256)
        .fuel_limit(FUEL);
    // Compiled plugins are kept in the plugin system's cache of compiled code
    // (`ModuleCache::default_dir`, as the command-line tool's), so the next
    // start of the editor skips compiling them; with no usable cache directory
    // the editor compiles as before. On wasmi the cache passes through; tiered,
    // plugins start on wasmi and move to wasmtime as their compiles finish.
    let engine: Arc<dyn plugin_system_core::WasmRuntime> = match ModuleCache::open_default() {
        Ok(cache) if kind == EngineKind::Tiered => Arc::new(cache.new_tiered_runtime(config)?),
        Ok(cache) => Arc::new(cache.new_runtime(kind, config)?),
        Err(_) => new_runtime(kind, config)?,
    };
    let get_text = {
        let log = log.clone();
        HostFunction::new(move |call, _args| {
            log.push(format!(
                "{} read the document (editor.get_text)",
                call.plugin_id
            ));
            Ok(Value::from(DOCUMENT))
        })
        .with_description("the text of the open document")
    };
    let post = {
        let log = log.clone();
        HostFunction::new(move |call, args| {
            let field = |key: &str| {
                args.get(key)
                    .and_then(Value::as_str)
                    .ok_or_else(|| HostFunctionError::new(format!("`{key}` must be a string")))
            };
            let (url, body) = (field("url")?, field("body")?);
            log.push(format!(
                "{} posted {} bytes to {url} (net.post)",
                call.plugin_id,
                body.len()
            ));
            let mut reply = ValueMap::new();
            reply.insert("url".to_owned(), Value::from(format!("{url}/1")));
            Ok(Value::Map(reply))
        })
        .with_description("posts `body` to `url`; answers `{url}` where it can be read")
    };
    Ok(PluginManager::builder()
        .runtime(Arc::new(WasmPluginRuntime::new(engine)))
        .host_function("editor.get_text", get_text)
        .host_function("net.post", post)
        .policy(policy)
        .build())
}
