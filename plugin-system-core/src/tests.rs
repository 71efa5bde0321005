//! Unit tests of the engine-neutral parts: bounds checks, typed memory access,
//! host-function panics, imports.

use crate::*;

/// A memory backed by a vector, to test the default methods of [`WasmMemory`].
struct VecMemory(Vec<u8>);

impl WasmMemory for VecMemory {
    fn data(&self) -> &[u8] {
        &self.0
    }
    fn data_mut(&mut self) -> &mut [u8] {
        &mut self.0
    }
    fn grow(&mut self, pages: u64) -> Result<u64> {
        let before = self.pages();
        self.0.resize(((before + pages) * PAGE_SIZE) as usize, 0);
        Ok(before)
    }
}

struct NoCaller;
impl Caller for NoCaller {
    fn memory(&mut self) -> Option<&mut dyn WasmMemory> {
        None
    }
    fn engine(&self) -> &'static str {
        "test"
    }
}

const _: () = {
    const fn send_sync<T: Send + Sync>() {}
    send_sync::<HostFunc>();
    send_sync::<Imports>();
    send_sync::<WasmError>();
    send_sync::<WasmRuntimeConfig>();
    send_sync::<std::sync::Arc<dyn WasmModule>>();
    send_sync::<Box<dyn WasmRuntime>>();
};

#[test]
fn checked_range_rejects_every_overflow() {
    assert_eq!(checked_range(0, 4, 4).unwrap(), 0..4);
    assert_eq!(checked_range(4, 0, 4).unwrap(), 4..4);
    assert!(matches!(
        checked_range(1, 4, 4),
        Err(WasmError::OutOfBounds {
            offset: 1,
            len: 4,
            size: 4
        })
    ));
    assert!(checked_range(5, 0, 4).is_err());
    assert!(checked_range(u64::MAX, 1, 4).is_err());
    assert!(checked_range(1, usize::MAX, 4).is_err());
}

#[test]
fn typed_access_is_little_endian_and_bounds_checked() {
    let mut m = VecMemory(vec![0; 16]);
    m.write_u32(0, 0x0403_0201).unwrap();
    assert_eq!(m.read_vec(0, 4).unwrap(), [1, 2, 3, 4]);
    m.write_f64(8, -1.5).unwrap();
    assert_eq!(m.read_f64(8).unwrap(), -1.5);
    m.write_i8(3, -1).unwrap();
    assert_eq!(m.read_u8(3).unwrap(), 255);
    assert!(matches!(m.read_u64(9), Err(WasmError::OutOfBounds { .. })));
    let before = m.read_u8(15).unwrap();
    assert!(m.write_i16(15, 1).is_err());
    assert_eq!(
        m.read_u8(15).unwrap(),
        before,
        "a failed write changes nothing"
    );
}

#[test]
fn copy_fill_and_grow() {
    let mut m = VecMemory(vec![0; PAGE_SIZE as usize]);
    m.write(0, b"hello").unwrap();
    m.copy(0, 2, 5).unwrap();
    assert_eq!(m.read_vec(0, 7).unwrap(), b"hehello");
    m.fill(0, 2, b'x').unwrap();
    assert_eq!(m.read_vec(0, 3).unwrap(), b"xxh");
    assert!(m.copy(0, PAGE_SIZE - 1, 2).is_err());
    assert!(m.fill(PAGE_SIZE, 1, 0).is_err());
    assert_eq!(m.grow(2).unwrap(), 1);
    assert_eq!(m.pages(), 3);
    assert_eq!(m.size(), 3 * PAGE_SIZE);
}

#[test]
fn host_function_panic_becomes_an_error() {
    let f = HostFunc::new(FuncType::new([], [ValType::I32]), |_, _, _| panic!("boom"));
    let mut results = [WasmValue::I32(0)];
    let err = f.call(&mut NoCaller, &[], &mut results).unwrap_err();
    assert!(err.message().contains("boom"), "{err}");
}

