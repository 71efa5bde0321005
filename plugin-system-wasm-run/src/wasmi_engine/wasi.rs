//! WASI preview 1 on wasmi, served by wasmtime-wasi's implementation.
//!
//! wasmtime-wasi generates (with wiggle) one function per WASI call that takes the
//! guest memory as a byte slice and the world as a `WasiP1Ctx`; wasmtime's linker
//! wraps them, and here wasmi host functions do the same, so both engines run one
//! implementation. The generated module is internal to wasmtime-wasi, which is why
//! it is pinned to one exact version and every call is wired in this one file.

use plugin_system_core::wasi::WASI_MODULE;
use wasmi::{Caller, Linker};
use wasmtime_wasi::p1::{
    WasiP1Ctx,
    wasi_snapshot_preview1::{self as p1, WasiSnapshotPreview1},
};
use wiggle::GuestMemory;

use super::{convert::HostFailure, state::HostState};
use crate::wasi::HOSTCALL_FUEL;

/// A WASI call's failure, reported as a host function's.
fn failure(message: String) -> wasmi::Error {
    wasmi::Error::host(HostFailure {
        function: WASI_MODULE.into(),
        error: plugin_system_core::HostError::new(message),
    })
}

/// Runs one WASI call with the caller's memory and the store's world.
fn with_wasi<R>(
    caller: &mut Caller<'_, HostState>,
    call: impl FnOnce(&mut WasiP1Ctx, &mut GuestMemory<'_>) -> wiggle::error::Result<R>,
) -> Result<R, wasmi::Error> {
    let Some(memory) = caller
        .get_export("memory")
        .and_then(wasmi::Extern::into_memory)
    else {
        return Err(failure("missing required memory export".into()));
    };
    let (data, state) = memory.data_and_store_mut(caller);
    let ctx = state.wasi_ctx();
    ctx.set_hostcall_fuel(HOSTCALL_FUEL);
    let mut memory = GuestMemory::Unshared(data);
    call(ctx, &mut memory).map_err(|e| match crate::wasi::exit_code(&e) {
        Some(code) => wasmi::Error::i32_exit(code),
        // The guest's failure, named as on wasmtime.
        None => failure(e.root_cause().to_string()),
    })
}

/// A WASI parameter or result type in the core's terms.
trait CoreType {
    const TYPE: plugin_system_core::ValType;
}

impl CoreType for i32 {
    const TYPE: plugin_system_core::ValType = plugin_system_core::ValType::I32;
}

impl CoreType for i64 {
    const TYPE: plugin_system_core::ValType = plugin_system_core::ValType::I64;
}

/// Defines the WASI preview 1 function `name` in `linker`, for a module that
/// imports it, and returns its type; `None` when WASI has no such function.
macro_rules! wasi_functions {
    ($( $mode:ident $name:ident ( $($arg:ident : $ty:ty),* ) $(-> $ret:ty)? ; )*) => {
        pub(crate) fn define(
            linker: &mut Linker<HostState>,
            name: &str,
        ) -> Result<Option<plugin_system_core::FuncType>, wasmi::Error> {
            match name {
                $(
                    stringify!($name) => {
                        linker.func_wrap(
                            WASI_MODULE,
                            stringify!($name),
                            |mut caller: Caller<'_, HostState>, $($arg: $ty),*|
                                -> Result<wasi_functions!(@ret $($ret)?), wasmi::Error> {
                                with_wasi(&mut caller, |ctx, memory| {
                                    wasi_functions!(@call $mode p1::$name(ctx, memory $(, $arg)*))
                                })
                            },
                        )?;
                        Ok(Some(plugin_system_core::FuncType::new(
                            [$(<$ty as CoreType>::TYPE),*],
                            [$(<$ret as CoreType>::TYPE)?],
                        )))
                    }
                )*
                _ => Ok(None),
            }
        }

        /// The WASI preview 1 functions, by name.
        #[cfg(test)]
        pub(crate) const NAMES: &[&str] = &[$(stringify!($name)),*];
    };
    (@ret) => { () };
    (@ret $ret:ty) => { $ret };
    // wasmtime-wasi's I/O calls are async; it drives them the same way.
    (@call async $call:expr) => { wasmtime_wasi::runtime::in_tokio($call) };
    (@call sync $call:expr) => { $call };
}

wasi_functions! {
    sync args_get(a: i32, b: i32) -> i32;
    sync args_sizes_get(a: i32, b: i32) -> i32;
    sync clock_res_get(a: i32, b: i32) -> i32;
    sync clock_time_get(a: i32, b: i64, c: i32) -> i32;
    sync environ_get(a: i32, b: i32) -> i32;
    sync environ_sizes_get(a: i32, b: i32) -> i32;
    async fd_advise(a: i32, b: i64, c: i64, d: i32) -> i32;
    sync fd_allocate(a: i32, b: i64, c: i64) -> i32;
    async fd_close(a: i32) -> i32;
    async fd_datasync(a: i32) -> i32;
    async fd_fdstat_get(a: i32, b: i32) -> i32;
    sync fd_fdstat_set_flags(a: i32, b: i32) -> i32;
    sync fd_fdstat_set_rights(a: i32, b: i64, c: i64) -> i32;
    async fd_filestat_get(a: i32, b: i32) -> i32;
    async fd_filestat_set_size(a: i32, b: i64) -> i32;
    async fd_filestat_set_times(a: i32, b: i64, c: i64, d: i32) -> i32;
    async fd_pread(a: i32, b: i32, c: i32, d: i64, e: i32) -> i32;
    sync fd_prestat_dir_name(a: i32, b: i32, c: i32) -> i32;
    sync fd_prestat_get(a: i32, b: i32) -> i32;
    async fd_pwrite(a: i32, b: i32, c: i32, d: i64, e: i32) -> i32;
    async fd_read(a: i32, b: i32, c: i32, d: i32) -> i32;
    async fd_readdir(a: i32, b: i32, c: i32, d: i64, e: i32) -> i32;
    async fd_renumber(a: i32, b: i32) -> i32;
    async fd_seek(a: i32, b: i64, c: i32, d: i32) -> i32;
    async fd_sync(a: i32) -> i32;
    sync fd_tell(a: i32, b: i32) -> i32;
    async fd_write(a: i32, b: i32, c: i32, d: i32) -> i32;
    async path_create_directory(a: i32, b: i32, c: i32) -> i32;
    async path_filestat_get(a: i32, b: i32, c: i32, d: i32, e: i32) -> i32;
    async path_filestat_set_times(a: i32, b: i32, c: i32, d: i32, e: i64, f: i64, g: i32) -> i32;
    async path_link(a: i32, b: i32, c: i32, d: i32, e: i32, f: i32, g: i32) -> i32;
    async path_open(a: i32, b: i32, c: i32, d: i32, e: i32, f: i64, g: i64, h: i32, i: i32) -> i32;
    async path_readlink(a: i32, b: i32, c: i32, d: i32, e: i32, f: i32) -> i32;
    async path_remove_directory(a: i32, b: i32, c: i32) -> i32;
    async path_rename(a: i32, b: i32, c: i32, d: i32, e: i32, f: i32) -> i32;
    async path_symlink(a: i32, b: i32, c: i32, d: i32, e: i32) -> i32;
    async path_unlink_file(a: i32, b: i32, c: i32) -> i32;
    async poll_oneoff(a: i32, b: i32, c: i32, d: i32) -> i32;
    sync proc_exit(a: i32);
    sync proc_raise(a: i32) -> i32;
    sync random_get(a: i32, b: i32) -> i32;
    sync sched_yield() -> i32;
    sync sock_accept(a: i32, b: i32, c: i32) -> i32;
    sync sock_recv(a: i32, b: i32, c: i32, d: i32, e: i32, f: i32) -> i32;
    sync sock_send(a: i32, b: i32, c: i32, d: i32, e: i32) -> i32;
    sync sock_shutdown(a: i32, b: i32) -> i32;
}

#[cfg(all(test, feature = "wasmtime"))]
mod tests {
    use plugin_system_core::{Imports, WasmRuntime, WasmRuntimeConfig};

    use super::NAMES;
    use crate::WasmiRuntime;

    /// Every function wasmtime-wasi's own linker defines, with its wasm type.
    fn wasmtime_wasi_functions() -> Vec<(String, String)> {
        let engine = wasmtime::Engine::default();
        let mut linker = wasmtime::Linker::new(&engine);
        wasmtime_wasi::p1::add_to_linker_sync(&mut linker, |ctx| ctx).expect("defines");
        let mut store =
            wasmtime::Store::new(&engine, wasmtime_wasi::WasiCtxBuilder::new().build_p1());
        let items: Vec<_> = linker
            .iter(&mut store)
            .map(|(module, name, item)| (module.to_owned(), name.to_owned(), item))
            .collect();
        let mut functions = Vec::new();
        for (module, name, item) in items {
            assert_eq!(module, super::WASI_MODULE);
            let ty = item.into_func().expect("WASI defines functions").ty(&store);
            let list = |types: &mut dyn Iterator<Item = wasmtime::ValType>| {
                types.map(|t| t.to_string()).collect::<Vec<_>>().join(" ")
            };
            let signature = format!(
                "(param {}) (result {})",
                list(&mut ty.params()),
                list(&mut ty.results())
            );
            functions.push((name, signature));
        }
        functions.sort();
        functions
    }

    #[test]
    fn wasmi_serves_every_wasi_function_with_wasmtimes_types() {
        let reference = wasmtime_wasi_functions();
        let mut names: Vec<&str> = NAMES.to_vec();
        names.sort_unstable();
        let expected: Vec<&str> = reference.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(names, expected);

        // A module that imports each with wasmtime's type links on wasmi only if
        // the wiring here has the same type.
        let imports: String = reference
            .iter()
            .map(|(name, sig)| {
                format!("(import \"wasi_snapshot_preview1\" \"{name}\" (func {sig}))\n")
            })
            .collect();
        let wat = format!("(module {imports} (memory (export \"memory\") 1))");
        let runtime = WasmiRuntime::new(WasmRuntimeConfig::default().enable_wasi(true)).unwrap();
        let module = runtime.load_module(wat.as_bytes()).expect("compiles");
        runtime
            .instantiate(&module, &Imports::new())
            .expect("every WASI import links on wasmi");
    }
}
