//! Linear memory from the host side.

use plugin_system_core::{PAGE_SIZE, WasmError, WasmRuntimeConfig, WasmValue};
use plugin_system_wasm_run::EngineKind;

use crate::{instance, on_every_engine};

const MEM: &str = r#"(module
    (memory (export "memory") 1 4)
    (memory (export "second") 2)
    (func (export "load") (param i32) (result i32) local.get 0 i32.load)
    (func (export "store") (param i32 i32) local.get 0 local.get 1 i32.store)
    (func (export "size") (result i32) memory.size))"#;

fn read_write_and_typed_access(kind: EngineKind) {
    let mut i = instance(kind, WasmRuntimeConfig::default(), MEM);
    let m = i.memory().expect("exports a memory");
    assert_eq!((m.size(), m.pages()), (PAGE_SIZE, 1));
    m.write(100, b"hello").unwrap();
    let mut buf = [0u8; 5];
    m.read(100, &mut buf).unwrap();
    assert_eq!(&buf, b"hello");
    m.write_u32(8, 0xdead_beef).unwrap();
    m.write_i64(16, -2).unwrap();
    m.write_f32(24, 1.5).unwrap();
    assert_eq!(m.read_u32(8).unwrap(), 0xdead_beef);
    assert_eq!(m.read_i64(16).unwrap(), -2);
    assert_eq!(m.read_f32(24).unwrap(), 1.5);
    assert_eq!(m.read_u8(8).unwrap(), 0xef, "little-endian");
    assert_eq!(m.read_i16(8).unwrap(), 0xbeefu16 as i16);
    m.copy(100, 200, 5).unwrap();
    m.fill(300, 3, b'z').unwrap();
    assert_eq!(m.read_vec(200, 5).unwrap(), b"hello");
    assert_eq!(m.read_vec(300, 4).unwrap(), b"zzz\0");
    assert_eq!(m.data()[100], b'h');
    m.data_mut()[0] = 7;
    assert_eq!(
        i.call("load", &[WasmValue::I32(8)]).unwrap(),
        [WasmValue::I32(0xdead_beefu32 as i32)]
    );
    i.call("store", &[WasmValue::I32(40), WasmValue::I32(0x0102_0304)])
        .unwrap();
    let m = i.memory().unwrap();
    assert_eq!(
        m.read_vec(40, 4).unwrap(),
        [4, 3, 2, 1],
        "the host sees the guest's write"
    );
    assert_eq!(m.read_u8(0).unwrap(), 7);
    assert_eq!(m.read_async(100, 5).into_inner().unwrap(), b"hello");
    m.write_async(0, b"ab").into_inner().unwrap();
    assert_eq!(m.read_vec(0, 2).unwrap(), b"ab");
}

fn out_of_bounds_is_an_error(kind: EngineKind) {
    let mut i = instance(kind, WasmRuntimeConfig::default(), MEM);
    let m = i.memory().unwrap();
    let end = PAGE_SIZE;
    assert!(matches!(
        m.read_vec(end - 1, 2),
        Err(WasmError::OutOfBounds { .. })
    ));
    assert!(matches!(
        m.write(end, b"x"),
        Err(WasmError::OutOfBounds { .. })
    ));
    assert!(
        m.write(end, b"").is_ok(),
        "an empty write at the end is in bounds"
    );
    assert!(m.read_u64(u64::MAX).is_err());
    assert!(m.copy(0, end - 2, 4).is_err());
    assert!(m.fill(end - 1, 2, 0).is_err());
    assert!(m.read_vec(0, usize::MAX).is_err());
    m.write_u8(end - 1, 9).unwrap();
    assert_eq!(m.read_u8(end - 1).unwrap(), 9);
}

fn grow_returns_the_previous_size(kind: EngineKind) {
    let mut i = instance(kind, WasmRuntimeConfig::default(), MEM);
    let m = i.memory().unwrap();
    assert_eq!(m.grow(2).unwrap(), 1);
    assert_eq!(m.pages(), 3);
    assert_eq!(m.grow(0).unwrap(), 3);
    let r = m.grow(2);
    assert!(
        matches!(r, Err(WasmError::MemoryLimit { .. })),
        "past the maximum of 4: {r:?}"
    );
    assert_eq!(m.pages(), 3, "a refused grow changes nothing");
    assert_eq!(i.call("size", &[]).unwrap(), [WasmValue::I32(3)]);
}

fn named_memories(kind: EngineKind) {
    let mut i = instance(kind, WasmRuntimeConfig::default(), MEM);
    let second = i.memory_named("second").unwrap();
    assert_eq!(second.pages(), 2);
    second.write(0, b"two").unwrap();
    assert_eq!(
        i.memory().unwrap().read_vec(0, 3).unwrap(),
        [0, 0, 0],
        "memories are apart"
    );
    assert!(matches!(
        i.memory_named("nope"),
        Err(WasmError::ExportNotFound {
            kind: plugin_system_core::ExportKind::Memory,
            ..
        })
    ));
    let mut none = instance(kind, WasmRuntimeConfig::default(), "(module)");
    assert!(none.memory().is_none());
}

on_every_engine!(
    read_write_and_typed_access,
    out_of_bounds_is_an_error,
    grow_returns_the_previous_size,
    named_memories,
);
