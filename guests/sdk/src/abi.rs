//! The buffers and packed results of the ABI (see `ABI.md`, "Buffers and
//! packed results").
//!
//! Plugins built with [`export_plugin!`](crate::export_plugin) never need
//! this module; it is public for tests and for hand-written exports.

use std::alloc::Layout;
use std::cell::Cell;

/// The ABI version this SDK implements, as written to the custom section
/// `plugin_abi_version`.
pub const ABI_VERSION: u32 = 1;

/// The default wire format, as written to the custom section
/// `plugin_wire_format`: what `export_plugin!(T)` declares.
/// `export_plugin!(T, format = msgpack)` declares `msgpack` instead; see
/// [`codec`](crate::codec).
pub const WIRE_FORMAT: &str = <crate::codec::Json as crate::codec::Codec>::WIRE_FORMAT;

thread_local! {
    /// Buffers handed across the ABI and not freed yet.
    static LIVE_BUFFERS: Cell<i32> = const { Cell::new(0) };
}

/// Packs a reply buffer into the `i64` an export returns:
/// `(ptr << 32) | len`, both unsigned 32-bit.
///
/// ```
/// use plugin_system_guest::abi::{pack, unpack};
///
/// assert_eq!(pack(0x10, 3), 0x0000_0010_0000_0003);
/// assert_eq!(unpack(pack(0xFFFF_FFF0, 0xFFFF_FFFF)), (0xFFFF_FFF0, 0xFFFF_FFFF));
/// ```
pub const fn pack(ptr: u32, len: u32) -> u64 {
    ((ptr as u64) << 32) | len as u64
}

/// Splits a packed result into `(ptr, len)`.
pub const fn unpack(packed: u64) -> (u32, u32) {
    ((packed >> 32) as u32, packed as u32)
}

/// The number of buffers handed across the ABI that are not freed yet:
/// those [`alloc`] returned, plus the replies the plugin handed out, less
/// those [`dealloc`] freed. What the export `plugin_live_buffers` returns; 0
/// after every complete call when the host frees what it must.
///
/// Counted per thread (a wasm32 module has one); in native tests, each test
/// thread has its own count.
pub fn live_buffers() -> i32 {
    LIVE_BUFFERS.with(Cell::get)
}

/// The layout of a buffer of `len` bytes: byte-aligned, and at least one
/// byte, so that `alloc(0)` returns a real, distinct pointer that `dealloc`
/// frees like any other.
fn layout(len: usize) -> Option<Layout> {
    Layout::from_size_align(len.max(1), 1).ok()
}

/// Allocates a buffer of `len` bytes for the host (the export `alloc`);
/// null when it cannot (too large, or out of memory).
pub fn alloc(len: usize) -> *mut u8 {
    let Some(layout) = layout(len) else {
        return std::ptr::null_mut();
    };
    // SAFETY: `layout` has a non-zero size.
    let ptr = unsafe { std::alloc::alloc(layout) };
    if !ptr.is_null() {
        LIVE_BUFFERS.with(|n| n.set(n.get() + 1));
    }
    ptr
}

/// Frees a buffer of `len` bytes at `ptr` (the export `dealloc`). A null
/// `ptr` is ignored.
///
/// # Safety
///
/// `ptr` must be null or a buffer that [`alloc`] returned for this same
/// `len` (or that the plugin handed out as a reply of `len` bytes), not
/// freed yet.
pub unsafe fn dealloc(ptr: *mut u8, len: usize) {
    if ptr.is_null() {
        return;
    }
    let Some(layout) = layout(len) else {
        // No buffer of that length can exist.
        return;
    };
    // SAFETY: by the caller's contract, `ptr` was allocated with `layout`.
    unsafe { std::alloc::dealloc(ptr, layout) };
    LIVE_BUFFERS.with(|n| n.set(n.get() - 1));
}

/// Copies `bytes` into a new buffer to hand to the host, which frees it with
/// [`dealloc`]; `None` when memory is exhausted.
pub fn hand_out(bytes: &[u8]) -> Option<(*mut u8, usize)> {
    let ptr = alloc(bytes.len());
    if ptr.is_null() {
        return None;
    }
    // SAFETY: `ptr` is a fresh buffer of at least `bytes.len()` bytes.
    unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), ptr, bytes.len()) };
    Some((ptr, bytes.len()))
}

/// The packed `i64` for a reply buffer, or 0 (failure) for none.
#[cfg(target_family = "wasm")]
pub fn pack_reply(reply: Option<(*mut u8, usize)>) -> u64 {
    match reply {
        // On wasm32 pointers and lengths are 32-bit: the casts are exact.
        Some((ptr, len)) => pack(ptr as usize as u32, len as u32),
        None => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pack_and_unpack() {
        assert_eq!(pack(0, 0), 0);
        assert_eq!(pack(1, 0), 1 << 32);
        assert_eq!(pack(0x1234_5678, 0x9ABC_DEF0), 0x1234_5678_9ABC_DEF0);
        // Pointers and lengths are unsigned: the top bit does not sign-extend.
        assert_eq!(pack(u32::MAX, u32::MAX) as i64, -1);
        for (ptr, len) in [(0, 0), (8, 1), (u32::MAX, 0), (0, u32::MAX), (65536, 1024)] {
            assert_eq!(unpack(pack(ptr, len)), (ptr, len));
        }
    }

    #[test]
    fn alloc_and_dealloc_keep_count() {
        let before = live_buffers();
        let a = alloc(16);
        let b = alloc(0);
        let c = alloc(100_000);
        assert!(!a.is_null() && !b.is_null() && !c.is_null());
        assert_ne!(a, b, "a zero-length buffer is a real allocation");
        assert_eq!(live_buffers(), before + 3);
        // SAFETY: each was allocated above with this length.
        unsafe {
            dealloc(b, 0);
            dealloc(a, 16);
        }
        assert_eq!(live_buffers(), before + 1);
        // SAFETY: as above.
        unsafe { dealloc(c, 100_000) };
        assert_eq!(live_buffers(), before);
    }

    #[test]
    fn failed_alloc_and_null_dealloc_are_not_counted() {
        let before = live_buffers();
        assert!(alloc(usize::MAX).is_null());
        assert!(alloc(isize::MAX as usize + 1).is_null());
        // SAFETY: null is always accepted.
        unsafe { dealloc(std::ptr::null_mut(), 8) };
        assert_eq!(live_buffers(), before);
    }

    #[test]
    fn hand_out_copies() {
        let before = live_buffers();
        let (ptr, len) = hand_out(b"{\"success\":true}").unwrap();
        assert_eq!(len, 16);
        // SAFETY: `hand_out` wrote `len` bytes at `ptr`.
        let bytes = unsafe { std::slice::from_raw_parts(ptr, len) };
        assert_eq!(bytes, b"{\"success\":true}");
        assert_eq!(live_buffers(), before + 1);
        // SAFETY: handed out with this length.
        unsafe { dealloc(ptr, len) };
        let (ptr, len) = hand_out(b"").unwrap();
        assert!(!ptr.is_null() && len == 0);
        // SAFETY: as above.
        unsafe { dealloc(ptr, len) };
        assert_eq!(live_buffers(), before);
    }
}
