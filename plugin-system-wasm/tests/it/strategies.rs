//! proptest strategies for the models, and what JSON makes of them.

use plugin_system_core::{
    PluginEvent, PluginManifest, PluginResponse, PluginRuntimeType, Timestamp, Value, ValueMap,
};
use proptest::{collection, option, prelude::*};

/// Whether floats may be NaN or infinite (not in JSON).
#[derive(Clone, Copy)]
pub(crate) enum Floats {
    Any,
    Finite,
}

fn float(floats: Floats) -> impl Strategy<Value = f64> {
    any::<f64>().prop_map(move |f| match floats {
        Floats::Finite if !f.is_finite() => 0.5,
        _ => f,
    })
}

/// Any string, unicode included, biased towards short ones.
pub(crate) fn string() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z._-]{0,12}",
        any::<String>(),
        Just("ünïcødé ✓ 🦀 \u{0} \"quoted\" \\ \n".to_owned()),
    ]
}

pub(crate) fn value(floats: Floats) -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::Int),
        prop_oneof![Just(i64::MIN), Just(i64::MAX), Just(-1i64), Just(0i64)].prop_map(Value::Int),
        ((i64::MAX as u64 + 1)..=u64::MAX).prop_map(Value::UInt),
        float(floats).prop_map(Value::Float),
        string().prop_map(Value::String),
        collection::vec(any::<u8>(), 0..24).prop_map(Value::Bytes),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            collection::btree_map(string(), inner, 0..6).prop_map(Value::Map),
        ]
    })
}

pub(crate) fn value_map(floats: Floats) -> impl Strategy<Value = ValueMap> {
    collection::btree_map(string(), value(floats), 0..5)
}

pub(crate) fn timestamp() -> impl Strategy<Value = Timestamp> {
    prop_oneof![
        any::<i64>(),
        // Around now, in milliseconds or microseconds.
        (1_600_000_000_000i64..1_900_000_000_000).prop_map(|ms| ms * 1000),
        1_600_000_000_000_000i64..1_900_000_000_000_000,
    ]
    .prop_map(Timestamp::from_micros)
}

pub(crate) fn event(floats: Floats) -> impl Strategy<Value = PluginEvent> {
    (
        string(),
        option::of(string()),
        value_map(floats),
        option::of(timestamp()),
        option::of(string()),
        any::<i64>(),
        option::of(string()),
    )
        .prop_map(|(ty, target, data, timestamp, source, priority, id)| {
            let mut e = PluginEvent::new(ty).with_data(data).with_priority(priority);
            e.target_plugin_id = target;
            e.timestamp = timestamp;
            e.source_plugin_id = source;
            e.event_id = id;
            e
        })
}

pub(crate) fn response(floats: Floats) -> impl Strategy<Value = PluginResponse> {
    (
        any::<bool>(),
        value_map(floats),
        option::of(string()),
        option::of(string()),
        option::of(string()),
        option::of(timestamp()),
        option::of(any::<u64>()),
        option::of(value_map(floats)),
    )
        .prop_map(
            |(success, data, message, error, stack, timestamp, duration, metadata)| {
                let mut r = PluginResponse::new(success);
                r.data = data;
                r.message = message;
                r.error = error;
                r.stack_trace = stack;
                r.timestamp = timestamp;
                r.duration_ms = duration;
                r.metadata = metadata;
                r
            },
        )
}

fn strings() -> impl Strategy<Value = Vec<String>> {
    collection::vec(string(), 0..4)
}

pub(crate) fn manifest(floats: Floats) -> impl Strategy<Value = PluginManifest> {
    let runtime = prop_oneof![
        Just(PluginRuntimeType::Wasm),
        Just(PluginRuntimeType::Native),
        Just(PluginRuntimeType::Script),
    ];
    (
        (string(), string(), string(), string(), runtime),
        (
            option::of(string()),
            option::of(string()),
            option::of(string()),
            option::of(string()),
        ),
        (strings(), strings(), strings(), strings()),
        (
            option::of(value_map(floats)),
            option::of(string()),
            option::of(string()),
            option::of(value_map(floats)),
        ),
    )
        .prop_map(
            |(
                (id, name, version, description, runtime),
                (author, homepage, repository, license),
                (dependencies, required, provided, subscribes),
                (schema, min, max, metadata),
            )| {
                let mut m = PluginManifest::new(id, name, version, description, runtime);
                m.author = author;
                m.homepage = homepage;
                m.repository = repository;
                m.license = license;
                m.dependencies = dependencies;
                m.config_schema = schema;
                m.required_host_functions = required;
                m.provided_events = provided;
                m.subscribes_to = subscribes;
                m.min_host_version = min;
                m.max_host_version = max;
                m.metadata = metadata;
                m
            },
        )
}

/// What a value reads back as after JSON: bytes become arrays of numbers.
pub(crate) fn through_json(value: &Value) -> Value {
    match value {
        Value::Bytes(b) => Value::Array(b.iter().map(|&x| Value::from(x)).collect()),
        Value::Array(a) => Value::Array(a.iter().map(through_json).collect()),
        Value::Map(m) => Value::Map(map_through_json(m)),
        other => other.clone(),
    }
}

pub(crate) fn map_through_json(map: &ValueMap) -> ValueMap {
    map.iter()
        .map(|(k, v)| (k.clone(), through_json(v)))
        .collect()
}
