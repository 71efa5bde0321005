//! [`PluginPackage`]: a plugin on disk, a folder with a `plugin.toml` and its
//! module; [`discover`] finds such folders.
//!
//! # `plugin.toml`
//!
//! The top-level keys are those of the Dart JSON manifest, camelCase, read into
//! the same [`PluginManifest`] (so one model reads both TOML and JSON), plus the
//! keys only a plugin on disk has:
//!
//! ```toml
//! id = "plugin.word-count"
//! name = "Word Count"
//! version = "1.2.0"
//! description = "Counts the words of the open file"
//! runtime = "wasm"
//! dependencies = ["plugin.base@^1.0"]
//! subscribesTo = ["file.opened"]
//! minHostVersion = "1.0.0"
//!
//! module = "word_count.wasm"   # required: relative to this file's folder
//! sha256 = "…64 hex digits…"   # optional: checked before the module runs
//!
//! [permissions]                # optional: what the plugin asks for
//! hostFunctions = ["log_info", "get_file_content"]
//! filesystem = { "cache" = "readWrite", "assets" = "readOnly" }
//! maxMemoryBytes = 33554432
//! maxExecutionTimeMs = 500
//! fuel = 10000000
//! maxRestarts = 2              # faults (in the host's window) before quarantine
//!
//! [config]                     # optional: the plugin's settings
//! ignoreNumbers = true
//! ```
//!
//! # What is refused
//!
//! A missing required key (`id`, `name`, `version`, `description`, `runtime`,
//! `module`); a value of the wrong type; a `version`, `minHostVersion` or
//! `maxHostVersion` that is not a semantic version, or a `minHostVersion` above
//! the `maxHostVersion`; a `dependencies` entry that is not `id` or
//! `id@<range>` (see [`Dependency`]); an `id` that is empty or holds whitespace,
//! control characters or `@`; a `module` that is absolute or leaves the folder
//! (`..`); a `sha256` that is not 64 hex digits; a `[permissions]` key this
//! crate does not know, a filesystem entry whose guest directory is not a
//! relative path inside the plugin's data folder or whose level is not
//! `"readOnly"` or `"readWrite"`, a limit of zero; a manifest over
//! [`MAX_MANIFEST_SIZE`].
//!
//! # Unknown top-level keys
//!
//! They are ignored, as the Dart model ignored unknown JSON keys, so that a
//! manifest written for a newer host still loads on an older one. They are not
//! silent: each is logged (`tracing` warning) and listed in
//! [`PluginPackage::ignored_keys`]. Unknown keys inside `[permissions]` are
//! refused instead: a misspelt limit must not pass for no limit.

mod discover;
mod error;
#[cfg(test)]
mod tests;

