//! Values that cross the host/guest boundary, and their types.

use std::fmt;

/// The type of a WebAssembly value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ValType {
    /// 32-bit integer.
    I32,
    /// 64-bit integer.
    I64,
    /// 32-bit IEEE 754 float.
    F32,
    /// 64-bit IEEE 754 float.
    F64,
    /// 128-bit SIMD vector.
    V128,
    /// Nullable reference to a function.
    FuncRef,
    /// Nullable reference to a host value.
    ExternRef,
}

impl ValType {
    /// The value this type has when nothing is known: zero, or a null reference.
    pub fn default_value(self) -> WasmValue {
        match self {
            ValType::I32 => WasmValue::I32(0),
            ValType::I64 => WasmValue::I64(0),
            ValType::F32 => WasmValue::F32(0.0),
            ValType::F64 => WasmValue::F64(0.0),
            ValType::V128 => WasmValue::V128(0),
            ValType::FuncRef => WasmValue::FuncRef(None),
            ValType::ExternRef => WasmValue::ExternRef(None),
        }
    }

    /// Whether this is a reference type.
    pub fn is_ref(self) -> bool {
        matches!(self, ValType::FuncRef | ValType::ExternRef)
    }
}

impl fmt::Display for ValType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ValType::I32 => "i32",
            ValType::I64 => "i64",
            ValType::F32 => "f32",
            ValType::F64 => "f64",
            ValType::V128 => "v128",
            ValType::FuncRef => "funcref",
            ValType::ExternRef => "externref",
        })
    }
}

/// An opaque reference to a function, valid only inside the instance that produced it.
///
/// A guest may hand the host a `funcref`; the host can pass it back to the same
/// instance (as an argument, a global or a table element) but cannot call it directly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FuncRef(u32);

impl FuncRef {
    /// Wraps an engine's handle index. Only engine implementations need this.
    pub fn from_raw(raw: u32) -> Self {
        FuncRef(raw)
    }

    /// The engine's handle index.
    pub fn raw(self) -> u32 {
        self.0
    }
}

/// A host value that the guest can hold as an `externref` but never look into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ExternRef(pub u64);

/// A WebAssembly value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum WasmValue {
    /// 32-bit integer.
    I32(i32),
    /// 64-bit integer.
    I64(i64),
    /// 32-bit float (NaN payloads are kept bit for bit).
    F32(f32),
    /// 64-bit float (NaN payloads are kept bit for bit).
    F64(f64),
    /// 128-bit vector, little-endian lanes.
    V128(u128),
    /// A function reference, or null.
    FuncRef(Option<FuncRef>),
    /// A host reference, or null.
    ExternRef(Option<ExternRef>),
}

impl Default for WasmValue {
    fn default() -> Self {
        WasmValue::I32(0)
    }
}

impl WasmValue {
    /// The type of this value.
    pub fn ty(&self) -> ValType {
        match self {
            WasmValue::I32(_) => ValType::I32,
            WasmValue::I64(_) => ValType::I64,
            WasmValue::F32(_) => ValType::F32,
            WasmValue::F64(_) => ValType::F64,
            WasmValue::V128(_) => ValType::V128,
            WasmValue::FuncRef(_) => ValType::FuncRef,
            WasmValue::ExternRef(_) => ValType::ExternRef,
        }
    }

    /// The value as an `i32`, if it is one.
    pub fn as_i32(&self) -> Option<i32> {
        match *self {
            WasmValue::I32(v) => Some(v),
            _ => None,
        }
    }

    /// The value as an `i64`, if it is one.
    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            WasmValue::I64(v) => Some(v),
            _ => None,
        }
    }

    /// The value as an `f32`, if it is one.
    pub fn as_f32(&self) -> Option<f32> {
        match *self {
            WasmValue::F32(v) => Some(v),
            _ => None,
        }
    }

    /// The value as an `f64`, if it is one.
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            WasmValue::F64(v) => Some(v),
            _ => None,
        }
    }

    /// Equality that compares floats bit for bit (so NaN equals the same NaN).
    pub fn bit_eq(&self, other: &WasmValue) -> bool {
        match (self, other) {
            (WasmValue::F32(a), WasmValue::F32(b)) => a.to_bits() == b.to_bits(),
            (WasmValue::F64(a), WasmValue::F64(b)) => a.to_bits() == b.to_bits(),
            _ => self == other,
        }
    }
}

impl fmt::Display for WasmValue {
    /// Integers in decimal, floats as Rust prints them, vectors in hex, references by handle.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WasmValue::I32(v) => write!(f, "{v}"),
            WasmValue::I64(v) => write!(f, "{v}"),
            WasmValue::F32(v) => write!(f, "{v}"),
            WasmValue::F64(v) => write!(f, "{v}"),
            WasmValue::V128(v) => write!(f, "0x{v:032x}"),
            WasmValue::FuncRef(None) | WasmValue::ExternRef(None) => f.write_str("null"),
            WasmValue::FuncRef(Some(r)) => write!(f, "funcref:{}", r.raw()),
            WasmValue::ExternRef(Some(r)) => write!(f, "externref:{}", r.0),
        }
    }
}

macro_rules! from_native {
    ($($t:ty => $v:ident),*) => {$(
        impl From<$t> for WasmValue {
            fn from(v: $t) -> Self {
                WasmValue::$v(v)
            }
        }
    )*};
}
from_native!(i32 => I32, i64 => I64, f32 => F32, f64 => F64, u128 => V128);
