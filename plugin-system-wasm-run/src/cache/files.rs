//! The entries on disk: read, written through a temporary file and a rename,
//! touched when used, listed, and evicted least recently used first.

use std::{
    ffi::OsStr,
    fs,
    io::{self, Read},
    path::{Path, PathBuf},
    time::{Duration, SystemTime},
};

use super::seal;

/// The extension of an entry's file: `<key>.cwasm`.
pub(super) const EXTENSION: &str = "cwasm";

/// The extension of a file being written.
const TEMP_EXTENSION: &str = "tmp";

/// The most bytes of an entry that are read.
const MAX_ENTRY_BYTES: u64 = 4 << 30;

/// A temporary file older than this was left by a writer that died: eviction
/// and clearing remove it.
const STALE_TEMP: Duration = Duration::from_secs(3600);

/// An entry as found on disk.
#[derive(Debug, Clone)]
pub(super) struct Found {
    pub(super) path: PathBuf,
    pub(super) bytes: u64,
    pub(super) modified: SystemTime,
}

/// The entry at `path`: a regular file of at most [`MAX_ENTRY_BYTES`], never
/// a link followed (see [`seal::open_file`]).
pub(super) fn read(path: &Path) -> io::Result<Vec<u8>> {
    let (file, metadata) = seal::open_file(path, fs::OpenOptions::new().read(true))?;
    if metadata.len() > MAX_ENTRY_BYTES {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "larger than 4 GiB",
        ));
    }
    let mut bytes = Vec::new();
    file.take(MAX_ENTRY_BYTES).read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// Writes `parts`, one after the other, to `path` through a temporary file in
/// the same directory and a rename, so that no reader ever sees half an entry
/// and two writers of the same entry leave one of theirs, whole.
pub(super) fn write(path: &Path, parts: &[&[u8]]) -> io::Result<()> {
    let temp = seal::temp_path(path);
    let file = seal::write_new(&temp, parts, 0o600, false)?;
    // Stamped from the same clock as `touch`: the one the kernel stamps
    // writes with may lag it by a few milliseconds, enough to make an entry
    // written just now look older than one used a moment before.
    let stamped = file.set_modified(SystemTime::now());
    drop(file);
    let renamed = stamped.and_then(|()| fs::rename(&temp, path));
    if renamed.is_err() {
        let _ = fs::remove_file(&temp);
    }
    renamed
}

/// Marks the entry at `path` as used now (its modification time, which
/// eviction goes by: access times are often not kept); a link there is not
/// followed, and what it points to keeps its time.
pub(super) fn touch(path: &Path) -> io::Result<()> {
    seal::open_file(path, fs::OpenOptions::new().write(true))?
        .0
        .set_modified(SystemTime::now())
}

/// The entries in `dir` (regular files named `*.cwasm`), in no order; when
/// `remove_stale`, temporary files older than [`STALE_TEMP`] are removed on
/// the way.
pub(super) fn list(dir: &Path, remove_stale: bool) -> io::Result<Vec<Found>> {
    let mut found = Vec::new();
    for item in fs::read_dir(dir)? {
        let item = item?;
        let path = item.path();
        let extension = path.extension();
        if extension != Some(OsStr::new(EXTENSION)) && extension != Some(OsStr::new(TEMP_EXTENSION))
        {
            continue;
        }
        // Only the cache's own names: a folder given by mistake (a home, a
        // project) keeps its other `.cwasm` and `.tmp` files.
        if !path
            .file_name()
            .and_then(OsStr::to_str)
            .is_some_and(|name| ours(name, extension == Some(OsStr::new(TEMP_EXTENSION))))
        {
            continue;
        }
        let metadata = match fs::symlink_metadata(&path) {
            Ok(metadata) => metadata,
            // Removed since the listing: by another process's eviction.
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        if !metadata.is_file() {
            continue;
        }
        let modified = metadata.modified()?;
        if extension == Some(OsStr::new(TEMP_EXTENSION)) {
            let stale = SystemTime::now()
                .duration_since(modified)
                .is_ok_and(|age| age > STALE_TEMP);
            if remove_stale && stale {
                let _ = fs::remove_file(&path);
            }
            continue;
        }
        found.push(Found {
            path,
            bytes: metadata.len(),
            modified,
        });
    }
    Ok(found)
}

/// Whether `name` is one the cache makes: an entry, `<64 hex digits>.cwasm`,
/// or (`temp`) a file being written, an entry's or the key's name followed by
/// `.<pid>-<n>-<nonce>.tmp`.
fn ours(name: &str, temp: bool) -> bool {
    let entry = |name: &str| {
        name.strip_suffix(".cwasm").is_some_and(|stem| {
            stem.len() == 64 && stem.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        })
    };
    if !temp {
        return entry(name);
    }
    let Some(written) = name
        .strip_suffix(".tmp")
        .and_then(|rest| rest.rsplit_once('.'))
    else {
        return false;
    };
    written.0 == seal::KEY_FILE || entry(written.0)
}

/// Removes the entries of `dir` least recently used first until they hold at
/// most `max_bytes`, never `keep` (the entry just written). Returns how many
/// were removed.
pub(super) fn evict(dir: &Path, max_bytes: u64, keep: &Path) -> io::Result<u64> {
    let mut entries = list(dir, true)?;
    let mut total: u64 = entries.iter().map(|entry| entry.bytes).sum();
    if total <= max_bytes {
        return Ok(0);
    }
    entries.sort_by(|a, b| a.modified.cmp(&b.modified).then(a.path.cmp(&b.path)));
    let mut evicted = 0;
    for entry in entries {
        if total <= max_bytes {
            break;
        }
        if entry.path == keep {
            continue;
        }
        match fs::remove_file(&entry.path) {
            Ok(()) => evicted += 1,
            // Another process evicted it first.
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        total = total.saturating_sub(entry.bytes);
    }
    Ok(evicted)
}

/// Removes every entry of `dir` and the temporary files of writers that
/// died; returns the entries removed.
pub(super) fn clear(dir: &Path) -> io::Result<Vec<Found>> {
    let mut removed = Vec::new();
    for entry in list(dir, true)? {
        match fs::remove_file(&entry.path) {
            Ok(()) => removed.push(entry),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::ours;

    #[test]
    fn only_the_caches_own_names_are_touched() {
        let entry = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.cwasm";
        assert!(ours(entry, false));
        assert!(ours(&format!("{entry}.42-0-0a1b2c3d.tmp"), true));
        assert!(ours("key.42-1-0a1b2c3d.tmp", true));
        for other in [
            "plugin.cwasm",
            "0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef.cwasm",
            "0123.cwasm",
            "notes.tmp",
            "plugin.cwasm.1-2-3.tmp",
        ] {
            assert!(!ours(other, other.ends_with(".tmp")), "{other}");
        }
    }
}
