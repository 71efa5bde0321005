//! cargo-fuzz target `abi_bridge`: see `plugin_system_fuzz::abi_bridge`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| plugin_system_fuzz::abi_bridge::run(data));
