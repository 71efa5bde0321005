//! Precompiled modules: made once, loaded back without compiling, and refused
//! when foreign or tampered.

use plugin_system_core::{Imports, WasmError, WasmRuntimeConfig, WasmValue};
use plugin_system_wasm_run::EngineKind;

use crate::{on_every_engine, runtime};

const ADD: &[u8] = br#"(module (func (export "add") (param i32 i32) (result i32)
    local.get 0 local.get 1 i32.add) (@custom "meta" "x"))"#;

fn precompiled_modules_load_back(kind: EngineKind) {
    let rt = runtime(kind, WasmRuntimeConfig::default());
    let bytes = match rt.precompile(ADD) {
        Ok(bytes) => bytes,
        Err(WasmError::Unsupported { .. }) => {
            assert!(
                !rt.supported_features().precompile,
                "{kind} claims precompile support"
            );
            assert!(matches!(
                rt.load_precompiled(b"x"),
                Err(WasmError::Unsupported { .. })
            ));
            return;
        }
        Err(e) => panic!("{e}"),
    };
    let module = rt.load_precompiled(&bytes).unwrap();
    assert_eq!(module.custom_section("meta"), Some(&b"x"[..]));
    assert_eq!(module.hash(), rt.load_module(ADD).unwrap().hash());
    let mut i = rt.instantiate(&module, &Imports::new()).unwrap();
    assert_eq!(
        i.call("add", &[WasmValue::I32(1), WasmValue::I32(2)])
            .unwrap(),
        [WasmValue::I32(3)]
    );
    assert_eq!(rt.stats().precompiled_loaded, 1);
}

fn foreign_or_tampered_bytes_are_refused(kind: EngineKind) {
    let rt = runtime(kind, WasmRuntimeConfig::default());
    let Ok(bytes) = rt.precompile(ADD) else {
        return;
    };
    // Another runtime holds another key: its bytes are foreign here.
    let other = runtime(kind, WasmRuntimeConfig::default());
    assert!(matches!(
        other.load_precompiled(&bytes),
        Err(WasmError::Precompiled { .. })
    ));
    for at in [0, 8, bytes.len() / 2, bytes.len() - 1] {
        let mut tampered = bytes.clone();
        tampered[at] ^= 0x40;
        let r = rt.load_precompiled(&tampered);
        assert!(
            matches!(r, Err(WasmError::Precompiled { .. })),
            "byte {at}: {:?}",
            r.err()
        );
    }
    for junk in [&b""[..], b"\0asm\x01\0\0\0", &[0u8; 100]] {
        assert!(matches!(
            rt.load_precompiled(junk),
            Err(WasmError::Precompiled { .. })
        ));
    }
    assert!(rt.load_precompiled(&bytes).is_ok(), "the runtime goes on");
}

/// The embedded module is under the tag with the artifact: changed, it is
/// refused before anything parses it.
fn the_embedded_module_is_sealed_with_the_artifact(kind: EngineKind) {
    let rt = runtime(kind, WasmRuntimeConfig::default());
    let Ok(mut bytes) = rt.precompile(ADD) else {
        return;
    };
    // `len | wasm | ...`: the module made unparsable.
    bytes[8..12].copy_from_slice(b"junk");
    let refused = rt.load_precompiled(&bytes).map(drop).expect_err("refused");
    assert!(
        refused.to_string().contains("signature does not match"),
        "{refused}"
    );
}

on_every_engine!(
    precompiled_modules_load_back,
    foreign_or_tampered_bytes_are_refused,
    the_embedded_module_is_sealed_with_the_artifact
);
