//! Reference types kept apart: the GC and exception-handling types are told from
//! `funcref` and `externref` in module types, values and calls (wasmtime), and
//! refused at load with a typed error where the engine lacks them (wasmi).

use plugin_system_core::{
    AnyRef, ExternRef, ExternType, HeapType, Imports, RefType, ValType, WasmError,
    WasmRuntimeConfig, WasmValue,
};
use plugin_system_wasm_run::EngineKind;

use crate::{instance, on_every_engine, runtime};

/// References of the GC proposal: i31s, a struct, nulls, a module-defined type.
const GC: &str = r#"(module
    (type $point (struct (field i32)))
    (func (export "i31") (param i32) (result i31ref) (ref.i31 (local.get 0)))
    (func (export "i31_non_null") (result (ref i31)) (ref.i31 (i32.const 5)))
    (func (export "eq") (result eqref) (ref.i31 (i32.const -1)))
    (func (export "struct") (result anyref) (struct.new $point (i32.const 1)))
    (func (export "null_any") (result anyref) (ref.null any))
    (func (export "null_point") (result (ref null $point)) (ref.null $point))
    (func (export "is_null_any") (param anyref) (result i32) (ref.is_null (local.get 0)))
    (func (export "is_null_point") (param (ref null $point)) (result i32)
        (ref.is_null (local.get 0)))
    (func (export "i31_value") (param i31ref) (result i32) (i31.get_u (local.get 0)))
    (func (export "any_non_null") (param (ref any)) (result i32) (i32.const 1))
    (global (export "slot") (mut anyref) (ref.null any)))"#;

/// Exception references (exception-handling proposal).
const EXN: &str = r#"(module
    (tag $oops (param i32))
    (func (export "caught") (result exnref)
        (block $handler (result exnref)
            (try_table (catch_all_ref $handler) (throw $oops (i32.const 1)))
            (ref.null exn)))
    (func (export "null_exn") (result exnref) (ref.null exn))
    (func (export "is_null_exn") (param exnref) (result i32) (ref.is_null (local.get 0))))"#;

/// Typed function references (function-references proposal).
const TYPED_FUNCS: &str = r#"(module
    (type $thunk (func (result i32)))
    (func $seven (type $thunk) (i32.const 7))
    (func (export "non_null") (result (ref func)) (ref.func $seven))
    (func (export "typed") (result (ref $thunk)) (ref.func $seven))
    (func (export "call_or_0") (param (ref null $thunk)) (result i32)
        (if (result i32) (ref.is_null (local.get 0))
            (then (i32.const 0))
            (else (call_ref $thunk (local.get 0)))))
    (elem declare func $seven))"#;

/// The type of the export `name` of `wat` on `kind`, or the load error.
fn export_types(kind: EngineKind, wat: &str, names: &[&str]) -> Result<Vec<String>, WasmError> {
    let rt = runtime(kind, WasmRuntimeConfig::default());
    let module = rt.load_module(wat.as_bytes())?;
    Ok(names
        .iter()
        .map(|n| match module.export(n) {
            Some(ty) => ty.to_string(),
            None => panic!("no export {n}"),
        })
        .collect())
}

/// What wasmi reports for a module that needs `proposal`.
fn refused(result: Result<Vec<String>, WasmError>, proposal: &str) {
    match result {
        Err(WasmError::Unsupported { feature }) => assert_eq!(feature, proposal),
        other => panic!("wasmi should refuse a module that needs {proposal}: {other:?}"),
    }
}

fn gc_types_are_told_apart(kind: EngineKind) {
    let names = [
        "i31",
        "i31_non_null",
        "eq",
        "null_point",
        "any_non_null",
        "slot",
    ];
    let types = export_types(kind, GC, &names);
    if kind == EngineKind::Wasmi {
        return refused(types, "gc");
    }
    assert_eq!(
        types.unwrap(),
        [
            "func (i32) -> (i31ref)",
            "func () -> ((ref i31))",
            "func () -> (eqref)",
            "func () -> ((ref null 0))",
            "func ((ref any)) -> (i32)",
            "global (mut anyref)",
        ]
    );
}

fn exception_and_typed_function_types_are_told_apart(kind: EngineKind) {
    let exn = export_types(kind, EXN, &["caught", "is_null_exn"]);
    let funcs = export_types(kind, TYPED_FUNCS, &["non_null", "typed", "call_or_0"]);
    if kind == EngineKind::Wasmi {
        refused(exn, "exceptions");
        return refused(funcs, "function references");
    }
    assert_eq!(
        exn.unwrap(),
        ["func () -> (exnref)", "func (exnref) -> (i32)"]
    );
    assert_eq!(
        funcs.unwrap(),
        [
            "func () -> ((ref func))",
            "func () -> ((ref 0))",
            "func ((ref null 0)) -> (i32)",
        ]
    );
}

