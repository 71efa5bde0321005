//! What a guest's memory holds, as a host reads and writes it: pointers into a
//! 32-bit linear memory ([`GuestPtr`]), the `(ptr << 32) | len` buffers that
//! plugin exports return ([`GuestSlice`]), NUL-terminated C strings, and
//! buffers the guest allocates itself ([`GuestAllocator`]).
//!
//! ```
//! use plugin_system_core::{GuestPtr, GuestSlice};
//!
//! // An i32 from the guest is an address, never a negative number.
//! let high = GuestPtr::from_i32(-2_147_483_648);
//! assert_eq!(high.offset(), 0x8000_0000);
//! let slice = GuestSlice::unpack(0x0000_0400_0000_0010);
//! assert_eq!((slice.ptr, slice.len), (GuestPtr::new(0x400), 16));
//! ```

use std::fmt;

use crate::{Result, TypedFunc, ValType, WasmError, WasmInstance, WasmTy, WasmValue};

/// An address in a guest's 32-bit linear memory.
///
/// Unsigned: a guest's `i32` is reinterpreted, so an address above 2 GiB stays
/// above 2 GiB (where `p as u64` of an `i32` would sign-extend it past 16
/// EiB). It is a [`WasmTy`], so typed functions take and return it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct GuestPtr(u32);

impl GuestPtr {
    /// Address 0: what allocators return when they fail.
    pub const NULL: GuestPtr = GuestPtr(0);

    /// The address `addr`.
    pub const fn new(addr: u32) -> Self {
        GuestPtr(addr)
    }

    /// The address a guest gave as an `i32`, reinterpreted.
    pub const fn from_i32(raw: i32) -> Self {
        GuestPtr(raw.cast_unsigned())
    }

    /// The address.
    pub const fn addr(self) -> u32 {
        self.0
    }

    /// The address as the guest passes it, an `i32`.
    pub const fn to_i32(self) -> i32 {
        self.0.cast_signed()
    }

    /// The address as an offset for [`WasmMemory`](crate::WasmMemory).
    pub const fn offset(self) -> u64 {
        self.0 as u64
    }

    /// Whether this is address 0.
    pub const fn is_null(self) -> bool {
        self.0 == 0
    }

    /// The address `bytes` further on; `None` past 4 GiB.
    pub const fn add(self, bytes: u32) -> Option<GuestPtr> {
        match self.0.checked_add(bytes) {
            Some(addr) => Some(GuestPtr(addr)),
            None => None,
        }
    }
}

impl fmt::Display for GuestPtr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#x}", self.0)
    }
}

impl From<GuestPtr> for WasmValue {
    fn from(ptr: GuestPtr) -> Self {
        WasmValue::I32(ptr.to_i32())
    }
}

impl WasmTy for GuestPtr {
    const TYPE: ValType = ValType::I32;

    fn into_value(self) -> WasmValue {
        self.into()
    }

    fn from_value(value: &WasmValue) -> Option<Self> {
        match value {
            WasmValue::I32(raw) => Some(GuestPtr::from_i32(*raw)),
            _ => None,
        }
    }
}

/// A buffer in guest memory, as a plugin export returns one: an `i64` whose
/// high 32 bits are the address and low 32 bits the length (`ABI.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct GuestSlice {
    /// Where it starts.
    pub ptr: GuestPtr,
    /// Its length in bytes.
    pub len: u32,
}

impl GuestSlice {
    /// `len` bytes at `ptr`.
    pub const fn new(ptr: GuestPtr, len: u32) -> Self {
        GuestSlice { ptr, len }
    }

    /// The buffer packed in `packed` (`(ptr << 32) | len`, both unsigned).
    pub const fn unpack(packed: i64) -> Self {
        let bits = packed.cast_unsigned();
        GuestSlice {
            ptr: GuestPtr((bits >> 32) as u32),
            len: bits as u32,
        }
    }

    /// The buffer packed as an export returns it.
    pub const fn pack(self) -> i64 {
        (((self.ptr.0 as u64) << 32) | self.len as u64).cast_signed()
    }

    /// Whether it holds no bytes.
    pub const fn is_empty(self) -> bool {
        self.len == 0
    }
}

/// How a guest frees what its allocator gave.
enum Free {
    /// It does not (a bump allocator), or the host lets the guest do it.
    Never,
    /// `free(ptr)`, as C's.
    Ptr(TypedFunc<GuestPtr, ()>),
    /// `dealloc(ptr, len)`, as the plugin ABI's.
    PtrLen(TypedFunc<(GuestPtr, i32), ()>),
}

/// A guest's own allocator, resolved once: the host asks it for buffers,
/// writes its arguments there, and frees them after the call.
///
/// ```
/// # fn demo(instance: &mut dyn plugin_system_core::WasmInstance) -> plugin_system_core::Result<()> {
/// use plugin_system_core::{GuestAllocator, GuestPtr};
///
/// // A C guest: `malloc`, `free`, and `char *render(const char *)`.
/// let heap = GuestAllocator::c(instance)?;
/// let input = heap.write_cstr(instance, "digraph { a -> b }")?;
/// let render = instance.typed::<GuestPtr, GuestPtr>("render")?;
/// let output = render.call(instance, input)?;
/// let text = instance
///     .memory()
///     .expect("a memory")
///     .read_cstr(output, 1 << 20)?;
/// heap.free(instance, input, None)?;
/// heap.free(instance, output, None)?;
/// # let _ = text;
/// # Ok(())
/// # }
/// ```
pub struct GuestAllocator {
    alloc: TypedFunc<i32, GuestPtr>,
    free: Free,
}

