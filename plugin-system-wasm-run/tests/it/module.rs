//! Loading, validating and introspecting modules.

use plugin_system_core::{
    ExternType, FuncType, GlobalType, Imports, MemoryType, ValType, WasmError, WasmRuntimeConfig,
};
use plugin_system_wasm_run::EngineKind;
use sha2::{Digest, Sha256};

use crate::{on_every_engine, runtime, temp_path};

const RICH: &str = r#"(module
    (import "env" "log" (func (param i32 i64)))
    (import "env" "limit" (global i32))
    (memory (export "memory") 1 4)
    (table (export "table") 3 10 funcref)
    (global (export "counter") (mut i64) (i64.const 0))
    (func (export "mix") (param f32 f64) (result i32 v128)
        i32.const 0 v128.const i64x2 0 0)
    (@custom "plugin-meta" "v1")
    (@custom "second" ""))"#;

fn loads_wat_and_binary(kind: EngineKind) {
    let rt = runtime(kind, WasmRuntimeConfig::default());
    let from_text = rt.load_module(RICH.as_bytes()).unwrap();
    let binary = wat::parse_str(RICH).unwrap();
    let from_binary = rt.load_module(&binary).unwrap();
    assert_eq!(from_text.hash(), from_binary.hash());
    assert_eq!(from_binary.size(), binary.len());
    assert_eq!(
        from_binary.hash(),
        <[u8; 32]>::from(Sha256::digest(&binary))
    );
    assert_eq!(from_binary.hash_hex().len(), 64);
    assert_eq!(from_binary.binary_version(), 1);
    assert_eq!(from_binary.engine(), rt.name());
}

fn neither_wasm_nor_wat_says_so(kind: EngineKind) {
    let rt = runtime(kind, WasmRuntimeConfig::default());
    for bytes in [
        &b"#!/bin/sh\necho"[..],
        b"\x7fELF\x02",
        b"module)",
        b";; only words",
    ] {
        match rt.load_module(bytes) {
            Err(WasmError::InvalidModule { message }) => {
                assert_eq!(message, plugin_system_wasm_run::NOT_A_MODULE, "{kind}");
            }
            other => panic!("{kind}: {:?}", other.err()),
        }
        assert!(rt.validate_bytes(bytes).is_err(), "{kind}");
    }
    // Text that opens like WAT gets the WAT parser's own words.
    match rt.load_module(b"(this is not a module") {
        Err(WasmError::InvalidModule { message }) => {
            assert_ne!(message, plugin_system_wasm_run::NOT_A_MODULE, "{kind}");
        }
        other => panic!("{kind}: {:?}", other.err()),
    }
}

fn loads_from_files(kind: EngineKind) {
    let rt = runtime(kind, WasmRuntimeConfig::default());
    let wat_path = temp_path(&format!("{kind}-m.wat"));
    let wasm_path = temp_path(&format!("{kind}-m.wasm"));
    std::fs::write(&wat_path, RICH).unwrap();
    std::fs::write(&wasm_path, wat::parse_str(RICH).unwrap()).unwrap();
    let a = rt.load_module_from_file(&wat_path).unwrap();
    let b = rt.load_module_from_file(&wasm_path).unwrap();
    assert_eq!(a.hash(), b.hash());
    std::fs::remove_file(wat_path).unwrap();
    std::fs::remove_file(wasm_path).unwrap();
    let missing = rt.load_module_from_file(&temp_path("does-not-exist.wasm"));
    assert!(matches!(missing, Err(WasmError::Io { .. })), "{missing:?}");
}

fn reports_imports_and_exports_with_types(kind: EngineKind) {
    let rt = runtime(kind, WasmRuntimeConfig::default());
    let m = rt.load_module(RICH.as_bytes()).unwrap();
    let imports = m.imports();
    assert_eq!(imports.len(), 2);
    assert_eq!(
        (imports[0].module.as_str(), imports[0].name.as_str()),
        ("env", "log")
    );
    assert_eq!(
        imports[0].ty,
        ExternType::Func(FuncType::new([ValType::I32, ValType::I64], []))
    );
    assert_eq!(
        imports[1].ty,
        ExternType::Global(GlobalType {
            content: ValType::I32,
            mutable: false
        })
    );
    assert_eq!(
        m.export("memory"),
        Some(&ExternType::Memory(MemoryType::new(1, Some(4))))
    );
    assert!(matches!(
        m.export("table"),
        Some(ExternType::Table(t)) if t.minimum == 3 && t.maximum == Some(10) && t.element == ValType::FuncRef
    ));
    assert_eq!(
        m.export("counter"),
        Some(&ExternType::Global(GlobalType {
            content: ValType::I64,
            mutable: true
        }))
    );
    assert_eq!(
        m.export("mix"),
        Some(&ExternType::Func(FuncType::new(
            [ValType::F32, ValType::F64],
            [ValType::I32, ValType::V128]
        )))
    );
    assert!(m.has_export("mix"));
    assert!(!m.has_export("nope"));
    assert_eq!(m.custom_section("plugin-meta"), Some(&b"v1"[..]));
    assert_eq!(m.custom_section("second"), Some(&b""[..]));
    assert_eq!(m.custom_section("absent"), None);
    assert!(m.custom_section_names().contains(&"plugin-meta"));
}

