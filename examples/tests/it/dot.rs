//! `examples::dot`: the guest helpers of the core over a C library's string
//! exports (`guests/c/dot_lite.c`), on both engines.

use examples::dot::DotLite;
use plugin_system_core::{GuestAllocator, GuestPtr, WasmError, WasmRuntimeConfig};
use plugin_system_wasm_run::{EngineKind, new_runtime};

const ENGINES: [EngineKind; 2] = [EngineKind::Wasmtime, EngineKind::Wasmi];

#[test]
fn c_strings_go_in_and_come_out() {
    for kind in ENGINES {
        let mut lib = DotLite::load(kind).expect("dot_lite built and loaded");
        assert_eq!(lib.version().unwrap(), "dot_lite 1.0", "{kind:?}");
        assert_eq!(
            lib.render("a -> b; b -> c; a -> c").unwrap(),
            "3 nodes, 3 edges\na: b c\nb: c\nc:\n",
            "{kind:?}"
        );
        // The library's own error, read from its `last_error` string.
        let refused = lib.render("a -> ").unwrap_err().to_string();
        assert_eq!(
            refused, "dot_lite refused the graph: expected a node name at byte 5",
            "{kind:?}"
        );
        // Many calls: every buffer goes back to the guest's heap.
        for i in 0..2_000 {
            let text = lib.render(&format!("n{i} -> m{i}")).unwrap();
            assert!(text.starts_with("2 nodes, 1 edges\n"), "{kind:?}: {text}");
        }
        // A NUL inside the text is refused before anything reaches the guest.
        let nul = lib.render("a -> b\0c").unwrap_err();
        assert!(
            matches!(nul.downcast_ref(), Some(WasmError::TypeMismatch { .. })),
            "{kind:?}: {nul}"
        );
    }
}

#[test]
fn strings_are_read_within_their_bounds() {
    let wat = r#"(module
        (memory (export "memory") 1)
        (data (i32.const 16) "no end")
        (data (i32.const 65530) "to end")
        (func (export "malloc") (param i32) (result i32) (i32.const 0))
        (func (export "free") (param i32)))"#;
    for kind in ENGINES {
        let rt = new_runtime(kind, WasmRuntimeConfig::default()).unwrap();
        let module = rt.load_module(wat.as_bytes()).unwrap();
        let mut instance = rt.instantiate(&module, &Default::default()).unwrap();
        let memory = instance.memory().unwrap();
        // No NUL within the bound, nor before the memory's end.
        for (at, max) in [(16, 6), (65530, 1 << 20)] {
            let e = memory.read_cstr(GuestPtr::new(at), max).unwrap_err();
            assert!(matches!(e, WasmError::GuestData { .. }), "{kind:?}: {e}");
        }
        assert_eq!(memory.read_cstr(GuestPtr::new(16), 7).unwrap(), "no end");
        // A pointer past the memory, and one from an i32 above 2 GiB.
        for at in [GuestPtr::new(65536), GuestPtr::from_i32(-16)] {
            let e = memory.read_cstr(at, 8).unwrap_err();
            assert!(matches!(e, WasmError::OutOfBounds { .. }), "{kind:?}: {e}");
        }
        // An allocator that fails says so instead of handing out address 0.
        let heap = GuestAllocator::c(&mut *instance).unwrap();
        let e = heap.write_cstr(&mut *instance, "text").unwrap_err();
        assert!(matches!(e, WasmError::GuestData { .. }), "{kind:?}: {e}");
    }
}
