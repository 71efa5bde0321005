//! WASI preview 1: what a guest sees of the world, the same for every engine.
//!
//! A [`WasiConfig`] travels with the [`Imports`](crate::Imports) of an
//! instantiation ([`Imports::wasi`](crate::Imports::wasi)). Nothing of the host is
//! visible unless it is granted here: no arguments, no environment variables, no
//! directories, stdin closed, stdout and stderr discarded.

use std::{
    fmt,
    path::PathBuf,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
};

use crate::{Result, WasmError, WasmInstance};

/// The module name of WASI preview 1 imports.
pub const WASI_MODULE: &str = "wasi_snapshot_preview1";

/// How a guest may use a preopened directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DirAccess {
    /// List, stat and read; every write, create, rename or delete is refused.
    ReadOnly,
    /// Everything inside the directory.
    ReadWrite,
}

/// A host directory made visible to the guest under a path of its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preopen {
    /// The directory on the host.
    pub host: PathBuf,
    /// The path the guest opens it by, for example `/data` or `.`.
    pub guest: String,
    /// What the guest may do in it.
    pub access: DirAccess,
}

/// Where the guest's stdin comes from.
#[derive(Debug, Clone, Default)]
pub enum WasiStdin {
    /// Nothing: reads see end of file at once.
    #[default]
    Closed,
    /// These bytes, then end of file.
    Bytes(Arc<[u8]>),
    /// The host process's stdin.
    Inherit,
}

/// Where the guest's stdout or stderr goes.
#[derive(Debug, Clone, Default)]
pub enum WasiOutput {
    /// Nowhere: writes succeed and are dropped.
    #[default]
    Discard,
    /// The host process's stream.
    Inherit,
    /// Into a buffer the caller keeps a handle of.
    Capture(OutputBuffer),
}

/// A buffer that collects a guest's output, up to a limit.
///
/// Clones share the buffer: keep one, hand one to [`WasiOutput::Capture`], and
/// read it after (or while) the guest runs. Bytes past the limit are dropped, the
/// buffer is marked [truncated](Self::is_truncated), and the guest's next write
/// fails with an I/O error, as on a full disk. A buffer made with
/// [`keeping_last`](Self::keeping_last) drops the oldest bytes instead, and
/// every write succeeds: the end of a guest's stderr, for its errors.
#[derive(Clone)]
pub struct OutputBuffer {
    inner: Arc<Mutex<Captured>>,
}

struct Captured {
    bytes: Vec<u8>,
    limit: usize,
    truncated: bool,
    /// Keeps the last `limit` bytes rather than the first.
    keep_last: bool,
    /// Bytes dropped from the front (with `keep_last`).
    dropped: u64,
}

impl OutputBuffer {
    /// An empty buffer that holds at most `limit` bytes.
    pub fn new(limit: usize) -> Self {
        OutputBuffer {
            inner: Arc::new(Mutex::new(Captured {
                bytes: Vec::new(),
                limit,
                truncated: false,
                keep_last: false,
                dropped: 0,
            })),
        }
    }

    /// An empty buffer that keeps the last `limit` bytes written: older ones
    /// are dropped (and the buffer marked truncated), and no write fails.
    pub fn keeping_last(limit: usize) -> Self {
        let buffer = OutputBuffer::new(limit);
        buffer.lock().keep_last = true;
        buffer
    }

    fn lock(&self) -> MutexGuard<'_, Captured> {
        // The data stays consistent even if a writer panicked mid-way: a Vec push.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A copy of what was written so far.
    pub fn contents(&self) -> Vec<u8> {
        self.lock().held().to_vec()
    }

    /// What was written so far, as text (invalid UTF-8 replaced).
    pub fn to_string_lossy(&self) -> String {
        String::from_utf8_lossy(self.lock().held()).into_owned()
    }

    /// Takes what was written so far, leaving the buffer empty (and no longer
    /// truncated).
    pub fn take(&self) -> Vec<u8> {
        let mut captured = self.lock();
        captured.truncated = false;
        let held = captured.held().to_vec();
        captured.dropped += captured.bytes.len() as u64;
        captured.bytes.clear();
        held
    }

    /// How many bytes were written to it in all, kept or not: a mark for
    /// [`tail`](Self::tail).
    pub fn written(&self) -> u64 {
        let captured = self.lock();
        captured.dropped + captured.bytes.len() as u64
    }

    /// The end of what was written since the mark `from` (a
    /// [`written`](Self::written) count): its last `max` bytes at most, of
    /// those still held (a guest's last words, for an error).
    pub fn tail(&self, from: u64, max: usize) -> Vec<u8> {
        let captured = self.lock();
        let held = captured.held();
        let start = captured.dropped + (captured.bytes.len() - held.len()) as u64;
        let skip = usize::try_from(from.saturating_sub(start)).unwrap_or(usize::MAX);
        let after = held.get(skip..).unwrap_or_default();
        after[after.len().saturating_sub(max)..].to_vec()
    }

