//! [`PostcardSerializer`]: postcard, compact and positional.
//!
//! postcard is not self-describing: a reader must know the shape of what it
//! reads, so a [`Value`] (which deserializes through `deserialize_any`) cannot go
//! through it as it is. This module writes a `Value` as a tagged enum instead
//! (variant index, then the content), and the models as private mirror structs
//! whose fields are those of the models, in order, with the values tagged and the
//! timestamps as microseconds.

use std::fmt;

use plugin_system_core::{
    PluginEvent, PluginManifest, PluginResponse, PluginRuntimeType, PluginSerializer,
    SerializationError, Timestamp, Value, ValueMap, WireFormat,
};
use serde::{
    Deserialize, Deserializer, Serialize, Serializer,
    de::{
        self, DeserializeOwned, DeserializeSeed, EnumAccess, MapAccess, SeqAccess, VariantAccess,
    },
    ser::{SerializeMap, SerializeSeq},
};

use super::{append, check_input, encode_with};

const FORMAT: WireFormat = WireFormat::Postcard;

/// [postcard](https://docs.rs/postcard): the most compact format, for hosts and
/// guests that are both Rust and agree on it out of band.
///
/// Fields are positional (no keys), integers are varints, timestamps are
/// microseconds. [`Value`]s are written as a tagged enum, so they keep every
/// variant, [`Value::Bytes`] and [`Value::UInt`] included, and floats bit for bit.
///
/// postcard cannot be recognised from its bytes, so the
/// [`HybridSerializer`](crate::HybridSerializer) does not read it. Input is
/// limited to [`max_size`](Self::max_size) bytes and values to
/// [`Value::MAX_DEPTH`] levels of nesting; bytes after the message are an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PostcardSerializer {
    max_size: usize,
}

size_limited!(PostcardSerializer);

impl PostcardSerializer {
    fn encode<T: Serialize>(&self, value: &T) -> Result<Vec<u8>, SerializationError> {
        encode_with(FORMAT, self.max_size, |out| write(out, value))
    }

    fn decode<T: DeserializeOwned>(&self, bytes: &[u8]) -> Result<T, SerializationError> {
        check_input(FORMAT, bytes, self.max_size)?;
        let (value, rest) = ::postcard::take_from_bytes::<T>(bytes)
            .map_err(|e| SerializationError::decode(FORMAT, e))?;
        if !rest.is_empty() {
            return Err(SerializationError::decode(
                FORMAT,
                format_args!("{} bytes after the end of the message", rest.len()),
            ));
        }
        Ok(value)
    }
}

/// Appends `value` to `out`.
fn write<T: Serialize>(out: &mut Vec<u8>, value: &T) -> ::postcard::Result<()> {
    ::postcard::to_io(value, out).map(drop)
}

impl PluginSerializer for PostcardSerializer {
    fn format(&self) -> WireFormat {
        FORMAT
    }

    fn serialize_event(&self, event: &PluginEvent) -> Result<Vec<u8>, SerializationError> {
        self.encode(&EventOut::new(event))
    }

    fn serialize_event_into(
        &self,
        event: &PluginEvent,
        out: &mut Vec<u8>,
    ) -> Result<(), SerializationError> {
        append(FORMAT, out, self.max_size, |out| {
            write(out, &EventOut::new(event))
        })
    }

    fn deserialize_event(&self, bytes: &[u8]) -> Result<PluginEvent, SerializationError> {
        let wire: EventIn = self.decode(bytes)?;
        let mut event = PluginEvent::new(wire.event_type);
        event.target_plugin_id = wire.target_plugin_id;
        event.data = wire.data;
        event.timestamp = wire.timestamp.map(Timestamp::from_micros);
        event.source_plugin_id = wire.source_plugin_id;
        event.priority = wire.priority;
        event.event_id = wire.event_id;
        Ok(event)
    }

