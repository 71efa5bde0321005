//! `abi_bridge`: a guest that answers the ABI bridge with pointers, lengths
//! and bytes taken from the input, through
//! [`WasmPluginRuntime`](plugin_system_wasm::WasmPluginRuntime) on both
//! engines.
//!
//! The input builds a plugin in WAT: the content of its memory (a data
//! segment at [`DATA`]), what `alloc` returns (a working bump allocator above
//! the data, or a fixed pointer of the input's choosing), the packed
//! `(ptr, len)` that `plugin_handle_event`, `plugin_get_manifest` and
//! `plugin_dispose` return (any `i64`, or a pair aimed at the data), what
//! `plugin_initialize` returns, and the `plugin_abi_version` and
//! `plugin_wire_format` custom sections. The plugin is loaded, initialized,
//! sent an event and disposed. What must hold:
//!
//! - every step ends in a value or a typed
//!   [`PluginError`](plugin_system_core::PluginError), never a panic and never
//!   an untyped [`WasmError::Engine`](plugin_system_core::WasmError::Engine);
//! - a reply the bridge accepts is exactly the bytes the guest pointed at, when
//!   the host's writes cannot have touched them (a working `alloc`).

use std::{fmt::Write, sync::Arc};

use arbitrary::{Arbitrary, Unstructured};
use plugin_system_core::{
    PluginContext, PluginError, PluginEvent, PluginManifest, PluginRuntimeType, PluginSource,
    WasmError,
};
use plugin_system_wasm::{LoadOptions, WasmPluginRuntime};

use crate::engines;

/// Where the input's bytes sit in the guest's memory.
pub const DATA: u32 = 1024;

/// Most bytes of the input placed in memory.
const MAX_DATA: usize = 16 * 1024;

/// Where the bump allocator starts: above any data.
const HEAP: u32 = 32 * 1024;

/// A packed `(ptr << 32) | len` answer, as the input chooses it.
#[derive(Debug, Arbitrary)]
enum Answer {
    /// Any `i64` (0 and -1 are the ABI's failure codes).
    Raw(i64),
    /// A slice of the data: `(DATA + start, len)`, within the data when
    /// `start` and `len` are small.
    Data { start: u16, len: u16 },
}

impl Answer {
    fn packed(&self) -> i64 {
        match *self {
            Answer::Raw(packed) => packed,
            Answer::Data { start, len } => {
                let ptr = u64::from(DATA + u32::from(start));
                ((ptr << 32) | u64::from(len)) as i64
            }
        }
    }

    /// The bytes of the data segment this answer points at, if it points
    /// within them.
    fn expected<'a>(&self, data: &'a [u8]) -> Option<&'a [u8]> {
        let packed = self.packed() as u64;
        let (ptr, len) = ((packed >> 32) as usize, (packed & 0xffff_ffff) as usize);
        let start = ptr.checked_sub(DATA as usize)?;
        data.get(start..start.checked_add(len)?)
    }
}

/// The plugin the input describes.
#[derive(Debug, Arbitrary)]
struct Guest {
    /// `None`: a bump allocator; `Some(ptr)`: `alloc` always returns `ptr`.
    alloc: Option<u32>,
    event: Answer,
    /// `None`: no `plugin_get_manifest` (the host gives the manifest).
    manifest: Option<Answer>,
    dispose: Answer,
    initialize: i32,
    pages: u8,
    abi_version: Option<Vec<u8>>,
    wire_format: Option<Vec<u8>>,
}

/// Runs the target on one input.
///
/// # Panics
/// On a finding: see the module's documentation.
pub fn run(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let Ok(guest) = Guest::arbitrary(&mut u) else {
        return;
    };
    let memory = u.take_rest();
    let memory = &memory[..memory.len().min(MAX_DATA)];
    let wat = guest.wat(memory);
    for runtime in engines::limited() {
        let plugins = WasmPluginRuntime::new(Arc::clone(runtime));
        exercise(&plugins, &guest, &wat, memory);
    }
}

fn exercise(plugins: &WasmPluginRuntime, guest: &Guest, wat: &str, memory: &[u8]) {
    let engine = plugins.runtime().name();
    let mut options = LoadOptions::new();
    if guest.manifest.is_none() {
        options = options.manifest(manifest());
    }
    let plugin = match plugins.load(&PluginSource::bytes(wat.as_bytes().to_vec()), options) {
        Ok(plugin) => plugin,
        Err(e) => return typed(engine, "load", &e),
    };
    if let Err(e) = plugin.initialize_sync(&PluginContext::new("fuzz.guest")) {
        typed(engine, "initialize", &e);
    }
    let event = PluginEvent::new("fuzz.event").with_field("n", 1);
    match plugin.handle_event_bytes_sync(&serialize(&plugin, &event)) {
        Ok(reply) => {
            if guest.alloc.is_none()
                && let Some(expected) = guest.event.expected(memory)
            {
                assert_eq!(
                    reply, expected,
                    "{engine}: the reply is not the bytes the guest pointed at"
                );
            }
            if let Err(e) = plugin.decode_response(&reply) {
                typed(engine, "decode_response", &e);
            }
        }
        Err(e) => typed(engine, "handle_event", &e),
    }
    if let Err(e) = plugin.handle_event_sync(&event) {
        typed(engine, "handle_event", &e);
    }
    if let Err(e) = plugin.dispose_sync() {
        typed(engine, "dispose", &e);
    }
    let _ = plugin.stats();
}

