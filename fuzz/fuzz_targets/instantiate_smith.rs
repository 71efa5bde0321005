//! cargo-fuzz target `instantiate_smith`: see `plugin_system_fuzz::instantiate_smith`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| plugin_system_fuzz::instantiate_smith::run(data));
