//! Values that cross the host/guest boundary, and their types.
//!
//! Reference types follow the model of wasmparser and wasmtime: a [`RefType`] is
//! a [`HeapType`] and whether null is allowed, so the types of the GC and
//! exception-handling proposals stay apart from `funcref` and `externref`.

use std::{fmt, str::FromStr};

/// The type of a WebAssembly value.
///
/// The common reference types have constants named as the variants they once were
/// (`ValType::FuncRef`, `ValType::ExternRef`, ...), usable in patterns too.
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
    /// A reference.
    Ref(RefType),
}

/// A reference type: what it points to, and whether it may be null.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RefType {
    /// Whether null is a value of this type (`(ref null ...)`).
    pub nullable: bool,
    /// What the reference points to.
    pub heap: HeapType,
}

/// What a reference points to: an abstract heap type of one of the four
/// hierarchies (func, extern, any, exn; plus cont of stack switching), or a type
/// the module defines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HeapType {
    /// Any function.
    Func,
    /// Any host value.
    Extern,
    /// Any GC value (GC proposal): i31s, structs and arrays, and internalized host values.
    Any,
    /// Values comparable with `ref.eq`: i31s, structs and arrays.
    Eq,
    /// A 31-bit integer packed into a reference.
    I31,
    /// Any struct.
    Struct,
    /// Any array.
    Array,
    /// An exception (exception-handling proposal).
    Exn,
    /// Any continuation (stack-switching proposal).
    Cont,
    /// The bottom of the any hierarchy: only null.
    None,
    /// The bottom of the func hierarchy: only null.
    NoFunc,
    /// The bottom of the extern hierarchy: only null.
    NoExtern,
    /// The bottom of the exn hierarchy: only null.
    NoExn,
    /// The bottom of the cont hierarchy: only null.
    NoCont,
    /// The type at this index of the module's type section (a function, struct,
    /// array or continuation type); which hierarchy it belongs to is the module's
    /// to say.
    Concrete(u32),
}

/// The hierarchy a heap type belongs to; nulls of one hierarchy are values of
/// every nullable type in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hierarchy {
    Func,
    Extern,
    Any,
    Exn,
    Cont,
}

impl HeapType {
    /// The hierarchy of an abstract heap type; `None` for a concrete one, which
    /// the core cannot place without the module.
    fn hierarchy(self) -> Option<Hierarchy> {
        use HeapType as H;
        Some(match self {
            H::Func | H::NoFunc => Hierarchy::Func,
            H::Extern | H::NoExtern => Hierarchy::Extern,
            H::Any | H::Eq | H::I31 | H::Struct | H::Array | H::None => Hierarchy::Any,
            H::Exn | H::NoExn => Hierarchy::Exn,
            H::Cont | H::NoCont => Hierarchy::Cont,
            H::Concrete(_) => return Option::None,
        })
    }

    /// The keyword of an abstract heap type in the text format.
    fn keyword(self) -> Option<&'static str> {
        use HeapType as H;
        Some(match self {
            H::Func => "func",
            H::Extern => "extern",
            H::Any => "any",
            H::Eq => "eq",
            H::I31 => "i31",
            H::Struct => "struct",
            H::Array => "array",
            H::Exn => "exn",
            H::Cont => "cont",
            H::None => "none",
            H::NoFunc => "nofunc",
            H::NoExtern => "noextern",
            H::NoExn => "noexn",
            H::NoCont => "nocont",
            H::Concrete(_) => return Option::None,
        })
    }

    /// Every abstract heap type, for parsing.
    const ABSTRACT: [HeapType; 14] = {
        use HeapType as H;
        [
            H::Func,
            H::Extern,
            H::Any,
            H::Eq,
            H::I31,
            H::Struct,
            H::Array,
            H::Exn,
            H::Cont,
            H::None,
            H::NoFunc,
            H::NoExtern,
            H::NoExn,
            H::NoCont,
        ]
    };
}

impl fmt::Display for HeapType {
    /// The text format's name: `func`, `i31`, `none`, ... or the type index.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HeapType::Concrete(index) => write!(f, "{index}"),
            other => f.write_str(other.keyword().unwrap_or_default()),
        }
    }
}