fn funcref_and_externref_stay_what_they_were(kind: EngineKind) {
    let wat = r#"(module
        (func $f (export "f") (result funcref) (ref.func $f))
        (func (export "is_null_func") (param funcref) (result i32) (ref.is_null (local.get 0)))
        (func (export "ext") (param externref) (result externref) (local.get 0))
        (table (export "table") 1 externref))"#;
    let types = export_types(kind, wat, &["f", "is_null_func", "ext", "table"]).unwrap();
    assert_eq!(
        types,
        [
            "func () -> (funcref)",
            "func (funcref) -> (i32)",
            "func (externref) -> (externref)",
            "table 1 externref",
        ]
    );
    let mut i = instance(kind, WasmRuntimeConfig::default(), wat);
    // A null made from the parameter's type, as `call` does for `null`.
    let null = ValType::FuncRef.default_value();
    assert_eq!(null.to_string(), "null");
    assert_eq!(
        i.call("is_null_func", &[null]).unwrap(),
        [WasmValue::I32(1)]
    );
    let host = WasmValue::ExternRef(Some(ExternRef(5)));
    assert_eq!(
        i.call("ext", &[host]).unwrap()[0].to_string(),
        "externref:5"
    );
    let null = ValType::ExternRef.default_value();
    assert_eq!(
        i.call("ext", &[null]).unwrap(),
        [WasmValue::ExternRef(None)]
    );
    // A null of another hierarchy does not fit.
    let err = i
        .call("is_null_func", &[WasmValue::AnyRef(None)])
        .unwrap_err();
    assert!(matches!(err, WasmError::TypeMismatch { .. }), "{err:?}");
}

on_every_engine!(
    gc_types_are_told_apart,
    exception_and_typed_function_types_are_told_apart,
    funcref_and_externref_stay_what_they_were,
);

/// The rest needs GC or exceptions, which only wasmtime has.
mod on_wasmtime {
    use super::*;

    fn gc_instance() -> Box<dyn plugin_system_core::WasmInstance> {
        instance(EngineKind::Wasmtime, WasmRuntimeConfig::default(), GC)
    }

    #[test]
    fn an_i31_result_is_an_i31() {
        let mut i = gc_instance();
        let five = i.call("i31", &[WasmValue::I32(5)]).unwrap();
        assert_eq!(five, [WasmValue::AnyRef(Some(AnyRef::I31(5)))]);
        assert_eq!(five[0].to_string(), "i31ref:5");
        assert_eq!(i.call("i31_non_null", &[]).unwrap()[0].as_i31(), Some(5));
        // An i31 keeps 31 bits: -1 reads back as 2^31 - 1.
        assert_eq!(
            i.call("eq", &[]).unwrap()[0].to_string(),
            "i31ref:2147483647"
        );
    }

    #[test]
    fn an_i31_goes_back_in() {
        let mut i = gc_instance();
        let seven = WasmValue::AnyRef(Some(AnyRef::I31(7)));
        assert_eq!(i.call("i31_value", &[seven]).unwrap(), [WasmValue::I32(7)]);
        assert_eq!(
            i.call("is_null_any", &[seven]).unwrap(),
            [WasmValue::I32(0)]
        );
        let too_wide = WasmValue::AnyRef(Some(AnyRef::I31(1 << 31)));
        let err = i.call("i31_value", &[too_wide]).unwrap_err();
        assert!(matches!(err, WasmError::TypeMismatch { .. }), "{err:?}");
        i.set_global("slot", seven).unwrap();
        assert_eq!(i.global("slot").unwrap(), seven);
    }

    #[test]
    fn other_gc_references_are_opaque() {
        let mut i = gc_instance();
        let s = i.call("struct", &[]).unwrap()[0];
        assert_eq!(s.to_string(), "anyref:<opaque>");
        assert!(!s.is_null());
        let err = i.call("is_null_any", &[s]).unwrap_err();
        assert!(matches!(err, WasmError::TypeMismatch { .. }), "{err:?}");
    }

