//! The plugin layer of the plugin system, over any
//! [`WasmRuntime`](plugin_system_core::WasmRuntime): the guest ABI bridge and the
//! JSON / MessagePack / hybrid serializers.
//!
//! Its content arrives with the plugin-layer issue; today the crate holds its
//! place in the workspace so that the dependency arrows are fixed from the start:
//! it depends on `plugin-system-core` only, never on an engine.
