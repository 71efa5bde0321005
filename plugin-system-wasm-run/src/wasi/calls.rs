//! The WASI preview 1 calls, listed once, and the one way both engines run them.
//!
//! wasmtime-wasi generates (with wiggle) one function per WASI call that takes the
//! guest memory and the world; each engine wraps them as its own host functions
//! (`wasmtime_engine/wasi.rs`, `wasmi_engine/wasi.rs`) around [`functions`], which
//! adds what wasmtime-wasi lacks: a blocking call ends at the call's deadline,
//! and the descriptors a guest may hold are capped. The generated module is
//! internal to wasmtime-wasi, which is why that crate is pinned to one version.

use plugin_system_core::Deadline;
use wasmtime_wasi::p1::{WasiP1Ctx, wasi_snapshot_preview1::WasiSnapshotPreview1 as _};
use wiggle::GuestMemory;

use super::{HOSTCALL_FUEL, WasiWorld};
use crate::deadline::{self, DeadlinePassed};

/// `errno` `EMFILE` of WASI preview 1: too many open files.
const ERRNO_MFILE: i32 = 33;

/// How a call changes the descriptors the guest holds when it succeeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Descriptors {
    /// Neither opens nor closes one.
    Keep,
    /// Opens one (`path_open`, `sock_accept`).
    Open,
    /// Closes one (`fd_close`; `fd_renumber`, which closes its target).
    Close,
}

/// Why a WASI call ended the guest's call instead of returning to it.
#[derive(Debug)]
pub(crate) enum WasiFailure {
    /// `proc_exit`.
    Exit(i32),
    /// The call would have gone on past the deadline.
    Deadline(DeadlinePassed),
    /// The guest gave the call something it cannot use (a bad pointer, no
    /// memory); the engines report it as a host function's failure.
    Guest(String),
}

/// What a WASI call returns to the guest: an `errno`, or nothing (`proc_exit`).
pub(crate) trait WasiResult: Sized {
    /// The `errno`, 0 for success.
    fn errno(&self) -> i32;
    /// A result that is this `errno`, for calls that return one.
    fn from_errno(errno: i32) -> Option<Self>;
}

impl WasiResult for i32 {
    fn errno(&self) -> i32 {
        *self
    }

    fn from_errno(errno: i32) -> Option<Self> {
        Some(errno)
    }
}

impl WasiResult for () {
    fn errno(&self) -> i32 {
        0
    }

    fn from_errno(_: i32) -> Option<Self> {
        None
    }
}

/// A WASI parameter or result type in the core's terms.
pub(crate) trait CoreType {
    const TYPE: plugin_system_core::ValType;
}

impl CoreType for i32 {
    const TYPE: plugin_system_core::ValType = plugin_system_core::ValType::I32;
}

impl CoreType for i64 {
    const TYPE: plugin_system_core::ValType = plugin_system_core::ValType::I64;
}

/// Drives one of wasmtime-wasi's async calls (I/O, polls, sleeps) to its end, as
/// wasmtime's own sync linker does, but no later than `deadline`: a sleep, a
/// poll or a read that would go on past it is dropped there.
pub(crate) fn block_on<F: Future>(
    deadline: Option<Deadline>,
    call: F,
) -> Result<F::Output, DeadlinePassed> {
    wasmtime_wasi::runtime::in_tokio(async move {
        match deadline {
            None => Ok(call.await),
            Some(d) => tokio::time::timeout_at(d.at().into(), call)
                .await
                .map_err(|_| DeadlinePassed { limit: d.limit() }),
        }
    })
}

