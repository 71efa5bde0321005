//! [`Value`]: the dynamic data of events, responses and host calls, and the
//! bridge between it and any serde type ([`Value::from_serialize`],
//! [`Value::deserialize_into`], [`ValueError`]).

mod error;
mod from_value;
#[cfg(test)]
mod serde_tests;
mod to_value;

use std::{collections::BTreeMap, fmt};

use serde::{
    Deserialize, Deserializer, Serialize, Serializer,
    de::{self, DeserializeOwned, DeserializeSeed, MapAccess, SeqAccess, Visitor},
    ser::{SerializeMap, SerializeSeq},
};

pub use error::ValueError;
pub(crate) use from_value::from_map;
pub(crate) use to_value::to_value;

/// A map of string keys to [`Value`]s: the payload of an event or a response
/// (Dart's `Map<String, dynamic>`).
///
/// Keys are kept sorted, not in insertion order: JSON objects and MessagePack
/// maps are unordered, two maps with the same entries compare equal, and the
/// bytes a serializer writes do not depend on how a map was built.
pub type ValueMap = BTreeMap<String, Value>;

/// A dynamically typed value: what Dart calls `dynamic` inside a
/// `Map<String, dynamic>`.
///
/// It serializes as a plain value of the wire format (a JSON number, a
/// MessagePack string, ...), never as a tagged enum, and deserializes from any
/// self-describing format through `deserialize_any`.
///
/// # Numbers
///
/// Integers are [`Value::Int`]; [`Value::UInt`] holds only what does not fit an
/// `i64` (above `i64::MAX`), and the constructors and the deserializer keep it so.
/// Equality looks at the number, not at the variant: `Int(5) == UInt(5)`.
/// Floats compare by their bits, so that `Value` is [`Eq`]: a NaN equals the same
/// NaN, and `0.0` differs from `-0.0`. An integer never equals a float.
///
/// # Bytes
///
/// MessagePack and postcard carry [`Value::Bytes`] as bytes. JSON has no bytes:
/// it writes them as an array of numbers, which reads back as a
/// [`Value::Array`] of [`Value::Int`], as Dart's `jsonEncode` does with a
/// `Uint8List`.
///
/// `Value::from(Vec<u8>)` and `Value::from(&[u8])` make [`Value::Bytes`]; a
/// `Vec<u8>` given to [`Value::from_serialize`] is an array of numbers (serde
/// sees a sequence), unless it is wrapped for bytes (`serde_bytes`). Reading
/// goes both ways: [`Value::Bytes`] and an array of integers both read as a
/// `Vec<u8>`.
///
/// # Serde types
///
/// Any type that implements [`Serialize`] goes into a `Value` with
/// [`Value::from_serialize`] (as `serde_json::to_value` does), and any type
/// that implements [`Deserialize`] comes out with [`Value::deserialize_into`]
/// (`serde_json::from_value`), or borrowing from it with `T::deserialize(&value)`
/// (`&Value` is a serde [`Deserializer`]). Structs are maps, enums follow
/// serde's default, external tagging (`"Unit"`, `{"Variant": content}`), and
/// `None` and `()` are [`Value::Null`]. A mismatch is a [`ValueError`] that names
/// the field.
///
/// ```
/// use plugin_system_core::Value;
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Debug, PartialEq, Serialize, Deserialize)]
/// struct Selection {
///     path: String,
///     lines: (u32, u32),
/// }
///
/// let selection = Selection { path: "lib/main.dart".into(), lines: (3, 7) };
/// let value = Value::from_serialize(&selection).unwrap();
/// assert_eq!(value.get("path").and_then(Value::as_str), Some("lib/main.dart"));
/// assert_eq!(value.get("lines").and_then(|l| l.get_index(1)), Some(&Value::from(7)));
/// assert_eq!(value.deserialize_into::<Selection>().unwrap(), selection);
/// ```
///
/// # Depth
///
/// Deserializing refuses values nested deeper than [`Value::MAX_DEPTH`] arrays or
/// maps, so that untrusted input cannot exhaust the stack.
///
/// ```
/// use plugin_system_core::{Value, ValueMap};
///
/// let data: ValueMap = [
///     ("path".to_owned(), Value::from("/project/lib/main.dart")),
///     ("line".to_owned(), Value::from(42)),
/// ]
/// .into();
/// let value = Value::from(data);
/// assert_eq!(value.get("line").and_then(Value::as_i64), Some(42));
/// assert_eq!(value.get("path").and_then(Value::as_str), Some("/project/lib/main.dart"));
/// assert!(value.get("missing").is_none());
/// ```
#[derive(Debug, Clone, Default)]
pub enum Value {
    /// No value: JSON `null`, MessagePack `nil`.
    #[default]
    Null,
    /// A boolean.
    Bool(bool),
    /// A signed integer.
    Int(i64),
    /// An unsigned integer above `i64::MAX` (smaller ones are [`Value::Int`]).
    UInt(u64),
    /// A 64-bit float.
    Float(f64),
    /// A UTF-8 string.
    String(String),
    /// Raw bytes (a Dart `Uint8List`).
    Bytes(Vec<u8>),
    /// A list.
    Array(Vec<Value>),
    /// A map with string keys.
    Map(ValueMap),
}

