//! cargo-fuzz target `differential`: see `plugin_system_fuzz::differential`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| plugin_system_fuzz::differential::run(data));