/// Runs one WASI call against the store's world and the caller's memory.
///
/// # Errors
/// [`WasiFailure`]: an exit, the deadline, or the guest's bad input.
pub(crate) fn run<R: WasiResult>(
    world: &mut WasiWorld,
    memory: &mut [u8],
    deadline: Option<Deadline>,
    descriptors: Descriptors,
    call: impl FnOnce(
        &mut WasiP1Ctx,
        &mut GuestMemory<'_>,
    ) -> Result<wiggle::error::Result<R>, DeadlinePassed>,
) -> Result<R, WasiFailure> {
    if descriptors == Descriptors::Open
        && world.open >= world.max_open
        && let Some(refused) = R::from_errno(ERRNO_MFILE)
    {
        return Ok(refused);
    }
    world.ctx.set_hostcall_fuel(HOSTCALL_FUEL);
    let mut memory = GuestMemory::Unshared(memory);
    let returned = call(&mut world.ctx, &mut memory)
        .map_err(WasiFailure::Deadline)?
        .map_err(|e| match super::exit_code(&e) {
            Some(code) => WasiFailure::Exit(code),
            None => WasiFailure::Guest(e.root_cause().to_string()),
        })?;
    if returned.errno() == 0 {
        match descriptors {
            Descriptors::Keep => {}
            Descriptors::Open => world.open = world.open.saturating_add(1),
            Descriptors::Close => world.open = world.open.saturating_sub(1),
        }
    }
    deadline::check_returned(deadline).map_err(WasiFailure::Deadline)?;
    Ok(returned)
}

/// A WASI function's result type (`()` when it returns nothing).
macro_rules! wasi_ret {
    () => {
        ()
    };
    ($ret:ty) => {
        $ret
    };
}
pub(crate) use wasi_ret;

/// Calls `$define!` with every WASI preview 1 function: whether wasmtime-wasi
/// runs it async, how it changes the guest's descriptors, its name and its
/// wasm signature. A unit test checks this list against wasmtime-wasi's linker.
macro_rules! for_each_wasi_function {
    ($define:ident) => {
        $define! {
            sync keep args_get(a: i32, b: i32) -> i32;
            sync keep args_sizes_get(a: i32, b: i32) -> i32;
            sync keep clock_res_get(a: i32, b: i32) -> i32;
            sync keep clock_time_get(a: i32, b: i64, c: i32) -> i32;
            sync keep environ_get(a: i32, b: i32) -> i32;
            sync keep environ_sizes_get(a: i32, b: i32) -> i32;
            async keep fd_advise(a: i32, b: i64, c: i64, d: i32) -> i32;
            sync keep fd_allocate(a: i32, b: i64, c: i64) -> i32;
            async close fd_close(a: i32) -> i32;
            async keep fd_datasync(a: i32) -> i32;
            async keep fd_fdstat_get(a: i32, b: i32) -> i32;
            sync keep fd_fdstat_set_flags(a: i32, b: i32) -> i32;
            sync keep fd_fdstat_set_rights(a: i32, b: i64, c: i64) -> i32;
            async keep fd_filestat_get(a: i32, b: i32) -> i32;
            async keep fd_filestat_set_size(a: i32, b: i64) -> i32;
            async keep fd_filestat_set_times(a: i32, b: i64, c: i64, d: i32) -> i32;
            async keep fd_pread(a: i32, b: i32, c: i32, d: i64, e: i32) -> i32;
            sync keep fd_prestat_dir_name(a: i32, b: i32, c: i32) -> i32;
            sync keep fd_prestat_get(a: i32, b: i32) -> i32;
            async keep fd_pwrite(a: i32, b: i32, c: i32, d: i64, e: i32) -> i32;
            async keep fd_read(a: i32, b: i32, c: i32, d: i32) -> i32;
            async keep fd_readdir(a: i32, b: i32, c: i32, d: i64, e: i32) -> i32;
            async close fd_renumber(a: i32, b: i32) -> i32;
            async keep fd_seek(a: i32, b: i64, c: i32, d: i32) -> i32;
            async keep fd_sync(a: i32) -> i32;
            sync keep fd_tell(a: i32, b: i32) -> i32;
            async keep fd_write(a: i32, b: i32, c: i32, d: i32) -> i32;
            async keep path_create_directory(a: i32, b: i32, c: i32) -> i32;
            async keep path_filestat_get(a: i32, b: i32, c: i32, d: i32, e: i32) -> i32;
            async keep path_filestat_set_times(a: i32, b: i32, c: i32, d: i32, e: i64, f: i64, g: i32) -> i32;
            async keep path_link(a: i32, b: i32, c: i32, d: i32, e: i32, f: i32, g: i32) -> i32;
            async open path_open(a: i32, b: i32, c: i32, d: i32, e: i32, f: i64, g: i64, h: i32, i: i32) -> i32;
            async keep path_readlink(a: i32, b: i32, c: i32, d: i32, e: i32, f: i32) -> i32;
            async keep path_remove_directory(a: i32, b: i32, c: i32) -> i32;
            async keep path_rename(a: i32, b: i32, c: i32, d: i32, e: i32, f: i32) -> i32;
            async keep path_symlink(a: i32, b: i32, c: i32, d: i32, e: i32) -> i32;
            async keep path_unlink_file(a: i32, b: i32, c: i32) -> i32;
            async keep poll_oneoff(a: i32, b: i32, c: i32, d: i32) -> i32;
            sync keep proc_exit(a: i32);
            sync keep proc_raise(a: i32) -> i32;
            sync keep random_get(a: i32, b: i32) -> i32;
            sync keep sched_yield() -> i32;
            sync open sock_accept(a: i32, b: i32, c: i32) -> i32;
            sync keep sock_recv(a: i32, b: i32, c: i32, d: i32, e: i32, f: i32) -> i32;
            sync keep sock_send(a: i32, b: i32, c: i32, d: i32, e: i32) -> i32;
            sync keep sock_shutdown(a: i32, b: i32) -> i32;
        }
    };
}
pub(crate) use for_each_wasi_function;