impl Value {
    /// How many arrays or maps deep a deserialized value may nest. Below the
    /// 128 levels a JSON reader (`serde_json`) takes for a whole document, with
    /// room for the levels of the model around a value (an event's object, its
    /// `data` map): whatever one format reads, every format writes and reads
    /// back. (At 128 the serializers fuzz target found an event read from
    /// MessagePack that JSON wrote and could not read.)
    pub const MAX_DEPTH: usize = 100;

    /// A short name of the variant, for error messages: `null`, `bool`, `int`,
    /// `float`, `string`, `bytes`, `array` or `map`.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "bool",
            Value::Int(_) | Value::UInt(_) => "int",
            Value::Float(_) => "float",
            Value::String(_) => "string",
            Value::Bytes(_) => "bytes",
            Value::Array(_) => "array",
            Value::Map(_) => "map",
        }
    }

    /// [`kind`](Self::kind) with an article, for error messages: `null`, `a
    /// bool`, `an int`, `bytes`, ...
    pub(crate) fn kind_with_article(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "a bool",
            Value::Int(_) | Value::UInt(_) => "an int",
            Value::Float(_) => "a float",
            Value::String(_) => "a string",
            Value::Bytes(_) => "bytes",
            Value::Array(_) => "an array",
            Value::Map(_) => "a map",
        }
    }

    /// Whether this is [`Value::Null`].
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The boolean, if this is one.
    pub fn as_bool(&self) -> Option<bool> {
        match *self {
            Value::Bool(b) => Some(b),
            _ => None,
        }
    }

    /// The integer, if this is one that fits an `i64`.
    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            Value::Int(i) => Some(i),
            Value::UInt(u) => i64::try_from(u).ok(),
            _ => None,
        }
    }

    /// The integer, if this is one that fits a `u64`.
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            Value::Int(i) => u64::try_from(i).ok(),
            Value::UInt(u) => Some(u),
            _ => None,
        }
    }

    /// The number as an `f64`: a float as it is, an integer converted (and
    /// rounded if it is beyond 2^53).
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            Value::Float(f) => Some(f),
            Value::Int(i) => Some(i as f64),
            Value::UInt(u) => Some(u as f64),
            _ => None,
        }
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The bytes, if this is [`Value::Bytes`].
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Bytes(b) => Some(b),
            _ => None,
        }
    }

    /// The elements, if this is an array.
    pub fn as_array(&self) -> Option<&[Value]> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }

    /// The elements, mutable, if this is an array.
    pub fn as_array_mut(&mut self) -> Option<&mut Vec<Value>> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }

    /// The map, if this is one.
    pub fn as_map(&self) -> Option<&ValueMap> {
        match self {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    /// The map, mutable, if this is one.
    pub fn as_map_mut(&mut self) -> Option<&mut ValueMap> {
        match self {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    /// The entry `key` of a map; `None` if this is not a map or has no such key.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.as_map()?.get(key)
    }

    /// The element at `index` of an array; `None` if this is not an array or is
    /// too short.
    pub fn get_index(&self, index: usize) -> Option<&Value> {
        self.as_array()?.get(index)
    }

    /// Takes the value out, leaving [`Value::Null`].
    pub fn take(&mut self) -> Value {
        std::mem::take(self)
    }

    /// Any serde type as a `Value`: what `serde_json::to_value` is for
    /// `serde_json::Value`.
    ///
    /// Structs and maps become [`Value::Map`]s, sequences and tuples
    /// [`Value::Array`]s, `None` and `()` [`Value::Null`], bytes (`serde_bytes`)
    /// [`Value::Bytes`], and enums are externally tagged (`"Unit"`,
    /// `{"Variant": content}`). Map keys become strings: numbers, booleans and
    /// unit variants are written out (`1`, `true`, `Kind`), so that
    /// `BTreeMap<u32, _>` reads back.
    ///
    /// # Errors
    ///
    /// [`ValueError`] when `value` has a map key of another kind (an array,
    /// `None`, ...), an integer beyond 64 bits (an `i128`), nests deeper than
    /// [`Value::MAX_DEPTH`] arrays or maps (which a host could not read back),
    /// or when its `Serialize` fails; the message names the type and the
    /// path of the field.
    ///
    /// ```
    /// use std::collections::BTreeMap;
    /// use plugin_system_core::Value;
    ///
    /// let value = Value::from_serialize(&BTreeMap::from([(1, "one")])).unwrap();
    /// assert_eq!(value.get("1").and_then(Value::as_str), Some("one"));
    /// let err = Value::from_serialize(&BTreeMap::from([((1, 2), "pair")])).unwrap_err();
    /// assert!(err.message().starts_with("a map key must be a string"), "{err}");
    /// ```
    pub fn from_serialize<T: Serialize + ?Sized>(value: &T) -> Result<Value, ValueError> {
        to_value(value).map_err(|e| {
            e.context(format!(
                "cannot make a value of `{}`",
                std::any::type_name::<T>()
            ))
        })
    }

    /// The value as any serde type: what `serde_json::from_value` is for
    /// `serde_json::Value`. To borrow strings from the value instead of
    /// copying them, use `T::deserialize(&value)`.
    ///
    /// # Errors
    ///
    /// [`ValueError`] when the value does not have the shape of `T` (a
    /// missing field, another type, an integer out of range): its message
    /// names `T`, says what is wrong as serde does, and gives the path of the
    /// field ([`ValueError::path`]).
    ///
    /// ```
    /// use plugin_system_core::Value;
    ///
    /// let pair: (String, u8) = Value::from_iter([Value::from("a"), Value::from(1)])
    ///     .deserialize_into()
    ///     .unwrap();
    /// assert_eq!(pair, ("a".to_owned(), 1));
    /// let err = Value::from_iter([Value::from("a"), Value::from(300)])
    ///     .deserialize_into::<(String, u8)>()
    ///     .unwrap_err();
    /// assert_eq!(err.path(), "[1]");
    /// assert_eq!(
    ///     err.to_string(),
    ///     "cannot read an array as `(alloc::string::String, u8)`: \
    ///      invalid value: integer `300`, expected u8 at `[1]`"
    /// );
    /// ```
    pub fn deserialize_into<T: DeserializeOwned>(self) -> Result<T, ValueError> {
        T::deserialize(&self).map_err(|e| {
            e.context(format!(
                "cannot read {} as `{}`",
                self.kind_with_article(),
                std::any::type_name::<T>()
            ))
        })
    }
}

impl PartialEq for Value {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Value::Null, Value::Null) => true,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::Int(a), Value::Int(b)) => a == b,
            (Value::UInt(a), Value::UInt(b)) => a == b,
            (Value::Int(i), Value::UInt(u)) | (Value::UInt(u), Value::Int(i)) => {
                u64::try_from(*i) == Ok(*u)
            }
            (Value::Float(a), Value::Float(b)) => a.to_bits() == b.to_bits(),
            (Value::String(a), Value::String(b)) => a == b,
            (Value::Bytes(a), Value::Bytes(b)) => a == b,
            (Value::Array(a), Value::Array(b)) => a == b,
            (Value::Map(a), Value::Map(b)) => a == b,
            _ => false,
        }
    }
}

