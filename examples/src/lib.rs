//! Example host programs for the plugin system: `demo` (an editor hosting the
//! example plugins of `guests/`; `cargo xtask demo` builds them and runs it) and
//! `engines` (one guest on both engines against every limit:
//! `cargo run -p examples --example engines`).
