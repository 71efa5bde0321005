//! The plugin layer of the plugin system, over any
//! [`WasmRuntime`](plugin_system_core::WasmRuntime).
//!
//! Today it holds the wire formats: implementations of
//! [`PluginSerializer`](plugin_system_core::PluginSerializer) that turn the
//! plugin models of `plugin-system-core` ([`PluginEvent`], [`PluginResponse`],
//! [`PluginManifest`], [`Value`]) into bytes and back, byte-compatible with the
//! Dart original:
//!
//! | Serializer | Writes | Reads |
//! |---|---|---|
//! | [`JsonSerializer`] | UTF-8 JSON, the Dart keys | JSON |
//! | [`MessagePackSerializer`] | MessagePack, structs as maps with string keys | MessagePack, as Dart's `msgpack_dart` writes it |
//! | [`HybridSerializer`] | JSON or MessagePack, as configured | either, detected from the bytes |
//! | [`PostcardSerializer`] | postcard, positional and compact | postcard |
//!
//! No framing travels with a message: the length goes beside it (in the guest
//! ABI, the `(ptr, len)` pair) and the format is agreed out of band, or detected
//! by the hybrid serializer. Every serializer refuses messages over a size limit
//! ([`DEFAULT_MAX_MESSAGE_SIZE`](plugin_system_core::DEFAULT_MAX_MESSAGE_SIZE) by
//! default), and bad bytes give a
//! [`SerializationError`](plugin_system_core::SerializationError), never a panic.
//!
//! [`WasmPluginRuntime`] loads plugins that follow the guest ABI (ABI.md at the
//! repository's root) on any engine, and [`WasmPlugin`] is the bridge to one:
//! events go in through `alloc` and `plugin_handle_event`, replies come back as
//! packed `(ptr << 32) | len` buffers, and both are freed on every path.
//!
//! ```
//! use plugin_system_core::{PluginEvent, PluginSerializer, Timestamp, Value};
//! use plugin_system_wasm::{HybridSerializer, JsonSerializer, MessagePackSerializer};
//!
//! let event = PluginEvent::new("file.opened")
//!     .with_target("plugin.file-icons")
//!     .with_field("path", "/project/lib/main.dart")
//!     .with_timestamp("2025-11-18T10:00:00Z".parse::<Timestamp>()?);
//!
//! // JSON exactly as Dart's `jsonEncode(event.toJson())` writes it.
//! let json = JsonSerializer::new().serialize_event(&event)?;
//! assert_eq!(
//!     String::from_utf8(json.clone())?,
//!     r#"{"type":"file.opened","targetPluginId":"plugin.file-icons","data":{"path":"/project/lib/main.dart"},"timestamp":"2025-11-18T10:00:00.000Z","sourcePluginId":null,"priority":0,"eventId":null}"#
//! );
//!
//! // MessagePack writes a map (0x87: seven entries), never an array.
//! let msgpack = MessagePackSerializer::new().serialize_event(&event)?;
//! assert_eq!(msgpack[0], 0x87);
//!
//! // The hybrid serializer reads both.
//! let hybrid = HybridSerializer::new(true);
//! for bytes in [&json, &msgpack] {
//!     let read = hybrid.deserialize_event(bytes)?;
//!     assert_eq!(read.get("path").and_then(Value::as_str), Some("/project/lib/main.dart"));
//!     assert_eq!(read, event);
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! This crate has no cargo features. It depends on `plugin-system-core` only,
//! never on an engine. It builds for `wasm32-unknown-unknown` too (a browser
//! page, over the web engine), where the async [`Plugin`] methods run the
//! guest in place: a page has one thread and no blocking pool.
//!
//! [`Plugin`]: plugin_system_core::Plugin
//!
//! [`PluginEvent`]: plugin_system_core::PluginEvent
//! [`PluginResponse`]: plugin_system_core::PluginResponse
//! [`PluginManifest`]: plugin_system_core::PluginManifest
//! [`Value`]: plugin_system_core::Value

pub mod abi;
mod plugin;
mod runtime;
mod serializer;
mod time_limit;

pub use plugin::{PluginStats, WasmPlugin};
pub use runtime::{LoadOptions, WasmPluginRuntime};
pub use serializer::{HybridSerializer, JsonSerializer, MessagePackSerializer, PostcardSerializer};
pub use time_limit::TimeLimit;
