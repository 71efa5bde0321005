//! WASI preview 1 on wasmtime: host functions around the engine-neutral calls of
//! [`crate::wasi::calls`], which run wasmtime-wasi's implementation.

use plugin_system_core::{HostError, wasi::WASI_MODULE};
use wasmtime::{Caller, Linker};

use super::{convert::HostFailure, state::StoreData};
use crate::wasi::{
    WasiWorld,
    calls::{WasiFailure, for_each_wasi_function, functions, wasi_ret},
};

/// A WASI call's failure, reported as a host function's.
fn failure(message: String) -> wasmtime::Error {
    wasmtime::Error::new(HostFailure {
        function: WASI_MODULE.into(),
        error: HostError::new(message),
    })
}

/// Runs one WASI call with the caller's memory, the store's world and the call's
/// deadline.
fn with_wasi<R>(
    caller: &mut Caller<'_, StoreData>,
    call: impl FnOnce(
        &mut WasiWorld,
        &mut [u8],
        Option<plugin_system_core::Deadline>,
    ) -> Result<R, WasiFailure>,
) -> wasmtime::Result<R> {
    let Some(memory) = caller
        .get_export("memory")
        .and_then(wasmtime::Extern::into_memory)
    else {
        return Err(failure("missing required memory export".into()));
    };
    let (data, state) = memory.data_and_store_mut(caller);
    let deadline = state.deadline;
    call(state.wasi_world(), data, deadline).map_err(|failed| match failed {
        WasiFailure::Exit(code) => wasmtime::Error::new(wasmtime_wasi::I32Exit(code)),
        WasiFailure::Deadline(passed) => wasmtime::Error::new(passed),
        WasiFailure::Guest(message) => failure(message),
    })
}

/// Defines every WASI preview 1 function in `linker`.
macro_rules! define_on_wasmtime {
    ($( $mode:ident $fds:ident $name:ident ( $($arg:ident : $ty:ty),* ) $(-> $ret:ty)? ; )*) => {
        pub(crate) fn define_all(linker: &mut Linker<StoreData>) -> wasmtime::Result<()> {
            $(
                linker.func_wrap(
                    WASI_MODULE,
                    stringify!($name),
                    |mut caller: Caller<'_, StoreData>, $($arg: $ty),*|
                        -> wasmtime::Result<wasi_ret!($($ret)?)> {
                        with_wasi(&mut caller, |world, memory, deadline| {
                            functions::$name(world, memory, deadline $(, $arg)*)
                        })
                    },
                )?;
            )*
            Ok(())
        }
    };
}

for_each_wasi_function!(define_on_wasmtime);
