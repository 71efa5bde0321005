//! A serde [`Deserializer`] over a borrowed [`Value`]: any `Deserialize`
//! type out.

use serde::{
    Deserializer,
    de::{
        self, DeserializeSeed, EnumAccess, Error as _, IntoDeserializer, MapAccess, SeqAccess,
        Unexpected, VariantAccess, Visitor,
        value::{BorrowedStrDeserializer, U8Deserializer},
    },
    forward_to_deserialize_any,
};

use super::{Value, ValueError, ValueMap};

impl Value {
    /// The value as serde's [`Unexpected`], for error messages.
    fn unexpected(&self) -> Unexpected<'_> {
        match self {
            Value::Null => Unexpected::Other("null"),
            Value::Bool(b) => Unexpected::Bool(*b),
            Value::Int(i) => Unexpected::Signed(*i),
            Value::UInt(u) => Unexpected::Unsigned(*u),
            Value::Float(f) => Unexpected::Float(*f),
            Value::String(s) => Unexpected::Str(s),
            Value::Bytes(b) => Unexpected::Bytes(b),
            Value::Array(_) => Unexpected::Seq,
            Value::Map(_) => Unexpected::Map,
        }
    }

    /// Fails for [`Value::Null`], naming it `null` (where visiting a unit
    /// would say `unit value`), when a type wants something else.
    fn not_null(&self, expected: &dyn de::Expected) -> Result<(), ValueError> {
        match self {
            Value::Null => Err(ValueError::invalid_type(self.unexpected(), expected)),
            _ => Ok(()),
        }
    }
}

/// Methods that take the value as it is, unless it is null.
macro_rules! not_null {
    ($($method:ident)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
            self.not_null(&visitor)?;
            self.deserialize_any(visitor)
        }
    )*};
}

/// Reads a borrowed [`Value`] as any `Deserialize` type, as serde_json's
/// `&Value` does: `T::deserialize(&value)`. Strings and bytes can be
/// borrowed (`&str`, `&[u8]` fields).
///
/// The value is read as it is, with two leniencies that follow from the wire
/// formats: [`Value::Bytes`] reads as a sequence of numbers (a `Vec<u8>`), as
/// an [`Value::Array`] of integers reads as bytes (`serde_bytes`), since JSON
/// carries bytes as such an array; and a map key reads as a number or a
/// boolean when the type asks for one (`"1"` for a `BTreeMap<u32, _>`), since
/// keys are strings.
impl<'de> Deserializer<'de> for &'de Value {
    type Error = ValueError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        match self {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Int(i) => visitor.visit_i64(*i),
            Value::UInt(u) => visitor.visit_u64(*u),
            Value::Float(f) => visitor.visit_f64(*f),
            Value::String(s) => visitor.visit_borrowed_str(s),
            Value::Bytes(b) => visitor.visit_borrowed_bytes(b),
            Value::Array(items) => visit_array(items, visitor),
            Value::Map(map) => visit_map(map, visitor),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        match self {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, ValueError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        self.not_null(&visitor)?;
        match self {
            Value::Bytes(bytes) => visitor.visit_seq(SeqOfBytes {
                iter: bytes.iter(),
                index: 0,
            }),
            _ => self.deserialize_any(visitor),
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, ValueError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, ValueError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ValueError> {
        match self {
            Value::String(variant) => visitor.visit_enum(EnumDeserializer {
                variant,
                content: None,
            }),
            Value::Map(map) if map.len() == 1 => {
                let (variant, content) = map.iter().next().expect("one entry");
                visitor.visit_enum(EnumDeserializer {
                    variant,
                    content: Some(content),
                })
            }
            other => Err(ValueError::invalid_type(
                other.unexpected(),
                &"a string or a map with one entry (an enum variant)",
            )),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        visitor.visit_unit()
    }

    not_null! {
        deserialize_bool deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64
        deserialize_i128 deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64
        deserialize_u128 deserialize_f32 deserialize_f64 deserialize_char deserialize_str
        deserialize_string deserialize_bytes deserialize_byte_buf deserialize_map
        deserialize_identifier
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ValueError> {
        self.not_null(&visitor)?;
        self.deserialize_any(visitor)
    }

    forward_to_deserialize_any! {
        unit unit_struct
    }
}

impl<'de> IntoDeserializer<'de, ValueError> for &'de Value {
    type Deserializer = Self;

    fn into_deserializer(self) -> Self {
        self
    }
}

/// Reads a map of values as any `Deserialize` type.
pub(crate) fn from_map<'de, T: de::Deserialize<'de>>(map: &'de ValueMap) -> Result<T, ValueError> {
    T::deserialize(MapDeserializer(map))
}

fn visit_array<'de, V: Visitor<'de>>(
    items: &'de [Value],
    visitor: V,
) -> Result<V::Value, ValueError> {
    let mut seq = SeqDeserializer {
        iter: items.iter(),
        index: 0,
    };
    let value = visitor.visit_seq(&mut seq)?;
    match seq.iter.len() {
        0 => Ok(value),
        _ => Err(ValueError::invalid_length(
            items.len(),
            &"fewer elements in the array",
        )),
    }
}

fn visit_map<'de, V: Visitor<'de>>(map: &'de ValueMap, visitor: V) -> Result<V::Value, ValueError> {
    let mut access = MapDeserializer::access(map);
    let value = visitor.visit_map(&mut access)?;
    match access.iter.len() {
        0 => Ok(value),
        _ => Err(ValueError::invalid_length(
            map.len(),
            &"fewer entries in the map",
        )),
    }
}

/// An array's elements, each error with its index.
struct SeqDeserializer<'de> {
    iter: std::slice::Iter<'de, Value>,
    index: usize,
}

impl<'de> SeqAccess<'de> for SeqDeserializer<'de> {
    type Error = ValueError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, ValueError> {
        let Some(item) = self.iter.next() else {
            return Ok(None);
        };
        let index = self.index;
        self.index += 1;
        seed.deserialize(item)
            .map(Some)
            .map_err(|e| e.at_index(index))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.iter.len())
    }
}