/// The manifest the host gives a guest without `plugin_get_manifest`.
fn manifest() -> PluginManifest {
    PluginManifest::new(
        "fuzz.guest",
        "fuzz",
        "1.0.0",
        "a guest of the abi_bridge target",
        PluginRuntimeType::Wasm,
    )
}

fn serialize(plugin: &plugin_system_wasm::WasmPlugin, event: &PluginEvent) -> Vec<u8> {
    use plugin_system_core::{PluginSerializer, WireFormat};
    let serializer: &dyn PluginSerializer = match plugin.wire_format() {
        WireFormat::MessagePack => &plugin_system_wasm::MessagePackSerializer::new(),
        WireFormat::Postcard => &plugin_system_wasm::PostcardSerializer::new(),
        _ => &plugin_system_wasm::JsonSerializer::new(),
    };
    serializer
        .serialize_event(event)
        .expect("a plain event serializes")
}

/// A typed error is fine; the catch-all engine error is a finding.
fn typed(engine: &str, step: &str, error: &PluginError) {
    if let PluginError::Wasm(WasmError::Engine { .. }) = error {
        panic!("{engine}: {step} failed with an untyped error: {error}");
    }
}

/// `bytes` as a WAT string literal.
fn literal(bytes: &[u8]) -> String {
    let mut text = String::with_capacity(bytes.len() * 3 + 2);
    text.push('"');
    for b in bytes {
        let _ = write!(text, "\\{b:02x}");
    }
    text.push('"');
    text
}

impl Guest {
    fn wat(&self, memory: &[u8]) -> String {
        let pages = 1 + u32::from(self.pages % 4);
        let alloc = match self.alloc {
            None => "(local $p i32)
    (local.set $p (global.get $heap))
    (block $done (loop $grow
      (br_if $done (i64.le_u
        (i64.add (i64.extend_i32_u (local.get $p)) (i64.extend_i32_u (local.get 0)))
        (i64.mul (i64.extend_i32_u (memory.size)) (i64.const 65536))))
      (if (i32.eq (memory.grow (i32.const 1)) (i32.const -1)) (then (return (i32.const 0))))
      (br $grow)))
    (global.set $heap (i32.add (local.get $p) (local.get 0)))
    (local.get $p)"
                .to_string(),
            Some(ptr) => format!("(i32.const {})", ptr as i32),
        };
        let manifest = self.manifest.as_ref().map_or(String::new(), |answer| {
            format!(
                "(func (export \"plugin_get_manifest\") (result i64) (i64.const {}))",
                answer.packed()
            )
        });
        let custom = |name: &str, section: &Option<Vec<u8>>| {
            section.as_ref().map_or(String::new(), |bytes| {
                format!("(@custom \"{name}\" {})", literal(bytes))
            })
        };
        format!(
            r#"(module
  {abi}
  {wire}
  (memory (export "memory") {pages} 8)
  (data (i32.const {DATA}) {data})
  (global $heap (mut i32) (i32.const {HEAP}))
  (func (export "alloc") (param i32) (result i32)
    {alloc})
  (func (export "dealloc") (param i32 i32))
  (func (export "plugin_handle_event") (param i32 i32) (result i64) (i64.const {event}))
  {manifest}
  (func (export "plugin_initialize") (result i32) (i32.const {initialize}))
  (func (export "plugin_dispose") (result i64) (i64.const {dispose})))"#,
            abi = custom("plugin_abi_version", &self.abi_version),
            wire = custom("plugin_wire_format", &self.wire_format),
            data = literal(memory),
            event = self.event.packed(),
            initialize = self.initialize,
            dispose = self.dispose.packed(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_guest_is_valid_wat() {
        let guest = Guest {
            alloc: None,
            event: Answer::Data { start: 0, len: 16 },
            manifest: None,
            dispose: Answer::Raw(0),
            initialize: 0,
            pages: 0,
            abi_version: Some(b"1".to_vec()),
            wire_format: Some(b"json".to_vec()),
        };
        let wat = guest.wat(br#"{"success":true}"#);
        for runtime in engines::limited() {
            let plugins = WasmPluginRuntime::new(Arc::clone(runtime));
            let options = LoadOptions::new().manifest(manifest());
            let plugin = plugins
                .load(&PluginSource::bytes(wat.clone().into_bytes()), options)
                .expect("the guest loads");
            let reply = plugin
                .handle_event_bytes_sync(br#"{"type":"x"}"#)
                .expect("the guest answers");
            assert_eq!(reply, br#"{"success":true}"#);
        }
    }
}
