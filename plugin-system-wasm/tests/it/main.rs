//! Integration tests of the plugin runtime (`plugin`: both engines, WAT plugins to
//! the Dart ABI) and of the serializers: round trips for every format,
//! compatibility with the Dart JSON and MessagePack, the hybrid's detection, and
//! garbage that must give errors, never panics.

mod dart_compat;
mod deadlines;
mod examples;
mod garbage;
mod hybrid;
mod last_words;
mod memory64;
mod messages;
mod msgpack;
mod plugin;
mod roundtrip;
mod strategies;
mod tiered;
