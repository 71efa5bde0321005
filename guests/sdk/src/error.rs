//! [`Error`]: why a plugin could not do what it was asked.

use std::fmt;

/// Why a plugin could not handle an event, initialize, or answer.
///
/// The SDK passes its message to the host (the import `set_error`) and makes
/// the export return its failure value, so the host reports the message.
///
/// Any error type converts into it with `?` (its message is the error's
/// `Display`, followed by its sources); [`Error::new`] and
/// [`bail!`](crate::bail) make one from a message.
///
/// ```
/// use plugin_system_guest::Error;
///
/// fn parse(text: &str) -> Result<u32, Error> {
///     Ok(text.parse::<u32>()?)
/// }
/// assert_eq!(parse("x").unwrap_err().message(), "invalid digit found in string");
/// assert_eq!(Error::new("no such file").to_string(), "no such file");
/// ```
// Not `std::error::Error` itself: that would conflict with the blanket
// `From` below (as with `anyhow::Error`).
pub struct Error {
    message: String,
    /// Made by the default `Plugin::initialize`: the SDK then builds the
    /// plugin with `Default` instead.
    default_initialize: bool,
}

impl Error {
    /// An error with this message.
    pub fn new(message: impl Into<String>) -> Self {
        Error {
            message: message.into(),
            default_initialize: false,
        }
    }

    /// The message, as the host receives it.
    pub fn message(&self) -> &str {
        &self.message
    }

    pub(crate) fn default_initialize() -> Self {
        Error {
            message: "`Plugin::initialize` is not implemented".to_owned(),
            default_initialize: true,
        }
    }

    pub(crate) fn is_default_initialize(&self) -> bool {
        self.default_initialize
    }
}

impl<E: std::error::Error> From<E> for Error {
    fn from(error: E) -> Self {
        let mut message = error.to_string();
        let mut source = error.source();
        while let Some(cause) = source {
            message.push_str(": ");
            message.push_str(&cause.to_string());
            source = cause.source();
        }
        Error::new(message)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Error").field(&self.message).finish()
    }
}

/// Returns early with an [`Error`] made from a format string.
///
/// ```
/// use plugin_system_guest::{Error, bail};
///
/// fn check(kind: &str) -> Result<(), Error> {
///     if kind != "get_icon" {
///         bail!("unsupported event type: {kind}");
///     }
///     Ok(())
/// }
/// assert_eq!(check("x").unwrap_err().message(), "unsupported event type: x");
/// ```
#[macro_export]
macro_rules! bail {
    ($($arg:tt)+) => {
        return ::core::result::Result::Err($crate::Error::new(::std::format!($($arg)+)))
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Outer(std::io::Error);

    impl fmt::Display for Outer {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("cannot load")
        }
    }

    impl std::error::Error for Outer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn converts_with_sources() {
        let e = Error::from(Outer(std::io::Error::other("disk on fire")));
        assert_eq!(e.message(), "cannot load: disk on fire");
        assert!(!e.is_default_initialize());
        assert_eq!(format!("{e:?}"), "Error(\"cannot load: disk on fire\")");
    }
}
