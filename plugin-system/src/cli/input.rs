//! What the commands read from files and stdin besides a module (which
//! [`WasmRuntime::load_module_from_file`](plugin_system::WasmRuntime::load_module_from_file)
//! reads under its own cap): each read stops one byte past a cap, so that
//! `--data @/dev/zero`, an endless pipe on stdin or a file of many gigabytes
//! is refused instead of filling the memory.
//!
//! And what a module file is taken for ([`check_module`]): binary WebAssembly
//! when it starts with `\0asm`, WAT when it is text that starts with `(`, and
//! else neither, which is said in so many words rather than as the WAT
//! parser's complaint about the first byte.

use std::{fs::File, io::Read, path::Path};

use super::Failure;

/// The most bytes of event data (`--data`): the wire formats' own limit on
/// a message (100 MiB), which the event's envelope only adds to.
pub(crate) const MAX_DATA_BYTES: u64 = 100 * 1024 * 1024;

/// The most bytes of a manifest file (`--manifest`): the ABI's limit on a
/// manifest a plugin returns, 1 MiB.
pub(crate) const MAX_MANIFEST_BYTES: u64 = 1024 * 1024;

/// Reads all of `reader` if it holds at most `cap` bytes. `what` names the
/// input in the error, as `--data @x.json` or `--manifest m.json`.
///
/// # Errors
/// A [`Failure::Usage`] (exit 2) when the input cannot be read or holds more
/// than `cap` bytes.
pub(crate) fn read_capped(reader: impl Read, cap: u64, what: &str) -> Result<Vec<u8>, Failure> {
    let mut bytes = Vec::new();
    reader
        .take(cap.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| Failure::Usage(format!("bad arguments: cannot read {what}: {e}")))?;
    if bytes.len() as u64 > cap {
        return Err(too_large(what, cap));
    }
    Ok(bytes)
}

/// Reads the file at `path` as [`read_capped`] does; a regular file larger
/// than `cap` is refused before anything of it is read.
///
/// # Errors
/// As [`read_capped`].
pub(crate) fn read_file_capped(path: &Path, cap: u64, what: &str) -> Result<Vec<u8>, Failure> {
    let file = File::open(path)
        .map_err(|e| Failure::Usage(format!("bad arguments: cannot read {what}: {e}")))?;
    let len = file.metadata().ok().filter(std::fs::Metadata::is_file);
    if len.is_some_and(|metadata| metadata.len() > cap) {
        return Err(too_large(what, cap));
    }
    read_capped(file, cap, what)
}

/// Refuses a module file that is neither binary WebAssembly nor WAT text,
/// with [`NOT_A_MODULE`]; the others go on to the engine, whose errors they
/// get as before.
///
/// # Errors
/// [`Failure::Usage`] (exit 2) saying [`NOT_A_MODULE`].
pub(crate) fn check_module(bytes: &[u8]) -> Result<(), Failure> {
    use plugin_system::wasm_run::{ModuleKind, NOT_A_MODULE, module_kind};
    match module_kind(bytes) {
        ModuleKind::Binary | ModuleKind::Text => Ok(()),
        ModuleKind::Neither => Err(Failure::Usage(NOT_A_MODULE.to_owned())),
    }
}

fn too_large(what: &str, cap: u64) -> Failure {
    Failure::Usage(format!(
        "bad arguments: {what} is larger than {cap} bytes, the most it may hold"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_stop_one_byte_past_the_cap() {
        assert_eq!(
            read_capped(&b"12345"[..], 5, "x").ok(),
            Some(b"12345".to_vec())
        );
        let Err(Failure::Usage(message)) = read_capped(&b"123456"[..], 5, "--data -") else {
            panic!("one byte over the cap is refused");
        };
        assert_eq!(
            message,
            "bad arguments: --data - is larger than 5 bytes, the most it may hold"
        );
        // An endless input ends at the cap.
        assert!(read_capped(std::io::repeat(0), 1000, "x").is_err());
    }

    #[test]
    fn only_wasm_and_wat_are_modules() {
        let Err(Failure::Usage(message)) = check_module(b"#!/bin/sh") else {
            panic!("a script is no module");
        };
        assert_eq!(
            message,
            "not a WebAssembly module: no `\\0asm` header, and not WAT text"
        );
        assert!(check_module(b"(module)").is_ok());
    }

    #[cfg(unix)]
    #[test]
    fn a_device_is_read_up_to_the_cap() {
        let Err(Failure::Usage(message)) =
            read_file_capped(Path::new("/dev/zero"), 4096, "--manifest /dev/zero")
        else {
            panic!("/dev/zero never ends");
        };
        assert!(message.contains("larger than 4096 bytes"), "{message}");
    }
}
