//! The Extism counterparts of `guests/plugins/echo`, built with extism-pdk.

use extism_pdk::*;
use plugin_system_core::{PluginEvent, PluginResponse};

/// Returns the input bytes unchanged: no codec on either side.
#[plugin_fn]
pub fn echo(input: Vec<u8>) -> FnResult<Vec<u8>> {
    Ok(input)
}

/// What the SDK echo does, in Extism: reads the event as JSON into the same
/// models (`Json` is extism-pdk's serde_json wrapper) and answers with its
/// data, as JSON.
#[plugin_fn]
pub fn echo_event(Json(event): Json<PluginEvent>) -> FnResult<Json<PluginResponse>> {
    let mut response = PluginResponse::new(true);
    response.data = event.data;
    Ok(Json(response))
}
