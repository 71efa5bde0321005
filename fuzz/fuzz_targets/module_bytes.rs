//! cargo-fuzz target `module_bytes`: see `plugin_system_fuzz::module_bytes`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| plugin_system_fuzz::module_bytes::run(data));
