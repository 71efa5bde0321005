//! The host's side of the `plugin_system` imports: error messages, logs and calls
//! to host functions by name, each checked against the plugin's permissions.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use plugin_system_core::{
    Caller, FuncType, HostCall, HostError, HostFunc, HostFunctions, Imports, LastWords,
    OutputBuffer, PluginError, PluginSerializer, ValType, Value, WasmError, WasmValue,
    checked_range,
};

use crate::abi::{IMPORT_MODULE, MAX_MESSAGE_BYTES, MAX_RESPONSE_BYTES};

/// Longest host function name a guest may send.
const MAX_NAME_BYTES: usize = 1024;

/// `host_call` statuses, as ABI.md lists them.
const STATUS_OK: i32 = 0;
const STATUS_FAILED: i32 = 1;
const STATUS_DENIED: i32 = 2;
const STATUS_NOT_FOUND: i32 = 3;
const STATUS_BAD_ARGUMENTS: i32 = 4;

/// What the imports of one plugin share with the plugin's calls.
pub(crate) struct Link {
    pub(crate) plugin_id: String,
    pub(crate) allowed: Vec<String>,
    pub(crate) functions: HostFunctions,
    pub(crate) serializer: Arc<dyn PluginSerializer>,
    /// The result (or error message) of the last `host_call`, until fetched.
    pending: Vec<u8>,
    /// What the guest said with `set_error` during the current call.
    pub(crate) error: Option<String>,
    /// The last host function the current call was refused.
    pub(crate) denied: Option<String>,
    pub(crate) host_calls: u64,
    pub(crate) host_calls_denied: u64,
    /// The guest's captured WASI stderr, and its length when the current
    /// call began: what the call wrote goes with its trap.
    pub(crate) stderr: Option<(OutputBuffer, u64)>,
}

/// A [`Link`] shared by the imports and the plugin.
pub(crate) type SharedLink = Arc<Mutex<Link>>;

/// Locks a link; a panic elsewhere leaves its data consistent (plain fields).
pub(crate) fn lock(link: &Mutex<Link>) -> MutexGuard<'_, Link> {
    link.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Link {
    pub(crate) fn new(functions: HostFunctions, serializer: Arc<dyn PluginSerializer>) -> Self {
        Link {
            plugin_id: String::new(),
            allowed: Vec::new(),
            functions,
            serializer,
            pending: Vec::new(),
            error: None,
            denied: None,
            host_calls: 0,
            host_calls_denied: 0,
            stderr: None,
        }
    }

    /// Forgets what the previous call left.
    pub(crate) fn begin_call(&mut self) {
        self.error = None;
        self.denied = None;
        self.pending.clear();
        if let Some((buffer, mark)) = &mut self.stderr {
            *mark = buffer.written();
        }
    }

    /// `error`, with the guest's last words when it is a trap after the
    /// guest said why (`set_error`) or wrote to its captured stderr.
    pub(crate) fn with_last_words(
        &mut self,
        export: &'static str,
        error: PluginError,
    ) -> PluginError {
        let PluginError::Wasm(cause @ WasmError::Trap { .. }) = error else {
            return error;
        };
        let stderr = self
            .stderr
            .as_ref()
            .map(|(buffer, mark)| buffer.tail(*mark, LastWords::STDERR_TAIL))
            .filter(|tail| !tail.trim_ascii().is_empty())
            .map(|tail| String::from_utf8_lossy(&tail).into_owned());
        let message = self.error.take();
        if message.is_none() && stderr.is_none() {
            return PluginError::Wasm(cause);
        }
        PluginError::Trapped(Box::new(LastWords::new(export, message, stderr, cause)))
    }

    /// Calls the host function `name` for this plugin, permissions first.
    pub(crate) fn call(&mut self, name: &str, args: Value) -> Result<Value, PluginError> {
        self.host_calls += 1;
        if !self.allowed.iter().any(|allowed| allowed == name) {
            self.host_calls_denied += 1;
            self.denied = Some(name.to_owned());
            tracing::warn!(plugin = %self.plugin_id, function = name, "host call denied");
            return Err(PluginError::PermissionDenied {
                function: name.to_owned(),
            });
        }
        let Some(function) = self.functions.get(name) else {
            return Err(PluginError::HostFunctionNotFound {
                name: name.to_owned(),
            });
        };
        let call = HostCall::new(&self.plugin_id);
        function
            .call(call, args)
            .map_err(|e| PluginError::HostFunction {
                name: name.to_owned(),
                source: Box::new(e),
            })
    }

    /// `host_call` for the guest: a status, and the pending result or message.
    fn guest_call(&mut self, name: &[u8], args: &[u8]) -> i32 {
        let outcome = std::str::from_utf8(name)
            .map_err(|_| {
                (
                    STATUS_BAD_ARGUMENTS,
                    "the function name is not UTF-8".to_owned(),
                )
            })
            .and_then(|name| {
                let args = self
                    .serializer
                    .deserialize_value(args)
                    .map_err(|e| (STATUS_BAD_ARGUMENTS, e.to_string()))?;
                let value = self.call(name, args).map_err(|e| {
                    let status = match e {
                        PluginError::PermissionDenied { .. } => STATUS_DENIED,
                        PluginError::HostFunctionNotFound { .. } => STATUS_NOT_FOUND,
                        _ => STATUS_FAILED,
                    };
                    (status, e.to_string())
                })?;
                self.serializer
                    .serialize_value(&value)
                    .map_err(|e| (STATUS_FAILED, e.to_string()))
            });
        match outcome {
            Ok(bytes) => {
                self.pending = bytes;
                STATUS_OK
            }
            Err((status, message)) => {
                self.pending = message.into_bytes();
                status
            }
        }
    }
}

