//! An embedder calls a C library's string exports, as one would call
//! graphviz's WASI build: `guests/c/dot_lite.c`, a WASI reactor whose
//! `char *render(const char *)` takes and returns NUL-terminated strings in
//! its own heap. The core's guest helpers do the memory work: the guest's
//! `malloc`/`free` through a [`GuestAllocator`], C strings read with
//! [`WasmMemory::read_cstr`](plugin_system_core::WasmMemory::read_cstr),
//! addresses as [`GuestPtr`] (unsigned, never sign-extended).

use std::sync::Arc;

use anyhow::{Context as _, Result, anyhow};
use plugin_system_core::{
    GuestAllocator, GuestPtr, Imports, TypedFunc, WasiConfig, WasmInstance, WasmRuntime,
    WasmRuntimeConfig,
};
use plugin_system_wasm_run::{EngineKind, new_runtime};

/// The longest string read back from the library.
const MAX_TEXT: usize = 1 << 20;

/// One instance of `dot_lite.wasm`, ready to render.
pub struct DotLite {
    instance: Box<dyn WasmInstance>,
    heap: GuestAllocator,
    render: TypedFunc<GuestPtr, GuestPtr>,
    version: TypedFunc<(), GuestPtr>,
    last_error: TypedFunc<(), GuestPtr>,
}

impl DotLite {
    /// The library built by `cargo xtask guests`, instantiated on `kind`.
    ///
    /// # Errors
    /// When it is not built, or does not instantiate.
    pub fn load(kind: EngineKind) -> Result<Self> {
        let wasm = std::fs::read(crate::guest("c/dot_lite.wasm")?)?;
        // WASI is off in the config: the world given with the imports is
        // the one switch it needs.
        let runtime: Arc<dyn WasmRuntime> = new_runtime(kind, WasmRuntimeConfig::default())?;
        Self::instantiate(&*runtime, &wasm)
    }

    /// `wasm` (a build of `dot_lite.c`) on `runtime`.
    ///
    /// # Errors
    /// When it does not compile or instantiate, or lacks an export.
    pub fn instantiate(runtime: &dyn WasmRuntime, wasm: &[u8]) -> Result<Self> {
        let module = runtime.load_module(wasm)?;
        let imports = Imports::new().with_wasi(WasiConfig::new());
        // A reactor: its `_initialize` has run when this returns.
        let mut instance = runtime.instantiate(&module, &imports)?;
        let heap = GuestAllocator::c(&mut *instance)?;
        Ok(DotLite {
            render: instance.typed("render")?,
            version: instance.typed("version")?,
            last_error: instance.typed("last_error")?,
            heap,
            instance,
        })
    }

    /// The library's version string.
    ///
    /// # Errors
    /// A trap, or a string that is not one.
    pub fn version(&mut self) -> Result<String> {
        let at = self.version.call(&mut *self.instance, ())?;
        self.read(at)
    }

    /// `dot` (`a -> b; b -> c`) laid out as text: a line per node with the
    /// nodes it points to.
    ///
    /// # Errors
    /// The library's own message when it refuses the input; a trap.
    pub fn render(&mut self, dot: &str) -> Result<String> {
        let input = self.heap.write_cstr(&mut *self.instance, dot)?;
        let output = self.render.call(&mut *self.instance, input);
        self.heap.free(&mut *self.instance, input, None)?;
        let output = output?;
        if output.is_null() {
            let at = self.last_error.call(&mut *self.instance, ())?;
            return Err(anyhow!("dot_lite refused the graph: {}", self.read(at)?));
        }
        let text = self.read(output);
        // The caller owns the result: back to the guest's heap.
        self.heap.free(&mut *self.instance, output, None)?;
        text
    }

    fn read(&mut self, at: GuestPtr) -> Result<String> {
        let memory = self.instance.memory().context("dot_lite has no memory")?;
        Ok(memory.read_cstr(at, MAX_TEXT)?)
    }
}

/// `dot` rendered on a fresh instance of each engine, with the library's
/// version: what `cargo run -p examples --example dot` prints.
///
/// # Errors
/// As [`DotLite::load`] and [`DotLite::render`].
pub fn tour(dot: &str) -> Result<String> {
    let mut out = String::new();
    for kind in [EngineKind::Wasmtime, EngineKind::Wasmi] {
        let mut lib = DotLite::load(kind)?;
        out.push_str(&format!("{kind:?}: {}\n", lib.version()?));
        out.push_str(&lib.render(dot)?);
    }
    Ok(out)
}
