//! The example plugins of `examples/plugins/` in the demo's editor, on both
//! engines.
//!
//! They need the guests built (`cargo xtask guests`; `cargo xtask ci` builds
//! them before the tests): a missing module fails here, loudly.

mod dot;
mod plugins;
