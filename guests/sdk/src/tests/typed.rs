//! Typed payloads: event data read as a serde type
//! ([`PluginEvent::data_as`]), answers written from one
//! ([`PluginResponse::success_from`]), and host calls with typed arguments
//! and results ([`Value::from_serialize`], [`Value::deserialize_into`]), in
//! JSON and in MessagePack.

use serde::{Deserialize, Serialize};

use crate::abi::live_buffers;
use crate::prelude::*;
use crate::testing::{self, Harness};

/// The data of `add`.
#[derive(Deserialize)]
struct Add {
    title: String,
    #[serde(default)]
    tags: Vec<String>,
}

/// The data of `attach`: bytes, which MessagePack carries as bytes and JSON
/// as an array of numbers.
#[derive(Deserialize)]
struct Attach {
    content: Vec<u8>,
}

/// The answer to `add`.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Added {
    id: u32,
    title: String,
    tags: Vec<String>,
}

/// What the host function `test.lookup` takes and answers.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Lookup {
    key: String,
    value: Option<i64>,
}

#[derive(Default)]
struct Notes {
    next_id: u32,
}

impl Plugin for Notes {
    fn manifest() -> PluginManifest {
        PluginManifest::wasm("plugin.notes", "Notes", "1.0.0", "Takes notes")
    }

    fn handle_event(&mut self, event: PluginEvent) -> Result<PluginResponse, Error> {
        match event.event_type.as_str() {
            "add" => {
                let Add { title, tags } = event.data_as()?;
                self.next_id += 1;
                Ok(PluginResponse::success_from(&Added {
                    id: self.next_id,
                    title,
                    tags,
                })?)
            }
            "attach" => {
                let Attach { content } = event.data_as()?;
                Ok(PluginResponse::ok().with_field("size", content.len()))
            }
            "lookup" => {
                let args = Lookup {
                    key: event.data_as::<Add>()?.title,
                    value: None,
                };
                let found: Lookup =
                    host::call("test.lookup", Value::from_serialize(&args)?)?.deserialize_into()?;
                Ok(PluginResponse::success_from(&found)?)
            }
            "not_a_map" => Ok(PluginResponse::success_from(&[1, 2, 3])?),
            other => bail!("unsupported event type: {other}"),
        }
    }
}

export_plugin!(Notes);

/// `Notes`, in MessagePack.
#[derive(Default)]
struct PackedNotes(Notes);

impl Plugin for PackedNotes {
    fn manifest() -> PluginManifest {
        PluginManifest::wasm("plugin.packed-notes", "Notes", "1.0.0", "Takes notes")
    }

    fn handle_event(&mut self, event: PluginEvent) -> Result<PluginResponse, Error> {
        self.0.handle_event(event)
    }
}

export_plugin!(PackedNotes, format = msgpack);

fn typed_payloads_round_trip<P: crate::__private::Exported>() {
    let plugin = Harness::<P>::new();
    let event = PluginEvent::new("add")
        .with_field("title", "groceries")
        .with_field("tags", Value::from_iter(["home"]));
    let response = plugin.handle(&event).unwrap();
    assert!(response.success);
    let added: Added = response.data_as().unwrap();
    assert_eq!(
        added,
        Added {
            id: 1,
            title: "groceries".to_owned(),
            tags: vec!["home".to_owned()],
        }
    );
    // The same answer as one built by hand.
    let by_hand = PluginResponse::ok()
        .with_field("id", 2)
        .with_field("title", "x")
        .with_field("tags", Value::Array(Vec::new()));
    let response = plugin
        .handle(&PluginEvent::new("add").with_field("title", "x"))
        .unwrap();
    assert_eq!(response.data, by_hand.data);

    // A mismatch names the event, the type and the field.
    let err = plugin
        .handle(&PluginEvent::new("add").with_field("title", 5))
        .unwrap_err();
    assert_eq!(
        err,
        format!(
            "cannot read the data of event `add` as `{}`: invalid type: integer `5`, \
             expected a string at `title`",
            std::any::type_name::<Add>()
        )
    );
    let err = plugin.handle(&PluginEvent::new("add")).unwrap_err();
    assert!(err.ends_with(": missing field `title`"), "{err}");

    // Data that is not a map is an error, not a panic.
    let err = plugin.handle(&PluginEvent::new("not_a_map")).unwrap_err();
    assert_eq!(
        err,
        "cannot make the data of a response from `[i32; 3]`: it must be a map, not an array"
    );

    // Bytes read as a Vec<u8> whether they come as bytes or as numbers.
    for content in [Value::Bytes(vec![1, 2, 3]), Value::from_iter([1, 2, 3])] {
        let response = plugin
            .handle(&PluginEvent::new("attach").with_field("content", content))
            .unwrap();
        assert_eq!(response.get("size"), Some(&Value::from(3)));
    }

    // Host calls with typed arguments and results.
    testing::mock_host(|name, args| {
        assert_eq!(name, "test.lookup");
        let mut lookup: Lookup = args
            .deserialize_into()
            .map_err(|e| HostCallError::BadArguments(e.to_string()))?;
        lookup.value = Some(lookup.key.len() as i64);
        Ok(Value::from_serialize(&lookup).unwrap())
    });
    let response = plugin
        .handle(&PluginEvent::new("lookup").with_field("title", "four"))
        .unwrap();
    assert_eq!(
        response.data_as::<Lookup>().unwrap(),
        Lookup {
            key: "four".to_owned(),
            value: Some(4),
        }
    );
    testing::mock_host(|_, _| Ok(Value::from("not a lookup")));
    let err = plugin
        .handle(&PluginEvent::new("lookup").with_field("title", "four"))
        .unwrap_err();
    assert!(
        err.starts_with("cannot read a string as `") && err.contains("expected struct Lookup"),
        "{err}"
    );
    testing::clear_host();
    assert_eq!(live_buffers(), 0);
}

#[test]
fn typed_payloads_in_json() {
    typed_payloads_round_trip::<Notes>();
}

#[test]
fn typed_payloads_in_msgpack() {
    typed_payloads_round_trip::<PackedNotes>();
}

#[test]
fn the_stamping_constructors_work_natively() {
    // They leave the timestamp out only on wasm32-unknown-unknown, which has
    // no clock; natively they stamp.
    assert!(PluginResponse::success(ValueMap::new()).timestamp.is_some());
    assert!(PluginResponse::error("no").timestamp.is_some());
    assert!(PluginEvent::now("tick").timestamp.is_some());
    assert!(
        PluginResponse::success_from(&ValueMap::new())
            .unwrap()
            .timestamp
            .is_some()
    );
    // The SDK's own never do, on any target.
    assert!(PluginResponse::ok().timestamp.is_none());
}