impl RefType {
    /// A nullable reference to `heap`: `(ref null heap)`.
    pub const fn nullable(heap: HeapType) -> Self {
        RefType {
            nullable: true,
            heap,
        }
    }

    /// A non-nullable reference to `heap`: `(ref heap)`.
    pub const fn non_null(heap: HeapType) -> Self {
        RefType {
            nullable: false,
            heap,
        }
    }

    /// The text format's shorthand of a nullable abstract type (`funcref`,
    /// `nullref`, ...), if it has one.
    fn shorthand(self) -> Option<&'static str> {
        if !self.nullable {
            return None;
        }
        use HeapType as H;
        Some(match self.heap {
            H::Func => "funcref",
            H::Extern => "externref",
            H::Any => "anyref",
            H::Eq => "eqref",
            H::I31 => "i31ref",
            H::Struct => "structref",
            H::Array => "arrayref",
            H::Exn => "exnref",
            H::Cont => "contref",
            H::None => "nullref",
            H::NoFunc => "nullfuncref",
            H::NoExtern => "nullexternref",
            H::NoExn => "nullexnref",
            H::NoCont => "nullcontref",
            H::Concrete(_) => return None,
        })
    }
}

impl fmt::Display for RefType {
    /// As the text format writes it: `funcref`, `(ref func)`, `(ref null 3)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.shorthand() {
            Some(short) => f.write_str(short),
            None if self.nullable => write!(f, "(ref null {})", self.heap),
            None => write!(f, "(ref {})", self.heap),
        }
    }
}

// Constants named as the enum variants they replace, so that hosts' code that
// names `ValType::FuncRef` (in expressions and patterns) keeps compiling.
#[allow(
    non_upper_case_globals,
    reason = "named as the variants they replace, and as the text format's types"
)]
impl ValType {
    /// `funcref`: a nullable reference to a function.
    pub const FuncRef: ValType = ValType::Ref(RefType::nullable(HeapType::Func));
    /// `externref`: a nullable reference to a host value.
    pub const ExternRef: ValType = ValType::Ref(RefType::nullable(HeapType::Extern));
    /// `anyref` (GC proposal).
    pub const AnyRef: ValType = ValType::Ref(RefType::nullable(HeapType::Any));
    /// `eqref` (GC proposal).
    pub const EqRef: ValType = ValType::Ref(RefType::nullable(HeapType::Eq));
    /// `i31ref` (GC proposal).
    pub const I31Ref: ValType = ValType::Ref(RefType::nullable(HeapType::I31));
    /// `structref` (GC proposal).
    pub const StructRef: ValType = ValType::Ref(RefType::nullable(HeapType::Struct));
    /// `arrayref` (GC proposal).
    pub const ArrayRef: ValType = ValType::Ref(RefType::nullable(HeapType::Array));
    /// `exnref` (exception-handling proposal).
    pub const ExnRef: ValType = ValType::Ref(RefType::nullable(HeapType::Exn));
    /// `nullref`: only the null of the any hierarchy.
    pub const NullRef: ValType = ValType::Ref(RefType::nullable(HeapType::None));
    /// `nullfuncref`: only the null function reference.
    pub const NullFuncRef: ValType = ValType::Ref(RefType::nullable(HeapType::NoFunc));
    /// `nullexternref`: only the null host reference.
    pub const NullExternRef: ValType = ValType::Ref(RefType::nullable(HeapType::NoExtern));
    /// `nullexnref`: only the null exception reference.
    pub const NullExnRef: ValType = ValType::Ref(RefType::nullable(HeapType::NoExn));
}