    fn serialize_response(&self, response: &PluginResponse) -> Result<Vec<u8>, SerializationError> {
        self.encode(&ResponseOut {
            success: response.success,
            data: TaggedMap(&response.data),
            message: response.message.as_deref(),
            error: response.error.as_deref(),
            stack_trace: response.stack_trace.as_deref(),
            timestamp: response.timestamp.map(Timestamp::as_micros),
            duration_ms: response.duration_ms,
            metadata: response.metadata.as_ref().map(TaggedMap),
        })
    }

    fn deserialize_response(&self, bytes: &[u8]) -> Result<PluginResponse, SerializationError> {
        let wire: ResponseIn = self.decode(bytes)?;
        let mut response = PluginResponse::new(wire.success);
        response.data = wire.data;
        response.message = wire.message;
        response.error = wire.error;
        response.stack_trace = wire.stack_trace;
        response.timestamp = wire.timestamp.map(Timestamp::from_micros);
        response.duration_ms = wire.duration_ms;
        response.metadata = wire.metadata;
        Ok(response)
    }

    fn serialize_manifest(&self, manifest: &PluginManifest) -> Result<Vec<u8>, SerializationError> {
        self.encode(&ManifestOut {
            id: &manifest.id,
            name: &manifest.name,
            version: &manifest.version,
            description: &manifest.description,
            runtime: manifest.runtime,
            author: manifest.author.as_deref(),
            homepage: manifest.homepage.as_deref(),
            repository: manifest.repository.as_deref(),
            license: manifest.license.as_deref(),
            dependencies: &manifest.dependencies,
            config_schema: manifest.config_schema.as_ref().map(TaggedMap),
            required_host_functions: &manifest.required_host_functions,
            provided_events: &manifest.provided_events,
            subscribes_to: &manifest.subscribes_to,
            min_host_version: manifest.min_host_version.as_deref(),
            max_host_version: manifest.max_host_version.as_deref(),
            metadata: manifest.metadata.as_ref().map(TaggedMap),
        })
    }

    fn deserialize_manifest(&self, bytes: &[u8]) -> Result<PluginManifest, SerializationError> {
        let wire: ManifestIn = self.decode(bytes)?;
        let mut manifest = PluginManifest::new(
            wire.id,
            wire.name,
            wire.version,
            wire.description,
            wire.runtime,
        );
        manifest.author = wire.author;
        manifest.homepage = wire.homepage;
        manifest.repository = wire.repository;
        manifest.license = wire.license;
        manifest.dependencies = wire.dependencies;
        manifest.config_schema = wire.config_schema;
        manifest.required_host_functions = wire.required_host_functions;
        manifest.provided_events = wire.provided_events;
        manifest.subscribes_to = wire.subscribes_to;
        manifest.min_host_version = wire.min_host_version;
        manifest.max_host_version = wire.max_host_version;
        manifest.metadata = wire.metadata;
        Ok(manifest)
    }

    fn serialize_value(&self, value: &Value) -> Result<Vec<u8>, SerializationError> {
        self.encode(&Tagged(value))
    }

    fn deserialize_value(&self, bytes: &[u8]) -> Result<Value, SerializationError> {
        Ok(self.decode::<TaggedValue>(bytes)?.0)
    }
}

// The mirrors. Their fields are the models' fields, in the models' order; the
// `wire_keys_are_mirrored` test fails when a model gains a field they lack.

#[derive(Serialize)]
struct EventOut<'a> {
    event_type: &'a str,
    target_plugin_id: Option<&'a str>,
    data: TaggedMap<'a>,
    timestamp: Option<i64>,
    source_plugin_id: Option<&'a str>,
    priority: i64,
    event_id: Option<&'a str>,
}

impl<'a> EventOut<'a> {
    fn new(event: &'a PluginEvent) -> Self {
        EventOut {
            event_type: &event.event_type,
            target_plugin_id: event.target_plugin_id.as_deref(),
            data: TaggedMap(&event.data),
            timestamp: event.timestamp.map(Timestamp::as_micros),
            source_plugin_id: event.source_plugin_id.as_deref(),
            priority: event.priority,
            event_id: event.event_id.as_deref(),
        }
    }
}

