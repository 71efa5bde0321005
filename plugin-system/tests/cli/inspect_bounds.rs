//! `plugin-system inspect` reads a module without compiling it: a module that
//! takes gigabytes to compile is reported at once, in bounded memory.

use std::process::Command;

use super::{engines, fixture, run};

/// 40,000 nested blocks with results: 120 KB that take 3 GB to compile on
/// wasmtime.
fn nested_blocks() -> Vec<u8> {
    let depth = 40_000;
    let text = format!(
        "(module (func (export \"f\") (result i32) {} i32.const 0 {}))",
        "block (result i32) ".repeat(depth),
        "end ".repeat(depth)
    );
    wat::parse_str(text).expect("fixture assembles")
}

/// Runs `plugin-system ARGS` with its address space capped at 1 GiB, so that a
/// compile of the hostile module would fail where reading it must not.
fn run_capped(args: &[&str]) -> (i32, String, String) {
    let output = Command::new("prlimit")
        .arg(format!("--as={}", 1u64 << 30))
        .arg("--")
        .arg(env!("CARGO_BIN_EXE_plugin-system"))
        .args(args)
        .env_remove("PLUGIN_SYSTEM_ENGINE")
        .output()
        .expect("prlimit runs the binary");
    (
        output
            .status
            .code()
            .expect("exited, not killed by a signal"),
        String::from_utf8(output.stdout).expect("utf-8 stdout"),
        String::from_utf8(output.stderr).expect("utf-8 stderr"),
    )
}

#[test]
fn inspect_reports_a_module_past_the_bounds_in_bounded_memory() {
    if Command::new("prlimit").arg("--version").output().is_err() {
        // The cap is the point of this test; without prlimit there is none.
        return;
    }
    let wasm = fixture("inspect-nested-blocks.wasm", nested_blocks());
    let file = wasm.to_str().expect("utf-8 temp path");
    for engine in engines() {
        let (code, stdout, stderr) = run_capped(&["inspect", "--engine", engine, file]);
        assert_eq!((code, stderr.as_str()), (0, ""), "{stdout}");
        for expected in [
            "exports (1):",
            "validation:      invalid",
            "  error: module limit: nesting depth 40000 in function 0 exceeds the limit 2048",
            "  nesting depth       40000 in function 0 (limit 2048)",
            "  blocks with results 40000 in function 0 (limit 4096)",
        ] {
            assert!(
                stdout.contains(expected),
                "{expected:?} missing in\n{stdout}"
            );
        }

        let (code, stdout, stderr) = run_capped(&["inspect", "--json", "--engine", engine, file]);
        assert_eq!((code, stderr.as_str()), (0, ""), "{stdout}");
        let json: serde_json::Value = serde_json::from_str(&stdout).expect("valid JSON");
        assert_eq!(json["validation"]["valid"], false);
        let first = json["validation"]["errors"][0].as_str().expect("an error");
        assert!(
            first.starts_with("module limit: nesting depth 40000"),
            "{first}"
        );

        // Loading it (as `call` does) is refused by the same bound, before any
        // compiling, under the same cap.
        let (code, stdout, stderr) = run_capped(&["call", "--engine", engine, file, "f"]);
        assert_eq!(code, 2, "{stdout}{stderr}");
        assert!(
            stderr.starts_with("error: module limit: nesting depth 2049 in function 0"),
            "{stderr}"
        );
    }
}

#[test]
fn inspect_shows_the_shape_of_the_code_against_the_bounds() {
    let wat = fixture(
        "inspect-shape.wat",
        r#"(module
            (func (param i32) (local i64 i64)
                (block (loop (br_table 0 1 0 (local.get 0))))))"#,
    );
    let file = wat.to_str().expect("utf-8 temp path");
    for engine in engines() {
        let out = run(&["inspect", "--engine", engine, file]);
        assert_eq!((out.code, out.stderr.as_str()), (0, ""), "{out:#?}");
        let stdout = out.stdout;
        for expected in [
            "code:            1 functions (limit 250000)",
            "  nesting depth       2 in function 0 (limit 2048)",
            "  locals              3 in function 0 (limit 30000)",
            "  br_table targets    2 in function 0 (limit 65520)",
            "  blocks with results 0 (limit 4096)",
            "  loops               1 in function 0 (limit 1024)",
        ] {
            assert!(
                stdout.contains(expected),
                "{expected:?} missing in\n{stdout}"
            );
        }
    }
}