use std::{
    collections::BTreeMap,
    fs,
    io::Read,
    ops::Range,
    path::{Component, Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use plugin_system_core::{FilesystemAccessLevel, PluginManifest, Value, ValueMap};
use serde::Deserialize;
use toml::{
    Spanned,
    de::{DeTable, DeValue, ValueDeserializer},
};

pub use discover::{Discovery, discover};
pub use error::ManifestError;

use crate::dependencies::{self, Dependency};

/// The name of a plugin's manifest file in its folder.
pub const MANIFEST_FILE: &str = "plugin.toml";

/// The largest manifest [`PluginPackage::read`] accepts, in bytes (1 MiB).
pub const MAX_MANIFEST_SIZE: u64 = 1024 * 1024;

/// The top-level keys of [`PluginManifest`] (Dart's JSON keys).
const MANIFEST_KEYS: [&str; 17] = [
    "id",
    "name",
    "version",
    "description",
    "runtime",
    "author",
    "homepage",
    "repository",
    "license",
    "dependencies",
    "configSchema",
    "requiredHostFunctions",
    "providedEvents",
    "subscribesTo",
    "minHostVersion",
    "maxHostVersion",
    "metadata",
];

/// The keys [`PluginManifest`] cannot do without.
const REQUIRED_MANIFEST_KEYS: [&str; 5] = ["id", "name", "version", "description", "runtime"];

/// The keys of the `[permissions]` table.
const PERMISSION_KEYS: [&str; 6] = [
    "hostFunctions",
    "filesystem",
    "maxMemoryBytes",
    "maxExecutionTimeMs",
    "fuel",
    "maxRestarts",
];

/// How `toml` hands a datetime to `deserialize_any`: a map with this one key.
const TOML_DATETIME_KEY: &str = "$__toml_private_datetime";

/// A plugin on disk: its manifest, where it lives and what it asks for.
///
/// ```
/// use std::path::Path;
/// use plugin_system_host::PluginPackage;
///
/// let text = r#"
///     id = "plugin.echo"
///     name = "Echo"
///     version = "1.0.0"
///     description = "Answers every event with its payload"
///     runtime = "wasm"
///     module = "echo.wasm"
/// "#;
/// let package = PluginPackage::parse(text, Path::new("plugins/echo/plugin.toml")).unwrap();
/// assert_eq!(package.manifest.id, "plugin.echo");
/// assert_eq!(package.module, Path::new("plugins/echo/echo.wasm"));
/// assert!(package.permissions.host_functions.is_empty());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PluginPackage {
    /// The plugin's manifest, validated as the [module docs](self) say.
    pub manifest: PluginManifest,
    /// The folder that holds the manifest.
    pub dir: PathBuf,
    /// The manifest file.
    pub manifest_path: PathBuf,
    /// The module file: `dir` joined with the manifest's `module` (which
    /// stays inside `dir`). Not checked for existence: the loader reads it.
    pub module: PathBuf,
    /// The module's expected SHA-256, 64 lowercase hex digits.
    pub sha256: Option<String>,
    /// What the plugin asks for in `[permissions]`. A request, not a grant: the
    /// host decides what it grants.
    pub permissions: RequestedPermissions,
    /// The plugin's settings from `[config]`.
    pub config: ValueMap,
    /// Top-level keys this crate does not know, ignored (sorted).
    pub ignored_keys: Vec<String>,
    /// The module's bytes when the host gave them
    /// ([`with_module_bytes`](Self::with_module_bytes)): loaded from memory
    /// rather than from `module`.
    module_bytes: Option<ModuleBytes>,
}

/// A module held in memory; shown by its size.
#[derive(Clone, PartialEq, Eq)]
struct ModuleBytes(Arc<[u8]>);

impl std::fmt::Debug for ModuleBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "<{} bytes>", self.0.len())
    }
}

/// What a plugin asks for in the `[permissions]` table of its `plugin.toml`.
///
/// Absent keys are empty or `None`: the host's defaults apply.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RequestedPermissions {
    /// `hostFunctions`: the host functions the plugin wants to call.
    pub host_functions: Vec<String>,
    /// `filesystem`: guest directory → access level (`ReadOnly` or
    /// `ReadWrite` only). A guest directory is a normalized relative path
    /// (`cache`, `data/icons`), to be mapped under the plugin's own data folder.
    pub filesystem: BTreeMap<String, FilesystemAccessLevel>,
    /// `maxMemoryBytes`: the memory cap it asks for.
    pub max_memory_bytes: Option<u64>,
    /// `maxExecutionTimeMs`: the per-call deadline it asks for.
    pub max_execution_time: Option<Duration>,
    /// `fuel`: the fuel budget of a call it asks for.
    pub fuel: Option<u64>,
    /// `maxRestarts`: the faults within the host's window that put it in
    /// quarantine; it can only make the host's breaker stricter.
    pub max_restarts: Option<u32>,
}

impl PluginPackage {
    /// Reads a plugin from `path`: a folder holding a [`MANIFEST_FILE`], or
    /// the manifest file itself.
    ///
    /// The manifest is read up to [`MAX_MANIFEST_SIZE`] bytes, never further.
    /// The module file is not opened.
    ///
    /// # Errors
    ///
    /// [`ManifestError::Io`] if the manifest cannot be read or is not a
    /// regular file, [`ManifestError::TooLarge`] past the size limit, and the
    /// errors of [`parse`](Self::parse).
    pub fn read(path: &Path) -> Result<Self, ManifestError> {
        let meta = fs::metadata(path).map_err(|e| ManifestError::io(path, e))?;
        let manifest_path = if meta.is_dir() {
            path.join(MANIFEST_FILE)
        } else {
            path.to_owned()
        };
        let text = read_capped(&manifest_path)?;
        Self::parse(&text, &manifest_path)
    }

