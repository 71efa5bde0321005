//! Checking, without building anything, that input reads as a [`ValueMap`]:
//! what lets a response's data stay undecoded ([`ResponseData`]) and still be
//! refused at once when it is bad.
//!
//! The visitors here accept exactly what [`Value`]'s (`ValueVisitor`,
//! `KeyVisitor`) and `ValueMap`'s own `Deserialize` accept, and refuse the
//! rest the same way; they only keep nothing. Change them together.
//!
//! [`ResponseData`]: crate::ResponseData

use std::fmt;

use serde::{
    Deserializer,
    de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor},
};

use super::Value;

/// Checks that `deserializer` holds a map of string keys to [`Value`]s, or
/// `null` (read as an empty map), as `Option<ValueMap>` would read it.
pub(crate) fn check_optional_map<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<(), D::Error> {
    deserializer.deserialize_option(OptionalMap)
}

struct OptionalMap;

impl<'de> Visitor<'de> for OptionalMap {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("option")
    }

    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(TopMap)
    }
}

/// `ValueMap`'s own reading: keys as `String` reads them, values as [`Value`].
struct TopMap;

impl<'de> Visitor<'de> for TopMap {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a map")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<(), A::Error> {
        entries(map, StringKey, Value::MAX_DEPTH)
    }
}

/// Checks every entry of `map`: keys with `key`, values as [`Value`]s that
/// may nest `depth_left` more levels.
fn entries<'de, A, K>(mut map: A, key: K, depth_left: usize) -> Result<(), A::Error>
where
    A: MapAccess<'de>,
    K: DeserializeSeed<'de, Value = ()> + Copy,
{
    while map.next_key_seed(key)?.is_some() {
        map.next_value_seed(CheckValue { depth_left })?;
    }
    Ok(())
}

/// Bytes as a key: only when they are UTF-8, as `String` and `KeyVisitor`
/// take them.
fn utf8_key<E: de::Error>(v: &[u8], expected: &dyn de::Expected) -> Result<(), E> {
    match std::str::from_utf8(v) {
        Ok(_) => Ok(()),
        Err(_) => Err(E::invalid_value(de::Unexpected::Bytes(v), expected)),
    }
}

/// A key as `String` reads it: a string, or bytes that are UTF-8.
#[derive(Clone, Copy)]
struct StringKey;

impl<'de> DeserializeSeed<'de> for StringKey {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_string(self)
    }
}

impl Visitor<'_> for StringKey {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Ok(())
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<(), E> {
        utf8_key(v, &self)
    }
}

/// A [`Value`] that may nest `depth_left` more arrays or maps.
struct CheckValue {
    depth_left: usize,
}

impl CheckValue {
    fn nested<E: de::Error>(&self) -> Result<CheckValue, E> {
        match self.depth_left.checked_sub(1) {
            Some(depth_left) => Ok(CheckValue { depth_left }),
            None => Err(E::custom(format_args!(
                "value nested deeper than {} levels",
                Value::MAX_DEPTH
            ))),
        }
    }
}

impl<'de> DeserializeSeed<'de> for CheckValue {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for CheckValue {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a null, boolean, number, string, byte array, array or map")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_i128<E: de::Error>(self, v: i128) -> Result<(), E> {
        if i64::try_from(v).is_ok() || u64::try_from(v).is_ok() {
            Ok(())
        } else {
            Err(E::custom(format_args!("integer {v} does not fit 64 bits")))
        }
    }

    fn visit_u128<E: de::Error>(self, v: u128) -> Result<(), E> {
        match u64::try_from(v) {
            Ok(_) => Ok(()),
            Err(_) => Err(E::custom(format_args!("integer {v} does not fit 64 bits"))),
        }
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_char<E: de::Error>(self, _: char) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Ok(())
    }

    fn visit_bytes<E: de::Error>(self, _: &[u8]) -> Result<(), E> {
        Ok(())
    }

    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        self.deserialize(deserializer)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let seed = self.nested::<A::Error>()?;
        while seq
            .next_element_seed(CheckValue {
                depth_left: seed.depth_left,
            })?
            .is_some()
        {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<(), A::Error> {
        let seed = self.nested::<A::Error>()?;
        entries(map, AnyKey, seed.depth_left)
    }
}

/// A key of a nested map, as `KeyVisitor` reads it: a string or a scalar.
#[derive(Clone, Copy)]
struct AnyKey;

impl<'de> DeserializeSeed<'de> for AnyKey {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl Visitor<'_> for AnyKey {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string, number, boolean or null map key")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_char<E: de::Error>(self, _: char) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Ok(())
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<(), E> {
        utf8_key(v, &self)
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
}
