//! Native unit tests of plugins: a [`Harness`] that plays the host, a mock
//! for host functions, and what the plugin logged or reported. Only outside
//! wasm.
//!
//! ```
//! use plugin_system_guest::prelude::*;
//! use plugin_system_guest::testing::{self, Harness};
//!
//! #[derive(Default)]
//! struct Shout;
//!
//! impl Plugin for Shout {
//!     fn manifest() -> PluginManifest {
//!         PluginManifest::wasm("plugin.shout", "Shout", "1.0.0", "Shouts the editor's text")
//!             .with_required_host_functions(["editor.get_text"])
//!     }
//!
//!     fn handle_event(&mut self, _event: PluginEvent) -> Result<PluginResponse, Error> {
//!         let text = host::call("editor.get_text", ValueMap::new())?;
//!         let text = text.as_str().unwrap_or_default().to_uppercase();
//!         Ok(PluginResponse::ok().with_field("text", text))
//!     }
//! }
//!
//! plugin_system_guest::export_plugin!(Shout);
//!
//! testing::mock_host(|name, _args| {
//!     assert_eq!(name, "editor.get_text");
//!     Ok(Value::from("hi"))
//! });
//! let plugin = Harness::<Shout>::new();
//! let response = plugin.handle(&PluginEvent::new("shout")).unwrap();
//! assert_eq!(response.get("text"), Some(&Value::from("HI")));
//! assert_eq!(plugin_system_guest::abi::live_buffers(), 0);
//! ```
//!
//! Everything here is per thread, as each test runs in its own thread.

use plugin_system_core::{PluginEvent, PluginManifest, PluginResponse, Value};

use crate::__private::{self as export, Exported, Slot};
use crate::codec::{self, Codec};
use crate::host::HostCallError;
use crate::log::Level;
use crate::{Context, abi, sys};

/// Makes [`host::call`](crate::host::call) on this thread call `host`
/// instead of failing with [`HostCallError::NotFound`]. The arguments and the
/// result go through the calling plugin's wire format (JSON or MessagePack),
/// as they would to a real host.
pub fn mock_host<F>(mut host: F)
where
    F: FnMut(&str, Value) -> Result<Value, HostCallError> + 'static,
{
    mock_host_raw(move |name, args| {
        // The mock runs inside `host::call`, so this is the caller's codec.
        let codec = codec::current_native();
        let args = match (codec.decode)(args) {
            Ok(args) => args,
            Err(e) => return (4, e.message().as_bytes().to_vec()),
        };
        match host(name, args) {
            Ok(result) => match (codec.encode)(&result) {
                Ok(bytes) => (0, bytes),
                Err(e) => (1, e.message().as_bytes().to_vec()),
            },
            Err(e) => (e.status(), e.message().as_bytes().to_vec()),
        }
    });
}

/// Like [`mock_host`], at the level of the ABI: `(name, serialized
/// arguments)` to `(status, pending result)`.
pub fn mock_host_raw<F>(host: F)
where
    F: FnMut(&str, &[u8]) -> (i32, Vec<u8>) + 'static,
{
    sys::HOST.with(|h| *h.borrow_mut() = Some(Box::new(host)));
}

/// Removes the mock host of this thread.
pub fn clear_host() {
    sys::HOST.with(|h| *h.borrow_mut() = None);
}

/// The lines logged on this thread since the last call, oldest first.
pub fn take_logs() -> Vec<(Level, String)> {
    sys::LOGS
        .with(|l| std::mem::take(&mut *l.borrow_mut()))
        .into_iter()
        .map(|(level, line)| (Level::from_abi(level).unwrap_or(Level::Error), line))
        .collect()
}

/// The message last passed to `set_error` on this thread, cleared.
pub fn take_error() -> Option<String> {
    sys::LAST_ERROR.with(|e| e.borrow_mut().take())
}

/// Plays the host for one plugin, through the same code as the wasm exports
/// and the same buffer protocol: each message is written into a buffer from
/// `alloc`, each reply is read and then freed with `dealloc`, and the input
/// is freed on every path. After each call, [`abi::live_buffers`] is back to
/// what it was.
///
/// It speaks the plugin's wire format, JSON or MessagePack, as
/// [`export_plugin!`](crate::export_plugin) chose it ([`Harness::encode`]
/// and [`Harness::decode`] give tests the same); a failure is the message
/// the plugin passed to `set_error`.
pub struct Harness<P> {
    slot: Slot<P>,
}