#[derive(Deserialize)]
struct EventIn {
    event_type: String,
    target_plugin_id: Option<String>,
    #[serde(deserialize_with = "tagged_map")]
    data: ValueMap,
    timestamp: Option<i64>,
    source_plugin_id: Option<String>,
    priority: i64,
    event_id: Option<String>,
}

#[derive(Serialize)]
struct ResponseOut<'a> {
    success: bool,
    data: TaggedMap<'a>,
    message: Option<&'a str>,
    error: Option<&'a str>,
    stack_trace: Option<&'a str>,
    timestamp: Option<i64>,
    duration_ms: Option<u64>,
    metadata: Option<TaggedMap<'a>>,
}

#[derive(Deserialize)]
struct ResponseIn {
    success: bool,
    #[serde(deserialize_with = "tagged_map")]
    data: ValueMap,
    message: Option<String>,
    error: Option<String>,
    stack_trace: Option<String>,
    timestamp: Option<i64>,
    duration_ms: Option<u64>,
    #[serde(deserialize_with = "optional_tagged_map")]
    metadata: Option<ValueMap>,
}

#[derive(Serialize)]
struct ManifestOut<'a> {
    id: &'a str,
    name: &'a str,
    version: &'a str,
    description: &'a str,
    runtime: PluginRuntimeType,
    author: Option<&'a str>,
    homepage: Option<&'a str>,
    repository: Option<&'a str>,
    license: Option<&'a str>,
    dependencies: &'a [String],
    config_schema: Option<TaggedMap<'a>>,
    required_host_functions: &'a [String],
    provided_events: &'a [String],
    subscribes_to: &'a [String],
    min_host_version: Option<&'a str>,
    max_host_version: Option<&'a str>,
    metadata: Option<TaggedMap<'a>>,
}

#[derive(Deserialize)]
struct ManifestIn {
    id: String,
    name: String,
    version: String,
    description: String,
    runtime: PluginRuntimeType,
    author: Option<String>,
    homepage: Option<String>,
    repository: Option<String>,
    license: Option<String>,
    dependencies: Vec<String>,
    #[serde(deserialize_with = "optional_tagged_map")]
    config_schema: Option<ValueMap>,
    required_host_functions: Vec<String>,
    provided_events: Vec<String>,
    subscribes_to: Vec<String>,
    min_host_version: Option<String>,
    max_host_version: Option<String>,
    #[serde(deserialize_with = "optional_tagged_map")]
    metadata: Option<ValueMap>,
}

// The tagged form of `Value`: an enum whose variant indices are these.

const NAME: &str = "Value";
const VARIANTS: &[&str] = &[
    "Null", "Bool", "Int", "UInt", "Float", "String", "Bytes", "Array", "Map",
];

/// How many elements a collection preallocates at most, whatever length the
/// input claims.
const MAX_PREALLOCATION: usize = 4096;

/// Writes a `Value` in its tagged form.
struct Tagged<'a>(&'a Value);

/// Writes a `ValueMap` as a map of tagged values.
struct TaggedMap<'a>(&'a ValueMap);

/// Writes a slice as a sequence of tagged values.
struct TaggedSeq<'a>(&'a [Value]);

/// Writes bytes as bytes (a `Vec<u8>` would serialize as a sequence).
struct RawBytes<'a>(&'a [u8]);

impl Serialize for Tagged<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Value::Null => s.serialize_unit_variant(NAME, 0, VARIANTS[0]),
            Value::Bool(b) => s.serialize_newtype_variant(NAME, 1, VARIANTS[1], b),
            Value::Int(i) => s.serialize_newtype_variant(NAME, 2, VARIANTS[2], i),
            Value::UInt(u) => s.serialize_newtype_variant(NAME, 3, VARIANTS[3], u),
            Value::Float(f) => s.serialize_newtype_variant(NAME, 4, VARIANTS[4], f),
            Value::String(v) => s.serialize_newtype_variant(NAME, 5, VARIANTS[5], v),
            Value::Bytes(b) => s.serialize_newtype_variant(NAME, 6, VARIANTS[6], &RawBytes(b)),
            Value::Array(a) => s.serialize_newtype_variant(NAME, 7, VARIANTS[7], &TaggedSeq(a)),
            Value::Map(m) => s.serialize_newtype_variant(NAME, 8, VARIANTS[8], &TaggedMap(m)),
        }
    }
}

