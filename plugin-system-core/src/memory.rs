//! Linear memory, as the host sees it.

use std::borrow::Cow;
use std::future::{Ready, ready};

use crate::{
    error::{Result, WasmError},
    guest::{GuestPtr, GuestSlice},
};

/// Bytes in one WebAssembly page.
pub const PAGE_SIZE: u64 = 65536;

/// Checks that `len` bytes at `offset` lie inside a memory of `size` bytes, and
/// returns the range. Every engine's memory access goes through here.
///
/// # Errors
/// [`WasmError::OutOfBounds`] when any byte lies outside.
pub fn checked_range(offset: u64, len: usize, size: usize) -> Result<std::ops::Range<usize>> {
    let out_of_bounds = || WasmError::OutOfBounds {
        offset,
        len: len as u64,
        size: size as u64,
    };
    let start = usize::try_from(offset).map_err(|_| out_of_bounds())?;
    let end = start.checked_add(len).ok_or_else(out_of_bounds)?;
    if end > size {
        return Err(out_of_bounds());
    }
    Ok(start..end)
}

macro_rules! typed_access {
    ($($t:ty: $read:ident, $write:ident;)*) => {$(
        #[doc = concat!("Reads a little-endian `", stringify!($t), "` at `offset`.")]
        ///
        /// # Errors
        /// [`WasmError::OutOfBounds`] past the end of memory.
        fn $read(&self, offset: u64) -> Result<$t> {
            let mut buf = [0u8; size_of::<$t>()];
            self.read(offset, &mut buf)?;
            Ok(<$t>::from_le_bytes(buf))
        }

        #[doc = concat!("Writes a little-endian `", stringify!($t), "` at `offset`.")]
        ///
        /// # Errors
        /// [`WasmError::OutOfBounds`] past the end of memory.
        fn $write(&mut self, offset: u64, value: $t) -> Result<()> {
            self.write(offset, &value.to_le_bytes())
        }
    )*};
}

/// A linear memory of a live instance.
///
/// Every access is bounds-checked: out of range is [`WasmError::OutOfBounds`], never a
/// panic. The borrow of the instance that gives you a `&mut dyn WasmMemory` also
/// guarantees that no guest code runs while you hold it.
pub trait WasmMemory {
    /// The bytes of the memory, to read in bulk.
    fn data(&self) -> &[u8];

    /// The bytes of the memory, to write in bulk.
    fn data_mut(&mut self) -> &mut [u8];

    /// Grows the memory by `pages` and returns the previous size in pages.
    ///
    /// # Errors
    /// [`WasmError::MemoryLimit`] when the memory's maximum or the configured
    /// `max_memory_pages` refuses it; the memory is then unchanged.
    fn grow(&mut self, pages: u64) -> Result<u64>;

    /// Size in bytes.
    fn size(&self) -> u64 {
        self.data().len() as u64
    }

    /// Size in 64 KiB pages.
    fn pages(&self) -> u64 {
        self.size() / PAGE_SIZE
    }

    /// Fills `buf` from `offset`.
    ///
    /// # Errors
    /// [`WasmError::OutOfBounds`] when any byte lies outside; `buf` is then untouched.
    fn read(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        let data = self.data();
        let range = checked_range(offset, buf.len(), data.len())?;
        buf.copy_from_slice(&data[range]);
        Ok(())
    }

    /// Copies `len` bytes from `offset` into a new vector.
    ///
    /// # Errors
    /// [`WasmError::OutOfBounds`] when any byte lies outside.
    fn read_vec(&self, offset: u64, len: usize) -> Result<Vec<u8>> {
        let data = self.data();
        let range = checked_range(offset, len, data.len())?;
        Ok(data[range].to_vec())
    }

