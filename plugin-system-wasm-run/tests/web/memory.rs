//! Memory views: read, write, grow, and what the guest sees of them.

use super::*;

const MEMORY: &str = r#"(module
    (memory (export "memory") 1 4)
    (func (export "load") (param i32) (result i32) local.get 0 i32.load8_u)
    (func (export "store") (param i32 i32) local.get 0 local.get 1 i32.store8)
    (func (export "size") (result i32) memory.size)
    (func (export "oob") (result i32) i32.const 0x7fffffff i32.load))"#;

#[wasm_bindgen_test]
fn the_host_and_the_guest_see_the_same_bytes() {
    let mut instance = web_instance(MEMORY);
    let memory = instance.memory().expect("a memory");
    assert_eq!(memory.size(), 65_536);
    memory.write(100, b"abc").unwrap();
    assert_eq!(memory.read_vec(100, 3).unwrap(), b"abc");
    assert_eq!(
        instance.call("load", &[WasmValue::I32(101)]).unwrap(),
        [WasmValue::I32(98)]
    );
    instance
        .call("store", &[WasmValue::I32(200), WasmValue::I32(7)])
        .unwrap();
    let memory = instance.memory().expect("a memory");
    assert_eq!(memory.read_vec(200, 1).unwrap(), [7]);
    // Through the raw slice too: written back before the guest runs.
    memory.data_mut()[300] = 9;
    assert_eq!(
        instance.call("load", &[WasmValue::I32(300)]).unwrap(),
        [WasmValue::I32(9)]
    );
}

#[wasm_bindgen_test]
fn bytes_at_copies_the_range_alone_or_borrows_the_copy() {
    use std::borrow::Cow;

    let mut instance = web_instance(MEMORY);
    let memory = instance.memory().expect("a memory");
    memory.write(100, b"abc").unwrap();
    // No copy of the whole memory yet: the range alone is copied.
    assert!(matches!(memory.bytes_at(100, 3).unwrap(), Cow::Owned(b) if b == b"abc"));
    let error = memory.bytes_at(65_535, 2).unwrap_err();
    assert!(matches!(error, WasmError::OutOfBounds { .. }), "{error}");
    // Once `data` made the copy, it is lent, and as current.
    assert_eq!(memory.data()[100], b'a');
    memory.write(101, b"x").unwrap();
    assert!(matches!(
        memory.bytes_at(100, 3).unwrap(),
        Cow::Borrowed(b"axc")
    ));
    assert!(memory.bytes_at(65_535, 2).is_err());
}

#[wasm_bindgen_test]
fn access_outside_the_memory_is_out_of_bounds_or_a_trap() {
    let mut instance = web_instance(MEMORY);
    let memory = instance.memory().expect("a memory");
    let error = memory.write(65_535, b"ab").unwrap_err();
    assert!(matches!(error, WasmError::OutOfBounds { .. }), "{error}");
    assert!(memory.read_vec(u64::MAX, 1).is_err());
    let error = instance.call("oob", &[]).unwrap_err();
    assert!(
        matches!(
            error,
            WasmError::Trap {
                code: TrapCode::MemoryOutOfBounds,
                ..
            }
        ),
        "{error}"
    );
}

#[wasm_bindgen_test]
fn grow_keeps_the_modules_maximum() {
    let mut instance = web_instance(MEMORY);
    let memory = instance.memory().expect("a memory");
    assert_eq!(memory.grow(2).unwrap(), 1);
    assert_eq!(memory.pages(), 3);
    memory.write(3 * 65_536 - 1, &[1]).unwrap();
    let error = memory.grow(2).unwrap_err();
    assert!(matches!(error, WasmError::MemoryLimit { .. }), "{error}");
    assert_eq!(instance.call("size", &[]).unwrap(), [WasmValue::I32(3)]);
}

#[wasm_bindgen_test]
fn slices_reads_and_c_strings_agree() {
    let mut instance = web_instance(MEMORY);
    let memory = instance.memory().expect("a memory");
    memory.write(10, b"hello\0").unwrap();
    let ptr = plugin_system_core::GuestPtr::new(10);
    assert_eq!(memory.read_cstr(ptr, 64).unwrap(), "hello");
    assert!(matches!(
        memory.read_cstr(ptr, 3).unwrap_err(),
        WasmError::GuestData { .. }
    ));
    // The slice, once taken, sees later writes, and its own are read back.
    assert_eq!(&memory.data()[10..15], b"hello");
    memory.write(10, b"J").unwrap();
    assert_eq!(&memory.data()[10..15], b"Jello");
    memory.fill(20, 4, 0xaa).unwrap();
    assert_eq!(memory.read_vec(20, 4).unwrap(), [0xaa; 4]);
    assert_eq!(memory.read_u32(20).unwrap(), 0xaaaa_aaaa);
    assert_eq!(
        instance.call("load", &[WasmValue::I32(23)]).unwrap(),
        [WasmValue::I32(0xaa)]
    );
}