/// One engine-neutral function per WASI call: `(world, memory, deadline,
/// args...)`, what each engine's host function calls.
macro_rules! engine_neutral {
    ($( $mode:ident $fds:ident $name:ident ( $($arg:ident : $ty:ty),* ) $(-> $ret:ty)? ; )*) => {
        $(
            #[allow(clippy::too_many_arguments, reason = "one parameter per WASI argument")]
            pub(crate) fn $name(
                world: &mut WasiWorld,
                memory: &mut [u8],
                deadline: Option<Deadline>,
                $($arg: $ty),*
            ) -> Result<wasi_ret!($($ret)?), WasiFailure> {
                run(world, memory, deadline, engine_neutral!(@fds $fds), |ctx, memory| {
                    engine_neutral!(@call $mode deadline, p1::$name(ctx, memory $(, $arg)*))
                })
            }
        )*

        /// The WASI preview 1 functions, by name.
        #[cfg(test)]
        pub(crate) const NAMES: &[&str] = &[$(stringify!($name)),*];
    };
    (@fds keep) => { Descriptors::Keep };
    (@fds open) => { Descriptors::Open };
    (@fds close) => { Descriptors::Close };
    (@call async $deadline:ident, $call:expr) => { block_on($deadline, $call) };
    (@call sync $deadline:ident, $call:expr) => { Ok($call) };
}

/// The engine-neutral WASI functions.
pub(crate) mod functions {
    use plugin_system_core::Deadline;
    use wasmtime_wasi::p1::wasi_snapshot_preview1 as p1;

    use super::{Descriptors, WasiFailure, block_on, run};
    use crate::wasi::WasiWorld;

    for_each_wasi_function!(engine_neutral);
}

#[cfg(all(test, feature = "wasmtime"))]
mod tests {
    use super::functions::NAMES;

    /// Every function wasmtime-wasi's own linker defines.
    fn wasmtime_wasi_functions() -> Vec<String> {
        let engine = wasmtime::Engine::default();
        let mut linker = wasmtime::Linker::new(&engine);
        wasmtime_wasi::p1::add_to_linker_sync(&mut linker, |ctx| ctx).expect("defines");
        let mut store =
            wasmtime::Store::new(&engine, wasmtime_wasi::WasiCtxBuilder::new().build_p1());
        let mut names: Vec<String> = linker
            .iter(&mut store)
            .map(|(_, name, _)| name.to_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn the_list_holds_every_function_wasmtime_wasi_defines() {
        let mut names: Vec<&str> = NAMES.to_vec();
        names.sort_unstable();
        assert_eq!(names, wasmtime_wasi_functions());
    }
}