fn validate_reports_errors_and_warnings(kind: EngineKind) {
    let rt = runtime(kind, WasmRuntimeConfig::default().max_memory_pages(2));
    let big = rt.load_module(br#"(module (memory 3))"#).unwrap();
    let report = big.validate();
    assert!(!report.is_valid());
    assert!(report.errors[0].contains("limit is 2"), "{report:?}");
    assert!(
        report
            .warnings
            .iter()
            .any(|w| w.contains("exports nothing")),
        "{report:?}"
    );

    let ok = rt
        .load_module(br#"(module (memory (export "memory") 1) (func (export "f")))"#)
        .unwrap();
    assert!(ok.validate().is_valid(), "{:?}", ok.validate());

    let wasi = rt
        .load_module(
            br#"(module (import "wasi_snapshot_preview1" "proc_exit" (func (param i32))))"#,
        )
        .unwrap();
    assert!(wasi.validate().errors.iter().any(|e| e.contains("WASI")));
}

fn rejects_invalid_bytes(kind: EngineKind) {
    let rt = runtime(kind, WasmRuntimeConfig::default());
    let cases: &[&[u8]] = &[
        b"",
        b"\0asm",
        b"\0asm\x01\0\0\0\x01",
        b"\0asm\x02\0\0\0",
        &[0xff; 64],
        b"(module (func (result i32)))",
        b"(module (func (export \"f\") (result i32) i64.const 1))",
        b"(this is not wat",
    ];
    for bytes in cases {
        let load = rt.load_module(bytes);
        assert!(
            matches!(load, Err(WasmError::InvalidModule { .. })),
            "{bytes:?}: {load:?}"
        );
        let check = rt.validate_bytes(bytes);
        assert!(
            matches!(check, Err(WasmError::InvalidModule { .. })),
            "{bytes:?}: {check:?}"
        );
    }
    assert!(rt.validate_bytes(b"(module)").is_ok());
    assert_eq!(rt.stats().modules_loaded, 0, "validation keeps no module");
}

fn names_the_missing_proposal(kind: EngineKind) {
    let rt = runtime(kind, WasmRuntimeConfig::default());
    let wat = br#"(module (tag $e) (func (export "f") (throw $e)))"#;
    let result = rt.load_module(wat);
    if rt.supported_features().exceptions {
        assert!(result.is_ok(), "{:?}", result.err());
    } else {
        assert!(
            matches!(&result, Err(WasmError::Unsupported { feature }) if feature == "exceptions"),
            "{:?}",
            result.err()
        );
        assert!(
            result
                .err()
                .unwrap()
                .to_string()
                .starts_with("unsupported feature: exceptions")
        );
    }
}

fn refuses_modules_of_another_engine(kind: EngineKind) {
    let other = match kind {
        EngineKind::Wasmtime => EngineKind::Wasmi,
        _ => EngineKind::Wasmtime,
    };
    let foreign = runtime(other, WasmRuntimeConfig::default())
        .load_module(b"(module)")
        .unwrap();
    let rt = runtime(kind, WasmRuntimeConfig::default());
    let result = rt.instantiate(&foreign, &Imports::new());
    assert!(
        matches!(result, Err(WasmError::ForeignModule { .. })),
        "{:?}",
        result.err()
    );
}

fn counts_modules_and_live_instances(kind: EngineKind) {
    let rt = runtime(kind, WasmRuntimeConfig::default());
    let m = rt.load_module(b"(module)").unwrap();
    let a = rt.instantiate(&m, &Imports::new()).unwrap();
    let b = rt.instantiate(&m, &Imports::new()).unwrap();
    let stats = rt.stats();
    assert_eq!(
        (
            stats.modules_loaded,
            stats.instances_created,
            stats.instances_active
        ),
        (1, 2, 2)
    );
    drop(a);
    assert_eq!(rt.stats().instances_active, 1);
    drop(b);
    let map = rt.stats().to_map();
    assert_eq!(map["instances_active"], 0);
    assert_eq!(map["modules_loaded"], 1);
}

fn reports_features_and_identity(kind: EngineKind) {
    let rt = runtime(kind, WasmRuntimeConfig::default());
    assert_eq!(rt.name(), kind.to_string());
    assert!(!rt.version().is_empty());
    let f = rt.supported_features();
    assert!(f.multi_value && f.bulk_memory && f.reference_types && f.simd && f.fuel && f.deadlines);
    assert_eq!(f.precompile, kind == EngineKind::Wasmtime);
    assert!(f.iter().any(|(name, _)| name == "exceptions"));
    // WASI is served when the crate is built with it, and a module that
    // imports it validates once the runtime enables it.
    assert_eq!(f.wasi, cfg!(feature = "wasi"));
    let wasi = r#"(module (import "wasi_snapshot_preview1" "proc_exit" (func (param i32))) (memory (export "memory") 1 1))"#;
    for (enabled, valid) in [(false, false), (true, f.wasi)] {
        let rt = runtime(kind, WasmRuntimeConfig::default().enable_wasi(enabled));
        let report = rt.load_module(wasi.as_bytes()).unwrap().validate();
        assert_eq!(report.is_valid(), valid, "{enabled}: {report:?}");
    }
}

on_every_engine!(
    loads_wat_and_binary,
    neither_wasm_nor_wat_says_so,
    loads_from_files,
    reports_imports_and_exports_with_types,
    validate_reports_errors_and_warnings,
    rejects_invalid_bytes,
    names_the_missing_proposal,
    refuses_modules_of_another_engine,
    counts_modules_and_live_instances,
    reports_features_and_identity,
);
