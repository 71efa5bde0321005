//! The compiled-module cache of `run`, `call` and `event` on wasmtime, and the
//! `cache` command that manages it.
//!
//! The cache is the library's [`ModuleCache`] (see its documentation: what
//! names an entry, how entries are sealed with the key in the directory, the
//! bound and its least-recently-used eviction, several processes at once), in
//! [`ModuleCache::default_dir`]: `$PLUGIN_SYSTEM_CACHE_DIR`, else
//! `$XDG_CACHE_HOME/plugin-system`, else `$HOME/.cache/plugin-system`. Only
//! wasmtime runs open it (wasmi compiles nothing, and its runs do not even make
//! the directory), and nothing about it ever fails a command: a directory that
//! cannot be created, or that others may write, a key that cannot be read, a
//! full disk, all fall back to compiling as if there were no cache.
//!
//! # Out of a guest's reach
//!
//! The entries are native code that the host runs, so a guest that could read
//! the key could seal code of its own choosing for the next run to execute.
//! Hence ([`guard_grants`]):
//! - `run` refuses a `--dir` or `--dir-ro` grant whose host folder contains the
//!   cache directory or lies inside it (`/`, `~`, `~/.cache`, ...; paths
//!   compared canonicalized, a cache directory not made yet included), with an
//!   error that names the ways out: `--no-cache`, or `PLUGIN_SYSTEM_CACHE_DIR`
//!   elsewhere. This holds on wasmi too, which would not read the cache but
//!   whose guest could write into it for a later wasmtime run.
//! - With `--no-cache` such a grant is allowed, and the key is deleted before
//!   the guest starts: the guest cannot read it, and whatever it leaves in the
//!   folder is sealed by no key the host will use (the library trusts only a
//!   key of mode 0400, which WASI cannot set, and replaces any other).
//!
//! What is left: a run that uses the cache and starts while a `--no-cache` run
//! with such a grant is going makes a new key its guest could read; and the
//! superuser's runs ignore file modes, so under root a granted guest could
//! rewrite the key (grants that reach the cache are refused all the same).

use std::{
    io::{self, Read, Write},
    path::{Component, Path, PathBuf},
    process::{Command, Stdio},
    sync::Arc,
    time::{Duration, Instant, SystemTime},
};

use clap::{Args, Subcommand};
use plugin_system::{
    EngineKind, WasmError, WasmRuntime, WasmRuntimeConfig,
    core::Timestamp,
    new_runtime,
    wasm_run::{CacheEntry, CacheKey, ModuleCache},
};

use sha2::{Digest, Sha256};

use super::{Failure, input};

/// `--no-cache`.
#[derive(Debug, Args)]
pub(crate) struct CacheArgs {
    /// Neither read nor write the cache of compiled code. On wasmtime the
    /// compiled module is otherwise kept in $PLUGIN_SYSTEM_CACHE_DIR (default
    /// $XDG_CACHE_HOME/plugin-system or ~/.cache/plugin-system) and reused by the
    /// next run of the same file with the same settings; wasmi compiles nothing
    /// and caches nothing.
    #[arg(long)]
    no_cache: bool,
}

/// How long the process that asks for a runtime lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lifetime {
    /// Runs a guest and exits (`run`, `call`, `event`): a tiered compile is
    /// handed to a process of its own ([`compile_detached`]).
    Command,
    /// Serves until stopped (`host`): tiered compiles run in this process.
    Server,
}

/// A runtime of engine `kind` with `config`; on wasmtime, unless `--no-cache`,
/// one that keeps compiled modules in the cache directory. Tiered without a
/// cache (`--no-cache`, or no usable directory) is wasmi: it has nowhere to
/// keep what it would compile.
///
/// # Errors
/// As [`new_runtime`].
pub(crate) fn runtime(
    kind: EngineKind,
    config: WasmRuntimeConfig,
    args: &CacheArgs,
    lifetime: Lifetime,
) -> Result<Arc<dyn WasmRuntime>, WasmError> {
    if kind.resolve() == EngineKind::Tiered {
        if !args.no_cache
            && EngineKind::Tiered.is_available()
            && let Some(cache) = open()
        {
            let tiered = cache.new_tiered_runtime(config)?;
            if lifetime == Lifetime::Server {
                return Ok(Arc::new(tiered));
            }
            let keys = Arc::clone(tiered.optimized().inner());
            return Ok(Arc::new(tiered.with_compile_hand_off(
                move |bytes, digest| compile_detached(&cache, &*keys, bytes, digest),
            )));
        }
        return new_runtime(EngineKind::Wasmi, config);
    }
    if !args.no_cache
        && kind.resolve() == EngineKind::Wasmtime
        && EngineKind::Wasmtime.is_available()
        && let Some(cache) = open()
    {
        return Ok(Arc::new(cache.new_runtime(EngineKind::Wasmtime, config)?));
    }
    new_runtime(kind, config)
}

