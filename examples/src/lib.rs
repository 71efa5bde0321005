//! Example host programs for the plugin system. Run the tour with
//! `cargo run -p examples --example demo`.
