//! The cache directory, the key that seals its entries, and the entries'
//! own seal: made when missing, trusted only as the host makes them (see
//! [`ModuleCache`](super::ModuleCache#sealed)).

use std::{
    fmt, fs,
    io::{self, Read, Write},
    path::{Path, PathBuf},
};

use super::CacheKey;

/// The name of the key's file in the cache directory.
pub(super) const KEY_FILE: &str = "key";

/// The bytes of an entry's tag, after its payload.
pub(super) const TAG_LEN: usize = 32;

/// Why [`ModuleCache::open`](super::ModuleCache::open) refused a cache
/// directory: the [`io::Error`] it returns ([`io::ErrorKind::PermissionDenied`])
/// carries this, for [`io::Error::get_ref`] and a downcast.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the cache directory {} {fault}", path.display())]
#[non_exhaustive]
pub struct UntrustedCacheDir {
    /// The directory.
    pub path: PathBuf,
    /// What is wrong with it.
    pub fault: CacheDirFault,
}

/// What makes a cache directory untrusted: another user could plant entries
/// or a key in it, and so code that the host would run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CacheDirFault {
    /// Another user owns it (uid `owner`).
    NotOwned {
        /// Its owner's uid.
        owner: u32,
    },
    /// Its group or others may write it (its permission bits are `mode`).
    OthersMayWrite {
        /// Its permission bits.
        mode: u32,
    },
}

impl fmt::Display for CacheDirFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CacheDirFault::NotOwned { owner } => {
                write!(f, "is owned by uid {owner}, not by this process's user")
            }
            CacheDirFault::OthersMayWrite { mode } => {
                write!(f, "may be written by others (mode {mode:04o})")
            }
        }
    }
}

/// Makes `dir` (mode 0700) if missing. On Unix, a directory that another user
/// owns or that others may write is an [`UntrustedCacheDir`] error, checked on
/// the opened directory.
pub(super) fn create_dir(dir: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
        let metadata = fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_DIRECTORY)
            .open(dir)?
            .metadata()?;
        let fault = if metadata.uid() != effective_uid() {
            Some(CacheDirFault::NotOwned {
                owner: metadata.uid(),
            })
        } else if metadata.mode() & 0o022 != 0 {
            Some(CacheDirFault::OthersMayWrite {
                mode: metadata.mode() & 0o7777,
            })
        } else {
            None
        };
        if let Some(fault) = fault {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                UntrustedCacheDir {
                    path: dir.to_owned(),
                    fault,
                },
            ));
        }
    }
    Ok(())
}

/// This process's effective user, the owner of what it makes.
#[cfg(unix)]
fn effective_uid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// The regular file at `path`, opened with `options` without following a
/// symbolic link there (nor blocking on a FIFO), and its metadata, read from
/// the open file: what is checked is what is read, whatever replaces the
/// path meanwhile.
///
/// # Errors
/// [`io::ErrorKind::InvalidData`] for a symbolic link or anything but a
/// regular file; else the error of opening it.
pub(super) fn open_file(
    path: &Path,
    options: &mut fs::OpenOptions,
) -> io::Result<(fs::File, fs::Metadata)> {
    let not_regular = || io::Error::new(io::ErrorKind::InvalidData, "not a regular file");
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(options, libc::O_NOFOLLOW | libc::O_NONBLOCK);
    // No such flag here: the link is looked for first, as ever.
    #[cfg(not(unix))]
    if fs::symlink_metadata(path)?.is_symlink() {
        return Err(not_regular());
    }
    let file = options.open(path).map_err(|e| {
        // O_NOFOLLOW on a link: ELOOP, or EMLINK on FreeBSD.
        #[cfg(unix)]
        if matches!(e.raw_os_error(), Some(libc::ELOOP | libc::EMLINK)) {
            return not_regular();
        }
        e
    })?;
    let metadata = file.metadata()?;
    if !metadata.is_file() {
        return Err(not_regular());
    }
    Ok((file, metadata))
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
/// cannot (a link is deleted, never followed).
fn existing_key(path: &Path) -> io::Result<Option<[u8; 32]>> {
    let opened = match open_file(path, fs::OpenOptions::new().read(true)) {
        Ok((file, metadata)) if metadata.len() == 32 && trusted_key(&metadata) => Some(file),
        Ok(_) => None,
        Err(e) if e.kind() == io::ErrorKind::InvalidData => None,
        Err(e) => return Err(e),
    };
    if let Some(mut file) = opened {
        let mut key = [0u8; 32];
        file.read_exact(&mut key)?;
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

/// Whether the key is as the host makes it: this process's user owns it, no
/// one may write it and only its owner read it.
fn trusted_key(metadata: &fs::Metadata) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        metadata.uid() == effective_uid() && metadata.mode() & 0o277 == 0
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
    drop(write_new(&temp, &[&key], 0o400, true)?);
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

/// Writes `parts`, one after the other, to a new file at `path` that only its
/// owner may read (with `mode` on Unix), and to the disk too when `sync`; a
/// file left half-written is removed. Returns the file, open for writing.
pub(super) fn write_new(
    path: &Path,
    parts: &[&[u8]],
    mode: u32,
    sync: bool,
) -> io::Result<fs::File> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, mode);
    #[cfg(not(unix))]
    let _ = mode;
    let mut file = options.open(path)?;
    let written = parts
        .iter()
        .try_for_each(|part| file.write_all(part))
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

/// The key of entries' tags, derived from the cache's key: the engine seals
/// its own bytes with that key, and no tag it makes is ever an entry's.
pub(super) fn entry_key(key: &[u8; 32]) -> [u8; 32] {
    blake3::derive_key("plugin-system-module-cache entry tags", key)
}

/// The tag of an entry named `name` holding `payload`, which follows the
/// payload in the entry's file: binding the name makes an entry renamed to
/// another key's (one compiled for weaker settings) refused. Keyed BLAKE3:
/// entries are tens of megabytes, read at every start.
pub(super) fn entry_tag(entry_key: &[u8; 32], name: &CacheKey, payload: &[u8]) -> [u8; TAG_LEN] {
    entry_mac(entry_key, name, payload).into()
}

/// The payload of `entry` (the bytes of an entry's file) if its tag is that
/// of an entry named `name`; checked before anything reads the payload.
pub(super) fn entry_payload<'a>(
    entry_key: &[u8; 32],
    name: &CacheKey,
    entry: &'a [u8],
) -> Option<&'a [u8]> {
    let (payload, tag) = entry.split_last_chunk::<TAG_LEN>()?;
    // `blake3::Hash` compares in constant time.
    (entry_mac(entry_key, name, payload) == blake3::Hash::from_bytes(*tag)).then_some(payload)
}

fn entry_mac(entry_key: &[u8; 32], name: &CacheKey, payload: &[u8]) -> blake3::Hash {
    blake3::Hasher::new_keyed(entry_key)
        .update(name.as_bytes())
        .update(payload)
        .finalize()
}