    /// Parses the text of a manifest that lives at `manifest_path` (used for
    /// the plugin's folder and in error messages; not read).
    ///
    /// # Errors
    ///
    /// [`ManifestError::Syntax`] if the text is not TOML, with the line and
    /// column of the fault; [`ManifestError::Invalid`], naming the key, if a
    /// key is missing or its value refused (see the [module docs](self)).
    pub fn parse(text: &str, manifest_path: &Path) -> Result<Self, ManifestError> {
        Parser {
            path: manifest_path,
            text,
        }
        .parse()
    }

    /// This package with its module given in memory: the manager loads
    /// `bytes` (checked against `sha256` if the manifest has one) and never
    /// reads `module`. For hosts without a file system (a web page), or with
    /// plugins of their own making; such a plugin cannot be
    /// [reloaded](crate::PluginManager::reload) from its folder.
    ///
    /// ```
    /// # use std::path::Path;
    /// # use plugin_system_host::PluginPackage;
    /// let text = r#"
    ///     id = "plugin.echo"
    ///     name = "Echo"
    ///     version = "1.0.0"
    ///     description = "Answers what it is sent"
    ///     runtime = "wasm"
    ///     module = "echo.wasm"
    /// "#;
    /// let package = PluginPackage::parse(text, Path::new("echo/plugin.toml"))?
    ///     .with_module_bytes(b"\0asm\x01\0\0\0".to_vec());
    /// assert_eq!(package.module_bytes(), Some(&b"\0asm\x01\0\0\0"[..]));
    /// # Ok::<(), plugin_system_host::ManifestError>(())
    /// ```
    #[must_use]
    pub fn with_module_bytes(mut self, bytes: impl Into<Arc<[u8]>>) -> Self {
        self.module_bytes = Some(ModuleBytes(bytes.into()));
        self
    }

    /// The module's bytes, when it was given in memory.
    pub fn module_bytes(&self) -> Option<&[u8]> {
        self.module_bytes.as_ref().map(|bytes| &*bytes.0)
    }
}

/// Reads a file of at most [`MAX_MANIFEST_SIZE`] bytes as UTF-8.
fn read_capped(path: &Path) -> Result<String, ManifestError> {
    let io = |e| ManifestError::io(path, e);
    // A FIFO or a device named plugin.toml would block or never end.
    let meta = fs::metadata(path).map_err(io)?;
    if !meta.is_file() {
        return Err(io(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a regular file",
        )));
    }
    let too_large = || ManifestError::TooLarge {
        path: path.to_owned(),
        limit: MAX_MANIFEST_SIZE,
    };
    if meta.len() > MAX_MANIFEST_SIZE {
        return Err(too_large());
    }
    let file = fs::File::open(path).map_err(io)?;
    let mut bytes = Vec::new();
    // The file may have grown since `metadata`: read one byte past the limit
    // at most, to tell.
    file.take(MAX_MANIFEST_SIZE + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > MAX_MANIFEST_SIZE {
        return Err(too_large());
    }
    String::from_utf8(bytes).map_err(|e| {
        let valid = e.utf8_error().valid_up_to();
        // The prefix up to `valid` is UTF-8 by definition.
        let prefix = String::from_utf8_lossy(&e.as_bytes()[..valid]);
        let (line, column) = line_column(&prefix, valid);
        ManifestError::Syntax {
            path: path.to_owned(),
            line,
            column,
            message: "invalid UTF-8".to_owned(),
        }
    })
}

/// The 1-based line and column (in characters) of byte `offset` of `text`.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

/// A toml error message as this crate writes messages: one line, lowercase
/// start, no final period.
fn tidy(message: &str) -> String {
    let message = message.trim().trim_end_matches('.');
    let mut chars = message.chars();
    match chars.next() {
        Some(first) if !chars.as_str().starts_with(|c: char| c.is_uppercase()) => {
            first.to_lowercase().chain(chars).collect()
        }
        _ => message.to_owned(),
    }
}

