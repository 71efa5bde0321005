//! Calling the host's functions (the imports `host_call`, `host_result_len`
//! and `host_result`).
//!
//! A plugin may call a host function when its name is in the manifest's
//! `requiredHostFunctions` (or the host granted it otherwise).

use std::fmt;

use plugin_system_core::Value;
use serde::{Serialize, de::DeserializeOwned};

use crate::{Error, codec, sys};

/// Why a host call failed: the status `host_call` returned, with the host's
/// message.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HostCallError {
    /// Status 1: the host function ran and failed (also an unknown status,
    /// or a result the plugin could not read).
    Failed(String),
    /// Status 2: the plugin's permissions do not allow this function.
    Denied(String),
    /// Status 3: the host has no function of that name.
    NotFound(String),
    /// Status 4: the host could not read the arguments.
    BadArguments(String),
}

impl HostCallError {
    /// The message, as the host wrote it (or as the SDK did, for an unknown
    /// status or an unreadable result).
    pub fn message(&self) -> &str {
        match self {
            HostCallError::Failed(m)
            | HostCallError::Denied(m)
            | HostCallError::NotFound(m)
            | HostCallError::BadArguments(m) => m,
        }
    }

    /// The ABI status: 1 to 4.
    pub fn status(&self) -> i32 {
        match self {
            HostCallError::Failed(_) => 1,
            HostCallError::Denied(_) => 2,
            HostCallError::NotFound(_) => 3,
            HostCallError::BadArguments(_) => 4,
        }
    }

    /// The error of a non-zero status.
    pub(crate) fn from_status(status: i32, message: String) -> HostCallError {
        match status {
            1 => HostCallError::Failed(message),
            2 => HostCallError::Denied(message),
            3 => HostCallError::NotFound(message),
            4 => HostCallError::BadArguments(message),
            other => HostCallError::Failed(format!("unknown host call status {other}: {message}")),
        }
    }
}

impl fmt::Display for HostCallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self {
            HostCallError::Failed(_) => "host function failed",
            HostCallError::Denied(_) => "host call denied",
            HostCallError::NotFound(_) => "host function not found",
            HostCallError::BadArguments(_) => "bad host call arguments",
        };
        write!(f, "{what}: {}", self.message())
    }
}

impl std::error::Error for HostCallError {}

/// Calls the host function `name` with `args` and returns its result.
///
/// The call is synchronous and counts against the fuel and deadline of the
/// current event. The arguments and the result travel in the plugin's wire
/// format (the one [`export_plugin!`](crate::export_plugin) names), as the
/// host expects of that plugin.
///
/// ```
/// use plugin_system_guest::prelude::*;
///
/// # fn f() -> Result<(), Error> {
/// let text = host::call("editor.get_text", ValueMap::new())?;
/// # Ok(()) }
/// ```
///
/// # Errors
///
/// [`HostCallError`] with the host's status and message. Outside a
/// WebAssembly host (in native unit tests) every call fails with
/// [`HostCallError::NotFound`], unless the test installed a mock with
/// [`testing::mock_host`](crate::testing::mock_host); there, a call made
/// outside the plugin's exports speaks JSON. On wasm, a call made outside
/// them (from a hand-written export) fails with [`HostCallError::Failed`].
pub fn call(name: &str, args: impl Into<Value>) -> Result<Value, HostCallError> {
    let Some(codec) = codec::current() else {
        return Err(HostCallError::Failed(format!(
            "cannot call `{name}`: no wire format (host::call runs inside the exports of \
             export_plugin!)"
        )));
    };
    let args = (codec.encode)(&args.into())
        .map_err(|e| HostCallError::BadArguments(format!("cannot serialize the arguments: {e}")))?;
    let (status, result) = sys::host_call(name, &args);
    if status != 0 {
        return Err(HostCallError::from_status(
            status,
            String::from_utf8_lossy(&result).into_owned(),
        ));
    }
    if result.is_empty() {
        return Ok(Value::Null);
    }
    (codec.decode)(&result)
        .map_err(|e| HostCallError::Failed(format!("cannot read the result of `{name}`: {e}")))
}

/// [`call`] with typed payloads: `args` is any serde type, and the answer is
/// read as `T` (a `String`, a `#[derive(Deserialize)]` struct, a
/// [`Value`] to take it as it comes).
///
/// ```
/// use plugin_system_guest::{host, testing};
///
/// #[derive(serde::Deserialize)]
/// struct Posted {
///     url: String,
/// }
///
/// testing::mock_host(|_, args| {
///     assert_eq!(args.get("body").and_then(|b| b.as_str()), Some("text"));
///     Ok([("url", "https://paste.test/1")].into_iter().collect())
/// });
/// let args = std::collections::BTreeMap::from([("body", "text")]);
/// let posted: Posted = host::call_as("net.post", &args)?;
/// assert_eq!(posted.url, "https://paste.test/1");
/// # Ok::<(), plugin_system_guest::Error>(())
/// ```
///
/// # Errors
///
/// As [`call`]; an [`Error`] naming the type when the arguments cannot be
/// made a [`Value`] or the answer does not fit `T`.
pub fn call_as<T: DeserializeOwned>(
    name: &str,
    args: &(impl Serialize + ?Sized),
) -> Result<T, Error> {
    let answer = call(name, Value::from_serialize(args)?)?;
    answer
        .deserialize_into()
        .map_err(|e| Error::new(format!("`{name}` answered what does not fit: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_variants() {
        for status in 1..=4 {
            let e = HostCallError::from_status(status, "m".into());
            assert_eq!(e.status(), status);
            assert_eq!(e.message(), "m");
        }
        let e = HostCallError::from_status(9, "m".into());
        assert_eq!(
            e,
            HostCallError::Failed("unknown host call status 9: m".into())
        );
        assert_eq!(
            HostCallError::Denied("`fs.read` is not allowed".into()).to_string(),
            "host call denied: `fs.read` is not allowed"
        );
    }

    #[test]
    fn without_a_host_calls_are_not_found() {
        let e = call("editor.get_text", Value::Null).unwrap_err();
        assert!(matches!(e, HostCallError::NotFound(_)), "{e:?}");
        assert!(e.message().contains("editor.get_text"));
    }
}