    /// The `len` bytes at `offset`, borrowed from [`data`](Self::data) where
    /// the engine lends its memory, copied where it cannot: the web engine's
    /// `data` copies the whole memory, this only the range. For reading a
    /// guest's message in place.
    ///
    /// # Errors
    /// [`WasmError::OutOfBounds`] when any byte lies outside.
    fn bytes_at(&self, offset: u64, len: usize) -> Result<Cow<'_, [u8]>> {
        let data = self.data();
        let range = checked_range(offset, len, data.len())?;
        Ok(Cow::Borrowed(&data[range]))
    }

    /// Writes `bytes` at `offset`.
    ///
    /// # Errors
    /// [`WasmError::OutOfBounds`] when any byte lies outside; memory is then untouched.
    fn write(&mut self, offset: u64, bytes: &[u8]) -> Result<()> {
        let data = self.data_mut();
        let range = checked_range(offset, bytes.len(), data.len())?;
        data[range].copy_from_slice(bytes);
        Ok(())
    }

    /// Copies `len` bytes from `src` to `dst`; the ranges may overlap.
    ///
    /// # Errors
    /// [`WasmError::OutOfBounds`] when either range lies outside.
    fn copy(&mut self, src: u64, dst: u64, len: usize) -> Result<()> {
        let data = self.data_mut();
        let from = checked_range(src, len, data.len())?;
        let to = checked_range(dst, len, data.len())?;
        data.copy_within(from, to.start);
        Ok(())
    }

    /// Sets `len` bytes at `offset` to `byte`.
    ///
    /// # Errors
    /// [`WasmError::OutOfBounds`] when any byte lies outside.
    fn fill(&mut self, offset: u64, len: usize, byte: u8) -> Result<()> {
        let data = self.data_mut();
        let range = checked_range(offset, len, data.len())?;
        data[range].fill(byte);
        Ok(())
    }

    /// [`read_vec`](Self::read_vec) as a future, for async hosts. Memory access never
    /// blocks, so the future is ready at once.
    fn read_async(&self, offset: u64, len: usize) -> Ready<Result<Vec<u8>>> {
        ready(self.read_vec(offset, len))
    }

    /// The bytes of `slice` (a `(ptr << 32) | len` result, unpacked with
    /// [`GuestSlice::unpack`]).
    ///
    /// # Errors
    /// [`WasmError::OutOfBounds`] when any byte lies outside.
    fn read_slice(&self, slice: GuestSlice) -> Result<Vec<u8>> {
        self.read_vec(slice.ptr.offset(), slice.len as usize)
    }

    /// The bytes of the NUL-terminated string at `ptr`, without the NUL,
    /// looked for within `max_len` bytes (and the memory's end).
    ///
    /// # Errors
    /// [`WasmError::OutOfBounds`] for a `ptr` past the memory;
    /// [`WasmError::GuestData`] when no NUL comes within the bound.
    fn read_cstr_bytes(&self, ptr: GuestPtr, max_len: usize) -> Result<Vec<u8>> {
        let data = self.data();
        // A C string has at least its NUL: a pointer at the memory's end is out.
        let start = checked_range(ptr.offset(), 1, data.len())?.start;
        let window = &data[start..data.len().min(start.saturating_add(max_len))];
        match window.iter().position(|&b| b == 0) {
            Some(end) => Ok(window[..end].to_vec()),
            None => Err(WasmError::GuestData {
                message: format!(
                    "no NUL ends the string at {ptr} within {} bytes",
                    window.len()
                ),
            }),
        }
    }

    /// The NUL-terminated UTF-8 string at `ptr` (a C `char *`), looked for
    /// within `max_len` bytes.
    ///
    /// # Errors
    /// As [`read_cstr_bytes`](Self::read_cstr_bytes);
    /// [`WasmError::GuestData`] when it is not UTF-8.
    fn read_cstr(&self, ptr: GuestPtr, max_len: usize) -> Result<String> {
        String::from_utf8(self.read_cstr_bytes(ptr, max_len)?).map_err(|e| WasmError::GuestData {
            message: format!("the string at {ptr} is not UTF-8: {e}"),
        })
    }

    /// [`write`](Self::write) as a future, for async hosts; ready at once.
    fn write_async(&mut self, offset: u64, bytes: &[u8]) -> Ready<Result<()>> {
        ready(self.write(offset, bytes))
    }

    typed_access! {
        i8: read_i8, write_i8;
        u8: read_u8, write_u8;
        i16: read_i16, write_i16;
        u16: read_u16, write_u16;
        i32: read_i32, write_i32;
        u32: read_u32, write_u32;
        i64: read_i64, write_i64;
        u64: read_u64, write_u64;
        f32: read_f32, write_f32;
        f64: read_f64, write_f64;
    }
}