/// One manifest being parsed.
struct Parser<'a> {
    path: &'a Path,
    text: &'a str,
}

/// A value of the document, with its span.
type Item<'i> = Spanned<DeValue<'i>>;

impl<'a> Parser<'a> {
    fn invalid(&self, key: &str, message: impl Into<String>) -> ManifestError {
        ManifestError::invalid(self.path, key, message)
    }

    fn parse(&self) -> Result<PluginPackage, ManifestError> {
        let doc = DeTable::parse(self.text).map_err(|e| {
            let (line, column) =
                line_column(self.text, e.span().map_or(self.text.len(), |s| s.start));
            ManifestError::Syntax {
                path: self.path.to_owned(),
                line,
                column,
                message: tidy(e.message()),
            }
        })?;
        let doc_span = doc.span();

        let mut manifest_table = DeTable::new();
        let mut module = None;
        let mut sha256 = None;
        let mut permissions = None;
        let mut config = None;
        let mut ignored_keys = Vec::new();
        for (key, value) in doc.into_inner() {
            match key.get_ref().as_ref() {
                "module" => module = Some(value),
                "sha256" => sha256 = Some(value),
                "permissions" => permissions = Some(value),
                "config" => config = Some(value),
                k if MANIFEST_KEYS.contains(&k) => {
                    manifest_table.insert(key, value);
                }
                _ => ignored_keys.push(key.into_inner().into_owned()),
            }
        }
        for key in REQUIRED_MANIFEST_KEYS {
            if !manifest_table.contains_key(key) {
                return Err(self.invalid(key, "the key is missing"));
            }
        }
        let Some(module) = module else {
            return Err(self.invalid("module", "the key is missing"));
        };

        let manifest = self.manifest(manifest_table, doc_span)?;
        let dir = match self.path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_owned(),
            _ => PathBuf::from("."),
        };
        let module = dir.join(self.module(module)?);
        let sha256 = sha256.map(|v| self.sha256(v)).transpose()?;
        let permissions = permissions
            .map(|v| self.permissions(v))
            .transpose()?
            .unwrap_or_default();
        let config = config
            .map(|v| self.value_map(v, "config"))
            .transpose()?
            .unwrap_or_default();

