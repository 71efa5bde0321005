//! A response's `data` is checked when the response is read and decoded only
//! when first used ([`ResponseData`]): the check must accept exactly what
//! decoding the whole response at once accepts, so that a bad reply is still
//! refused at once and a later read never fails. Each case is compared with
//! the eager reading (`PluginResponse`'s own `Deserialize`) on the same bytes.

use plugin_system_core::{PluginResponse, PluginSerializer, ResponseData, Value, ValueMap};
use plugin_system_wasm::{JsonSerializer, MessagePackSerializer};
use proptest::prelude::*;

use crate::strategies::{Floats, response, value_map};

/// The whole response read at once, as before data was left undecoded, with
/// the serializer's own rules around it (an object at the top).
fn eager_json(bytes: &[u8]) -> Option<PluginResponse> {
    let object = bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
    object.then(|| serde_json::from_slice::<PluginResponse>(bytes).ok())?
}

/// As [`eager_json`]: a map at the top, and nothing after the message.
fn eager_msgpack(bytes: &[u8]) -> Option<PluginResponse> {
    if !matches!(bytes.first(), Some(0x80..=0x8f | 0xde | 0xdf)) {
        return None;
    }
    let mut de = rmp_serde::Deserializer::new(bytes);
    de.set_max_depth(2 * Value::MAX_DEPTH);
    let response = serde::Deserialize::deserialize(&mut de).ok()?;
    de.into_inner().is_empty().then_some(response)
}

/// Reads `bytes` both ways and asserts they agree: refused by both, or
/// accepted by both with the same response, the lazy data decoding cleanly.
fn agree(serializer: &dyn PluginSerializer, eager: Option<PluginResponse>, bytes: &[u8]) {
    let failures = ResponseData::decode_failures();
    let lazy = serializer.deserialize_response(bytes);
    match (&lazy, &eager) {
        (Ok(lazy), Some(eager)) => {
            assert!(
                !lazy.data.is_decoded() || lazy.data.raw().is_none(),
                "data left raw until read"
            );
            assert_eq!(lazy, eager, "{bytes:02x?}");
        }
        (Err(_), None) => {}
        (lazy, eager) => panic!(
            "the lazy read gave {lazy:?}, the eager one {eager:?}, on {:?}",
            String::from_utf8_lossy(bytes)
        ),
    }
    assert_eq!(
        ResponseData::decode_failures(),
        failures,
        "checked data failed to decode"
    );
}

fn json(bytes: &[u8]) {
    agree(&JsonSerializer::new(), eager_json(bytes), bytes);
}

fn msgpack(bytes: &[u8]) {
    agree(&MessagePackSerializer::new(), eager_msgpack(bytes), bytes);
}

/// `levels` arrays nested in each other around a 1, as JSON.
fn nested_json(levels: usize) -> String {
    format!("{}1{}", "[".repeat(levels), "]".repeat(levels))
}

#[test]
fn json_data_edge_cases_agree_with_the_eager_reading() {
    let cases = [
        r#"{"success":true}"#.to_owned(),
        r#"{"success":true,"data":null}"#.to_owned(),
        r#"{"success":true,"data":{}}"#.to_owned(),
        r#"{"success":true,"data":{"a":1,"b":[true,null,"x"],"c":{"d":-2.5}}}"#.to_owned(),
        r#"{"success":true,"data":"text"}"#.to_owned(),
        r#"{"success":true,"data":[1,2]}"#.to_owned(),
        r#"{"success":true,"data":7}"#.to_owned(),
        // Numbers the eager reading refuses or keeps in their own way.
        r#"{"success":true,"data":{"big":1e400}}"#.to_owned(),
        r#"{"success":true,"data":{"u":18446744073709551615,"over":18446744073709551616}}"#
            .to_owned(),
        r#"{"success":true,"data":{"neg":-9223372036854775809}}"#.to_owned(),
        // Escapes: a pair, a lone surrogate, a bad escape.
        r#"{"success":true,"data":{"s":"\ud83d\ude00"}}"#.to_owned(),
        r#"{"success":true,"data":{"s":"\ud800"}}"#.to_owned(),
        r#"{"success":true,"data":{"s":"\q"}}"#.to_owned(),
        // Depth: the deepest value data may hold, and one level more.
        format!(
            r#"{{"success":true,"data":{{"d":{}}}}}"#,
            nested_json(Value::MAX_DEPTH - 1)
        ),
        format!(
            r#"{{"success":true,"data":{{"d":{}}}}}"#,
            nested_json(Value::MAX_DEPTH)
        ),
        // Twice `data`, and a syntax error inside it.
        r#"{"success":true,"data":{},"data":{}}"#.to_owned(),
        r#"{"success":true,"data":{"a":}}"#.to_owned(),
        r#"{"success":true,"data":{"a":1,}}"#.to_owned(),
        r#"{"success":true, "data" : { "spaced" : [ 1 , 2 ] } , "message":"m"}"#.to_owned(),
    ];
    for case in &cases {
        json(case.as_bytes());
    }
    // Invalid UTF-8 inside a string of data.
    json(b"{\"success\":true,\"data\":{\"s\":\"\xff\"}}");
}

