//! Reference types in `inspect` and `call`: GC and exception references keep
//! their own names, an i31 result prints its value, and `null` is taken for
//! every nullable reference parameter (wasmtime); wasmi, which lacks GC and
//! exceptions, refuses such modules with the proposal named.

use crate::{call, engines, fixture, run};

const REFS: &str = r#"(module
  (type $thunk (func (result i32)))
  (tag $oops)
  (func $seven (type $thunk) (i32.const 7))
  (func (export "i31") (param i32) (result i31ref) (ref.i31 (local.get 0)))
  (func (export "struct") (result anyref) (struct.new_default $point))
  (func (export "exn_is_null") (param exnref) (result i32) (ref.is_null (local.get 0)))
  (func (export "any_is_null") (param anyref) (result i32) (ref.is_null (local.get 0)))
  (func (export "thunk_or_0") (param (ref null $thunk)) (result i32)
    (if (result i32) (ref.is_null (local.get 0))
      (then (i32.const 0))
      (else (call_ref $thunk (local.get 0)))))
  (func (export "func_non_null") (param (ref func)) (result (ref func)) (local.get 0))
  (func (export "null_exn") (result exnref) (ref.null exn))
  (global (export "slot") (mut eqref) (ref.null eq))
  (type $point (struct (field i32)))
  (elem declare func $seven))"#;

#[test]
fn inspect_names_each_reference_type() {
    let file = fixture("reftypes-inspect.wat", REFS);
    let path = file.to_str().expect("utf-8 temp path");
    for engine in engines() {
        let out = run(&["inspect", "--engine", engine, path]);
        // wasmi may refuse the module, or read its types without compiling it.
        if engine == "wasmi" && out.code != 0 {
            out.fails(2, "error: unsupported feature: ");
            continue;
        }
        assert_eq!((out.code, out.stderr.as_str()), (0, ""), "{out:#?}");
        for expected in [
            "i31            func (i32) -> (i31ref)",
            "struct         func () -> (anyref)",
            "exn_is_null    func (exnref) -> (i32)",
            "thunk_or_0     func ((ref null 0)) -> (i32)",
            "func_non_null  func ((ref func)) -> ((ref func))",
            "slot           global (mut eqref)",
        ] {
            assert!(
                out.stdout.contains(expected),
                "{expected:?} missing in\n{}",
                out.stdout
            );
        }
        assert!(!out.stdout.contains("externref"), "{}", out.stdout);
    }
}

#[test]
fn call_prints_gc_results_and_takes_null() {
    let file = fixture("reftypes-call.wat", REFS);
    for engine in engines() {
        if engine == "wasmi" {
            call(engine, &file, &["i31", "5"]).fails(2, "error: unsupported feature: ");
            continue;
        }
        call(engine, &file, &["i31", "5"]).prints("i31ref:5\n");
        call(engine, &file, &["struct"]).prints("anyref:<opaque>\n");
        call(engine, &file, &["null_exn"]).prints("null\n");
        call(engine, &file, &["exn_is_null", "null"]).prints("1\n");
        call(engine, &file, &["any_is_null", "null"]).prints("1\n");
        call(engine, &file, &["thunk_or_0", "null"]).prints("0\n");
        call(engine, &file, &["exn_is_null", "0"]).fails(
            2,
            "error: bad argument: `0` is not an exnref (only `null` can be given)",
        );
        call(engine, &file, &["func_non_null", "null"]).fails(
            2,
            "error: bad argument: `null` is not a (ref func) (non-nullable: no value can be given)",
        );
    }
}

#[test]
fn funcref_and_externref_take_null_on_every_engine() {
    let wat = r#"(module
      (func (export "f") (param funcref) (result i32) (ref.is_null (local.get 0)))
      (func (export "e") (param externref) (result externref) (local.get 0)))"#;
    let file = fixture("reftypes-basic.wat", wat);
    for engine in engines() {
        call(engine, &file, &["f", "null"]).prints("1\n");
        call(engine, &file, &["e", "null"]).prints("null\n");
        let out = run(&[
            "inspect",
            "--engine",
            engine,
            file.to_str().expect("utf-8 temp path"),
        ]);
        assert!(
            out.stdout.contains("f  func (funcref) -> (i32)"),
            "{out:#?}"
        );
        assert!(
            out.stdout.contains("e  func (externref) -> (externref)"),
            "{out:#?}"
        );
    }
}