/// The cache in the default directory, made when missing; `None` when there
/// is no usable directory or key.
fn open() -> Option<ModuleCache> {
    let dir = ModuleCache::default_dir()?;
    ModuleCache::open(&dir)
        .inspect_err(|e| tracing::debug!("no compiled-module cache in {}: {e}", dir.display()))
        .ok()
}

/// A compile older than this that left its lock behind died: the lock is
/// taken over.
const STALE_LOCK: Duration = Duration::from_secs(3600);

/// The lock a process holds while it compiles the entry `key`, so that one
/// module is compiled by one process at a time.
fn lock_path(cache: &ModuleCache, key: &CacheKey) -> PathBuf {
    cache.dir().join(format!("{key}.compiling"))
}

/// Whether a process is compiling the entry of `lock` (a lock younger than
/// [`STALE_LOCK`]).
fn compiling(lock: &Path) -> bool {
    std::fs::symlink_metadata(lock)
        .and_then(|m| m.modified())
        .is_ok_and(|at| {
            SystemTime::now()
                .duration_since(at)
                .is_ok_and(|age| age < STALE_LOCK)
        })
}

/// Starts `plugin-system cache add --background -` in a process of its own,
/// which outlives this one (its own process group: a Ctrl-C of this command
/// does not stop it), and writes `bytes` (whose SHA-256 is `digest`) to its
/// stdin; unless one compiles this module already. Nothing here fails the
/// command: a compile that cannot start is a debug line.
fn compile_detached(cache: &ModuleCache, keys: &dyn WasmRuntime, bytes: &[u8], digest: &[u8; 32]) {
    if compiling(&lock_path(cache, &CacheKey::of_digest(keys, digest))) {
        return;
    }
    let Ok(exe) = std::env::current_exe() else {
        return;
    };
    let mut command = Command::new(exe);
    command.args(["cache", "add", "--background", "-"]);
    if keys.config().fuel_limit.is_some() {
        // Metering is compiled in; the amount is not.
        command.args(["--fuel", "1"]);
    }
    command
        .env("PLUGIN_SYSTEM_CACHE_DIR", cache.dir())
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    match command.spawn() {
        Ok(mut child) => {
            if let Some(mut stdin) = child.stdin.take()
                && let Err(e) = stdin.write_all(bytes)
            {
                tracing::debug!("the background compile did not take the module: {e}");
            }
            // Not waited for: it goes on after this process exits.
        }
        Err(e) => tracing::debug!("cannot start the background compile: {e}"),
    }
}

/// `cache add`: compiles a module into the cache, once.
#[derive(Debug, Args)]
pub(crate) struct AddArgs {
    /// The `.wasm` or `.wat` file, or `-` for stdin.
    file: PathBuf,
    /// Compile for runs with fuel metering (`run --fuel N`, any N: metering
    /// is compiled into the code, the amount is not).
    #[arg(long, value_name = "N")]
    fuel: Option<u64>,
    /// Compile at the lowest scheduling priority (what `--engine tiered`
    /// asks for).
    #[arg(long, hide = true)]
    background: bool,
}

/// A compile lock held: removed when dropped, a panic included. A lock left
/// by a process that was killed goes stale after [`STALE_LOCK`].
struct Lock(PathBuf);