impl Eq for Value {}

macro_rules! from_signed {
    ($($t:ty),*) => {$(
        impl From<$t> for Value {
            fn from(v: $t) -> Self {
                Value::Int(v.into())
            }
        }
    )*};
}
from_signed!(i8, i16, i32, i64);

macro_rules! from_unsigned {
    ($($t:ty),*) => {$(
        impl From<$t> for Value {
            fn from(v: $t) -> Self {
                Value::Int(v.into())
            }
        }
    )*};
}
from_unsigned!(u8, u16, u32);

impl From<u64> for Value {
    fn from(v: u64) -> Self {
        match i64::try_from(v) {
            Ok(i) => Value::Int(i),
            Err(_) => Value::UInt(v),
        }
    }
}

impl From<usize> for Value {
    fn from(v: usize) -> Self {
        Value::from(v as u64)
    }
}

impl From<isize> for Value {
    fn from(v: isize) -> Self {
        Value::Int(v as i64)
    }
}

impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Bool(v)
    }
}

impl From<f32> for Value {
    fn from(v: f32) -> Self {
        Value::Float(v.into())
    }
}

impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::Float(v)
    }
}

impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::String(v.to_owned())
    }
}

impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::String(v)
    }
}

/// Bytes: [`Value::Bytes`], not an array of numbers (see `From<Vec<u8>>`).
impl From<&[u8]> for Value {
    fn from(v: &[u8]) -> Self {
        Value::Bytes(v.to_vec())
    }
}

