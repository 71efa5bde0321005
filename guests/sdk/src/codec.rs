//! The wire formats a plugin can speak: [`Json`] (the default) and
//! [`MessagePack`], as the host's `JsonSerializer` and
//! `MessagePackSerializer` read and write them (see `ABI.md`, "Wire format").
//!
//! A plugin chooses its format in [`export_plugin!`](crate::export_plugin):
//!
//! ```
//! # use plugin_system_guest::prelude::*;
//! # #[derive(Default)]
//! # struct Echo;
//! # impl Plugin for Echo {
//! #     fn manifest() -> PluginManifest {
//! #         PluginManifest::wasm("plugin.echo", "Echo", "1.0.0", "Echoes")
//! #     }
//! #     fn handle_event(&mut self, event: PluginEvent) -> Result<PluginResponse, Error> {
//! #         Ok(PluginResponse::ok_with(event.data))
//! #     }
//! # }
//! plugin_system_guest::export_plugin!(Echo, format = msgpack);
//! ```
//!
//! Everything the plugin reads and writes then takes that format: events,
//! responses, the manifest, the initialization context, and the arguments and
//! results of [`host::call`](crate::host::call). The custom section
//! `plugin_wire_format` says which ([`Codec::WIRE_FORMAT`]), so the host
//! answers in kind. Only the chosen codec ends up in the module: the other
//! is never referenced, and the linker drops it.
//!
//! The codecs are public for tests that build or read raw messages, as
//! [`testing::Harness::handle_bytes`](crate::testing::Harness::handle_bytes)
//! takes and returns them.
//!
//! ```
//! use plugin_system_guest::codec::{Codec, MessagePack};
//! use plugin_system_guest::prelude::*;
//!
//! let bytes = MessagePack::encode(&PluginEvent::new("ping")).unwrap();
//! assert_eq!(bytes[0] & 0xf0, 0x80, "a map, not an array");
//! let event: PluginEvent = MessagePack::decode(&bytes).unwrap();
//! assert_eq!(event.event_type, "ping");
//! ```

use std::cell::Cell;

use plugin_system_core::Value;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::Error;

mod sealed {
    pub trait Sealed {}
}

/// Room a fresh message starts with: a typical host-call argument fits
/// without the buffer growing on the way.
const INITIAL_CAPACITY: usize = 256;

/// A wire format of the SDK: [`Json`] or [`MessagePack`]. Sealed: the host
/// knows these, and [`export_plugin!`](crate::export_plugin) names them.
pub trait Codec: sealed::Sealed + 'static {
    /// The content of the custom section `plugin_wire_format`.
    const WIRE_FORMAT: &'static str;

    /// One message, appended to `out`.
    ///
    /// # Errors
    ///
    /// Why `value` cannot be written in this format; `out` may then hold
    /// part of it.
    fn encode_into<T: Serialize + ?Sized>(value: &T, out: &mut Vec<u8>) -> Result<(), Error>;

    /// One message, in a buffer of its own.
    ///
    /// # Errors
    ///
    /// Why `value` cannot be written in this format.
    fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, Error> {
        let mut out = Vec::with_capacity(INITIAL_CAPACITY);
        Self::encode_into(value, &mut out)?;
        Ok(out)
    }

    /// One message, any value; bytes after it are an error.
    ///
    /// # Errors
    ///
    /// Why `bytes` are not a `T` in this format.
    fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Error>;

    /// An event, a response, a manifest or a context: as
    /// [`decode`](Codec::decode), and refused unless it is an object at
    /// the top (MessagePack: a map, never an array), as the host refuses it.
    ///
    /// # Errors
    ///
    /// As [`decode`](Codec::decode).
    #[doc(hidden)]
    fn decode_model<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Error>;
}

/// JSON, the default: `export_plugin!(T)` or `export_plugin!(T, format =
/// json)`. The Dart shape of the models, camelCase keys.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Json;

impl sealed::Sealed for Json {}

impl Codec for Json {
    const WIRE_FORMAT: &'static str = "json";

    fn encode_into<T: Serialize + ?Sized>(value: &T, out: &mut Vec<u8>) -> Result<(), Error> {
        serde_json::to_writer(out, value).map_err(message)
    }