impl Lock {
    /// The lock of `path`, if no other process holds one younger than
    /// [`STALE_LOCK`]. Made with `create_new`: of two processes, one gets it.
    fn take(path: PathBuf) -> io::Result<Option<Lock>> {
        for _ in 0..2 {
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
            {
                Ok(mut file) => {
                    // For people who look: which process compiles.
                    let _ = write!(file, "{}", std::process::id());
                    return Ok(Some(Lock(path)));
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    if compiling(&path) {
                        return Ok(None);
                    }
                    // Stale: its holder died. Taken over once.
                    let _ = std::fs::remove_file(&path);
                }
                Err(e) => return Err(e),
            }
        }
        Ok(None)
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Lowers this process's scheduling priority to the lowest, where the
/// platform allows it: a background compile waits for idle cores.
fn lower_priority() {
    #[cfg(unix)]
    {
        // SAFETY: `setpriority` on this process (who = 0) has no
        // preconditions, and fails without effect.
        let _ = unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, 19) };
    }
}

/// `cache list|clear|size|add`.
#[derive(Debug, Args)]
pub(crate) struct CacheCommandArgs {
    #[command(subcommand)]
    action: CacheAction,
}

#[derive(Debug, Subcommand)]
enum CacheAction {
    /// One line per entry, most recently used first: its name (the SHA-256 of
    /// the module and the settings that change the compiled code), its size in
    /// bytes, and when it was last used (UTC).
    List,
    /// Remove every entry (the key stays), and say how many and how many bytes.
    Clear,
    /// The bytes the entries hold together.
    Size,
    /// Compile a module with wasmtime into the cache, so that its next run
    /// (on wasmtime, or tiered) starts from the cache; nothing is done when it
    /// is there already, or another process compiles it now. `--engine
    /// tiered` runs this in the background.
    Add(AddArgs),
}

/// Runs `cache ACTION` on the cache directory; a directory not made yet is
/// an empty cache, and is not made.
///
/// # Errors
/// [`Failure::Usage`] when there is no cache directory, it cannot be opened
/// (others may write it, it is a file, ...), or it cannot be read.
pub(crate) fn manage(args: &CacheCommandArgs, out: &mut dyn Write) -> Result<(), Failure> {
    let dir = ModuleCache::default_dir().ok_or_else(|| {
        Failure::Usage(
            "bad usage: no cache directory: set PLUGIN_SYSTEM_CACHE_DIR, XDG_CACHE_HOME or HOME"
                .to_owned(),
        )
    })?;
    let cache_error =
        |e: io::Error| Failure::Usage(format!("cannot use the cache in {}: {e}", dir.display()));
    let cache = match std::fs::symlink_metadata(&dir) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        _ => Some(ModuleCache::open(&dir).map_err(cache_error)?),
    };
    match args.action {
        CacheAction::List => {
            let entries = match &cache {
                Some(cache) => cache.entries().map_err(cache_error)?,
                None => Vec::new(),
            };
            for entry in entries {
                writeln!(out, "{}", line(&entry))?;
            }
        }
        CacheAction::Clear => {
            let removed = match &cache {
                Some(cache) => cache.clear().map_err(cache_error)?,
                None => Vec::new(),
            };
            let bytes: u64 = removed.iter().map(|entry| entry.bytes).sum();
            let entries = if removed.len() == 1 {
                "entry"
            } else {
                "entries"
            };
            writeln!(out, "removed {} {entries}, {bytes} bytes", removed.len())?;
        }
        CacheAction::Size => {
            let bytes = match &cache {
                Some(cache) => cache.total_bytes().map_err(cache_error)?,
                None => 0,
            };
            writeln!(out, "{bytes}")?;
        }
        CacheAction::Add(ref add) => {
            let cache = ModuleCache::open(&dir).map_err(cache_error)?;
            fill(&cache, add, out)?;
        }
    }
    Ok(())
}

