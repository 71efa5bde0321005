//! Reading a response with its `data` checked but left as the plugin's bytes
//! ([`ResponseData::undecoded`]): building the map was most of the cost of
//! reading a reply, and many replies are never looked into.

use plugin_system_core::{PluginResponse, ResponseData, Timestamp, ValueMap};
use serde::{Deserialize, Deserializer};

/// A response as the formats' readers see it, `data` as `D`: the captured
/// bytes (JSON's `RawValue`), or [`CheckedData`] (checked, nothing kept).
/// The fields and their defaults are [`PluginResponse`]'s.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", bound(deserialize = "D: Deserialize<'de>"))]
pub(super) struct WireResponse<D> {
    success: bool,
    #[serde(default)]
    pub(super) data: Option<D>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    stack_trace: Option<String>,
    #[serde(default)]
    timestamp: Option<Timestamp>,
    #[serde(default)]
    duration_ms: Option<u64>,
    #[serde(default)]
    metadata: Option<ValueMap>,
}

impl<D> WireResponse<D> {
    /// The response, with `data` for its data.
    pub(super) fn with_data(self, data: ResponseData) -> PluginResponse {
        let mut response = PluginResponse::new(self.success);
        response.data = data;
        response.message = self.message;
        response.error = self.error;
        response.stack_trace = self.stack_trace;
        response.timestamp = self.timestamp;
        response.duration_ms = self.duration_ms;
        response.metadata = self.metadata;
        response
    }
}

/// A response's `data` checked in place ([`ResponseData::check`]).
pub(super) struct CheckedData;

impl<'de> Deserialize<'de> for CheckedData {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        ResponseData::check(deserializer).map(|()| CheckedData)
    }
}
