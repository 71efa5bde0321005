//! cargo-fuzz target `serializers`: see `plugin_system_fuzz::serializers`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| plugin_system_fuzz::serializers::run(data));