impl<P: Exported> Harness<P> {
    /// A plugin not initialized yet.
    pub fn new() -> Self {
        Harness { slot: Slot::new() }
    }

    /// `plugin_get_manifest`.
    ///
    /// # Errors
    ///
    /// The plugin's error message, or why its manifest cannot be read.
    pub fn manifest(&self) -> Result<PluginManifest, String> {
        take_error();
        let bytes = read_reply(export::manifest::<P>())?;
        P::Codec::decode_model(&bytes).map_err(|e| format!("invalid manifest: {e}"))
    }

    /// `plugin_initialize` with this context.
    ///
    /// # Errors
    ///
    /// The plugin's error message.
    pub fn initialize(&self, ctx: &Context) -> Result<(), String> {
        let bytes = Self::encode(ctx)?;
        take_error();
        match with_input(&bytes, |input| export::initialize(&self.slot, input)) {
            0 => Ok(()),
            _ => Err(error_message()),
        }
    }

    /// `plugin_handle_event` with this event.
    ///
    /// # Errors
    ///
    /// The plugin's error message, or why its response cannot be read.
    pub fn handle(&self, event: &PluginEvent) -> Result<PluginResponse, String> {
        let bytes = Self::encode(event)?;
        let reply = self.handle_bytes(&bytes)?;
        P::Codec::decode_model(&reply).map_err(|e| format!("invalid response: {e}"))
    }

    /// `plugin_handle_event` with these bytes; the reply's bytes.
    ///
    /// # Errors
    ///
    /// The plugin's error message.
    pub fn handle_bytes(&self, input: &[u8]) -> Result<Vec<u8>, String> {
        take_error();
        read_reply(with_input(input, |input| {
            export::handle_event(&self.slot, input)
        }))
    }

    /// `plugin_dispose`.
    pub fn dispose(&self) {
        export::dispose(&self.slot);
    }

    /// `value` in the plugin's wire format, as the host would send it (for
    /// [`handle_bytes`](Self::handle_bytes)).
    ///
    /// # Errors
    ///
    /// Why the format cannot hold it.
    pub fn encode<T: serde::Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, String> {
        P::Codec::encode(value).map_err(|e| e.message().to_owned())
    }

    /// A message in the plugin's wire format, such as a reply of
    /// [`handle_bytes`](Self::handle_bytes).
    ///
    /// # Errors
    ///
    /// Why `bytes` are not a `T` in that format.
    pub fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
        P::Codec::decode(bytes).map_err(|e| e.message().to_owned())
    }
}

impl<P: Exported> Default for Harness<P> {
    fn default() -> Self {
        Harness::new()
    }
}

/// Writes `bytes` into a buffer from `alloc`, runs `call` on it, and frees
/// it, as a host does.
fn with_input<T>(bytes: &[u8], call: impl FnOnce(&[u8]) -> T) -> T {
    let ptr = abi::alloc(bytes.len());
    assert!(!ptr.is_null(), "alloc({}) failed", bytes.len());
    // SAFETY: `ptr` is a fresh buffer of `bytes.len()` bytes.
    let input = unsafe {
        std::ptr::copy_nonoverlapping(bytes.as_ptr(), ptr, bytes.len());
        std::slice::from_raw_parts(ptr, bytes.len())
    };
    // Freed on every path, also when `call` unwinds.
    struct Free(*mut u8, usize);
    impl Drop for Free {
        fn drop(&mut self) {
            // SAFETY: allocated above with this length, freed only here.
            unsafe { abi::dealloc(self.0, self.1) }
        }
    }
    let _free = Free(ptr, bytes.len());
    call(input)
}

/// Copies a reply out of its buffer and frees it; a missing reply is the
/// error the plugin reported.
fn read_reply(reply: Option<(*mut u8, usize)>) -> Result<Vec<u8>, String> {
    let (ptr, len) = reply.ok_or_else(error_message)?;
    // SAFETY: the plugin handed out `len` bytes at `ptr`, freed once here.
    unsafe {
        let bytes = std::slice::from_raw_parts(ptr, len).to_vec();
        abi::dealloc(ptr, len);
        Ok(bytes)
    }
}

fn error_message() -> String {
    take_error().unwrap_or_else(|| "the plugin failed without calling set_error".to_owned())
}
