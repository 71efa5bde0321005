//! Integration tests of the serializers: round trips for every format,
//! compatibility with the Dart JSON and MessagePack, the hybrid's detection, and
//! garbage that must give errors, never panics.

mod dart_compat;
mod garbage;
mod hybrid;
mod msgpack;
mod roundtrip;
mod strategies;
