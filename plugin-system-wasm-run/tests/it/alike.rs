//! Behaviours that differed between the engines, found by reading them side
//! by side: each checked here to be the same on both.

use plugin_system_core::{Imports, TrapCode, WasmError, WasmRuntimeConfig};
use plugin_system_wasm_run::EngineKind;

use crate::{instance, runtime};

const TRAPS: &str = r#"(module
    (func (export "unreachable") unreachable)
    (func (export "div") (result i32) (i32.div_s (i32.const 1) (i32.const 0)))
    (func $deep (export "deep") (call $deep)))"#;

/// The message of a trap, as each engine reports it.
fn trap_message(kind: EngineKind, export: &str) -> (TrapCode, String) {
    let mut i = instance(kind, WasmRuntimeConfig::default(), TRAPS);
    match i.call(export, &[]) {
        Err(WasmError::Trap { code, message }) => (code, message),
        other => panic!("{kind:?} {export}: {other:?}"),
    }
}

#[test]
fn trap_messages_read_alike_without_a_backtrace() {
    for export in ["unreachable", "div"] {
        let wasmtime = trap_message(EngineKind::Wasmtime, export);
        let wasmi = trap_message(EngineKind::Wasmi, export);
        assert_eq!(wasmtime, wasmi, "{export}");
        assert!(!wasmtime.1.contains('\n'), "one line: {:?}", wasmtime.1);
    }
}

#[test]
fn growing_a_missing_memory_is_the_same_error() {
    let errors: Vec<String> = [EngineKind::Wasmtime, EngineKind::Wasmi]
        .into_iter()
        .map(|kind| {
            let mut i = instance(kind, WasmRuntimeConfig::default(), TRAPS);
            assert!(i.memory().is_none());
            let e = i.memory_named("memory").map(drop).unwrap_err();
            assert!(
                matches!(e, WasmError::ExportNotFound { kind: "memory", .. }),
                "{e:?}"
            );
            e.to_string()
        })
        .collect();
    assert_eq!(errors[0], errors[1]);
}

#[test]
fn a_reactor_initializer_is_no_call_and_a_failed_one_makes_no_instance() {
    let reactor = r#"(module
        (global $ready (mut i32) (i32.const 0))
        (func (export "_initialize") (global.set $ready (i32.const 1)))
        (func (export "ready") (result i32) (global.get $ready)))"#;
    let failing = r#"(module (func (export "_initialize") unreachable))"#;
    for kind in [EngineKind::Wasmtime, EngineKind::Wasmi] {
        let rt = runtime(kind, WasmRuntimeConfig::default());
        let module = rt.load_module(reactor.as_bytes()).unwrap();
        let mut i = rt.instantiate(&module, &Imports::new()).unwrap();
        assert_eq!(i.stats().calls, 0, "{kind:?}: the initializer is no call");
        assert_eq!(i.call("ready", &[]).unwrap()[0].as_i32(), Some(1));
        assert_eq!(i.stats().calls, 1, "{kind:?}");
        let created = rt.stats().instances_created;
        let module = rt.load_module(failing.as_bytes()).unwrap();
        assert!(rt.instantiate(&module, &Imports::new()).is_err());
        assert_eq!(
            rt.stats().instances_created,
            created,
            "{kind:?}: a failed initializer makes no instance"
        );
    }
}

#[test]
fn an_externref_the_host_did_not_make_is_a_type_mismatch() {
    // Only a guest with GC can make one (wasmi has no GC: it refuses the
    // module); wasmi reports a foreign externref as this same error.
    let wat = r#"(module
        (func (export "foreign") (result externref)
            (extern.convert_any (ref.i31 (i32.const 5)))))"#;
    let mut i = instance(EngineKind::Wasmtime, WasmRuntimeConfig::default(), wat);
    let r = i.call("foreign", &[]);
    assert!(matches!(r, Err(WasmError::TypeMismatch { .. })), "{r:?}");
    let rt = runtime(EngineKind::Wasmi, WasmRuntimeConfig::default());
    assert!(matches!(
        rt.load_module(wat.as_bytes()),
        Err(WasmError::Unsupported { .. })
    ));
}