/// Bytes: [`Value::Bytes`], not a [`Value::Array`] of numbers.
///
/// This is the one `Vec` that does not become an array: MessagePack and
/// postcard carry it as bytes (a Dart `Uint8List`). JSON has no bytes, so it
/// writes them as an array of numbers, and the host reads that back as a
/// [`Value::Array`] of [`Value::Int`]. For an array of numbers, collect:
/// `Value::from_iter(bytes)`. A `Vec<u8>` field given to
/// [`Value::from_serialize`] is an array too (serde sees a sequence), unless
/// it is marked as bytes (`serde_bytes`). Reading, a `Vec<u8>` takes either.
///
/// ```
/// use plugin_system_core::Value;
///
/// let bytes = vec![1u8, 2];
/// assert_eq!(Value::from(bytes.clone()), Value::Bytes(vec![1, 2]));
/// let numbers = Value::from_iter(bytes.clone());
/// assert_eq!(numbers, Value::Array(vec![Value::Int(1), Value::Int(2)]));
/// assert_eq!(Value::from_serialize(&bytes).unwrap(), numbers);
/// assert_eq!(Value::Bytes(vec![1, 2]).deserialize_into::<Vec<u8>>().unwrap(), bytes);
/// assert_eq!(numbers.deserialize_into::<Vec<u8>>().unwrap(), bytes);
/// ```
impl From<Vec<u8>> for Value {
    fn from(v: Vec<u8>) -> Self {
        Value::Bytes(v)
    }
}

impl From<Vec<Value>> for Value {
    fn from(v: Vec<Value>) -> Self {
        Value::Array(v)
    }
}

