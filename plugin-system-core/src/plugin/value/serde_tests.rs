//! `Value::from_serialize` and `Value::deserialize_into` against serde's data
//! model: every shape goes in and comes back out, and every mismatch names its
//! field.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize, Serializer, de};

use super::*;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Unit;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Meters(f64);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Pair(i32, String);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum Shape {
    Empty,
    Circle(f64),
    Segment(i32, i32),
    Rect { w: u32, h: u32 },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
enum Tagged {
    Opened { path: String },
    Closed,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
enum Either {
    Number(i64),
    Text(String),
}

/// Bytes that serialize as bytes, as `serde_bytes::ByteBuf` does.
#[derive(Debug, Clone, PartialEq)]
struct ByteBuf(Vec<u8>);

impl Serialize for ByteBuf {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(&self.0)
    }
}

impl<'de> Deserialize<'de> for ByteBuf {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct BytesVisitor;
        impl<'de> Visitor<'de> for BytesVisitor {
            type Value = ByteBuf;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("bytes")
            }
            fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<ByteBuf, E> {
                Ok(ByteBuf(v.to_vec()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ByteBuf, A::Error> {
                let mut out = Vec::new();
                while let Some(b) = seq.next_element()? {
                    out.push(b);
                }
                Ok(ByteBuf(out))
            }
        }
        deserializer.deserialize_byte_buf(BytesVisitor)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Everything {
    flag: bool,
    small: i8,
    big: u64,
    wide: i128,
    ratio: f32,
    letter: char,
    name: String,
    nothing: Option<u8>,
    something: Option<u8>,
    unit: (),
    unit_struct: Unit,
    newtype: Meters,
    tuple: (u8, String),
    tuple_struct: Pair,
    shapes: Vec<Shape>,
    tagged: Vec<Tagged>,
    either: Vec<Either>,
    numbered: BTreeMap<u32, String>,
    flags: HashMap<bool, u8>,
    by_shape: BTreeMap<Kind, u8>,
    numbers: Vec<u8>,
    bytes: ByteBuf,
    nested: Vec<Vec<BTreeMap<String, i64>>>,
    #[serde(flatten)]
    extra: BTreeMap<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
enum Kind {
    Square,
    Round,
}

fn everything() -> Everything {
    Everything {
        flag: true,
        small: -8,
        big: u64::MAX,
        wide: -5,
        ratio: 0.5,
        letter: 'é',
        name: "ünïcödé".to_owned(),
        nothing: None,
        something: Some(3),
        unit: (),
        unit_struct: Unit,
        newtype: Meters(1.5),
        tuple: (7, "seven".to_owned()),
        tuple_struct: Pair(-1, "minus one".to_owned()),
        shapes: vec![
            Shape::Empty,
            Shape::Circle(2.0),
            Shape::Segment(1, 2),
            Shape::Rect { w: 3, h: 4 },
        ],
        tagged: vec![
            Tagged::Opened {
                path: "a.rs".to_owned(),
            },
            Tagged::Closed,
        ],
        either: vec![Either::Number(1), Either::Text("one".to_owned())],
        numbered: BTreeMap::from([(1, "one".to_owned()), (20, "twenty".to_owned())]),
        flags: HashMap::from([(true, 1), (false, 0)]),
        by_shape: BTreeMap::from([(Kind::Square, 4), (Kind::Round, 0)]),
        numbers: vec![0, 1, 255],
        bytes: ByteBuf(vec![0, 1, 255]),
        nested: vec![vec![BTreeMap::from([("n".to_owned(), -1)])], vec![]],
        extra: BTreeMap::from([("more".to_owned(), Value::from("stuff"))]),
    }
}

fn map(entries: impl IntoIterator<Item = (&'static str, Value)>) -> Value {
    entries.into_iter().collect()
}

#[test]
fn every_shape_goes_in_as_the_wire_formats_write_it() {
    let value = Value::from_serialize(&everything()).unwrap();
    let get = |key: &str| value.get(key).unwrap_or_else(|| panic!("no `{key}`"));
    assert_eq!(get("flag"), &Value::Bool(true));
    assert_eq!(get("small"), &Value::Int(-8));
    assert!(matches!(get("big"), Value::UInt(u64::MAX)));
    assert_eq!(get("wide"), &Value::Int(-5));
    assert_eq!(get("ratio"), &Value::Float(0.5));
    assert_eq!(get("letter"), &Value::from("é"));
    assert_eq!(get("nothing"), &Value::Null);
    assert_eq!(get("something"), &Value::Int(3));
    assert_eq!(get("unit"), &Value::Null);
    assert_eq!(get("unit_struct"), &Value::Null);
    assert_eq!(get("newtype"), &Value::Float(1.5));
    assert_eq!(
        get("tuple"),
        &Value::from_iter([Value::from(7), Value::from("seven")])
    );
    assert_eq!(
        get("shapes"),
        &Value::from_iter([
            Value::from("Empty"),
            map([("Circle", Value::Float(2.0))]),
            map([("Segment", Value::from_iter([1, 2]))]),
            map([("Rect", map([("w", Value::from(3)), ("h", Value::from(4))]))]),
        ])
    );
    assert_eq!(
        get("tagged"),
        &Value::from_iter([
            map([
                ("type", Value::from("opened")),
                ("path", Value::from("a.rs"))
            ]),
            map([("type", Value::from("closed"))]),
        ])
    );
    assert_eq!(
        get("numbered"),
        &map([("1", Value::from("one")), ("20", Value::from("twenty"))])
    );
    assert_eq!(
        get("flags"),
        &map([("true", Value::from(1)), ("false", Value::from(0))])
    );
    assert_eq!(
        get("by_shape"),
        &map([("Square", Value::from(4)), ("Round", Value::from(0))])
    );
    // A Vec<u8> is a sequence to serde; bytes are bytes.
    assert_eq!(get("numbers"), &Value::from_iter([0, 1, 255]));
    assert_eq!(get("bytes"), &Value::Bytes(vec![0, 1, 255]));
    // Flattened entries sit beside the fields.
    assert_eq!(get("more"), &Value::from("stuff"));
    assert!(value.get("extra").is_none());
}

#[test]
fn every_shape_comes_back_out() {
    let original = everything();
    let value = Value::from_serialize(&original).unwrap();
    assert_eq!(
        value.clone().deserialize_into::<Everything>().unwrap(),
        original
    );
    assert_eq!(Everything::deserialize(&value).unwrap(), original);
    // Bytes and arrays of numbers read either way.
    let mut swapped = value;
    let map = swapped.as_map_mut().unwrap();
    let numbers = map.remove("numbers").unwrap();
    let bytes = map.remove("bytes").unwrap();
    map.insert("numbers".to_owned(), bytes);
    map.insert("bytes".to_owned(), numbers);
    assert_eq!(swapped.deserialize_into::<Everything>().unwrap(), original);
}

#[test]
fn a_value_goes_through_unchanged() {
    let value = map([
        ("null", Value::Null),
        ("int", Value::Int(i64::MIN)),
        ("uint", Value::UInt(u64::MAX)),
        ("float", Value::Float(-0.0)),
        ("bytes", Value::Bytes(vec![1, 2])),
        ("array", Value::from_iter([Value::Null, Value::from("s")])),
        ("map", map([("deep", map([]))])),
    ]);
    let again = Value::from_serialize(&value).unwrap();
    assert_eq!(again, value);
    assert!(matches!(again.get("uint"), Some(Value::UInt(u64::MAX))));
    assert_eq!(Value::deserialize(&value).unwrap(), value);
    assert_eq!(value.clone().deserialize_into::<Value>().unwrap(), value);
    assert_eq!(
        Value::from_serialize(&ValueMap::new()).unwrap(),
        Value::Map(ValueMap::new())
    );
}

#[test]
fn numbers_convert_where_serde_allows() {
    assert_eq!(Value::Int(3).deserialize_into::<f64>().unwrap(), 3.0);
    assert_eq!(
        Value::UInt(u64::MAX).deserialize_into::<u128>().unwrap(),
        u128::from(u64::MAX)
    );
    assert_eq!(Value::from("x").deserialize_into::<char>().unwrap(), 'x');
    let err = Value::Int(-1).deserialize_into::<u32>().unwrap_err();
    assert_eq!(err.message(), "invalid value: integer `-1`, expected u32");
    assert_eq!(
        err.to_string(),
        "cannot read an int as `u32`: invalid value: integer `-1`, expected u32"
    );
    let err = Value::Float(1.0).deserialize_into::<i64>().unwrap_err();
    assert_eq!(
        err.message(),
        "invalid type: floating point `1.0`, expected i64"
    );
    // 128-bit integers go in when they fit 64 bits.
    assert_eq!(
        Value::from_serialize(&(u64::MAX as u128)).unwrap(),
        Value::UInt(u64::MAX)
    );
    assert_eq!(
        Value::from_serialize(&i128::from(i64::MIN)).unwrap(),
        Value::Int(i64::MIN)
    );
    let err = Value::from_serialize(&[u128::MAX]).unwrap_err();
    assert_eq!(err.path(), "[0]");
    assert!(err.message().contains("does not fit 64 bits"), "{err}");
    assert_eq!(
        Value::from_serialize(&f32::NAN).unwrap(),
        Value::Float(f64::from(f32::NAN))
    );
}

/// `everything()` with one change, read back: the error.
fn broken(change: impl FnOnce(&mut ValueMap)) -> ValueError {
    let mut value = Value::from_serialize(&everything()).unwrap();
    change(value.as_map_mut().unwrap());
    Everything::deserialize(&value).unwrap_err()
}

#[test]
fn mismatches_name_the_field() {
    let err = broken(|m| {
        m.get_mut("nested").unwrap().as_array_mut().unwrap()[0]
            .as_array_mut()
            .unwrap()[0]
            .as_map_mut()
            .unwrap()
            .insert("n".to_owned(), Value::from("minus one"));
    });
    assert_eq!(err.path(), "nested[0][0].n");
    assert_eq!(
        err.message(),
        "invalid type: string \"minus one\", expected i64"
    );
    assert_eq!(
        err.to_string(),
        "invalid type: string \"minus one\", expected i64 at `nested[0][0].n`"
    );

    let err = broken(|m| {
        m.get_mut("shapes").unwrap().as_array_mut().unwrap()[3] =
            map([("Rect", map([("w", Value::from(3))]))]);
    });
    assert_eq!(
        (err.path(), err.message()),
        ("shapes[3].Rect", "missing field `h`")
    );

    let err = broken(|m| {
        m.get_mut("shapes").unwrap().as_array_mut().unwrap()[3] =
            map([("Rect", Value::Null), ("Circle", Value::Null)]);
    });
    assert_eq!(err.path(), "shapes[3]");
    assert_eq!(
        err.message(),
        "invalid type: map, expected a string or a map with one entry (an enum variant)"
    );

    // A key that is not the number the type wants.
    let err = broken(|m| {
        m.get_mut("numbered")
            .unwrap()
            .as_map_mut()
            .unwrap()
            .insert("two".to_owned(), Value::from("2"));
    });
    assert_eq!(err.path(), "numbered.two");
    assert_eq!(err.message(), "invalid type: string \"two\", expected u32");

    // Null is called null.
    let err = broken(|m| {
        m.insert("name".to_owned(), Value::Null);
    });
    assert_eq!(
        (err.path(), err.message()),
        ("name", "invalid type: null, expected a string")
    );
    let err = broken(|m| {
        m.insert("tuple".to_owned(), Value::Null);
    });
    assert_eq!(
        err.message(),
        "invalid type: null, expected a tuple of size 2"
    );

    // The type is named where the typed methods report it.
    let mut value = Value::from_serialize(&everything()).unwrap();
    value.as_map_mut().unwrap().remove("flag");
    let err = value.deserialize_into::<Everything>().unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "cannot read a map as `{}`: missing field `flag`",
            std::any::type_name::<Everything>()
        )
    );
}

#[test]
fn a_unit_variant_is_a_string_or_carries_nothing() {
    assert_eq!(
        Value::from("Empty").deserialize_into::<Shape>().unwrap(),
        Shape::Empty
    );
    assert_eq!(
        map([("Empty", Value::Null)])
            .deserialize_into::<Shape>()
            .unwrap(),
        Shape::Empty
    );
    let err = map([("Empty", Value::from(1))])
        .deserialize_into::<Shape>()
        .unwrap_err();
    assert_eq!(
        (err.path(), err.message()),
        ("Empty", "invalid type: integer `1`, expected unit variant")
    );
    let err = Value::from("Circle")
        .deserialize_into::<Shape>()
        .unwrap_err();
    assert_eq!(
        err.message(),
        "invalid type: unit variant, expected newtype variant"
    );
    let err = Value::from("Nope").deserialize_into::<Shape>().unwrap_err();
    assert!(err.message().starts_with("unknown variant `Nope`"), "{err}");
}

#[test]
fn too_many_elements_are_an_error() {
    let err = Value::from_iter([1, 2, 3])
        .deserialize_into::<(u8, u8)>()
        .unwrap_err();
    assert_eq!(
        err.message(),
        "invalid length 3, expected fewer elements in the array"
    );
}

/// `depth` arrays nested in each other around a `null`.
fn nested(depth: usize) -> Value {
    (0..depth).fold(Value::Null, |inner, _| Value::Array(vec![inner]))
}

#[derive(Serialize)]
struct Deep {
    inner: Option<Box<Deep>>,
}

fn deep(depth: usize) -> Deep {
    (1..depth).fold(Deep { inner: None }, |inner, _| Deep {
        inner: Some(Box::new(inner)),
    })
}

#[test]
fn what_goes_in_reads_back() {
    // As deep as the deserializer takes, and no deeper.
    assert_eq!(
        Value::from_serialize(&nested(Value::MAX_DEPTH)).unwrap(),
        nested(Value::MAX_DEPTH)
    );
    let err = Value::from_serialize(&nested(Value::MAX_DEPTH + 1)).unwrap_err();
    assert_eq!(err.message(), "value nested deeper than 100 levels");
    assert_eq!(err.path(), "[0]".repeat(Value::MAX_DEPTH));
    // A recursive type stops at the limit, not at the end of its recursion.
    assert!(Value::from_serialize(&deep(Value::MAX_DEPTH)).is_ok());
    let err = Value::from_serialize(&deep(1000)).unwrap_err();
    assert_eq!(err.path(), vec!["inner"; Value::MAX_DEPTH].join("."));
    // Enum variants count their map.
    let shape = vec![Shape::Segment(1, 2)];
    let mut value = Value::from_serialize(&shape).unwrap();
    for _ in 0..Value::MAX_DEPTH - 3 {
        value = Value::Array(vec![value]);
    }
    assert_eq!(Value::from_serialize(&value).unwrap(), value);
    assert!(Value::from_serialize(&Value::Array(vec![value])).is_err());
}

#[test]
fn keys_must_be_scalars() {
    let err = Value::from_serialize(&BTreeMap::from([(vec![1], 1)])).unwrap_err();
    assert_eq!(
        err.message(),
        "a map key must be a string, a number, a boolean or a unit variant, not an array"
    );
    let err = Value::from_serialize(
        &map([("inner", Value::Null)])
            .as_map()
            .map(|m| BTreeMap::from([("outer", BTreeMap::from([(None::<u8>, m.len())]))])),
    )
    .unwrap_err();
    assert_eq!(
        (err.path(), err.message()),
        (
            "outer",
            "a map key must be a string, a number, a boolean or a unit variant, not null"
        )
    );
    struct FloatKeys;
    impl Serialize for FloatKeys {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            serializer.collect_map([(1.5, 'x'), (2.0, 'y')])
        }
    }
    // As the wire's MessagePack float keys read.
    assert_eq!(
        Value::from_serialize(&FloatKeys).unwrap(),
        map([("1.5", Value::from("x")), ("2.0", Value::from("y"))])
    );
}

#[test]
fn a_failing_serialize_is_an_error_with_its_path() {
    struct Fails;
    impl Serialize for Fails {
        fn serialize<S: Serializer>(&self, _serializer: S) -> Result<S::Ok, S::Error> {
            Err(serde::ser::Error::custom("not today"))
        }
    }
    let err = Value::from_serialize(&BTreeMap::from([("a", vec![Fails])])).unwrap_err();
    assert_eq!(err.path(), "a[0]");
    assert_eq!(
        err.to_string(),
        format!(
            "cannot make a value of `{}`: not today at `a[0]`",
            std::any::type_name::<BTreeMap<&str, Vec<Fails>>>()
        )
    );
}

#[test]
fn strings_and_bytes_borrow() {
    #[derive(Deserialize)]
    struct Borrowed<'a> {
        text: &'a str,
        raw: &'a [u8],
    }
    let value = map([
        ("text", Value::from("hello")),
        ("raw", Value::Bytes(vec![1, 2])),
    ]);
    let borrowed = Borrowed::deserialize(&value).unwrap();
    assert_eq!((borrowed.text, borrowed.raw), ("hello", &[1u8, 2][..]));
}