impl GuestAllocator {
    /// The allocator exported as `alloc` (`(size: i32) -> ptr`) and, when
    /// given, the function `free` that returns a buffer to it: `(ptr)` or
    /// `(ptr, len: i32)`, told apart by its signature.
    ///
    /// # Errors
    /// [`WasmError::ExportNotFound`], or [`WasmError::TypeMismatch`] for
    /// another signature.
    pub fn new(instance: &mut dyn WasmInstance, alloc: &str, free: Option<&str>) -> Result<Self> {
        let alloc = instance.typed::<i32, GuestPtr>(alloc)?;
        let free = match free {
            None => Free::Never,
            Some(name) => {
                let func = instance.func(name)?;
                match func.ty().params().len() {
                    2 => Free::PtrLen(instance.typed(name)?),
                    _ => Free::Ptr(instance.typed(name)?),
                }
            }
        };
        Ok(GuestAllocator { alloc, free })
    }

    /// C's: `malloc` and `free`.
    ///
    /// # Errors
    /// As [`new`](Self::new).
    pub fn c(instance: &mut dyn WasmInstance) -> Result<Self> {
        Self::new(instance, "malloc", Some("free"))
    }

    /// The plugin ABI's: `alloc` and `dealloc(ptr, len)`.
    ///
    /// # Errors
    /// As [`new`](Self::new).
    pub fn plugin_abi(instance: &mut dyn WasmInstance) -> Result<Self> {
        Self::new(instance, "alloc", Some("dealloc"))
    }

    /// A buffer of `len` bytes from the guest.
    ///
    /// # Errors
    /// The call's (a trap, a limit); [`WasmError::GuestData`] when the
    /// allocator returns 0 for a non-empty buffer.
    pub fn alloc(&self, instance: &mut dyn WasmInstance, len: u32) -> Result<GuestPtr> {
        let size = i32::try_from(len).map_err(|_| WasmError::GuestData {
            message: format!("{len} bytes do not fit the allocator's i32 size"),
        })?;
        let ptr = self.alloc.call(instance, size)?;
        if ptr.is_null() && len > 0 {
            return Err(WasmError::GuestData {
                message: format!("the guest's allocator returned 0 for {len} bytes"),
            });
        }
        Ok(ptr)
    }

    /// `bytes` in a buffer of the guest's.
    ///
    /// # Errors
    /// As [`alloc`](Self::alloc); [`WasmError::OutOfBounds`] when the
    /// allocator's buffer is not in memory (it is freed again then).
    pub fn write(&self, instance: &mut dyn WasmInstance, bytes: &[u8]) -> Result<GuestSlice> {
        let len = u32::try_from(bytes.len()).map_err(|_| WasmError::GuestData {
            message: format!("{} bytes do not fit a 32-bit memory", bytes.len()),
        })?;
        let ptr = self.alloc(instance, len)?;
        let slice = GuestSlice::new(ptr, len);
        let written = match instance.memory() {
            Some(memory) => memory.write(ptr.offset(), bytes),
            None => Err(WasmError::ExportNotFound {
                kind: crate::ExportKind::Memory,
                name: "memory".into(),
            }),
        };
        if let Err(error) = written {
            // The first error is the one to tell.
            let _ = self.free(instance, ptr, Some(len));
            return Err(error);
        }
        Ok(slice)
    }

    /// `text` and a NUL after it, as a C string in a buffer of the guest's.
    ///
    /// # Errors
    /// [`WasmError::TypeMismatch`] when `text` holds a NUL (a C string would
    /// end there); as [`write`](Self::write).
    pub fn write_cstr(&self, instance: &mut dyn WasmInstance, text: &str) -> Result<GuestPtr> {
        if let Some(at) = text.bytes().position(|b| b == 0) {
            return Err(WasmError::TypeMismatch {
                message: format!("the text has a NUL byte at {at}: a C string would end there"),
            });
        }
        let mut bytes = Vec::with_capacity(text.len() + 1);
        bytes.extend_from_slice(text.as_bytes());
        bytes.push(0);
        Ok(self.write(instance, &bytes)?.ptr)
    }

    /// Gives `ptr` (of `len` bytes, for a `dealloc(ptr, len)`) back to the
    /// guest; nothing for an allocator without a `free`.
    ///
    /// # Errors
    /// The call's; [`WasmError::GuestData`] when the guest's free takes a
    /// length and `len` is `None`.
    pub fn free(
        &self,
        instance: &mut dyn WasmInstance,
        ptr: GuestPtr,
        len: Option<u32>,
    ) -> Result<()> {
        match &self.free {
            Free::Never => Ok(()),
            Free::Ptr(free) => free.call(instance, ptr),
            Free::PtrLen(free) => {
                let len = len.ok_or_else(|| WasmError::GuestData {
                    message: format!(
                        "the guest's free takes a length, and none was given for {ptr}"
                    ),
                })?;
                free.call(instance, (ptr, len.cast_signed()))
            }
        }
    }
}

impl fmt::Debug for GuestAllocator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let free = match self.free {
            Free::Never => "none",
            Free::Ptr(_) => "free(ptr)",
            Free::PtrLen(_) => "free(ptr, len)",
        };
        f.debug_struct("GuestAllocator")
            .field("free", &free)
            .finish_non_exhaustive()
    }
}