impl Serialize for TaggedMap<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in self.0 {
            map.serialize_entry(k, &Tagged(v))?;
        }
        map.end()
    }
}

impl Serialize for TaggedSeq<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for v in self.0 {
            seq.serialize_element(&Tagged(v))?;
        }
        seq.end()
    }
}

impl Serialize for RawBytes<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(self.0)
    }
}

/// Reads a tagged `Value` at the top.
struct TaggedValue(Value);

impl<'de> Deserialize<'de> for TaggedValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        TaggedSeed {
            depth_left: Value::MAX_DEPTH,
        }
        .deserialize(d)
        .map(TaggedValue)
    }
}

fn tagged_map<'de, D: Deserializer<'de>>(d: D) -> Result<ValueMap, D::Error> {
    MapSeed {
        depth_left: Value::MAX_DEPTH,
    }
    .deserialize(d)
}

fn optional_tagged_map<'de, D: Deserializer<'de>>(d: D) -> Result<Option<ValueMap>, D::Error> {
    struct OptionVisitor;

    impl<'de> de::Visitor<'de> for OptionVisitor {
        type Value = Option<ValueMap>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an optional map of tagged values")
        }

        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            tagged_map(d).map(Some)
        }
    }

    d.deserialize_option(OptionVisitor)
}

/// Reads a tagged `Value` that may nest `depth_left` more arrays or maps.
#[derive(Clone, Copy)]
struct TaggedSeed {
    depth_left: usize,
}

impl TaggedSeed {
    fn nested<E: de::Error>(self) -> Result<usize, E> {
        self.depth_left.checked_sub(1).ok_or_else(|| {
            E::custom(format_args!(
                "value nested deeper than {} levels",
                Value::MAX_DEPTH
            ))
        })
    }
}

impl<'de> DeserializeSeed<'de> for TaggedSeed {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_enum(NAME, VARIANTS, self)
    }
}

impl<'de> de::Visitor<'de> for TaggedSeed {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a tagged value")
    }

    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<Value, A::Error> {
        let (index, variant) = data.variant::<u32>()?;
        Ok(match index {
            0 => {
                variant.unit_variant()?;
                Value::Null
            }
            1 => Value::Bool(variant.newtype_variant()?),
            2 => Value::Int(variant.newtype_variant()?),
            3 => Value::from(variant.newtype_variant::<u64>()?),
            4 => Value::Float(variant.newtype_variant()?),
            5 => Value::String(variant.newtype_variant()?),
            6 => Value::Bytes(variant.newtype_variant_seed(BytesSeed)?),
            7 => Value::Array(variant.newtype_variant_seed(SeqSeed {
                depth_left: self.nested()?,
            })?),
            8 => Value::Map(variant.newtype_variant_seed(MapSeed {
                depth_left: self.nested()?,
            })?),
            other => {
                return Err(de::Error::invalid_value(
                    de::Unexpected::Unsigned(other.into()),
                    &"a value tag from 0 to 8",
                ));
            }
        })
    }
}

/// Reads bytes.
struct BytesSeed;

impl<'de> DeserializeSeed<'de> for BytesSeed {
    type Value = Vec<u8>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Vec<u8>, D::Error> {
        d.deserialize_byte_buf(self)
    }
}

impl de::Visitor<'_> for BytesSeed {
    type Value = Vec<u8>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("bytes")
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Vec<u8>, E> {
        Ok(v.to_vec())
    }

    fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<Vec<u8>, E> {
        Ok(v)
    }
}