impl From<ValueMap> for Value {
    fn from(v: ValueMap) -> Self {
        Value::Map(v)
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

/// Collects values into a [`Value::Array`].
impl<V: Into<Value>> FromIterator<V> for Value {
    fn from_iter<I: IntoIterator<Item = V>>(iter: I) -> Self {
        Value::Array(iter.into_iter().map(Into::into).collect())
    }
}

/// Collects key/value pairs into a [`Value::Map`]; a later key replaces an
/// earlier one.
impl<K: Into<String>, V: Into<Value>> FromIterator<(K, V)> for Value {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        Value::Map(
            iter.into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        )
    }
}

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Null => serializer.serialize_unit(),
            Value::Bool(b) => serializer.serialize_bool(*b),
            Value::Int(i) => serializer.serialize_i64(*i),
            Value::UInt(u) => serializer.serialize_u64(*u),
            Value::Float(f) => serializer.serialize_f64(*f),
            Value::String(s) => serializer.serialize_str(s),
            Value::Bytes(b) => serializer.serialize_bytes(b),
            Value::Array(a) => {
                let mut seq = serializer.serialize_seq(Some(a.len()))?;
                for v in a {
                    seq.serialize_element(v)?;
                }
                seq.end()
            }
            Value::Map(m) => {
                let mut map = serializer.serialize_map(Some(m.len()))?;
                for (k, v) in m {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        ValueSeed {
            depth_left: Value::MAX_DEPTH,
        }
        .deserialize(deserializer)
    }
}

/// How many elements a collection preallocates at most, whatever length the
/// input claims.
const MAX_PREALLOCATION: usize = 4096;

/// Deserializes a [`Value`] that may nest `depth_left` more arrays or maps.
struct ValueSeed {
    depth_left: usize,
}

impl<'de> DeserializeSeed<'de> for ValueSeed {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(ValueVisitor {
            depth_left: self.depth_left,
        })
    }
}

struct ValueVisitor {
    depth_left: usize,
}

impl ValueVisitor {
    fn nested<E: de::Error>(&self) -> Result<ValueSeed, E> {
        match self.depth_left.checked_sub(1) {
            Some(depth_left) => Ok(ValueSeed { depth_left }),
            None => Err(E::custom(format_args!(
                "value nested deeper than {} levels",
                Value::MAX_DEPTH
            ))),
        }
    }
}

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a null, boolean, number, string, byte array, array or map")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Int(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Value, E> {
        if let Ok(i) = i64::try_from(v) {
            Ok(Value::Int(i))
        } else if let Ok(u) = u64::try_from(v) {
            Ok(Value::UInt(u))
        } else {
            Err(E::custom(format_args!("integer {v} does not fit 64 bits")))
        }
    }

    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Value, E> {
        match u64::try_from(v) {
            Ok(u) => Ok(Value::from(u)),
            Err(_) => Err(E::custom(format_args!("integer {v} does not fit 64 bits"))),
        }
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Float(v))
    }

    fn visit_char<E: de::Error>(self, v: char) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Value, E> {
        Ok(Value::Bytes(v.to_vec()))
    }

    fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<Value, E> {
        Ok(Value::Bytes(v))
    }

    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        ValueSeed {
            depth_left: self.depth_left,
        }
        .deserialize(deserializer)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let seed = self.nested::<A::Error>()?;
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(MAX_PREALLOCATION));
        while let Some(item) = seq.next_element_seed(ValueSeed {
            depth_left: seed.depth_left,
        })? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let seed = self.nested::<A::Error>()?;
        let mut entries = ValueMap::new();
        while let Some(key) = map.next_key_seed(KeySeed)? {
            let value = map.next_value_seed(ValueSeed {
                depth_left: seed.depth_left,
            })?;
            entries.insert(key, value);
        }
        Ok(Value::Map(entries))
    }
}

/// Reads a map key. Strings are taken as they are; scalar keys (which
/// MessagePack allows) are turned into strings the way Dart's `toString()` would,
/// as the Dart MessagePack serializer does.
struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = String;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<String, D::Error> {
        deserializer.deserialize_any(KeyVisitor)
    }
}

