//! A guided tour of the engine layer: one small guest, run on wasmtime and on
//! wasmi through the same API, then pushed against every limit.
//!
//! `cargo run -p examples --example engines`

#![allow(clippy::print_stdout, reason = "a demo prints for a person to read")]

use std::time::{Duration, Instant};

use anyhow::Result;
use plugin_system_core::{
    FuncType, HostError, HostFunc, Imports, ValType, WasmError, WasmRuntimeConfig, WasmValue,
};
use plugin_system_wasm_run::{EngineKind, new_runtime};

/// The guest: a greeting through a host function, arithmetic, and four ways to
/// misbehave.
const GUEST: &str = r#"(module
    (import "host" "print" (func $print (param i32 i32)))
    (memory (export "memory") 1)
    (data (i32.const 0) "hello from the guest")
    (func (export "greet") i32.const 0 i32.const 20 call $print)
    (func (export "fib") (param i64) (result i64)
        (if (result i64) (i64.lt_u (local.get 0) (i64.const 2))
            (then (local.get 0))
            (else (i64.add
                (call 2 (i64.sub (local.get 0) (i64.const 1)))
                (call 2 (i64.sub (local.get 0) (i64.const 2)))))))
    (func (export "spin") (loop $l (br $l)))
    (func (export "bomb") (result i32)
        (loop $l (br_if $l (i32.ne (memory.grow (i32.const 1)) (i32.const -1))))
        memory.size)
    (func $deep (export "deep") (param i32) (result i32)
        local.get 0 i32.const 1 i32.add call $deep)
    (func (export "crash") (result i32) i32.const 1 i32.const 0 i32.div_u))"#;

/// Fuel each case starts with: enough for everything but the last case.
const FUEL: u64 = 10_000_000_000;

fn imports() -> Imports {
    let mut imports = Imports::new();
    let print = HostFunc::new(
        FuncType::new([ValType::I32, ValType::I32], []),
        |caller, args, _| {
            let (ptr, len) = (args[0].as_i32().unwrap_or(0), args[1].as_i32().unwrap_or(0));
            let memory = caller
                .memory()
                .ok_or_else(|| HostError::new("guest has no memory"))?;
            let bytes = memory
                .read_vec(ptr as u32 as u64, len as u32 as usize)
                .map_err(HostError::from_error)?;
            println!("    host.print: {:?}", String::from_utf8_lossy(&bytes));
            Ok(())
        },
    );
    imports.func("host", "print", print);
    imports
}

fn show(what: &str, result: Result<Vec<WasmValue>, WasmError>, took: Duration) {
    match result {
        Ok(values) => {
            let values: Vec<String> = values.iter().map(ToString::to_string).collect();
            println!("    {what:<30} -> {} ({took:.1?})", values.join(", "));
        }
        Err(e) => println!("    {what:<30} -> error: {e} ({took:.1?})"),
    }
}

fn tour(kind: EngineKind) -> Result<()> {
    let config = WasmRuntimeConfig::default()
        .max_memory_pages(16)
        .max_stack_depth(5_000)
        .fuel_limit(FUEL)
        .timeout(Duration::from_millis(200));
    let runtime = new_runtime(kind, config)?;
    println!("\n== {} {} ==", runtime.name(), runtime.version());

    let start = Instant::now();
    let module = runtime.load_module(GUEST.as_bytes())?;
    println!(
        "    loaded {} bytes (sha256 {}…) in {:.1?}",
        module.size(),
        &module.hash_hex()[..12],
        start.elapsed()
    );
    let exports: Vec<String> = module
        .exports()
        .iter()
        .map(|e| format!("{} {}", e.name, e.ty))
        .collect();
    println!("    exports: {}", exports.join("; "));

    let mut guest = runtime.instantiate(&module, &imports())?;
    guest.call("greet", &[])?;
    let cases: &[(&str, &str, &[WasmValue])] = &[
        ("fib(25)", "fib", &[WasmValue::I64(25)]),
        ("endless loop, 200 ms deadline", "spin", &[]),
        ("memory bomb, 16-page limit", "bomb", &[]),
        ("unbounded recursion", "deep", &[WasmValue::I32(0)]),
        ("divide by zero", "crash", &[]),
    ];
    for (what, name, args) in cases {
        guest.set_fuel(FUEL)?;
        let start = Instant::now();
        let result = guest.call(name, args);
        show(what, result, start.elapsed());
    }
    guest.set_fuel(1_000_000)?;
    let start = Instant::now();
    let result = guest.call("fib", &[WasmValue::I64(30)]);
    show("fib(30) on 1M fuel", result, start.elapsed());
    guest.set_fuel(1_000_000)?;
    let start = Instant::now();
    show(
        "still alive: fib(10)",
        guest.call("fib", &[WasmValue::I64(10)]),
        start.elapsed(),
    );
    let stats = guest.stats();
    println!(
        "    instance: {} calls, {} failed, {} fuel used, {} pages",
        stats.calls,
        stats.failed_calls,
        stats.fuel_consumed.unwrap_or(0),
        stats.memory_pages.unwrap_or(0)
    );
    drop(guest);
    println!("    runtime: {:?}", runtime.stats().to_map());
    Ok(())
}

fn main() -> Result<()> {
    println!("plugin-system engine tour: the same guest on every engine, every limit enforced.");
    for kind in EngineKind::available() {
        tour(kind)?;
    }
    Ok(())
}