/// [`Value::Bytes`] read as a sequence of `u8`.
struct SeqOfBytes<'de> {
    iter: std::slice::Iter<'de, u8>,
    index: usize,
}

impl<'de> SeqAccess<'de> for SeqOfBytes<'de> {
    type Error = ValueError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, ValueError> {
        let Some(&byte) = self.iter.next() else {
            return Ok(None);
        };
        let index = self.index;
        self.index += 1;
        seed.deserialize(U8Deserializer::<ValueError>::new(byte))
            .map(Some)
            .map_err(|e| e.at_index(index))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.iter.len())
    }
}

/// A map read as a whole: a struct, a map, or (through `deserialize_any`)
/// anything that takes a map.
struct MapDeserializer<'de>(&'de ValueMap);

impl<'de> MapDeserializer<'de> {
    fn access(map: &'de ValueMap) -> MapEntries<'de> {
        MapEntries {
            iter: map.iter(),
            current: None,
        }
    }
}

impl<'de> Deserializer<'de> for MapDeserializer<'de> {
    type Error = ValueError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        visit_map(self.0, visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        visitor.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, ValueError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ValueError> {
        match self.0.iter().next() {
            Some((variant, content)) if self.0.len() == 1 => visitor.visit_enum(EnumDeserializer {
                variant,
                content: Some(content),
            }),
            _ => Err(ValueError::invalid_type(
                Unexpected::Map,
                &"a map with one entry (an enum variant)",
            )),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        visitor.visit_unit()
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct seq tuple tuple_struct map struct identifier
    }
}

/// A map's entries, each value's error with its key.
struct MapEntries<'de> {
    iter: std::collections::btree_map::Iter<'de, String, Value>,
    /// The entry whose key was read and whose value was not yet.
    current: Option<(&'de str, &'de Value)>,
}

impl<'de> MapAccess<'de> for MapEntries<'de> {
    type Error = ValueError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, ValueError> {
        let Some((key, value)) = self.iter.next() else {
            return Ok(None);
        };
        self.current = Some((key, value));
        seed.deserialize(KeyDeserializer(key))
            .map(Some)
            .map_err(|e| e.at_key(key))
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, ValueError> {
        let Some((key, value)) = self.current.take() else {
            return Err(ValueError::custom("next_value called before next_key"));
        };
        seed.deserialize(value).map_err(|e| e.at_key(key))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.iter.len())
    }
}