struct KeyVisitor;

impl Visitor<'_> for KeyVisitor {
    type Value = String;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string, number, boolean or null map key")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<String, E> {
        Ok(v.to_string())
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<String, E> {
        Ok(v.to_string())
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<String, E> {
        Ok(v.to_string())
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<String, E> {
        Ok(format!("{v:?}"))
    }

    fn visit_char<E: de::Error>(self, v: char) -> Result<String, E> {
        Ok(v.to_string())
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
        Ok(v.to_owned())
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<String, E> {
        Ok(v)
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<String, E> {
        std::str::from_utf8(v)
            .map(str::to_owned)
            .map_err(|_| E::invalid_value(de::Unexpected::Bytes(v), &self))
    }

    fn visit_unit<E: de::Error>(self) -> Result<String, E> {
        Ok("null".to_owned())
    }

    fn visit_none<E: de::Error>(self) -> Result<String, E> {
        Ok("null".to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_compare_by_value() {
        assert_eq!(Value::Int(5), Value::UInt(5));
        assert_eq!(Value::UInt(5), Value::Int(5));
        assert_ne!(Value::Int(-1), Value::UInt(u64::MAX));
        assert_ne!(Value::Int(1), Value::Float(1.0));
        assert_eq!(Value::Float(f64::NAN), Value::Float(f64::NAN));
        assert_ne!(Value::Float(0.0), Value::Float(-0.0));
    }

    #[test]
    fn unsigned_is_int_when_it_fits() {
        assert!(matches!(Value::from(7u64), Value::Int(7)));
        assert!(matches!(Value::from(u64::MAX), Value::UInt(u64::MAX)));
        assert_eq!(Value::from(u64::MAX).as_i64(), None);
        assert_eq!(Value::from(u64::MAX).as_u64(), Some(u64::MAX));
        assert_eq!(Value::from(-3).as_u64(), None);
    }

    #[test]
    fn accessors() {
        let v: Value = [("a", Value::from(1)), ("b", Value::from("x"))]
            .into_iter()
            .collect();
        assert_eq!(v.kind(), "map");
        assert_eq!(v.get("a").and_then(Value::as_i64), Some(1));
        assert_eq!(v.get("b").and_then(Value::as_str), Some("x"));
        assert_eq!(v.get("a").and_then(Value::as_str), None);
        let arr: Value = [1, 2, 3].into_iter().collect();
        assert_eq!(arr.get_index(2), Some(&Value::Int(3)));
        assert_eq!(arr.get("x"), None);
        assert_eq!(Value::from(None::<i32>), Value::Null);
        assert_eq!(Value::from(Some("s")), Value::from("s"));
        assert_eq!(Value::from(vec![1u8, 2]).as_bytes(), Some(&[1u8, 2][..]));
        assert_eq!(Value::from(2).as_f64(), Some(2.0));
    }

    /// A deserializer of `depth` arrays nested in each other around a `null`.
    struct Nested(usize);

    impl<'de> Deserializer<'de> for Nested {
        type Error = de::value::Error;

        fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
            if self.0 == 0 {
                visitor.visit_unit()
            } else {
                visitor.visit_seq(de::value::SeqDeserializer::new(std::iter::once(Nested(
                    self.0 - 1,
                ))))
            }
        }

        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
            bytes byte_buf option unit unit_struct newtype_struct seq tuple
            tuple_struct map struct enum identifier ignored_any
        }
    }

    impl<'de> de::IntoDeserializer<'de, de::value::Error> for Nested {
        type Deserializer = Nested;

        fn into_deserializer(self) -> Nested {
            self
        }
    }

    #[test]
    fn depth_is_limited() {
        assert!(Value::deserialize(Nested(Value::MAX_DEPTH)).is_ok());
        let err = Value::deserialize(Nested(Value::MAX_DEPTH + 1)).unwrap_err();
        assert!(err.to_string().contains("nested deeper"), "{err}");
    }
}
