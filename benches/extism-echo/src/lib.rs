//! Echoes its input: the Extism counterpart of `guests/plugins/echo`.

use extism_pdk::*;

/// Returns the input bytes unchanged.
#[plugin_fn]
pub fn echo(input: Vec<u8>) -> FnResult<Vec<u8>> {
    Ok(input)
}
