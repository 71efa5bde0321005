//! WASI preview 1 on wasmi: host functions around the engine-neutral calls of
//! [`crate::wasi::calls`], which run wasmtime-wasi's implementation.

use plugin_system_core::wasi::WASI_MODULE;
use wasmi::{Caller, Linker};

use super::{convert::HostFailure, state::StoreData};
use crate::wasi::{
    WasiWorld,
    calls::{CoreType, WasiFailure, for_each_wasi_function, functions, wasi_ret},
};

/// A WASI call's failure, reported as a host function's.
fn failure(message: String) -> wasmi::Error {
    wasmi::Error::host(HostFailure {
        function: WASI_MODULE.into(),
        error: plugin_system_core::HostError::new(message),
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
) -> Result<R, wasmi::Error> {
    let Some(memory) = caller
        .get_export("memory")
        .and_then(wasmi::Extern::into_memory)
    else {
        return Err(failure("missing required memory export".into()));
    };
    let (data, state) = memory.data_and_store_mut(caller);
    let deadline = state.deadline;
    call(state.wasi_world(), data, deadline).map_err(|failed| match failed {
        WasiFailure::Exit(code) => wasmi::Error::i32_exit(code),
        WasiFailure::Deadline(passed) => wasmi::Error::host(passed),
        // The guest's failure, named as on wasmtime.
        WasiFailure::Guest(message) => failure(message),
    })
}

/// Defines the WASI preview 1 function `name` in `linker`, for a module that
/// imports it, and returns its type; `None` when WASI has no such function.
macro_rules! define_on_wasmi {
    ($( $mode:ident $fds:ident $name:ident ( $($arg:ident : $ty:ty),* ) $(-> $ret:ty)? ; )*) => {
        pub(crate) fn define(
            linker: &mut Linker<StoreData>,
            name: &str,
        ) -> Result<Option<plugin_system_core::FuncType>, wasmi::Error> {
            match name {
                $(
                    stringify!($name) => {
                        linker.func_wrap(
                            WASI_MODULE,
                            stringify!($name),
                            |mut caller: Caller<'_, StoreData>, $($arg: $ty),*|
                                -> Result<wasi_ret!($($ret)?), wasmi::Error> {
                                with_wasi(&mut caller, |world, memory, deadline| {
                                    functions::$name(world, memory, deadline $(, $arg)*)
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
    };
}

for_each_wasi_function!(define_on_wasmi);

#[cfg(all(test, feature = "wasmtime"))]
mod tests {
    use plugin_system_core::{Imports, WasmRuntime, WasmRuntimeConfig};

    use crate::{WasmiRuntime, wasi::calls::functions::NAMES};

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