#[test]
fn msgpack_data_edge_cases_agree_with_the_eager_reading() {
    let mp = MessagePackSerializer::new();
    let good = mp
        .serialize_response(&PluginResponse::success(
            [(
                "a".to_owned(),
                Value::from(vec![Value::from(1), Value::from("x")]),
            )]
            .into(),
        ))
        .unwrap();
    msgpack(&good);
    // {"success": true, "data": X} for X below.
    let with_data = |data: &[u8]| {
        let mut bytes = vec![0x82, 0xa7];
        bytes.extend_from_slice(b"success");
        bytes.push(0xc3);
        bytes.push(0xa4);
        bytes.extend_from_slice(b"data");
        bytes.extend_from_slice(data);
        bytes
    };
    let cases: Vec<Vec<u8>> = vec![
        with_data(&[0xc0]),                                     // nil
        with_data(&[0x80]),                                     // {}
        with_data(&[0xa1, b'x']),                               // a string
        with_data(&[0x91, 0x01]),                               // [1]
        with_data(&[0x81, 0x01, 0x02]), // {1: 2}: a top key that is no string
        with_data(&[0x81, 0xa1, b'k', 0x81, 0x01, 0x02]), // {"k": {1: 2}}: nested, allowed
        with_data(&[0x81, 0xa1, b'k', 0x81, 0x91, 0x01, 0x02]), // {"k": {[1]: 2}}
        with_data(&[0x81, 0xc4, 0x01, b'k', 0x01]), // {bin "k": 1}
        with_data(&[0x81, 0xc4, 0x01, 0xff, 0x01]), // {bin 0xff: 1}
        with_data(&[0x81, 0xa1, 0xff, 0x01]), // a key that is not UTF-8
        with_data(&[0x81, 0xa1, b'k', 0xa1, 0xff]), // a value that is not UTF-8
        with_data(&[0x81, 0xa1, b'k', 0xd4, 0x01, 0x02]), // fixext 1
        with_data(&[
            0x81, 0xa1, b'k', 0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        ]),
        with_data(&[0x81, 0xa1, b'k', 0xca, 0x3f, 0x80, 0, 0]), // float32
        with_data(&[0x81, 0xa1, b'k', 0xc1]),                   // a reserved byte
        with_data(&[0x81, 0xa1, b'k']),                         // cut short
        // `data` under its field index, and twice.
        vec![
            0x82, 0xa7, b's', b'u', b'c', b'c', b'e', b's', b's', 0xc3, 0x01, 0x81, 0xa1, b'k',
            0x01,
        ],
        {
            let mut bytes = with_data(&[0x80]);
            bytes[0] = 0x83;
            bytes.extend_from_slice(&[0xa4, b'd', b'a', b't', b'a', 0x80]);
            bytes
        },
        // str8 key "data"
        vec![
            0x82, 0xa7, b's', b'u', b'c', b'c', b'e', b's', b's', 0xc3, 0xd9, 4, b'd', b'a', b't',
            b'a', 0x81, 0xa1, b'k', 0x07,
        ],
    ];
    for case in &cases {
        msgpack(case);
    }
    // Depth: the deepest value data may hold, and one level more.
    for levels in [Value::MAX_DEPTH - 1, Value::MAX_DEPTH] {
        let mut nested = vec![0x81, 0xa1, b'd'];
        nested.extend(std::iter::repeat_n(0x91, levels));
        nested.push(0x01);
        msgpack(&with_data(&nested));
    }
}

#[test]
fn raw_data_is_the_plugins_bytes_until_changed() {
    let json = JsonSerializer::new();
    let mut response = json
        .deserialize_response(br#"{"success":true,"data": {"n":1}}"#)
        .unwrap();
    assert!(!response.data.is_decoded());
    let (bytes, format) = response.data.raw().unwrap();
    assert_eq!((bytes, format), (&br#"{"n":1}"#[..], json.format()));
    assert_eq!(response.get("n"), Some(&Value::from(1)));
    assert!(response.data.raw().is_some(), "reading keeps the bytes");
    response.data.insert("m".to_owned(), Value::from(2));
    assert!(response.data.raw().is_none(), "a change drops them");
    let back = json.deserialize_response(&json.serialize_response(&response).unwrap());
    assert_eq!(
        back.unwrap().data,
        ValueMap::from([
            ("m".to_owned(), Value::from(2)),
            ("n".to_owned(), Value::from(1)),
        ])
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn written_responses_read_back_both_ways(r in response(Floats::Finite)) {
        let json_bytes = JsonSerializer::new().serialize_response(&r).unwrap();
        json(&json_bytes);
        let msgpack_bytes = MessagePackSerializer::new().serialize_response(&r).unwrap();
        msgpack(&msgpack_bytes);
    }

    #[test]
    fn damaged_responses_agree(
        data in value_map(Floats::Finite),
        cut in any::<prop::sample::Index>(),
        flip in any::<prop::sample::Index>(),
        byte in any::<u8>(),
    ) {
        let r = PluginResponse::success(data);
        for (serializer, eager) in [
            (&JsonSerializer::new() as &dyn PluginSerializer, eager_json as fn(&[u8]) -> _),
            (&MessagePackSerializer::new(), eager_msgpack),
        ] {
            let mut bytes = serializer.serialize_response(&r).unwrap();
            let at = flip.index(bytes.len());
            bytes[at] = byte;
            agree(serializer, eager(&bytes), &bytes);
            let short = &bytes[..cut.index(bytes.len())];
            agree(serializer, eager(short), short);
        }
    }
}
