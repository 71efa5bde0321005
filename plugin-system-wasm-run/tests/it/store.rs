//! Stores of several instances: WebAssembly linking, where a later instance
//! imports an earlier one's memory, table, global or function.

use std::sync::Arc;

use plugin_system_core::{
    Extern, Imports, InstanceHandle, WasmError, WasmModule, WasmRuntime, WasmRuntimeConfig,
    WasmStore, WasmValue,
};
use plugin_system_wasm_run::EngineKind;

use crate::{on_every_engine, runtime};

const PROVIDER: &[u8] = br#"(module
    (memory (export "mem") 1)
    (table (export "tab") 2 funcref)
    (global (export "count") (mut i32) (i32.const 1))
    (func $seven (export "seven") (result i32) i32.const 7)
    (elem (i32.const 0) $seven)
    (func (export "peek") (result i32) i32.const 100 i32.load))"#;

const USER: &[u8] = br#"(module
    (import "p" "mem" (memory 1))
    (import "p" "tab" (table 2 funcref))
    (import "p" "count" (global $count (mut i32)))
    (import "p" "seven" (func $seven (result i32)))
    (type $t (func (result i32)))
    (func (export "poke") (param i32) i32.const 100 local.get 0 i32.store)
    (func (export "bump") (result i32)
        (global.set $count (i32.add (global.get $count) (i32.const 1)))
        global.get $count)
    (func (export "via_table") (result i32) i32.const 0 call_indirect (type $t))
    (func (export "direct") (result i32) call $seven))"#;

fn exports_of(provider: InstanceHandle) -> Imports {
    let mut imports = Imports::new();
    for name in ["mem", "tab", "count", "seven"] {
        imports.define(
            "p",
            name,
            Extern::Export {
                instance: provider,
                name: name.into(),
            },
        );
    }
    imports
}

/// A store holding the provider, with the user module ready to link to it.
fn provider_in_a_store(
    rt: &Arc<dyn WasmRuntime>,
) -> (Box<dyn WasmStore>, InstanceHandle, Arc<dyn WasmModule>) {
    let provider_module = rt.load_module(PROVIDER).unwrap();
    let user_module = rt.load_module(USER).unwrap();
    let mut store = rt.new_store().unwrap();
    let p = store
        .instantiate(&provider_module, &Imports::new())
        .unwrap();
    (store, p, user_module)
}

fn instances_share_what_they_link(kind: EngineKind) {
    let rt = runtime(kind, WasmRuntimeConfig::default());
    let (mut store, p, user_module) = provider_in_a_store(&rt);
    let u = store.instantiate(&user_module, &exports_of(p)).unwrap();
    assert_ne!(p, u);
    assert_eq!(rt.stats().instances_active, 2);

    let user = store.instance(u).unwrap();
    user.call("poke", &[WasmValue::I32(42)]).unwrap();
    assert_eq!(user.call("bump", &[]).unwrap(), [WasmValue::I32(2)]);
    assert_eq!(user.call("via_table", &[]).unwrap(), [WasmValue::I32(7)]);
    assert_eq!(user.call("direct", &[]).unwrap(), [WasmValue::I32(7)]);
    assert!(
        user.memory().is_none(),
        "the user imports the memory, it exports none"
    );

    let provider = store.instance(p).unwrap();
    assert_eq!(
        provider.call("peek", &[]).unwrap(),
        [WasmValue::I32(42)],
        "one memory"
    );
    assert_eq!(
        provider.global("count").unwrap(),
        WasmValue::I32(2),
        "one global"
    );
    assert!(provider.func("poke").is_err(), "the provider has no `poke`");
    assert_eq!(provider.memory().unwrap().read_u32(100).unwrap(), 42);

    let bad = store.instance(InstanceHandle::from_index(9));
    assert!(matches!(bad, Err(WasmError::InstanceNotFound { .. })));
    drop(store);
    assert_eq!(rt.stats().instances_active, 0);
}

fn links_to_missing_exports_fail(kind: EngineKind) {
    let rt = runtime(kind, WasmRuntimeConfig::default());
    let (mut store, p, user_module) = provider_in_a_store(&rt);

    let mut missing = exports_of(p);
    missing.define(
        "p",
        "seven",
        Extern::Export {
            instance: p,
            name: "eight".into(),
        },
    );
    let r = store.instantiate(&user_module, &missing);
    assert!(
        matches!(&r, Err(WasmError::Link { message }) if message.contains("p::seven")),
        "{r:?}"
    );

    let nowhere = exports_of(InstanceHandle::from_index(5));
    assert!(matches!(
        store.instantiate(&user_module, &nowhere),
        Err(WasmError::Link { .. })
    ));

    let mut wrong_kind = exports_of(p);
    wrong_kind.define(
        "p",
        "seven",
        Extern::Export {
            instance: p,
            name: "mem".into(),
        },
    );
    assert!(matches!(
        store.instantiate(&user_module, &wrong_kind),
        Err(WasmError::Link { .. })
    ));

    let alone = rt.instantiate(&user_module, &exports_of(p));
    assert!(
        matches!(alone, Err(WasmError::Link { .. })),
        "no store to refer to: {:?}",
        alone.err()
    );

    assert!(
        store.instantiate(&user_module, &exports_of(p)).is_ok(),
        "the store goes on"
    );
}

on_every_engine!(
    instances_share_what_they_link,
    links_to_missing_exports_fail
);