impl ValType {
    /// The value this type has when nothing is known: zero, or a null reference.
    ///
    /// A non-nullable reference type has no such value: it gets the null of its
    /// hierarchy, which an engine refuses where the type is checked. A concrete
    /// type's hierarchy is the module's to say, so it gets the any hierarchy's null;
    /// engines convert a null by the type they expect.
    pub fn default_value(self) -> WasmValue {
        match self {
            ValType::I32 => WasmValue::I32(0),
            ValType::I64 => WasmValue::I64(0),
            ValType::F32 => WasmValue::F32(0.0),
            ValType::F64 => WasmValue::F64(0.0),
            ValType::V128 => WasmValue::V128(0),
            ValType::Ref(r) => match r.heap.hierarchy() {
                Some(Hierarchy::Func) => WasmValue::FuncRef(None),
                Some(Hierarchy::Extern) => WasmValue::ExternRef(None),
                Some(Hierarchy::Exn) => WasmValue::ExnRef(None),
                Some(Hierarchy::Any | Hierarchy::Cont) | None => WasmValue::AnyRef(None),
            },
        }
    }

    /// Whether this is a reference type.
    pub fn is_ref(self) -> bool {
        matches!(self, ValType::Ref(_))
    }

    /// The reference type, if this is one.
    pub fn as_ref(self) -> Option<RefType> {
        match self {
            ValType::Ref(r) => Some(r),
            _ => None,
        }
    }
}

impl From<RefType> for ValType {
    fn from(r: RefType) -> Self {
        ValType::Ref(r)
    }
}

impl fmt::Display for ValType {
    /// As the text format writes it: `i32`, `funcref`, `(ref func)`, `(ref null 3)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ValType::I32 => "i32",
            ValType::I64 => "i64",
            ValType::F32 => "f32",
            ValType::F64 => "f64",
            ValType::V128 => "v128",
            ValType::Ref(r) => return r.fmt(f),
        })
    }
}

/// A value type's text that [`ValType::from_str`] could not read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown value type `{0}`")]
pub struct ParseValTypeError(String);

impl FromStr for ValType {
    type Err = ParseValTypeError;

    /// Reads what [`Display`](fmt::Display) writes: `i32`, `anyref`, `(ref func)`,
    /// `(ref null 3)`, with any spacing inside the parentheses.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let error = || ParseValTypeError(text.to_owned());
        let trimmed = text.trim();
        let numeric = [
            ValType::I32,
            ValType::I64,
            ValType::F32,
            ValType::F64,
            ValType::V128,
        ];
        let shorthands = HeapType::ABSTRACT.map(|h| ValType::Ref(RefType::nullable(h)));
        if let Some(t) = numeric
            .into_iter()
            .chain(shorthands)
            .find(|t| t.to_string() == trimmed)
        {
            return Ok(t);
        }
        let inner = trimmed
            .strip_prefix('(')
            .and_then(|t| t.strip_suffix(')'))
            .ok_or_else(error)?;
        let mut words = inner.split_whitespace();
        if words.next() != Some("ref") {
            return Err(error());
        }
        let (nullable, heap) = match (words.next(), words.next(), words.next()) {
            (Some("null"), Some(heap), None) => (true, heap),
            (Some(heap), None, None) => (false, heap),
            _ => return Err(error()),
        };
        let heap = match HeapType::ABSTRACT
            .into_iter()
            .find(|h| h.keyword() == Some(heap))
        {
            Some(h) => h,
            None => HeapType::Concrete(heap.parse().map_err(|_| error())?),
        };
        Ok(ValType::Ref(RefType { nullable, heap }))
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

/// A non-null reference the host cannot look into: a GC struct or array, an
/// internalized host value, an exception. The host sees that it is not null,
/// nothing more, and cannot pass it back; two of them compare equal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct OpaqueRef {
    // Private, so that an engine handle can be added without breaking anyone.
    _private: (),
}

impl OpaqueRef {
    /// The marker of a reference the host cannot look into.
    pub const fn new() -> Self {
        OpaqueRef { _private: () }
    }
}

/// A non-null reference of the any hierarchy (GC proposal).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AnyRef {
    /// An `i31`: the 31 bits as `i31.get_u` reads them (below 2^31).
    I31(u32),
    /// A struct, an array, or an internalized host value.
    Opaque(OpaqueRef),
}

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
    /// A reference of the any hierarchy (GC proposal: `anyref`, `eqref`, `i31ref`,
    /// `structref`, `arrayref` and defined struct and array types), or null.
    AnyRef(Option<AnyRef>),
    /// An exception reference (exception-handling proposal), or null.
    ExnRef(Option<OpaqueRef>),
}

