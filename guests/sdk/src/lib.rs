//! The Rust SDK for plugins of `plugin-system`: implement [`Plugin`], call
//! [`export_plugin!`], build a `cdylib` for `wasm32-unknown-unknown` (or
//! `wasm32-wasip1`), and the module speaks the plugin ABI of `ABI.md`.
//!
//! ```
//! use plugin_system_guest::prelude::*;
//! use serde::{Deserialize, Serialize};
//!
//! /// The data of a `count_words` event.
//! #[derive(Deserialize)]
//! struct CountWords {
//!     text: String,
//! }
//!
//! /// The answer.
//! #[derive(Serialize)]
//! struct Counted {
//!     words: usize,
//! }
//!
//! #[derive(Default)]
//! struct WordCount;
//!
//! impl Plugin for WordCount {
//!     fn manifest() -> PluginManifest {
//!         PluginManifest::wasm("plugin.word-count", "Word Count", "1.0.0", "Counts words")
//!     }
//!
//!     fn handle_event(&mut self, event: PluginEvent) -> Result<PluginResponse, Error> {
//!         match event.event_type.as_str() {
//!             "count_words" => {
//!                 let CountWords { text } = event.data_as()?;
//!                 let words = text.split_whitespace().count();
//!                 Ok(PluginResponse::success_from(&Counted { words })?)
//!             }
//!             other => bail!("unsupported event type: {other}"),
//!         }
//!     }
//! }
//!
//! plugin_system_guest::export_plugin!(WordCount);
//! #
//! # use plugin_system_guest::testing::Harness;
//! # let plugin = Harness::<WordCount>::new();
//! # let event = PluginEvent::new("count_words").with_field("text", "one two");
//! # assert_eq!(plugin.handle(&event).unwrap().get("words"), Some(&Value::from(2)));
//! # let err = plugin.handle(&PluginEvent::new("count_words")).unwrap_err();
//! # assert!(err.ends_with("missing field `text`"), "{err}");
//! ```
//!
//! With `crate-type = ["cdylib"]`, `serde` (with its `derive` feature)
//! among the dependencies, and a release profile with `lto = true` and
//! `panic = "abort"` (`opt-level = 3` for speed, `"s"` for size), that is
//! the whole plugin.
//!
//! # Typed payloads
//!
//! An event's data, a response's data and the values of host calls are
//! [`Value`]s (maps of them, [`ValueMap`]). A plugin can pick them apart by
//! hand ([`PluginEvent::get`], [`PluginEventExt::require_str`](ext::PluginEventExt::require_str),
//! [`PluginResponse::with_field`]), or go through serde types:
//!
//! - [`PluginEvent::data_as`] reads the event's data as a
//!   `#[derive(Deserialize)]` type (it may borrow, `&str` fields). A
//!   mismatch is a [`ValueError`] that names the event, the type and the
//!   field, for example ``cannot read the data of event `count_words` as
//!   `word_count::Request`: invalid type: integer `5`, expected a string at
//!   `text` ``; `?` turns it into the plugin's [`Error`], which the host
//!   reports.
//! - [`PluginResponse::success_from`] answers with a `#[derive(Serialize)]`
//!   type, which must serialize to a map (a struct, a map; anything else is
//!   a [`ValueError`]). [`PluginResponse::data_as`] reads it back, in tests
//!   or in a host.
//! - [`Value::from_serialize`] and [`Value::deserialize_into`] convert any
//!   serde type to and from a [`Value`], as `serde_json::to_value` and
//!   `from_value` do: for [`host::call`] arguments and results, or for the
//!   settings of [`Context::config`] (`Value::Map(ctx.config)`).
//!
//! The data goes through [`Value`], so a typed plugin speaks every wire
//! format the same. Structs are maps, enums are externally tagged
//! (`"Unit"`, `{"Variant": content}`), `Option::None` is null. Bytes: a
//! `Vec<u8>` field serializes as an array of numbers (serde sees a
//! sequence), while `Value::from(Vec<u8>)` is [`Value::Bytes`], which
//! MessagePack carries as bytes; reading, a `Vec<u8>` field takes either.
//!
//! # Wire format
//!
//! A plugin speaks JSON unless it says otherwise; for MessagePack, name it in
//! the macro:
//!
//! ```
//! # use plugin_system_guest::prelude::*;
//! # #[derive(Default)]
//! # struct WordCount;
//! # impl Plugin for WordCount {
//! #     fn manifest() -> PluginManifest {
//! #         PluginManifest::wasm("plugin.word-count", "Word Count", "1.0.0", "Counts words")
//! #     }
//! #     fn handle_event(&mut self, _event: PluginEvent) -> Result<PluginResponse, Error> {
//! #         Ok(PluginResponse::ok())
//! #     }
//! # }
//! plugin_system_guest::export_plugin!(WordCount, format = msgpack);
//! ```
//!
//! `format = json` is the default, written out. The module then declares
//! `msgpack` in its custom section `plugin_wire_format`, the host sends and
//! expects MessagePack, and the plugin reads and writes it: structs as maps
//! with string keys, as the host's `MessagePackSerializer` does (see
//! [`codec`]). Only the chosen format's code is linked into the module.
//!
//! # What the SDK does
//!
//! - [`export_plugin!`] defines the exports `alloc`, `dealloc`,
//!   `plugin_handle_event`, `plugin_initialize` (the `(ptr, len) -> i32`
//!   form, which receives a [`Context`]), `plugin_dispose`,
//!   `plugin_get_manifest`, `plugin_snapshot` and `plugin_restore` (a
//!   plugin's state across a hot reload: [`Plugin::snapshot`],
//!   [`Plugin::restore`]) and the diagnostic `plugin_live_buffers`, and the
//!   custom sections `plugin_abi_version` (`1`) and `plugin_wire_format`
//!   (`json` or `msgpack`).
//! - Events, responses, the manifest, the initialization context and
//!   host-call values travel in the plugin's wire format, JSON or
//!   MessagePack, in the models of `plugin-system-core` ([`PluginEvent`],
//!   [`PluginResponse`], [`PluginManifest`], [`Value`]), re-exported here.
//! - An `Err` from the plugin goes to the host through the import
//!   `set_error`, and the export returns its failure value (0).
//! - [`host::call`] calls a host function; [`log`] writes to the host's log.
//! - A panic sends its message to the host (`set_error` and an error log
//!   line), then traps: plugins build with `panic = "abort"`, and
//!   `wasm32-wasip1` aborts in any case. The plugin is unusable afterwards
//!   (see [`Plugin`]).
//!
//! # Targets
//!
//! The imports exist on wasm only. Compiled natively (for unit tests), the
//! SDK puts stand-ins in their place: `set_error` and `log` are recorded for
//! [`testing`], and host calls fail with status 3 unless a test installs a
//! mock host; [`testing::Harness`] then runs a plugin through the same code
//! as its wasm exports.
//!
//! `wasm32-unknown-unknown` has no clock, no source of random bytes and no
//! threads: `std`'s `SystemTime::now`, `Instant::now` and `thread::spawn`
//! panic there, which traps the plugin. Nothing in the [prelude] reads the
//! clock, asks for random bytes or starts a thread:
//! [`PluginResponse::success`], [`PluginResponse::success_from`],
//! [`PluginResponse::error`] and [`PluginEvent::now`] stamp the current time
//! on the targets that have a clock (`wasm32-wasip1`, native tests) and
//! leave the timestamp `None` on `wasm32-unknown-unknown`;
//! [`PluginResponseExt::ok`](ext::PluginResponseExt::ok) and its siblings
//! never stamp, on any target. [`Timestamp::now`] (outside the prelude)
//! still reads the clock, and traps there.
//!
//! This crate has no cargo features: the wire format is chosen per plugin in
//! [`export_plugin!`], as cargo would unify a feature across every plugin of
//! a workspace.