/// A map key: a string, which reads as a number or a boolean when the type
/// wants one and the string is one.
struct KeyDeserializer<'de>(&'de str);

macro_rules! parsed_key {
    ($($method:ident => $t:ty, $visit:ident;)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
            match self.0.parse::<$t>() {
                Ok(v) => visitor.$visit(v),
                Err(_) => visitor.visit_borrowed_str(self.0),
            }
        }
    )*};
}

impl<'de> Deserializer<'de> for KeyDeserializer<'de> {
    type Error = ValueError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        visitor.visit_borrowed_str(self.0)
    }

    parsed_key! {
        deserialize_bool => bool, visit_bool;
        deserialize_i8 => i8, visit_i8;
        deserialize_i16 => i16, visit_i16;
        deserialize_i32 => i32, visit_i32;
        deserialize_i64 => i64, visit_i64;
        deserialize_i128 => i128, visit_i128;
        deserialize_u8 => u8, visit_u8;
        deserialize_u16 => u16, visit_u16;
        deserialize_u32 => u32, visit_u32;
        deserialize_u64 => u64, visit_u64;
        deserialize_u128 => u128, visit_u128;
        deserialize_f32 => f32, visit_f32;
        deserialize_f64 => f64, visit_f64;
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        visitor.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, ValueError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ValueError> {
        BorrowedStrDeserializer::new(self.0).deserialize_enum(name, variants, visitor)
    }

    forward_to_deserialize_any! {
        char str string bytes byte_buf unit unit_struct seq tuple tuple_struct
        map struct identifier ignored_any
    }
}

/// An enum variant: its name, and its content unless it is a unit variant
/// written as a plain string.
struct EnumDeserializer<'de> {
    variant: &'de str,
    content: Option<&'de Value>,
}

impl<'de> EnumAccess<'de> for EnumDeserializer<'de> {
    type Error = ValueError;
    type Variant = VariantDeserializer<'de>;

    fn variant_seed<S: DeserializeSeed<'de>>(
        self,
        seed: S,
    ) -> Result<(S::Value, VariantDeserializer<'de>), ValueError> {
        let variant = seed.deserialize(BorrowedStrDeserializer::<ValueError>::new(self.variant))?;
        Ok((
            variant,
            VariantDeserializer {
                name: self.variant,
                content: self.content,
            },
        ))
    }
}

struct VariantDeserializer<'de> {
    name: &'de str,
    content: Option<&'de Value>,
}

impl VariantDeserializer<'_> {
    fn missing(&self, expected: &str) -> ValueError {
        ValueError::invalid_type(Unexpected::UnitVariant, &expected)
    }
}

impl<'de> VariantAccess<'de> for VariantDeserializer<'de> {
    type Error = ValueError;

    fn unit_variant(self) -> Result<(), ValueError> {
        match self.content {
            None | Some(Value::Null) => Ok(()),
            Some(other) => {
                Err(ValueError::invalid_type(other.unexpected(), &"unit variant").at_key(self.name))
            }
        }
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(
        self,
        seed: T,
    ) -> Result<T::Value, ValueError> {
        match self.content {
            Some(content) => seed.deserialize(content).map_err(|e| e.at_key(self.name)),
            None => Err(self.missing("newtype variant")),
        }
    }

    fn tuple_variant<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, ValueError> {
        match self.content {
            Some(content) => content
                .deserialize_seq(visitor)
                .map_err(|e| e.at_key(self.name)),
            None => Err(self.missing("tuple variant")),
        }
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ValueError> {
        match self.content {
            Some(content) => content
                .deserialize_any(visitor)
                .map_err(|e| e.at_key(self.name)),
            None => Err(self.missing("struct variant")),
        }
    }
}
