//! [`ValueError`]: a Rust type that does not fit a [`Value`](super::Value), or a
//! `Value` that does not fit a Rust type.

use std::fmt;

/// A serde type could not be turned into a [`Value`](super::Value), or a
/// `Value` (an event's or a response's data) could not be read as one.
///
/// Its message says what went wrong (serde's own words: `missing field
/// `text``, `invalid type: integer `5`, expected a string`), where (the
/// [`path`](Self::path) of the field, such as `items[2].name`) and, from the
/// typed methods ([`PluginEvent::data_as`](crate::PluginEvent::data_as),
/// [`Value::deserialize_into`](super::Value::deserialize_into), ...), which
/// type was asked for:
///
/// ```
/// use plugin_system_core::PluginEvent;
/// use serde::Deserialize;
///
/// #[derive(Debug, Deserialize)]
/// struct Request {
///     text: String,
/// }
///
/// let event = PluginEvent::new("count_words").with_field("text", 5);
/// let err = event.data_as::<Request>().unwrap_err();
/// assert_eq!(err.path(), "text");
/// assert_eq!(err.message(), "invalid type: integer `5`, expected a string");
/// assert_eq!(
///     err.to_string(),
///     format!(
///         "cannot read the data of event `count_words` as `{}`: \
///          invalid type: integer `5`, expected a string at `text`",
///         std::any::type_name::<Request>()
///     )
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueError {
    /// What went wrong, without the path.
    message: String,
    /// Where: keys joined with `.`, indexes in brackets; empty at the top.
    path: String,
    /// What was being done, for example "cannot read the data of event `x` as `T`".
    context: Option<String>,
}

/// How many characters of a map key the path keeps.
const MAX_KEY_CHARS: usize = 64;

impl ValueError {
    pub(crate) fn new(message: impl fmt::Display) -> Self {
        ValueError {
            message: message.to_string(),
            path: String::new(),
            context: None,
        }
    }

    /// What went wrong, without the path or the type: serde's message, such
    /// as `missing field `text``.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Where in the value it went wrong: map keys joined with `.` and array
    /// indexes in brackets (`items[2].name`), or `""` at the top (a missing
    /// field is reported at the map that lacks it). A key longer than 64
    /// characters is cut short.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The error, one map key further out.
    pub(crate) fn at_key(mut self, key: &str) -> Self {
        let key: String = if key.chars().count() > MAX_KEY_CHARS {
            key.chars().take(MAX_KEY_CHARS).chain(['…']).collect()
        } else {
            key.to_owned()
        };
        self.path = match self.path.as_str() {
            "" => key,
            p if p.starts_with('[') => key + p,
            p => format!("{key}.{p}"),
        };
        self
    }

    /// The error, one array element further out.
    pub(crate) fn at_index(mut self, index: usize) -> Self {
        self.path = match self.path.as_str() {
            "" => format!("[{index}]"),
            p if p.starts_with('[') => format!("[{index}]{p}"),
            p => format!("[{index}].{p}"),
        };
        self
    }

    /// The error, with what was being done.
    pub(crate) fn context(mut self, context: impl Into<String>) -> Self {
        self.context = Some(context.into());
        self
    }
}

impl fmt::Display for ValueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(context) = &self.context {
            write!(f, "{context}: ")?;
        }
        f.write_str(&self.message)?;
        if !self.path.is_empty() {
            write!(f, " at `{}`", self.path)?;
        }
        Ok(())
    }
}

impl std::error::Error for ValueError {}

impl serde::ser::Error for ValueError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        ValueError::new(msg)
    }
}

impl serde::de::Error for ValueError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        ValueError::new(msg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_grow_outwards() {
        let e = ValueError::new("bad")
            .at_key("name")
            .at_index(2)
            .at_key("items");
        assert_eq!(e.path(), "items[2].name");
        assert_eq!(e.to_string(), "bad at `items[2].name`");
        let e = ValueError::new("bad").at_index(0).at_index(1);
        assert_eq!(e.path(), "[1][0]");
        let e = ValueError::new("bad")
            .at_key("k")
            .context("cannot read `T`");
        assert_eq!(e.to_string(), "cannot read `T`: bad at `k`");
        assert_eq!(e.message(), "bad");
        assert_eq!(ValueError::new("top").to_string(), "top");
        let long = "x".repeat(100);
        let e = ValueError::new("bad").at_key(&long);
        assert_eq!(e.path().chars().count(), MAX_KEY_CHARS + 1);
        assert!(e.path().ends_with('…'));
    }
}