#![warn(missing_docs)]

pub mod abi;
pub mod codec;
mod error;
pub mod ext;
pub mod host;
pub mod log;
mod plugin;
mod sys;
#[cfg(not(target_family = "wasm"))]
pub mod testing;

#[doc(hidden)]
#[path = "export.rs"]
pub mod __private;

pub use error::Error;
pub use host::HostCallError;
pub use plugin::{Context, Plugin};
pub use plugin_system_core::{
    PluginEvent, PluginManifest, PluginResponse, PluginRuntimeType, Timestamp, Value, ValueError,
    ValueMap,
};

/// What a plugin needs, in one `use plugin_system_guest::prelude::*;`.
pub mod prelude {
    pub use crate::ext::{PluginEventExt, PluginManifestExt, PluginResponseExt};
    pub use crate::{
        Context, Error, HostCallError, Plugin, PluginEvent, PluginManifest, PluginResponse,
        PluginRuntimeType, Value, ValueMap, bail, export_plugin, host, log,
    };
}

/// Exports a [`Plugin`] type as the plugin of this module.
///
/// Use it once, at the top level of a `cdylib` crate. On wasm it defines the
/// exports and custom sections listed in the [crate documentation](crate);
/// on every target it lets [`testing::Harness`] run the type.
///
/// [`Plugin::initialize`] may be left out when the type implements
/// `Default`.
///
/// # Wire format
///
/// - `export_plugin!(MyPlugin)` or `export_plugin!(MyPlugin, format = json)`:
///   JSON ([`codec::Json`]).
/// - `export_plugin!(MyPlugin, format = msgpack)`: MessagePack
///   ([`codec::MessagePack`]).
///
/// The choice is per module (a cargo feature would switch every plugin of a
/// workspace at once). It sets the custom section `plugin_wire_format`, and
/// every message of the plugin takes that format: events, responses, the
/// manifest, the initialization context, and the arguments and results of
/// [`host::call`]. Messages for `set_error` and [`log`] stay UTF-8 text.
///
/// Any other format is a compile error:
///
/// ```compile_fail
/// # use plugin_system_guest::prelude::*;
/// # #[derive(Default)]
/// # struct Echo;
/// # impl Plugin for Echo {
/// #     fn manifest() -> PluginManifest {
/// #         PluginManifest::wasm("plugin.echo", "Echo", "1.0.0", "Echoes")
/// #     }
/// #     fn handle_event(&mut self, event: PluginEvent) -> Result<PluginResponse, Error> {
/// #         Ok(PluginResponse::ok_with(event.data))
/// #     }
/// # }
/// // error: export_plugin!: unknown wire format `postcard`; the SDK speaks
/// // `format = json` (the default) and `format = msgpack`
/// plugin_system_guest::export_plugin!(Echo, format = postcard);
/// ```
#[macro_export]
macro_rules! export_plugin {
    (@with $plugin:ty, $codec:ty) => {
        const _: () = {
            impl $crate::__private::Exported for $plugin {
                type Codec = $codec;

                fn construct(ctx: $crate::Context) -> ::core::result::Result<Self, $crate::Error> {
                    #[allow(unused_imports)]
                    use $crate::__private::{ViaDefault as _, ViaNothing as _};
                    $crate::__private::construct::<$plugin>(ctx, || {
                        (&&$crate::__private::Construct::<$plugin>::new()).build()
                    })
                }
            }

            #[cfg(target_family = "wasm")]
            const _: () = {
                #[used]
                #[unsafe(link_section = "plugin_abi_version")]
                static PLUGIN_ABI_VERSION: [u8; 1] = $crate::__private::ABI_VERSION_SECTION;

                #[used]
                #[unsafe(link_section = "plugin_wire_format")]
                static PLUGIN_WIRE_FORMAT: [u8; <$codec as $crate::__private::Codec>::WIRE_FORMAT
                    .len()] = $crate::__private::wire_format_section::<$codec, _>();

                ::std::thread_local! {
                    static SLOT: $crate::__private::Slot<$plugin> =
                        const { $crate::__private::Slot::new() };
                }

                #[unsafe(no_mangle)]
                extern "C" fn alloc(len: usize) -> *mut u8 {
                    $crate::__private::alloc(len)
                }

                /// # Safety
                ///
                /// As `plugin_system_guest::abi::dealloc`.
                #[unsafe(no_mangle)]
                unsafe extern "C" fn dealloc(ptr: *mut u8, len: usize) {
                    // SAFETY: the host frees only what `alloc` or a reply gave it.
                    unsafe { $crate::__private::dealloc(ptr, len) }
                }

                #[unsafe(no_mangle)]
                extern "C" fn plugin_live_buffers() -> i32 {
                    $crate::__private::live_buffers()
                }

                /// # Safety
                ///
                /// `ptr` points to `len` bytes written by the host.
                #[unsafe(no_mangle)]
                unsafe extern "C" fn plugin_initialize(ptr: *const u8, len: usize) -> i32 {
                    // SAFETY: the host wrote `len` bytes at `ptr`.
                    let input = unsafe { $crate::__private::input(ptr, len) };
                    SLOT.with(|slot| $crate::__private::initialize(slot, input))
                }

                /// # Safety
                ///
                /// `ptr` points to `len` bytes written by the host.
                #[unsafe(no_mangle)]
                unsafe extern "C" fn plugin_handle_event(ptr: *const u8, len: usize) -> u64 {
                    // SAFETY: the host wrote `len` bytes at `ptr`.
                    let input = unsafe { $crate::__private::input(ptr, len) };
                    $crate::__private::pack_reply(
                        SLOT.with(|slot| $crate::__private::handle_event(slot, input)),
                    )
                }

                #[unsafe(no_mangle)]
                extern "C" fn plugin_get_manifest() -> u64 {
                    $crate::__private::pack_reply($crate::__private::manifest::<$plugin>())
                }

                #[unsafe(no_mangle)]
                extern "C" fn plugin_dispose() {
                    SLOT.with(|slot| $crate::__private::dispose(slot))
                }

                #[unsafe(no_mangle)]
                extern "C" fn plugin_snapshot() -> u64 {
                    $crate::__private::pack_reply(
                        SLOT.with(|slot| $crate::__private::snapshot(slot)),
                    )
                }

                #[unsafe(no_mangle)]
                unsafe extern "C" fn plugin_restore(ptr: *const u8, len: usize) -> i32 {
                    // SAFETY: the host wrote `len` bytes at `ptr`.
                    let input = unsafe { $crate::__private::input(ptr, len) };
                    SLOT.with(|slot| $crate::__private::restore(slot, input))
                }
            };
        };
    };
    ($plugin:ty $(,)?) => {
        $crate::export_plugin!(@with $plugin, $crate::__private::Json);
    };
    ($plugin:ty, format = json $(,)?) => {
        $crate::export_plugin!(@with $plugin, $crate::__private::Json);
    };
    ($plugin:ty, format = msgpack $(,)?) => {
        $crate::export_plugin!(@with $plugin, $crate::__private::MessagePack);
    };
    ($plugin:ty, format = $other:tt $(,)?) => {
        ::core::compile_error!(::core::concat!(
            "export_plugin!: unknown wire format `",
            ::core::stringify!($other),
            "`; the SDK speaks `format = json` (the default) and `format = msgpack`"
        ));
    };
}

#[cfg(test)]
mod tests;