impl Default for WasmValue {
    fn default() -> Self {
        WasmValue::I32(0)
    }
}

impl WasmValue {
    /// A type this value has: a number its own type, a reference the nullable type
    /// of its kind (`funcref`, `externref`, `i31ref` for an i31, `anyref`,
    /// `exnref`). Use [`matches`](Self::matches) to check a value against a type.
    pub fn ty(&self) -> ValType {
        match self {
            WasmValue::I32(_) => ValType::I32,
            WasmValue::I64(_) => ValType::I64,
            WasmValue::F32(_) => ValType::F32,
            WasmValue::F64(_) => ValType::F64,
            WasmValue::V128(_) => ValType::V128,
            WasmValue::FuncRef(_) => ValType::FuncRef,
            WasmValue::ExternRef(_) => ValType::ExternRef,
            WasmValue::AnyRef(Some(AnyRef::I31(_))) => ValType::I31Ref,
            WasmValue::AnyRef(_) => ValType::AnyRef,
            WasmValue::ExnRef(_) => ValType::ExnRef,
        }
    }

    /// Whether this is a null reference.
    pub fn is_null(&self) -> bool {
        matches!(
            self,
            WasmValue::FuncRef(None)
                | WasmValue::ExternRef(None)
                | WasmValue::AnyRef(None)
                | WasmValue::ExnRef(None)
        )
    }