/// Compiles the module of `add` into `cache` unless it is there or being
/// compiled, holding the module's lock meanwhile.
fn fill(cache: &ModuleCache, add: &AddArgs, out: &mut dyn Write) -> Result<(), Failure> {
    let bytes = if add.file == Path::new("-") {
        let mut bytes = Vec::new();
        io::stdin().lock().take(1 << 30).read_to_end(&mut bytes)?;
        bytes
    } else {
        plugin_system::core::read_module_file(&add.file).map_err(Failure::from)?
    };
    input::check_module(&bytes)?;
    if add.background {
        lower_priority();
    }
    let mut config = WasmRuntimeConfig::default();
    if let Some(fuel) = add.fuel {
        config = config.fuel_limit(fuel);
    }
    let runtime = cache.new_runtime(EngineKind::Wasmtime, config)?;
    // Hashed once: the module may be tens of megabytes.
    let digest: [u8; 32] = Sha256::digest(&bytes).into();
    let key = CacheKey::of_digest(&**runtime.inner(), &digest);
    let cached = || runtime.load_cached_digest(&bytes, &digest).is_some();
    if cached() {
        writeln!(out, "{key} already cached")?;
        return Ok(());
    }
    let Some(_lock) = Lock::take(lock_path(cache, &key))? else {
        writeln!(out, "{key} is being compiled by another process")?;
        return Ok(());
    };
    // The process that held the lock may have finished just now.
    if cached() {
        writeln!(out, "{key} already cached")?;
        return Ok(());
    }
    let started = Instant::now();
    runtime.load_module(&bytes)?;
    let stats = runtime.cache_stats();
    if stats.stored == 0 {
        return Err(Failure::Usage(format!(
            "compiled {key}, but could not write it to the cache in {}",
            cache.dir().display()
        )));
    }
    writeln!(
        out,
        "{key} cached: {} bytes compiled in {:.2?}",
        bytes.len(),
        started.elapsed()
    )?;
    Ok(())
}

/// `NAME BYTES LAST-USED` of `cache list`.
fn line(entry: &CacheEntry) -> String {
    format!(
        "{} {} {}",
        entry.name,
        entry.bytes,
        Timestamp::from_system_time(entry.last_used)
    )
}

/// Checks the host folders a guest is to be given (`grants`: the option as
/// the user wrote it, such as `--dir ~::/h`, and the host path) against the
/// cache directory: see [the module docs](self). With `--no-cache` every grant
/// is allowed, and the key is deleted when a grant reaches it.
///
/// # Errors
/// [`Failure::Usage`] for a grant that contains the cache directory or lies
/// inside it, unless `--no-cache`.
pub(crate) fn guard_grants(args: &CacheArgs, grants: &[(String, PathBuf)]) -> Result<(), Failure> {
    let Some(cache) = ModuleCache::default_dir().map(|dir| canonical(&dir)) else {
        return Ok(());
    };
    for (option, host) in grants {
        // Also a folder that does not exist yet: making the cache may make it.
        let host = canonical(host);
        if !(cache.starts_with(&host) || host.starts_with(&cache)) {
            continue;
        }
        if args.no_cache {
            retire_key(&cache);
            continue;
        }
        return Err(Failure::Usage(format!(
            "bad usage: {option} would give the guest the cache of compiled code in {} \
             (native code the host runs, and the key that seals it); grant a folder \
             that neither holds it nor lies in it, or run with --no-cache, or keep the \
             cache elsewhere with PLUGIN_SYSTEM_CACHE_DIR",
            cache.display()
        )));
    }
    Ok(())
}

/// Deletes the cache's key before a guest that may read the cache starts: the
/// next run that uses the cache makes a new one.
fn retire_key(cache: &Path) {
    match std::fs::remove_file(cache.join("key")) {
        Ok(()) => tracing::debug!(
            "cache key in {} deleted: a guest is given it",
            cache.display()
        ),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => tracing::debug!("cannot delete the cache key in {}: {e}", cache.display()),
    }
}

/// `path` canonicalized: its longest existing ancestor canonicalized, and the
/// rest (folders not made yet, so no symlinks) resolved as written, `..` too.
fn canonical(path: &Path) -> PathBuf {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
    let components: Vec<Component<'_>> = absolute.components().collect();
    for split in (1..=components.len()).rev() {
        let Ok(mut found) = components[..split]
            .iter()
            .collect::<PathBuf>()
            .canonicalize()
        else {
            continue;
        };
        for component in &components[split..] {
            match component {
                Component::ParentDir => {
                    found.pop();
                }
                Component::CurDir => {}
                other => found.push(other),
            }
        }
        return found;
    }
    absolute
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_resolves_what_does_not_exist_yet() {
        let temp = std::env::temp_dir().canonicalize().expect("temp dir");
        let base = temp.join("plugin-system-no-such-folder");
        assert_eq!(canonical(&temp), temp);
        assert_eq!(canonical(&base.join("b")), base.join("b"));
        assert_eq!(canonical(&base.join("b/../c/./d")), base.join("c/d"));
        assert_eq!(canonical(&base.join("b/..")), base);
        assert_eq!(canonical(&base.join("..")), temp);
    }
}
