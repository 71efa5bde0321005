//! [`ResponseData`]: a response's `data`, kept as the plugin's bytes until
//! someone reads it.

use std::{
    fmt,
    ops::{Deref, DerefMut},
    sync::OnceLock,
};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::super::{SerializationError, ValueMap, WireFormat, null_as_default, value};

/// How a serializer's undecoded data is decoded: its format, and the
/// function that turns checked bytes of it into the map they hold. A
/// serializer keeps one in a `static`.
#[derive(Debug)]
pub struct DataDecoder {
    /// The bytes' format.
    pub format: WireFormat,
    /// Decodes bytes that [`ResponseData::check`] accepted.
    pub decode: fn(&[u8]) -> Result<ValueMap, SerializationError>,
}

/// The `data` of a [`PluginResponse`](super::PluginResponse): a
/// [`ValueMap`] that a serializer may leave undecoded, as the plugin wrote it,
/// until it is first read.
///
/// Most hosts act on `success` and read the data of some responses only (a
/// broadcast's answers, a response passed on as it came); building the map of
/// every reply was most of the cost of reading one. A serializer checks the
/// bytes when it reads the response (they hold a map or nothing, within
/// [`Value::MAX_DEPTH`](super::super::Value::MAX_DEPTH), in valid UTF-8), so a bad
/// reply is still refused at once, and decoding them later cannot fail.
///
/// It dereferences to the [`ValueMap`] (decoded on first use, once, also
/// across threads); [`raw`](Self::raw) gives the bytes while nobody has
/// changed the map, for a host that passes them on in the same format.
///
/// ```
/// use plugin_system_core::{ResponseData, Value, ValueMap};
///
/// let mut data = ResponseData::from(ValueMap::from([("n".to_owned(), Value::from(1))]));
/// assert_eq!(data.get("n"), Some(&Value::from(1)));
/// data.insert("m".to_owned(), Value::from(2));
/// assert_eq!(data.len(), 2);
/// assert!(data.raw().is_none());
/// ```
pub struct ResponseData {
    map: OnceLock<ValueMap>,
    raw: Option<Raw>,
}

/// Undecoded data: its bytes, and how to decode them.
struct Raw {
    bytes: Box<[u8]>,
    decoder: &'static DataDecoder,
}

impl ResponseData {
    /// No data: an empty map.
    pub const fn new() -> Self {
        ResponseData {
            map: OnceLock::new(),
            raw: None,
        }
    }

    /// Data left as `bytes`, decoded by `decoder` when first read.
    ///
    /// For serializers: `bytes` must be checked already
    /// ([`check`](Self::check)), so that decoding cannot fail on them. Should it fail all the same, the data reads as
    /// empty and the failure is logged through
    /// [`ResponseData::decode_failures`] (a broken serializer, not a bad
    /// plugin).
    pub fn undecoded(bytes: impl Into<Box<[u8]>>, decoder: &'static DataDecoder) -> Self {
        ResponseData {
            map: OnceLock::new(),
            raw: Some(Raw {
                bytes: bytes.into(),
                decoder,
            }),
        }
    }

    /// The plugin's bytes and their format, while the map has not been
    /// changed since they were read (reading it does not count).
    pub fn raw(&self) -> Option<(&[u8], WireFormat)> {
        self.raw
            .as_ref()
            .map(|raw| (&*raw.bytes, raw.decoder.format))
    }

    /// Whether the map has been built (or was given as a map).
    pub fn is_decoded(&self) -> bool {
        self.raw.is_none() || self.map.get().is_some()
    }

    /// The map, decoded now if it was not yet.
    pub fn map(&self) -> &ValueMap {
        self.map.get_or_init(|| match &self.raw {
            None => ValueMap::new(),
            Some(raw) => (raw.decoder.decode)(&raw.bytes).unwrap_or_else(|e| {
                DECODE_FAILURES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                debug_assert!(false, "checked response data did not decode: {e}");
                ValueMap::new()
            }),
        })
    }

    /// The map, to change: the raw bytes no longer stand for it.
    pub fn map_mut(&mut self) -> &mut ValueMap {
        self.map();
        self.raw = None;
        self.map.get_mut().expect("decoded just above")
    }