#[test]
fn host_function_result_types_are_checked() {
    let f = HostFunc::new(FuncType::new([], [ValType::I64]), |_, _, r| {
        r[0] = WasmValue::I32(1);
        Ok(())
    });
    let mut results = [WasmValue::I64(0)];
    let err = f.call(&mut NoCaller, &[], &mut results).unwrap_err();
    assert!(err.message().contains("declared i64"), "{err}");
}

#[test]
fn imports_replace_earlier_definitions() {
    let mut imports = Imports::new();
    imports.memory("env", "memory", MemoryType::new(1, None));
    imports.memory("env", "memory", MemoryType::new(2, None));
    assert_eq!(imports.iter().count(), 1);
    assert!(matches!(imports.get("env", "memory"), Some(Extern::Memory(m)) if m.minimum == 2));
    assert!(imports.get("env", "other").is_none());
}

#[test]
fn func_handle_checks_arguments() {
    let id = InstanceId::next();
    let f = Func::new(id, 0, FuncType::new([ValType::I32], [ValType::I32]));
    let out = [WasmValue::I32(0)];
    assert!(f.check_call(id, &[WasmValue::I32(1)], &out).is_ok());
    assert!(f.check_call(id, &[WasmValue::I64(1)], &out).is_err());
    assert!(f.check_call(id, &[], &out).is_err());
    assert!(
        f.check_call(InstanceId::next(), &[WasmValue::I32(1)], &out)
            .is_err()
    );
    assert!(f.check_call(id, &[WasmValue::I32(1)], &out[..0]).is_err());
}

#[test]
fn values_display_and_compare_bits() {
    assert_eq!(WasmValue::I32(-3).to_string(), "-3");
    assert_eq!(WasmValue::F64(0.5).to_string(), "0.5");
    assert_eq!(WasmValue::FuncRef(None).to_string(), "null");
    let nan = WasmValue::F32(f32::from_bits(0x7fc0_0001));
    assert!(nan.bit_eq(&nan));
    assert!(!nan.bit_eq(&WasmValue::F32(f32::NAN)));
    assert_eq!(
        FuncType::new([ValType::I32, ValType::F64], [ValType::I64]).to_string(),
        "(i32, f64) -> (i64)"
    );
}

#[test]
fn stats_keep_the_dart_keys() {
    let counters = std::sync::Arc::new(RuntimeCounters::default());
    counters.module_loaded(false);
    let guard = counters.instance_created();
    assert_eq!(counters.snapshot().instances_active, 1);
    drop(guard);
    let map = counters.snapshot().to_map();
    assert_eq!(map["modules_loaded"], 1);
    assert_eq!(map["instances_active"], 0);
    assert_eq!(map["instances_created"], 1);
}

#[test]
fn engine_errors_keep_their_causes() {
    use std::error::Error as _;

    use crate::{ErrorChain, WasmError};
    let root = std::io::Error::new(std::io::ErrorKind::PermissionDenied, "mmap refused");
    let e = WasmError::engine_in("cannot reserve the memory pool", root);
    assert_eq!(
        e.to_string(),
        "engine error: cannot reserve the memory pool: mmap refused"
    );
    // Each cause once, though the outer message already names it.
    assert_eq!(ErrorChain(&e).to_string(), e.to_string());
    let context = e.source().expect("the context");
    let io = context
        .source()
        .and_then(|c| c.downcast_ref::<std::io::Error>())
        .expect("the io::Error, typed");
    assert_eq!(io.kind(), std::io::ErrorKind::PermissionDenied);
}

#[test]
fn an_error_chain_shows_causes_its_messages_leave_out() {
    use crate::ErrorChain;

    #[derive(Debug, thiserror::Error)]
    #[error("cannot load plugin `lint`")]
    struct Outer(#[source] std::io::Error);
    let e = Outer(std::io::Error::other("disk gone"));
    assert_eq!(
        ErrorChain(&e).to_string(),
        "cannot load plugin `lint`: disk gone"
    );
}
