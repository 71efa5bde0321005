//! The cache directory and the key that seals its entries: made when missing,
//! trusted only as the host makes them (see [`ModuleCache`](super::ModuleCache#sealed)).

use std::{
    fs,
    io::{self, Read, Write},
    path::{Path, PathBuf},
};

/// The name of the key's file in the cache directory.
pub(super) const KEY_FILE: &str = "key";

/// Makes `dir` (mode 0700) if missing; a directory others may write is an
/// error.
pub(super) fn create_dir(dir: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if fs::metadata(dir)?.permissions().mode() & 0o022 != 0 {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                "others may write the directory",
            ));
        }
    }
    Ok(())
}

/// The key in `dir/key`, made once (32 random bytes, mode 0400). A key the
/// host would not have made is replaced.
pub(super) fn key(dir: &Path) -> io::Result<[u8; 32]> {
    let path = dir.join(KEY_FILE);
    // Once for a missing key, once more for one that had to be replaced or
    // that another process made first.
    for _ in 0..3 {
        match existing_key(&path) {
            Ok(Some(key)) => return Ok(key),
            Ok(None) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        match new_key(&path) {
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            made => return made,
        }
    }
    Err(io::Error::other("the key keeps changing"))
}

/// The key at `path` if the host can trust it; `None` after deleting one it
/// cannot.
fn existing_key(path: &Path) -> io::Result<Option<[u8; 32]>> {
    let metadata = fs::symlink_metadata(path)?;
    let trusted = metadata.is_file() && metadata.len() == 32 && sealed_mode(&metadata);
    if trusted {
        let mut key = [0u8; 32];
        fs::File::open(path)?.read_exact(&mut key)?;
        return Ok(Some(key));
    }
    tracing::debug!(
        "cache key {} replaced: not one the host made",
        path.display()
    );
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(None),
    }
}

/// Whether no one may write the key and only its owner read it.
fn sealed_mode(metadata: &fs::Metadata) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        metadata.permissions().mode() & 0o277 == 0
    }
    #[cfg(not(unix))]
    {
        metadata.permissions().readonly()
    }
}

/// Makes a key at `path`, which must not exist yet: written whole to a file
/// of its own, then linked to `path`, so that another process never reads
/// half a key (and takes it for one the host did not make).
///
/// # Errors
/// [`io::ErrorKind::AlreadyExists`] when another process made one first.
fn new_key(path: &Path) -> io::Result<[u8; 32]> {
    let mut key = [0u8; 32];
    getrandom::fill(&mut key).map_err(|e| io::Error::other(e.to_string()))?;
    let temp = temp_path(path);
    drop(write_new(&temp, &key, 0o400, true)?);
    #[cfg(not(unix))]
    {
        let mut permissions = fs::metadata(&temp)?.permissions();
        permissions.set_readonly(true);
        fs::set_permissions(&temp, permissions)?;
    }
    let linked = match fs::hard_link(&temp, path) {
        Err(e) if e.kind() != io::ErrorKind::AlreadyExists => {
            // A file system without hard links: a race with another process
            // may then replace this key, which only makes its entries misses.
            fs::rename(&temp, path)
        }
        linked => linked,
    };
    let _ = fs::remove_file(&temp);
    linked.map(|()| key)
}

/// A fresh name beside `path` for a file being written: `NAME.PID-NONCE.tmp`.
pub(super) fn temp_path(path: &Path) -> PathBuf {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut nonce = [0u8; 4];
    // Only uniqueness is at stake: the counter and the process id already
    // give it on one host.
    let _ = getrandom::fill(&mut nonce);
    let mut name = path.as_os_str().to_owned();
    name.push(format!(
        ".{}-{}-{}.tmp",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        hex::encode(nonce)
    ));
    PathBuf::from(name)
}

/// Writes `bytes` to a new file at `path` that only its owner may read (with
/// `mode` on Unix), and to the disk too when `sync`; a file left half-written
/// is removed. Returns the file, open for writing.
pub(super) fn write_new(path: &Path, bytes: &[u8], mode: u32, sync: bool) -> io::Result<fs::File> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, mode);
    #[cfg(not(unix))]
    let _ = mode;
    let mut file = options.open(path)?;
    let written = file
        .write_all(bytes)
        .and_then(|()| if sync { file.sync_all() } else { Ok(()) });
    match written {
        Ok(()) => Ok(file),
        Err(e) => {
            drop(file);
            let _ = fs::remove_file(path);
            Err(e)
        }
    }
}