    /// The map, taken out.
    pub fn into_map(mut self) -> ValueMap {
        self.map();
        self.map.take().unwrap_or_default()
    }

    /// Checks, building nothing, that `deserializer` holds what a response's
    /// `data` may be: a map of string keys to [`Value`](crate::Value)s, or
    /// `null`. It accepts and refuses exactly what reading the map would, with
    /// the same errors: a serializer that checks with it can leave the bytes
    /// [`undecoded`](Self::undecoded).
    ///
    /// # Errors
    /// The deserializer's error for input that is not such a map.
    pub fn check<'de, D: Deserializer<'de>>(deserializer: D) -> Result<(), D::Error> {
        value::check_optional_map(deserializer)
    }

    /// How many times checked data failed to decode in this process: always
    /// 0 unless a serializer checks less than it decodes.
    pub fn decode_failures() -> u64 {
        DECODE_FAILURES.load(std::sync::atomic::Ordering::Relaxed)
    }
}

static DECODE_FAILURES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

impl Default for ResponseData {
    fn default() -> Self {
        ResponseData::new()
    }
}

impl From<ValueMap> for ResponseData {
    fn from(map: ValueMap) -> Self {
        ResponseData {
            map: OnceLock::from(map),
            raw: None,
        }
    }
}

impl From<ResponseData> for ValueMap {
    fn from(data: ResponseData) -> Self {
        data.into_map()
    }
}

impl Deref for ResponseData {
    type Target = ValueMap;

    fn deref(&self) -> &ValueMap {
        self.map()
    }
}

impl DerefMut for ResponseData {
    fn deref_mut(&mut self) -> &mut ValueMap {
        self.map_mut()
    }
}

impl Clone for ResponseData {
    fn clone(&self) -> Self {
        ResponseData {
            map: self.map.clone(),
            raw: self.raw.as_ref().map(|raw| Raw {
                bytes: raw.bytes.clone(),
                decoder: raw.decoder,
            }),
        }
    }
}

impl PartialEq for ResponseData {
    fn eq(&self, other: &Self) -> bool {
        self.map() == other.map()
    }
}

impl Eq for ResponseData {}

impl PartialEq<ValueMap> for ResponseData {
    fn eq(&self, other: &ValueMap) -> bool {
        self.map() == other
    }
}

impl fmt::Debug for ResponseData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.map().fmt(f)
    }
}

impl Serialize for ResponseData {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.map().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for ResponseData {
    /// A map; `null` is an empty one.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        null_as_default::<D, ValueMap>(deserializer).map(ResponseData::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Value;

    static ONE: DataDecoder = DataDecoder {
        format: WireFormat::Json,
        decode: |bytes| match bytes {
            b"one" => Ok(ValueMap::from([("one".to_owned(), Value::from(1))])),
            _ => Err(SerializationError::decode(WireFormat::Json, "not one")),
        },
    };

    #[test]
    fn raw_data_decodes_when_read_and_keeps_its_bytes_until_changed() {
        let mut data = ResponseData::undecoded(*b"one", &ONE);
        assert!(!data.is_decoded());
        assert_eq!(data.raw(), Some((&b"one"[..], WireFormat::Json)));
        assert_eq!(data.get("one"), Some(&Value::from(1)));
        assert!(data.is_decoded());
        assert!(data.raw().is_some(), "reading keeps the bytes");
        let copy = data.clone();
        data.insert("two".to_owned(), Value::from(2));
        assert!(data.raw().is_none(), "a change drops them");
        assert_eq!(copy.len(), 1);
        assert_eq!(copy.raw().map(|(b, _)| b), Some(&b"one"[..]));
        assert_eq!(data.into_map().len(), 2);
    }

    #[test]
    fn equality_and_serde_see_the_map() {
        let raw = ResponseData::undecoded(*b"one", &ONE);
        let map = ResponseData::from(ValueMap::from([("one".to_owned(), Value::from(1))]));
        assert_eq!(raw, map);
        assert_eq!(format!("{raw:?}"), format!("{:?}", *map));
        assert_eq!(ResponseData::default(), ResponseData::from(ValueMap::new()));
    }
}