fn arg(args: &[WasmValue], i: usize) -> u32 {
    // The signatures are checked when linking: these are i32s. Pointers and
    // lengths are unsigned.
    args.get(i).and_then(WasmValue::as_i32).unwrap_or(0) as u32
}

/// Reads `len` bytes at `ptr` of the caller's memory, at most `cap`.
fn read(
    caller: &mut dyn Caller,
    ptr: u32,
    len: u32,
    cap: usize,
    what: &str,
) -> Result<Vec<u8>, HostError> {
    let len = len as usize;
    if len > cap {
        return Err(HostError::new(format!(
            "{what} of {len} bytes is over the limit of {cap}"
        )));
    }
    // Copying is host work the guest pays for, a unit of fuel a byte.
    caller.consume_fuel(len as u64);
    let memory = caller
        .memory()
        .ok_or_else(|| HostError::new("the plugin exports no memory"))?;
    memory
        .read_vec(u64::from(ptr), len)
        .map_err(|e| HostError::new(format!("{what}: {e}")))
}

/// Reads the text of a `set_error` or `log` message at `ptr`, `len` bytes
/// long. The whole range must lie inside the caller's memory: a range that
/// does not is a bad pointer, and fails the import (ABI.md). Of a range that
/// does, only the first `keep` bytes are copied; the text then ends with
/// `… (N more bytes)`.
fn read_message(
    caller: &mut dyn Caller,
    ptr: u32,
    len: u32,
    keep: usize,
    what: &str,
) -> Result<String, HostError> {
    let memory = caller
        .memory()
        .ok_or_else(|| HostError::new("the plugin exports no memory"))?;
    // Checked before anything is copied: the bounds, then the kept prefix
    // (`size` and `bytes_at` copy nothing more on the web engine, whose
    // `data` copies the whole memory).
    let range = checked_range(u64::from(ptr), len as usize, memory.size() as usize)
        .map_err(|e| HostError::new(format!("{what}: {e}")))?;
    let kept = range.start..range.end.min(range.start.saturating_add(keep));
    caller.consume_fuel(kept.len() as u64);
    let memory = caller
        .memory()
        .ok_or_else(|| HostError::new("the plugin exports no memory"))?;
    let bytes = memory
        .bytes_at(kept.start as u64, kept.len())
        .map_err(|e| HostError::new(format!("{what}: {e}")))?;
    let mut text = String::from_utf8_lossy(&bytes).into_owned();
    if kept.end < range.end {
        text.push_str(&format!("… ({} more bytes)", range.end - kept.end));
    }
    Ok(text)
}

/// The `plugin_system` imports of one plugin.
pub(crate) fn imports(link: &SharedLink) -> Imports {
    use ValType::I32;
    let mut imports = Imports::new();

    let l = Arc::clone(link);
    imports.func(
        IMPORT_MODULE,
        "set_error",
        HostFunc::new(FuncType::new([I32, I32], []), move |caller, args, _| {
            let text = read_message(
                caller,
                arg(args, 0),
                arg(args, 1),
                MAX_MESSAGE_BYTES,
                "error message",
            )?;
            lock(&l).error = Some(text);
            Ok(())
        }),
    );

    let l = Arc::clone(link);
    imports.func(
        IMPORT_MODULE,
        "log",
        HostFunc::new(
            FuncType::new([I32, I32, I32], []),
            move |caller, args, _| {
                let text = read_message(
                    caller,
                    arg(args, 1),
                    arg(args, 2),
                    MAX_MESSAGE_BYTES,
                    "log message",
                )?;
                let link = lock(&l);
                let plugin = link.plugin_id.as_str();
                match args.first().and_then(WasmValue::as_i32).unwrap_or(2) {
                    i32::MIN..=0 => tracing::trace!(target: "plugin", plugin, "{text}"),
                    1 => tracing::debug!(target: "plugin", plugin, "{text}"),
                    2 => tracing::info!(target: "plugin", plugin, "{text}"),
                    3 => tracing::warn!(target: "plugin", plugin, "{text}"),
                    _ => tracing::error!(target: "plugin", plugin, "{text}"),
                }
                Ok(())
            },
        ),
    );

    let l = Arc::clone(link);
    imports.func(
        IMPORT_MODULE,
        "host_call",
        HostFunc::new(
            FuncType::new([I32, I32, I32, I32], [I32]),
            move |caller, args, results| {
                let name = read(
                    caller,
                    arg(args, 0),
                    arg(args, 1),
                    MAX_NAME_BYTES,
                    "host function name",
                )?;
                let input = read(
                    caller,
                    arg(args, 2),
                    arg(args, 3),
                    MAX_RESPONSE_BYTES,
                    "host call arguments",
                )?;
                results[0] = WasmValue::I32(lock(&l).guest_call(&name, &input));
                Ok(())
            },
        ),
    );

    let l = Arc::clone(link);
    imports.func(
        IMPORT_MODULE,
        "host_result_len",
        HostFunc::new(FuncType::new([], [I32]), move |_, _, results| {
            let len = lock(&l).pending.len();
            results[0] = WasmValue::I32(i32::try_from(len).unwrap_or(i32::MAX));
            Ok(())
        }),
    );

    let l = Arc::clone(link);
    imports.func(
        IMPORT_MODULE,
        "host_result",
        HostFunc::new(FuncType::new([I32], []), move |caller, args, _| {
            let pending = std::mem::take(&mut lock(&l).pending);
            caller.consume_fuel(pending.len() as u64);
            let memory = caller
                .memory()
                .ok_or_else(|| HostError::new("the plugin exports no memory"))?;
            memory
                .write(u64::from(arg(args, 0)), &pending)
                .map_err(|e| HostError::new(format!("host result: {e}")))
        }),
    );
    imports
}