    /// Bytes held.
    pub fn len(&self) -> usize {
        self.lock().held().len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.lock().held().is_empty()
    }

    /// The most bytes it holds.
    pub fn limit(&self) -> usize {
        self.lock().limit
    }

    /// Whether output was dropped because the limit was reached.
    pub fn is_truncated(&self) -> bool {
        self.lock().truncated
    }

    /// Whether it takes no more writes: its limit was reached, and it keeps
    /// the first bytes (one made with [`keeping_last`](Self::keeping_last)
    /// takes every write). Engines then fail the guest's write.
    pub fn is_closed(&self) -> bool {
        let captured = self.lock();
        captured.truncated && !captured.keep_last
    }

    /// Appends what fits of `bytes` and returns how many were kept; marks the
    /// buffer truncated when some did not fit. Engines call this for the guest.
    pub fn write(&self, bytes: &[u8]) -> usize {
        let mut captured = self.lock();
        if captured.keep_last {
            captured.bytes.extend_from_slice(bytes);
            // Dropped in bulk, when twice the limit is held: the copy costs a
            // byte per byte written.
            if captured.bytes.len() > captured.limit.saturating_mul(2) {
                let drop = captured.bytes.len() - captured.limit;
                captured.bytes.drain(..drop);
                captured.dropped += drop as u64;
            }
            if captured.dropped > 0 || captured.bytes.len() > captured.limit {
                captured.truncated = true;
            }
            return bytes.len();
        }
        let room = captured.limit.saturating_sub(captured.bytes.len());
        let kept = bytes.len().min(room);
        captured.bytes.extend_from_slice(&bytes[..kept]);
        if kept < bytes.len() {
            captured.truncated = true;
        }
        kept
    }
}

impl Captured {
    /// The bytes it holds: with `keep_last`, the last `limit` of those stored.
    fn held(&self) -> &[u8] {
        if self.keep_last {
            &self.bytes[self.bytes.len().saturating_sub(self.limit)..]
        } else {
            &self.bytes
        }
    }
}

impl fmt::Debug for OutputBuffer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let captured = self.lock();
        f.debug_struct("OutputBuffer")
            .field("len", &captured.bytes.len())
            .field("limit", &captured.limit)
            .field("truncated", &captured.truncated)
            .finish()
    }
}

/// The WASI preview 1 world of one instance.
///
/// ```
/// use plugin_system_core::{DirAccess, OutputBuffer, WasiConfig, WasiOutput};
///
/// let stdout = OutputBuffer::new(1 << 20);
/// let wasi = WasiConfig::new()
///     .args(["tool", "--verbose"])
///     .env("LANG", "C")
///     .preopen("/tmp", "/tmp", DirAccess::ReadOnly)
///     .stdout(WasiOutput::Capture(stdout.clone()));
/// assert_eq!(wasi.args, ["tool", "--verbose"]);
/// ```
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct WasiConfig {
    /// The program's arguments, `argv[0]` (the program name) first.
    pub args: Vec<String>,
    /// Environment variables, after the inherited ones (a later one wins).
    pub env: Vec<(String, String)>,
    /// Pass the host process's environment to the guest.
    pub inherit_env: bool,
    /// Directories the guest can see.
    pub preopens: Vec<Preopen>,
    /// The guest's stdin.
    pub stdin: WasiStdin,
    /// The guest's stdout.
    pub stdout: WasiOutput,
    /// The guest's stderr.
    pub stderr: WasiOutput,
    /// A fixed clock and seeded random numbers, for reproducible runs: the wall
    /// clock stands at the Unix epoch, the monotonic clock advances 1 ms per
    /// reading, and both random sources are generated from this seed.
    pub deterministic: Option<u64>,
    /// Most file descriptors the guest may hold at once, its stdio and
    /// preopened directories included (`None`: [`DEFAULT_MAX_OPEN_FILES`]).
    /// Past it, opening a file fails in the guest with `EMFILE`, so a guest
    /// cannot take the host process's descriptors from the host.
    pub max_open_files: Option<u32>,
}

/// Descriptors a guest may hold when [`WasiConfig::max_open_files`] is not set:
/// far more than programs keep open at once, far fewer than a host process has.
pub const DEFAULT_MAX_OPEN_FILES: u32 = 128;

