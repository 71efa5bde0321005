//! [`discover`]: the plugin folders under a folder.

use std::{collections::HashSet, fs, path::Path};

use super::{MANIFEST_FILE, ManifestError, PluginPackage};

/// How deep [`discover`] descends below its folder: far enough for any layout
/// of plugins, short of a runaway walk.
const MAX_DEPTH: usize = 16;

/// What [`discover`] found: the plugins it could read, and the errors of the
/// others.
#[derive(Debug, Default)]
pub struct Discovery {
    /// The plugins read, sorted by folder.
    pub packages: Vec<PluginPackage>,
    /// Why other plugin folders (or folders of the walk) were refused, sorted
    /// by path.
    pub errors: Vec<ManifestError>,
}

/// Finds every plugin folder under `dir` and reads it.
///
/// A plugin folder is one that holds a [`MANIFEST_FILE`]; `dir` itself counts.
/// The walk descends into subfolders (following symbolic links, so a plugin
/// can be linked into a plugins folder), but not into a plugin folder, nor
/// into hidden folders (names starting with `.`), nor a folder it has already
/// seen (so links that loop end), nor deeper than 16 levels.
///
/// A manifest that cannot be read or is refused lands in
/// [`Discovery::errors`], and the others are still returned. A folder of the
/// walk that cannot be listed (`dir` itself included, if it does not exist)
/// is a [`ManifestError::Io`] there too.
pub fn discover(dir: &Path) -> Discovery {
    let mut discovery = Discovery::default();
    let mut plugin_dirs = Vec::new();
    let mut seen = HashSet::new();
    let mut stack = vec![(dir.to_owned(), 0)];
    while let Some((folder, depth)) = stack.pop() {
        // The real path, to see each folder once however it is reached.
        match fs::canonicalize(&folder) {
            Ok(real) => {
                if !seen.insert(real) {
                    continue;
                }
            }
            Err(e) => {
                discovery.errors.push(ManifestError::io(&folder, e));
                continue;
            }
        }
        if fs::symlink_metadata(folder.join(MANIFEST_FILE)).is_ok() {
            plugin_dirs.push(folder);
            continue;
        }
        if depth >= MAX_DEPTH {
            tracing::warn!(
                folder = %folder.display(),
                "plugin discovery stops {MAX_DEPTH} levels deep"
            );
            continue;
        }
        let entries = match fs::read_dir(&folder) {
            Ok(entries) => entries,
            Err(e) => {
                discovery.errors.push(ManifestError::io(&folder, e));
                continue;
            }
        };
        for entry in entries {
            let entry = match entry {
                Ok(entry) => entry,
                Err(e) => {
                    discovery.errors.push(ManifestError::io(&folder, e));
                    continue;
                }
            };
            if entry.file_name().as_encoded_bytes().starts_with(b".") {
                continue;
            }
            let path = entry.path();
            // `metadata` follows links: a linked plugin folder counts.
            if fs::metadata(&path).is_ok_and(|m| m.is_dir()) {
                stack.push((path, depth + 1));
            }
        }
    }
    plugin_dirs.sort();
    for folder in plugin_dirs {
        match PluginPackage::read(&folder) {
            Ok(package) => discovery.packages.push(package),
            Err(e) => discovery.errors.push(e),
        }
    }
    discovery.errors.sort_by(|a, b| a.path().cmp(b.path()));
    discovery
}