        ignored_keys.sort();
        for key in &ignored_keys {
            tracing::warn!(
                manifest = %self.path.display(),
                key = %key,
                "unknown key in plugin manifest, ignored"
            );
        }
        Ok(PluginPackage {
            manifest,
            dir,
            manifest_path: self.path.to_owned(),
            module,
            sha256,
            permissions,
            config,
            ignored_keys,
            module_bytes: None,
        })
    }

    /// The [`PluginManifest`] from its keys, validated.
    fn manifest(
        &self,
        table: DeTable<'a>,
        doc_span: Range<usize>,
    ) -> Result<PluginManifest, ManifestError> {
        // Where each key's value lies, to name the key a serde error is about.
        let spans: Vec<(String, Range<usize>)> = table
            .iter()
            .map(|(k, v)| (k.get_ref().to_string(), v.span()))
            .collect();
        let root = Spanned::new(doc_span, DeValue::Table(table));
        let mut manifest =
            PluginManifest::deserialize(ValueDeserializer::from(root)).map_err(|e| {
                let key = e
                    .span()
                    .and_then(|s| {
                        spans
                            .iter()
                            .find(|(_, range)| range.start <= s.start && s.end <= range.end)
                    })
                    .map_or("", |(k, _)| k.as_str());
                self.invalid(key, tidy(e.message()))
            })?;
        for map in [&mut manifest.config_schema, &mut manifest.metadata]
            .into_iter()
            .flatten()
        {
            datetime_maps_to_strings(map);
        }

        dependencies::check_id(&manifest.id).map_err(|m| self.invalid("id", m))?;
        semver::Version::parse(&manifest.version).map_err(|e| {
            self.invalid(
                "version",
                format!("`{}` is not a semantic version: {e}", manifest.version),
            )
        })?;
        let host_version = |key: &str, value: &Option<String>| {
            value
                .as_deref()
                .map(|v| {
                    semver::Version::parse(v).map_err(|e| {
                        self.invalid(key, format!("`{v}` is not a semantic version: {e}"))
                    })
                })
                .transpose()
        };
        let min = host_version("minHostVersion", &manifest.min_host_version)?;
        let max = host_version("maxHostVersion", &manifest.max_host_version)?;
        if let (Some(min), Some(max)) = (&min, &max)
            && min > max
        {
            return Err(self.invalid(
                "maxHostVersion",
                format!("{max} is below the minHostVersion {min}"),
            ));
        }
        for spec in &manifest.dependencies {
            let dependency: Dependency = spec
                .parse()
                .map_err(|e| self.invalid("dependencies", format!("{e}")))?;
            if dependency.id == manifest.id {
                return Err(self.invalid(
                    "dependencies",
                    format!("`{spec}`: the plugin depends on itself"),
                ));
            }
        }
        Ok(manifest)
    }

    /// `module`: a relative path that stays in the folder.
    fn module(&self, value: Item<'_>) -> Result<PathBuf, ManifestError> {
        let module = self.string(value, "module")?;
        relative_path(&module)
            .map(|segments| segments.iter().collect())
            .map_err(|m| self.invalid("module", format!("`{module}` {m}")))
    }

    /// `sha256`: 64 hex digits, kept lowercase.
    fn sha256(&self, value: Item<'_>) -> Result<String, ManifestError> {
        let hex = self.string(value, "sha256")?;
        if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(self.invalid(
                "sha256",
                format!("expected 64 hex digits, found `{}`", hex.escape_debug()),
            ));
        }
        Ok(hex.to_ascii_lowercase())
    }

    /// The `[permissions]` table.
    fn permissions(&self, value: Item<'_>) -> Result<RequestedPermissions, ManifestError> {
        let table = self.table(value, "permissions")?;
        let mut permissions = RequestedPermissions::default();
        for (key, value) in table {
            let name = key.get_ref().as_ref();
            let key = format!("permissions.{name}");
            match name {
                "hostFunctions" => {
                    permissions.host_functions = self.deserialize(value, &key)?;
                    if let Some(bad) = permissions.host_functions.iter().find(|f| f.is_empty()) {
                        return Err(self.invalid(&key, format!("`{bad}` is not a function name")));
                    }
                }
                "filesystem" => permissions.filesystem = self.filesystem(value, &key)?,
                "maxMemoryBytes" => permissions.max_memory_bytes = Some(self.limit(value, &key)?),
                "maxExecutionTimeMs" => {
                    permissions.max_execution_time =
                        Some(Duration::from_millis(self.limit(value, &key)?));
                }
                "fuel" => permissions.fuel = Some(self.limit(value, &key)?),
                "maxRestarts" => {
                    let limit = self.limit(value, &key)?;
                    let limit = u32::try_from(limit)
                        .map_err(|_| self.invalid(&key, format!("{limit} is too large")))?;
                    permissions.max_restarts = Some(limit);
                }
                _ => {
                    return Err(self.invalid(
                        &key,
                        format!(
                            "unknown permission, expected one of {}",
                            PERMISSION_KEYS.join(", ")
                        ),
                    ));
                }
            }
        }
        Ok(permissions)
    }

    /// `permissions.filesystem`: guest directory → `readOnly` | `readWrite`.
    fn filesystem(
        &self,
        value: Item<'_>,
        key: &str,
    ) -> Result<BTreeMap<String, FilesystemAccessLevel>, ManifestError> {
        let table = self.table(value, key)?;
        let mut filesystem = BTreeMap::new();
        for (dir, level) in table {
            let dir = dir.get_ref().as_ref();
            let normalized = relative_path(dir)
                .map_err(|m| self.invalid(key, format!("guest directory `{dir}` {m}")))?
                .join("/");
            let level = match level.get_ref().as_str() {
                Some("readOnly") => FilesystemAccessLevel::ReadOnly,
                Some("readWrite") => FilesystemAccessLevel::ReadWrite,
                other => {
                    let found = match other {
                        Some(s) => format!("\"{}\"", s.escape_debug()),
                        None => level.get_ref().type_str().to_owned(),
                    };
                    return Err(self.invalid(
                        key,
                        format!("`{dir}`: expected \"readOnly\" or \"readWrite\", found {found}"),
                    ));
                }
            };
            if filesystem.insert(normalized.clone(), level).is_some() {
                return Err(self.invalid(
                    key,
                    format!("guest directory `{normalized}` is given more than once"),
                ));
            }
        }
        Ok(filesystem)
    }

    /// A positive integer limit.
    fn limit(&self, value: Item<'_>, key: &str) -> Result<u64, ManifestError> {
        match self.deserialize::<u64>(value, key)? {
            0 => Err(self.invalid(key, "must be greater than zero")),
            n => Ok(n),
        }
    }

    fn value_map(&self, value: Item<'_>, key: &str) -> Result<ValueMap, ManifestError> {
        if !value.get_ref().is_table() {
            return Err(self.invalid(
                key,
                format!("expected a table, found {}", value.get_ref().type_str()),
            ));
        }
        let mut map = self.deserialize(value, key)?;
        datetime_maps_to_strings(&mut map);
        Ok(map)
    }

    fn string(&self, value: Item<'_>, key: &str) -> Result<String, ManifestError> {
        match value.into_inner() {
            DeValue::String(s) => Ok(s.into_owned()),
            other => Err(self.invalid(
                key,
                format!("expected a string, found {}", other.type_str()),
            )),
        }
    }

    fn table<'i>(&self, value: Item<'i>, key: &str) -> Result<DeTable<'i>, ManifestError> {
        match value.into_inner() {
            DeValue::Table(t) => Ok(t),
            other => {
                Err(self.invalid(key, format!("expected a table, found {}", other.type_str())))
            }
        }
    }

    fn deserialize<'i, T: Deserialize<'i>>(
        &self,
        value: Item<'i>,
        key: &str,
    ) -> Result<T, ManifestError> {
        T::deserialize(ValueDeserializer::from(value))
            .map_err(|e| self.invalid(key, tidy(e.message())))
    }
}

