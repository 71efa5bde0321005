//! [`ManifestError`]: why a plugin folder or its `plugin.toml` was refused.

use std::{
    io,
    path::{Path, PathBuf},
};

/// Why a plugin folder or its `plugin.toml` was refused.
///
/// Every message names the file (or folder) it is about; a caller tells the
/// kinds apart by variant, never by message.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// The file or folder could not be read (missing, no permission, not a
    /// regular file, ...).
    #[error("cannot read {}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },
    /// The manifest is larger than [`MAX_MANIFEST_SIZE`](super::MAX_MANIFEST_SIZE);
    /// it was not read past the limit.
    #[error("{} is larger than the {limit}-byte limit of a plugin manifest", path.display())]
    TooLarge {
        /// The manifest file.
        path: PathBuf,
        /// The limit, in bytes.
        limit: u64,
    },
    /// The manifest is not TOML (or not UTF-8).
    #[error("{}:{line}:{column}: {message}", path.display())]
    Syntax {
        /// The manifest file.
        path: PathBuf,
        /// 1-based line of the error.
        line: usize,
        /// 1-based column of the error, in characters.
        column: usize,
        /// What the TOML parser said.
        message: String,
    },
    /// The manifest is TOML, but a key is missing or its value is refused.
    #[error("{}: invalid `{key}`: {message}", path.display())]
    Invalid {
        /// The manifest file.
        path: PathBuf,
        /// The key, dotted from the top: `version`, `permissions.fuel`.
        key: String,
        /// What is wrong with it.
        message: String,
    },
}

impl ManifestError {
    /// The file or folder the error is about.
    pub fn path(&self) -> &Path {
        match self {
            ManifestError::Io { path, .. }
            | ManifestError::TooLarge { path, .. }
            | ManifestError::Syntax { path, .. }
            | ManifestError::Invalid { path, .. } => path,
        }
    }

    /// The key an [`Invalid`](ManifestError::Invalid) error names.
    pub fn key(&self) -> Option<&str> {
        match self {
            ManifestError::Invalid { key, .. } => Some(key),
            _ => None,
        }
    }

    pub(crate) fn invalid(path: &Path, key: &str, message: impl Into<String>) -> Self {
        ManifestError::Invalid {
            path: path.to_owned(),
            key: key.to_owned(),
            message: message.into(),
        }
    }

    pub(crate) fn io(path: &Path, source: io::Error) -> Self {
        ManifestError::Io {
            path: path.to_owned(),
            source,
        }
    }
}