/// Reads a sequence of tagged values, each nesting at most `depth_left` levels.
struct SeqSeed {
    depth_left: usize,
}

impl<'de> DeserializeSeed<'de> for SeqSeed {
    type Value = Vec<Value>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Vec<Value>, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> de::Visitor<'de> for SeqSeed {
    type Value = Vec<Value>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a sequence of tagged values")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<Value>, A::Error> {
        let seed = TaggedSeed {
            depth_left: self.depth_left,
        };
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(MAX_PREALLOCATION));
        while let Some(item) = seq.next_element_seed(seed)? {
            items.push(item);
        }
        Ok(items)
    }
}

/// Reads a map of tagged values, each nesting at most `depth_left` levels.
struct MapSeed {
    depth_left: usize,
}

impl<'de> DeserializeSeed<'de> for MapSeed {
    type Value = ValueMap;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<ValueMap, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> de::Visitor<'de> for MapSeed {
    type Value = ValueMap;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a map of tagged values")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ValueMap, A::Error> {
        let seed = TaggedSeed {
            depth_left: self.depth_left,
        };
        let mut entries = ValueMap::new();
        while let Some(key) = map.next_key::<String>()? {
            let value = map.next_value_seed(seed)?;
            entries.insert(key, value);
        }
        Ok(entries)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The keys a model writes in JSON, which are all of its fields.
    fn json_keys<T: Serialize>(model: &T) -> Vec<String> {
        match serde_json::to_value(model).unwrap() {
            serde_json::Value::Object(map) => map.keys().cloned().collect(),
            other => panic!("not an object: {other}"),
        }
    }

    #[test]
    fn wire_keys_are_mirrored() {
        // If a model gains a field, this fails until the mirror above (and this
        // list) gain it too.
        let mut event = json_keys(&PluginEvent::new("x"));
        event.sort();
        assert_eq!(
            event,
            [
                "data",
                "eventId",
                "priority",
                "sourcePluginId",
                "targetPluginId",
                "timestamp",
                "type"
            ]
        );
        let mut response = json_keys(&PluginResponse::new(true));
        response.sort();
        assert_eq!(
            response,
            [
                "data",
                "durationMs",
                "error",
                "message",
                "metadata",
                "stackTrace",
                "success",
                "timestamp"
            ]
        );
        let manifest = json_keys(&PluginManifest::new(
            "i",
            "n",
            "v",
            "d",
            PluginRuntimeType::Wasm,
        ));
        assert_eq!(manifest.len(), 17, "{manifest:?}");
    }

    #[test]
    fn depth_is_limited() {
        let pc = PostcardSerializer::new();
        let mut deep = Value::Null;
        for _ in 0..Value::MAX_DEPTH {
            deep = Value::Array(vec![deep]);
        }
        let bytes = pc.serialize_value(&deep).unwrap();
        assert_eq!(pc.deserialize_value(&bytes).unwrap(), deep);
        let deeper = Value::Array(vec![deep]);
        let bytes = pc.serialize_value(&deeper).unwrap();
        let err = pc.deserialize_value(&bytes).unwrap_err();
        assert!(matches!(err, SerializationError::Decode { .. }), "{err}");
        // A hostile message of a million nested arrays fails the same way.
        let hostile = [7u8, 1].repeat(1_000_000);
        assert!(pc.deserialize_value(&hostile).is_err());
    }

    #[test]
    fn tags_are_stable() {
        let pc = PostcardSerializer::new();
        assert_eq!(pc.serialize_value(&Value::Null).unwrap(), [0]);
        assert_eq!(pc.serialize_value(&Value::Bool(true)).unwrap(), [1, 1]);
        assert_eq!(pc.serialize_value(&Value::Int(-1)).unwrap(), [2, 1]);
        assert_eq!(
            pc.serialize_value(&Value::Bytes(vec![9])).unwrap(),
            [6, 1, 9]
        );
        assert!(pc.deserialize_value(&[9]).is_err());
        assert!(pc.deserialize_value(&[0, 0]).is_err(), "trailing byte");
    }
}