/// The segments of a relative path written with `/`, `.` segments dropped.
///
/// Refused, with the end of a message: an absolute path (`/x`, `\x`, `C:x`),
/// a `..` segment, a backslash, a control character, and a path of no segment.
fn relative_path(path: &str) -> Result<Vec<&str>, &'static str> {
    if path.starts_with('/') {
        return Err("is absolute");
    }
    if path.contains('\\') {
        return Err("holds a backslash; separate folders with `/`");
    }
    if path.contains(':') || Path::new(path).has_root() {
        return Err("is not a plain relative path (`:` is not allowed)");
    }
    if path.chars().any(char::is_control) {
        return Err("holds a control character");
    }
    let mut segments = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => return Err("leaves the folder with `..`"),
            s => segments.push(s),
        }
    }
    if segments.is_empty() {
        return Err("names no file or folder");
    }
    // Whatever the platform, each segment must be a plain name.
    debug_assert!(
        segments
            .iter()
            .all(|s| matches!(Path::new(s).components().next(), Some(Component::Normal(_))))
    );
    Ok(segments)
}

/// Turns the TOML datetimes of a map into RFC 3339 strings: a [`Value`] has no
/// datetime (`toml` hands one over as a map of one private key), and a string
/// is what a JSON manifest would hold.
fn datetime_maps_to_strings(map: &mut ValueMap) {
    for value in map.values_mut() {
        datetime_value_to_string(value);
    }
}

fn datetime_value_to_string(value: &mut Value) {
    match value {
        Value::Map(map) => {
            if map.len() == 1
                && let Some(Value::String(s)) = map.get(TOML_DATETIME_KEY)
            {
                *value = Value::String(s.clone());
            } else {
                datetime_maps_to_strings(map);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(datetime_value_to_string),
        _ => {}
    }
}
