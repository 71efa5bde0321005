//! Fuzz targets of the plugin system: one function per target, taking the
//! fuzzer's bytes and checking the target's invariants.
//!
//! The functions are plain Rust, so two drivers share them: the cargo-fuzz
//! crate in `fuzz/` (nightly and libFuzzer, `cargo xtask fuzz TARGET --seconds
//! N`) calls one per `fuzz_targets/<name>.rs`, and `tests/replay.rs` replays the
//! checked-in corpus (`fuzz/corpus/<name>/`) through every one of them on
//! stable, in CI.
//!
//! Every target asserts with a panic only what would be a real bug. A typed
//! [`WasmError`](plugin_system_core::WasmError),
//! [`PluginError`](plugin_system_core::PluginError) or
//! [`SerializationError`](plugin_system_core::SerializationError) is a fine
//! answer to bad input; a panic (also one an engine catches itself: libFuzzer's
//! panic hook aborts on it, the replay test counts it), an abort, a process
//! growing past its memory limit, or an untyped
//! [`WasmError::Engine`](plugin_system_core::WasmError::Engine) out of a guest
//! call is a finding.
//!
//! | Target | Input | Checks |
//! |---|---|---|
//! | [`module_bytes`] | any bytes (binary or text) | `validate_bytes`, `load_module`, `validate` and the module's introspection on both engines: errors only, a module that loads also validates, every listed export is found by name |
//! | [`instantiate_smith`] | a wasm-smith module | instantiated on both engines under fuel, memory and table limits, every exported function called with arbitrary arguments: typed errors only, memories within the limit |
//! | [`differential`] | a wasm-smith module | the same module and calls on wasmtime and wasmi: results, errors (kind, trap code), exported globals and memories agree (exceptions listed there) |
//! | [`serializers`] | any bytes | every `deserialize_*` of every serializer; what decodes re-encodes, and reads back to the same bytes, in every format that can hold it |
//! | [`abi_bridge`] | a guest's memory and answers | a plugin whose `alloc`, `plugin_handle_event`, `plugin_get_manifest` and `plugin_dispose` answer pointers and lengths taken from the input, through `WasmPluginRuntime` on both engines: typed errors only, replies exactly the bytes the guest pointed at |
//!
//! The engines run with small limits (a few MiB of memory, thousands of table
//! elements, bounded fuel and a deadline), so a fuzzing process stays within a
//! modest `-rss_limit_mb`.
//!
//! ```
//! // What the replay test does with every corpus file.
//! plugin_system_fuzz::module_bytes::run(b"(module (func (export \"f\") (result i32) i32.const 7))");
//! plugin_system_fuzz::serializers::run(br#"{"success":true}"#);
//! ```
//!
//! This crate has no cargo features and is not published.

pub mod abi_bridge;
pub mod differential;
pub mod instantiate_smith;
pub mod module_bytes;
pub mod serializers;

mod engines;

/// A target's function: runs one input, panics on a finding.
pub type Target = fn(&[u8]);

/// Every target, by the name of its cargo-fuzz binary and corpus folder.
pub const TARGETS: &[(&str, Target)] = &[
    ("module_bytes", module_bytes::run),
    ("instantiate_smith", instantiate_smith::run),
    ("differential", differential::run),
    ("serializers", serializers::run),
    ("abi_bridge", abi_bridge::run),
];