    /// Whether this value may stand where `ty` is expected, as far as the core can
    /// tell: a null fits every nullable type of its hierarchy, a non-null reference
    /// fits its own heap type and those above it. A concrete (module-defined) type
    /// takes any null and any function reference, since only the engine knows
    /// what the index names; the engine checks those.
    pub fn matches(&self, ty: ValType) -> bool {
        use HeapType as H;
        let r = match (self, ty) {
            (WasmValue::I32(_), ValType::I32)
            | (WasmValue::I64(_), ValType::I64)
            | (WasmValue::F32(_), ValType::F32)
            | (WasmValue::F64(_), ValType::F64)
            | (WasmValue::V128(_), ValType::V128) => return true,
            (_, ValType::Ref(r)) => r,
            _ => return false,
        };
        let own = match self {
            WasmValue::FuncRef(_) => Hierarchy::Func,
            WasmValue::ExternRef(_) => Hierarchy::Extern,
            WasmValue::AnyRef(_) => Hierarchy::Any,
            WasmValue::ExnRef(_) => Hierarchy::Exn,
            _ => return false,
        };
        if self.is_null() {
            return r.nullable && r.heap.hierarchy().is_none_or(|h| h == own);
        }
        matches!(
            (self, r.heap),
            (WasmValue::FuncRef(_), H::Func | H::Concrete(_))
                | (WasmValue::ExternRef(_), H::Extern)
                | (
                    WasmValue::AnyRef(Some(AnyRef::I31(_))),
                    H::Any | H::Eq | H::I31
                )
                | (WasmValue::AnyRef(Some(AnyRef::Opaque(_))), H::Any)
                | (WasmValue::ExnRef(_), H::Exn)
        )
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

    /// The value of an `i31` reference, if this is one.
    pub fn as_i31(&self) -> Option<u32> {
        match *self {
            WasmValue::AnyRef(Some(AnyRef::I31(v))) => Some(v),
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
    /// Integers in decimal, floats as Rust prints them, vectors in hex, nulls as
    /// `null`, references by handle (`funcref:0`, `externref:7`), i31s by value
    /// (`i31ref:5`), and what the host cannot look into as `anyref:<opaque>` or
    /// `exnref:<opaque>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WasmValue::I32(v) => write!(f, "{v}"),
            WasmValue::I64(v) => write!(f, "{v}"),
            WasmValue::F32(v) => write!(f, "{v}"),
            WasmValue::F64(v) => write!(f, "{v}"),
            WasmValue::V128(v) => write!(f, "0x{v:032x}"),
            WasmValue::FuncRef(None)
            | WasmValue::ExternRef(None)
            | WasmValue::AnyRef(None)
            | WasmValue::ExnRef(None) => f.write_str("null"),
            WasmValue::FuncRef(Some(r)) => write!(f, "funcref:{}", r.raw()),
            WasmValue::ExternRef(Some(r)) => write!(f, "externref:{}", r.0),
            WasmValue::AnyRef(Some(AnyRef::I31(v))) => write!(f, "i31ref:{v}"),
            WasmValue::AnyRef(Some(AnyRef::Opaque(_))) => f.write_str("anyref:<opaque>"),
            WasmValue::ExnRef(Some(_)) => f.write_str("exnref:<opaque>"),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn non_null(heap: HeapType) -> ValType {
        ValType::Ref(RefType::non_null(heap))
    }

    #[test]
    fn reference_types_print_as_the_text_format_writes_them() {
        let cases = [
            (ValType::FuncRef, "funcref"),
            (ValType::ExternRef, "externref"),
            (ValType::AnyRef, "anyref"),
            (ValType::EqRef, "eqref"),
            (ValType::I31Ref, "i31ref"),
            (ValType::StructRef, "structref"),
            (ValType::ArrayRef, "arrayref"),
            (ValType::ExnRef, "exnref"),
            (ValType::NullRef, "nullref"),
            (ValType::NullFuncRef, "nullfuncref"),
            (ValType::NullExternRef, "nullexternref"),
            (ValType::NullExnRef, "nullexnref"),
            (non_null(HeapType::Func), "(ref func)"),
            (non_null(HeapType::I31), "(ref i31)"),
            (non_null(HeapType::None), "(ref none)"),
            (non_null(HeapType::Concrete(3)), "(ref 3)"),
            (
                ValType::Ref(RefType::nullable(HeapType::Concrete(0))),
                "(ref null 0)",
            ),
        ];
        for (ty, text) in cases {
            assert_eq!(ty.to_string(), text);
        }
    }

    #[test]
    fn every_type_reads_back_what_it_prints() {
        let numbers = [
            ValType::I32,
            ValType::I64,
            ValType::F32,
            ValType::F64,
            ValType::V128,
        ];
        let heaps = HeapType::ABSTRACT
            .into_iter()
            .chain([HeapType::Concrete(0), HeapType::Concrete(u32::MAX)]);
        let refs =
            heaps.flat_map(|h| [RefType::nullable(h), RefType::non_null(h)].map(ValType::Ref));
        for ty in numbers.into_iter().chain(refs) {
            assert_eq!(ty.to_string().parse::<ValType>(), Ok(ty), "{ty}");
        }
        assert_eq!(
            "( ref  null  7 )".parse(),
            Ok(ValType::Ref(RefType::nullable(HeapType::Concrete(7))))
        );
        for bad in [
            "",
            "ref",
            "i31",
            "(ref)",
            "(ref null)",
            "(ref nul func)",
            "(ref -1)",
            "(ref func",
            "(ref null func x)",
        ] {
            let err = bad.parse::<ValType>().unwrap_err();
            assert_eq!(err.to_string(), format!("unknown value type `{bad}`"));
        }
    }

    #[test]
    fn the_old_variant_names_still_match() {
        let kind = |t: ValType| match t {
            ValType::FuncRef => "func",
            ValType::ExternRef => "extern",
            _ => "other",
        };
        assert_eq!(
            kind(ValType::Ref(RefType::nullable(HeapType::Func))),
            "func"
        );
        assert_eq!(kind(ValType::ExternRef), "extern");
        assert_eq!(kind(non_null(HeapType::Func)), "other");
        assert_eq!(kind(ValType::AnyRef), "other");
    }

    #[test]
    fn references_print_by_kind() {
        let i31 = WasmValue::AnyRef(Some(AnyRef::I31(5)));
        assert_eq!(i31.to_string(), "i31ref:5");
        assert_eq!(i31.as_i31(), Some(5));
        let opaque = WasmValue::AnyRef(Some(AnyRef::Opaque(OpaqueRef::new())));
        assert_eq!(opaque.to_string(), "anyref:<opaque>");
        assert_eq!(
            WasmValue::ExnRef(Some(OpaqueRef::new())).to_string(),
            "exnref:<opaque>"
        );
        for null in [
            WasmValue::FuncRef(None),
            WasmValue::ExternRef(None),
            WasmValue::AnyRef(None),
            WasmValue::ExnRef(None),
        ] {
            assert_eq!(null.to_string(), "null");
            assert!(null.is_null());
        }
        assert_eq!(
            WasmValue::ExternRef(Some(ExternRef(7))).to_string(),
            "externref:7"
        );
        assert_eq!(
            WasmValue::FuncRef(Some(FuncRef::from_raw(2))).to_string(),
            "funcref:2"
        );
    }

    #[test]
    fn nulls_fit_the_nullable_types_of_their_hierarchy() {
        let null_any = WasmValue::AnyRef(None);
        for ty in [
            ValType::AnyRef,
            ValType::EqRef,
            ValType::I31Ref,
            ValType::StructRef,
            ValType::NullRef,
        ] {
            assert!(null_any.matches(ty), "{ty}");
        }
        assert!(!null_any.matches(ValType::FuncRef));
        assert!(!null_any.matches(ValType::ExnRef));
        assert!(!null_any.matches(non_null(HeapType::Any)));
        assert!(WasmValue::ExnRef(None).matches(ValType::ExnRef));
        assert!(WasmValue::ExnRef(None).matches(ValType::NullExnRef));
        assert!(!WasmValue::ExnRef(None).matches(non_null(HeapType::Exn)));
        assert!(!WasmValue::ExternRef(None).matches(ValType::ExnRef));
        assert!(WasmValue::FuncRef(None).matches(ValType::NullFuncRef));
        assert!(!WasmValue::FuncRef(None).matches(non_null(HeapType::Func)));
        // Only the engine knows which hierarchy a type index is in.
        let concrete = ValType::Ref(RefType::nullable(HeapType::Concrete(0)));
        assert!(WasmValue::FuncRef(None).matches(concrete));
        assert!(null_any.matches(concrete));
        assert!(!null_any.matches(non_null(HeapType::Concrete(0))));
        assert!(!null_any.matches(ValType::I32));
        assert!(!WasmValue::I32(0).matches(ValType::FuncRef));
    }

    #[test]
    fn non_null_references_fit_their_type_and_those_above() {
        let i31 = WasmValue::AnyRef(Some(AnyRef::I31(1)));
        for ty in [
            ValType::I31Ref,
            ValType::EqRef,
            ValType::AnyRef,
            non_null(HeapType::I31),
        ] {
            assert!(i31.matches(ty), "{ty}");
        }
        for ty in [ValType::StructRef, ValType::NullRef, ValType::ExternRef] {
            assert!(!i31.matches(ty), "{ty}");
        }
        let f = WasmValue::FuncRef(Some(FuncRef::from_raw(0)));
        assert!(f.matches(non_null(HeapType::Func)));
        assert!(f.matches(ValType::FuncRef));
        assert!(!f.matches(ValType::NullFuncRef));
        let host = WasmValue::ExternRef(Some(ExternRef(1)));
        assert!(host.matches(ValType::ExternRef));
        assert!(!host.matches(ValType::AnyRef));
    }

    #[test]
    fn defaults_are_the_null_of_each_hierarchy() {
        assert_eq!(ValType::FuncRef.default_value(), WasmValue::FuncRef(None));
        assert_eq!(
            non_null(HeapType::NoFunc).default_value(),
            WasmValue::FuncRef(None)
        );
        assert_eq!(
            ValType::NullExternRef.default_value(),
            WasmValue::ExternRef(None)
        );
        assert_eq!(ValType::I31Ref.default_value(), WasmValue::AnyRef(None));
        assert_eq!(ValType::ExnRef.default_value(), WasmValue::ExnRef(None));
        assert_eq!(ValType::I31Ref.default_value().ty(), ValType::AnyRef);
    }
}
