//! The imports of the module `plugin_system`, behind safe functions.
//!
//! On wasm they are the host's functions. Anywhere else (the SDK's and the
//! plugins' own unit tests) a stand-in takes their place: `set_error` and
//! `log` are recorded per thread for [`crate::testing`] to read, and
//! `host_call` answers with status 3 (no such host function) unless a test
//! installed a mock host.

#[cfg(target_family = "wasm")]
mod imp {
    // The Rust names differ from the import names so that they can never be
    // confused with other symbols of the link (`log` is also libm's).
    #[link(wasm_import_module = "plugin_system")]
    unsafe extern "C" {
        #[link_name = "set_error"]
        fn plugin_system_set_error(ptr: *const u8, len: usize);
        #[link_name = "log"]
        fn plugin_system_log(level: i32, ptr: *const u8, len: usize);
        #[link_name = "host_call"]
        fn plugin_system_host_call(
            name_ptr: *const u8,
            name_len: usize,
            args_ptr: *const u8,
            args_len: usize,
        ) -> i32;
        #[link_name = "host_result_len"]
        fn plugin_system_host_result_len() -> i32;
        #[link_name = "host_result"]
        fn plugin_system_host_result(ptr: *mut u8);
    }

    pub(crate) fn set_error(message: &str) {
        // SAFETY: the host only reads `message.len()` bytes at its pointer.
        unsafe { plugin_system_set_error(message.as_ptr(), message.len()) }
    }

    pub(crate) fn log(level: i32, message: &str) {
        // SAFETY: as for `set_error`.
        unsafe { plugin_system_log(level, message.as_ptr(), message.len()) }
    }

    pub(crate) fn host_call(name: &str, args: &[u8]) -> (i32, Vec<u8>) {
        // SAFETY: the host reads `name` and `args` within their lengths.
        let status = unsafe {
            plugin_system_host_call(name.as_ptr(), name.len(), args.as_ptr(), args.len())
        };
        // SAFETY: no arguments; the host answers with the pending length.
        let len = usize::try_from(unsafe { plugin_system_host_result_len() }).unwrap_or(0);
        let mut result = Vec::<u8>::with_capacity(len);
        // SAFETY: `result` has room for `len` bytes, which the host writes
        // (and nothing more); they are initialized once it returns. Called
        // even when `len` is 0, to clear the pending result.
        unsafe {
            plugin_system_host_result(result.as_mut_ptr());
            result.set_len(len);
        }
        (status, result)
    }
}

#[cfg(not(target_family = "wasm"))]
mod imp {
    use std::cell::RefCell;

    /// A host function stand-in: `(name, serialized args)` to `(status,
    /// pending result)`.
    pub(crate) type MockHost = Box<dyn FnMut(&str, &[u8]) -> (i32, Vec<u8>)>;

    thread_local! {
        pub(crate) static LAST_ERROR: RefCell<Option<String>> = const { RefCell::new(None) };
        pub(crate) static LOGS: RefCell<Vec<(i32, String)>> = const { RefCell::new(Vec::new()) };
        pub(crate) static HOST: RefCell<Option<MockHost>> = const { RefCell::new(None) };
    }

    pub(crate) fn set_error(message: &str) {
        LAST_ERROR.with(|e| *e.borrow_mut() = Some(message.to_owned()));
    }

    pub(crate) fn log(level: i32, message: &str) {
        LOGS.with(|l| l.borrow_mut().push((level, message.to_owned())));
    }

    pub(crate) fn host_call(name: &str, args: &[u8]) -> (i32, Vec<u8>) {
        // Taken out while it runs, so that a mock may itself call the host
        // (it then gets status 3) without a double borrow.
        let mock = HOST.with(|h| h.borrow_mut().take());
        match mock {
            Some(mut mock) => {
                let answer = mock(name, args);
                HOST.with(|h| {
                    let mut slot = h.borrow_mut();
                    if slot.is_none() {
                        *slot = Some(mock);
                    }
                });
                answer
            }
            None => (
                3,
                format!("no host: `{name}` cannot be called outside a WebAssembly host")
                    .into_bytes(),
            ),
        }
    }
}

pub(crate) use imp::{host_call, log, set_error};

#[cfg(not(target_family = "wasm"))]
pub(crate) use imp::{HOST, LAST_ERROR, LOGS};