    fn decode_model<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Error> {
        // serde would read a struct from an array too, by position.
        let first = bytes
            .iter()
            .find(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'));
        if first != Some(&b'{') {
            return Err(Error::new("expected a JSON object at the top"));
        }
        Self::decode(bytes)
    }

    fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Error> {
        serde_json::from_slice(bytes).map_err(message)
    }
}

/// MessagePack: `export_plugin!(T, format = msgpack)`. Structs are maps with
/// string keys (what `rmp_serde::to_vec_named` writes), [`Value`]s are plain
/// MessagePack values ([`Value::Bytes`] is `bin`), timestamps are strings:
/// byte for byte what the host's `MessagePackSerializer` writes and reads.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MessagePack;

impl MessagePack {
    /// How deep maps and arrays may nest, as the host allows: deep enough for
    /// a model around values of [`Value::MAX_DEPTH`].
    const MAX_DEPTH: usize = 2 * Value::MAX_DEPTH;
}

impl sealed::Sealed for MessagePack {}

impl Codec for MessagePack {
    const WIRE_FORMAT: &'static str = "msgpack";

    fn encode_into<T: Serialize + ?Sized>(value: &T, out: &mut Vec<u8>) -> Result<(), Error> {
        rmp_serde::encode::write_named(out, value).map_err(message)
    }

    fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Error> {
        // The slice reader hands strings over from the input; the `io::Read`
        // one copies each into a buffer first (a quarter of the time of an
        // event).
        let mut de = rmp_serde::Deserializer::from_read_ref(bytes);
        de.set_max_depth(Self::MAX_DEPTH);
        let value = T::deserialize(&mut de).map_err(message)?;
        // The message must end with the input: where a next value would
        // start, the reader finds nothing. (It does not say how far it read.)
        match serde::de::IgnoredAny::deserialize(&mut de) {
            Err(rmp_serde::decode::Error::InvalidMarkerRead(e))
                if e.kind() == std::io::ErrorKind::UnexpectedEof =>
            {
                Ok(value)
            }
            _ => Err(Error::new("bytes after the end of the message")),
        }
    }

    fn decode_model<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Error> {
        // fixmap, map16, map32
        if !matches!(bytes.first(), Some(0x80..=0x8f | 0xde | 0xdf)) {
            return Err(Error::new("expected a MessagePack map at the top"));
        }
        Self::decode(bytes)
    }
}

/// The error's own message (its `Display`), as the host's serializers
/// report it: the sources `Error::from` would add repeat it here.
fn message(error: impl std::fmt::Display) -> Error {
    Error::new(error.to_string())
}

/// How [`host::call`](crate::host::call) writes its arguments and reads its
/// result: the plugin's codec, as plain functions so that the codec it does
/// not use is never referenced.
#[derive(Clone, Copy)]
pub(crate) struct ValueCodec {
    pub(crate) encode: fn(&Value) -> Result<Vec<u8>, Error>,
    pub(crate) decode: fn(&[u8]) -> Result<Value, Error>,
}

impl ValueCodec {
    fn of<C: Codec>() -> ValueCodec {
        ValueCodec {
            encode: |value| C::encode(value),
            decode: |bytes| C::decode(bytes),
        }
    }
}

thread_local! {
    /// The codec of the plugin whose export is running on this thread.
    static CURRENT: Cell<Option<ValueCodec>> = const { Cell::new(None) };
}

/// Makes `C` the codec of [`host::call`](crate::host::call) until the guard
/// is dropped (then the previous one is back: natively, a test may run
/// plugins of both formats on one thread, one inside another's host call).
pub(crate) fn enter<C: Codec>() -> Entered {
    Entered(CURRENT.with(|c| c.replace(Some(ValueCodec::of::<C>()))))
}

/// Restores the previous codec; see [`enter`].
pub(crate) struct Entered(Option<ValueCodec>);

impl Drop for Entered {
    fn drop(&mut self) {
        CURRENT.with(|c| c.set(self.0));
    }
}

/// The codec of the running export. Natively, outside any export (a unit
/// test calling [`host::call`](crate::host::call) itself), JSON. On wasm
/// every call of the plugin's code comes through an export, so there is
/// always one; `None` means a hand-written export called the host.
pub(crate) fn current() -> Option<ValueCodec> {
    #[cfg(not(target_family = "wasm"))]
    return Some(current_native());
    #[cfg(target_family = "wasm")]
    CURRENT.with(Cell::get)
}

/// [`current`], which natively is always there.
#[cfg(not(target_family = "wasm"))]
pub(crate) fn current_native() -> ValueCodec {
    CURRENT
        .with(Cell::get)
        .unwrap_or_else(ValueCodec::of::<Json>)
}