    #[test]
    fn gc_nulls_are_null() {
        let mut i = gc_instance();
        for name in ["null_any", "null_point"] {
            let null = i.call(name, &[]).unwrap();
            assert_eq!(null, [WasmValue::AnyRef(None)], "{name}");
            assert_eq!(null[0].to_string(), "null");
        }
        for (name, ty) in [
            ("is_null_any", ValType::AnyRef),
            (
                "is_null_point",
                ValType::Ref(RefType::nullable(HeapType::Concrete(0))),
            ),
        ] {
            let null = ty.default_value();
            assert_eq!(
                i.call(name, &[null]).unwrap(),
                [WasmValue::I32(1)],
                "{name}"
            );
        }
    }

    #[test]
    fn null_is_refused_for_a_non_nullable_parameter() {
        let mut i = gc_instance();
        let err = i
            .call("any_non_null", &[WasmValue::AnyRef(None)])
            .unwrap_err();
        match err {
            WasmError::TypeMismatch { message } => {
                assert_eq!(message, "function ((ref any)) -> (i32) called with (null)");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn exception_references() {
        let mut i = instance(EngineKind::Wasmtime, WasmRuntimeConfig::default(), EXN);
        let caught = i.call("caught", &[]).unwrap()[0];
        assert_eq!(caught.to_string(), "exnref:<opaque>");
        assert_eq!(i.call("null_exn", &[]).unwrap(), [WasmValue::ExnRef(None)]);
        let null = ValType::ExnRef.default_value();
        assert_eq!(i.call("is_null_exn", &[null]).unwrap(), [WasmValue::I32(1)]);
    }

    #[test]
    fn typed_function_references() {
        let mut i = instance(
            EngineKind::Wasmtime,
            WasmRuntimeConfig::default(),
            TYPED_FUNCS,
        );
        let f = i.call("non_null", &[]).unwrap()[0];
        assert!(matches!(f, WasmValue::FuncRef(Some(_))), "{f:?}");
        let typed = i.call("typed", &[]).unwrap()[0];
        assert_eq!(i.call("call_or_0", &[typed]).unwrap(), [WasmValue::I32(7)]);
        // `(ref null $thunk)`'s null, whichever hierarchy's null the host gives.
        let concrete = ValType::Ref(RefType::nullable(HeapType::Concrete(0)));
        for null in [concrete.default_value(), WasmValue::FuncRef(None)] {
            assert_eq!(i.call("call_or_0", &[null]).unwrap(), [WasmValue::I32(0)]);
        }
    }

    #[test]
    fn a_gc_module_links_host_functions_of_gc_types() {
        use plugin_system_core::{FuncType, HostFunc};
        let wat = r#"(module
            (import "env" "twice" (func $twice (param i31ref) (result i31ref)))
            (func (export "run") (result i32)
                (i31.get_u (call $twice (ref.i31 (i32.const 21))))))"#;
        let rt = runtime(EngineKind::Wasmtime, WasmRuntimeConfig::default());
        let module = rt.load_module(wat.as_bytes()).unwrap();
        let mut imports = Imports::new();
        imports.func(
            "env",
            "twice",
            HostFunc::new(
                FuncType::new([ValType::I31Ref], [ValType::I31Ref]),
                |_, args, results| {
                    let n = args[0].as_i31().unwrap_or(0);
                    results[0] = WasmValue::AnyRef(Some(AnyRef::I31(n * 2)));
                    Ok(())
                },
            ),
        );
        let mut i = rt.instantiate(&module, &imports).unwrap();
        assert_eq!(i.call("run", &[]).unwrap(), [WasmValue::I32(42)]);
    }

    #[test]
    fn a_host_cannot_define_a_module_defined_type() {
        use plugin_system_core::{FuncType, HostFunc};
        let wat = r#"(module
            (type $point (struct (field i32)))
            (import "env" "make" (func (result (ref null $point)))))"#;
        let rt = runtime(EngineKind::Wasmtime, WasmRuntimeConfig::default());
        let module = rt.load_module(wat.as_bytes()).unwrap();
        let concrete = ValType::Ref(RefType::nullable(HeapType::Concrete(0)));
        let Some(ExternType::Func(want)) = module.imports().first().map(|i| i.ty.clone()) else {
            panic!("one function import");
        };
        assert_eq!(want.results(), [concrete]);
        let mut imports = Imports::new();
        imports.func(
            "env",
            "make",
            HostFunc::new(FuncType::new([], [concrete]), |_, _, _| Ok(())),
        );
        let err = rt.instantiate(&module, &imports).unwrap_err();
        assert!(matches!(err, WasmError::Unsupported { .. }), "{err:?}");
    }
}