impl WasiConfig {
    /// Nothing granted: no arguments, environment or directories; stdin closed,
    /// output discarded.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends one argument (the first is `argv[0]`).
    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// Appends arguments (the first of all is `argv[0]`).
    pub fn args(mut self, args: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Sets an environment variable.
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Passes the host process's environment to the guest.
    pub fn inherit_env(mut self) -> Self {
        self.inherit_env = true;
        self
    }

    /// Makes the host directory `host` visible to the guest as `guest`.
    pub fn preopen(
        mut self,
        host: impl Into<PathBuf>,
        guest: impl Into<String>,
        access: DirAccess,
    ) -> Self {
        self.preopens.push(Preopen {
            host: host.into(),
            guest: guest.into(),
            access,
        });
        self
    }

    /// Sets stdin.
    pub fn stdin(mut self, stdin: WasiStdin) -> Self {
        self.stdin = stdin;
        self
    }

    /// Sets stdin to these bytes.
    pub fn stdin_bytes(self, bytes: impl Into<Arc<[u8]>>) -> Self {
        self.stdin(WasiStdin::Bytes(bytes.into()))
    }

    /// Sets stdout.
    pub fn stdout(mut self, stdout: WasiOutput) -> Self {
        self.stdout = stdout;
        self
    }

    /// Sets stderr.
    pub fn stderr(mut self, stderr: WasiOutput) -> Self {
        self.stderr = stderr;
        self
    }

    /// Connects stdin, stdout and stderr to the host process's.
    pub fn inherit_stdio(self) -> Self {
        self.stdin(WasiStdin::Inherit)
            .stdout(WasiOutput::Inherit)
            .stderr(WasiOutput::Inherit)
    }

    /// Sets [`max_open_files`](Self::max_open_files).
    pub fn max_open_files(mut self, max: u32) -> Self {
        self.max_open_files = Some(max);
        self
    }

    /// Fixes the clocks and seeds the random sources (see
    /// [`deterministic`](Self::deterministic)).
    pub fn deterministic(mut self, seed: u64) -> Self {
        self.deterministic = Some(seed);
        self
    }
}

/// The name of a WASI command's entry point.
pub const START: &str = "_start";

/// The name of a WASI reactor's initializer, which engines run once at
/// instantiation, before any other export can be called.
pub const INITIALIZE: &str = "_initialize";

/// Runs a WASI command: calls `_start` and returns the exit code, 0 when `_start`
/// returns and the code given to `proc_exit` otherwise.
///
/// # Errors
/// Whatever the call fails with besides an exit: a trap, fuel, a deadline, and
/// [`WasmError::ExportNotFound`] when there is no `_start`.
pub fn run_command(instance: &mut dyn WasmInstance) -> Result<i32> {
    exit_code(instance.call(START, &[]).map(drop))
}

/// Turns the outcome of a call into an exit code: 0 for a return, the code for
/// [`WasmError::Exit`], the error otherwise.
///
/// # Errors
/// The call's error unless it is an exit.
pub fn exit_code(outcome: Result<()>) -> Result<i32> {
    match outcome {
        Ok(()) => Ok(0),
        Err(WasmError::Exit { code }) => Ok(code),
        Err(other) => Err(other),
    }
}

#[cfg(test)]
mod tests {
    use super::OutputBuffer;

    #[test]
    fn a_buffer_keeps_its_first_bytes_and_refuses_the_rest() {
        let buffer = OutputBuffer::new(8);
        assert_eq!(buffer.write(b"12345"), 5);
        assert_eq!(buffer.write(b"6789"), 3);
        assert_eq!(buffer.contents(), b"12345678");
        assert!(buffer.is_truncated());
        assert_eq!(buffer.written(), 8);
        assert_eq!(buffer.tail(5, 2), b"78");
        assert_eq!(buffer.take(), b"12345678");
        assert_eq!(buffer.written(), 8, "a mark outlives a take");
        assert!(buffer.tail(0, 100).is_empty());
    }

    #[test]
    fn a_buffer_keeping_last_drops_its_oldest_bytes() {
        let buffer = OutputBuffer::keeping_last(8);
        for chunk in [&b"abc"[..], b"defgh", b"ijklmnopqrstuvwxyz"] {
            assert_eq!(buffer.write(chunk), chunk.len(), "no write fails");
        }
        assert_eq!(buffer.contents(), b"stuvwxyz");
        assert_eq!(buffer.len(), 8);
        assert!(buffer.is_truncated());
        assert_eq!(buffer.written(), 26);
        let mark = buffer.written();
        buffer.write(b"0123456789");
        // What was written since the mark, as much of it as is held.
        assert_eq!(buffer.tail(mark, 100), b"23456789");
        assert_eq!(buffer.tail(mark, 3), b"789");
        assert_eq!(buffer.tail(mark + 8, 100), b"89");
        assert_eq!(buffer.take(), b"23456789");
        assert!(buffer.is_empty());
        buffer.write(b"z");
        assert_eq!((buffer.contents(), buffer.written()), (b"z".to_vec(), 37));
    }
}
