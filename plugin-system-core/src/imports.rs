//! What the host offers a module: host functions, memories, globals and tables.

use std::{
    fmt,
    panic::{AssertUnwindSafe, catch_unwind},
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
};

use crate::{
    error::HostError,
    memory::WasmMemory,
    types::{ExternType, FuncType, GlobalType, ImportType, MemoryType, TableType},
    value::WasmValue,
    wasi::WasiConfig,
};

/// The guest that called a host function, as the host function sees it.
pub trait Caller {
    /// The caller's memory (its export `memory`, else its first exported memory).
    fn memory(&mut self) -> Option<&mut dyn WasmMemory>;

    /// The name of the engine running the caller.
    fn engine(&self) -> &'static str;

    /// Charges `fuel` for work the host does for the guest (bytes it copies,
    /// say), so that a guest cannot get unbounded host work for a bounded
    /// budget. Never fails here: a guest whose fuel runs out stops at its next
    /// instruction with [`WasmError::FuelExhausted`](crate::WasmError::FuelExhausted).
    /// Without metering (or in an engine without fuel, the default) nothing is
    /// charged.
    fn consume_fuel(&mut self, fuel: u64) {
        let _ = fuel;
    }
}

type HostFnBox =
    dyn Fn(&mut dyn Caller, &[WasmValue], &mut [WasmValue]) -> Result<(), HostError> + Send + Sync;

/// A function the host offers to guests.
///
/// The closure gets the caller (for its memory), the arguments (already checked
/// against the signature) and a results slice pre-filled with zeros of the right
/// types. A returned [`HostError`] stops the guest; so does a panic, which is caught
/// and reported as a [`HostError`] instead of unwinding through the engine.
///
/// ```
/// use plugin_system_core::{FuncType, HostFunc, ValType, WasmValue};
///
/// let double = HostFunc::new(FuncType::new([ValType::I32], [ValType::I32]), |_caller, args, results| {
///     results[0] = WasmValue::I32(args[0].as_i32().unwrap_or(0) * 2);
///     Ok(())
/// });
/// assert_eq!(double.ty().params(), &[ValType::I32]);
/// ```
#[derive(Clone)]
pub struct HostFunc {
    ty: FuncType,
    func: Arc<HostFnBox>,
}

impl HostFunc {
    /// A host function with signature `ty`.
    pub fn new(
        ty: FuncType,
        func: impl Fn(&mut dyn Caller, &[WasmValue], &mut [WasmValue]) -> Result<(), HostError>
        + Send
        + Sync
        + 'static,
    ) -> Self {
        HostFunc {
            ty,
            func: Arc::new(func),
        }
    }

    /// The signature.
    pub fn ty(&self) -> &FuncType {
        &self.ty
    }

    /// Runs the function: catches a panic, and checks that the results it wrote have
    /// the declared types. Engines call this, not the closure.
    ///
    /// # Errors
    /// The function's own error, a caught panic, or results of the wrong type.
    pub fn call(
        &self,
        caller: &mut dyn Caller,
        args: &[WasmValue],
        results: &mut [WasmValue],
    ) -> Result<(), HostError> {
        for (slot, ty) in results.iter_mut().zip(self.ty.results()) {
            *slot = ty.default_value();
        }
        let outcome = catch_unwind(AssertUnwindSafe(|| (self.func)(caller, args, results)));
        match outcome {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(e),
            Err(panic) => {
                let what = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "unknown panic".into());
                return Err(HostError::new(format!("host function panicked: {what}")));
            }
        }
        for (i, (value, ty)) in results.iter().zip(self.ty.results()).enumerate() {
            if !value.matches(*ty) {
                return Err(HostError::new(format!(
                    "host function returned {} for result {i}, declared {ty}",
                    value.ty()
                )));
            }
        }
        Ok(())
    }
}

impl fmt::Debug for HostFunc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HostFunc")
            .field("ty", &self.ty)
            .finish_non_exhaustive()
    }
}

/// One thing the host provides for an import.
///
/// Memories, globals and tables are created fresh inside the new instance, with
/// the given type and initial value.
#[derive(Debug, Clone)]
pub enum Extern {
    /// A host function.
    Func(HostFunc),
    /// A new memory of this type.
    Memory(MemoryType),
    /// A new global of this type and initial value.
    Global(GlobalType, WasmValue),
    /// A new table of this type, every element set to the value.
    Table(TableType, WasmValue),
    /// The export `name` of an instance in the same [`WasmStore`](crate::WasmStore).
    Export {
        /// The exporting instance.
        instance: crate::InstanceHandle,
        /// Its export.
        name: String,
    },
}

/// What a module's imports are satisfied with, by module and field name.
///
/// ```
/// use plugin_system_core::{FuncType, HostFunc, Imports, MemoryType};
///
/// let mut imports = Imports::new();
/// imports
///     .func("env", "tick", HostFunc::new(FuncType::default(), |_, _, _| Ok(())))
///     .memory("env", "memory", MemoryType::new(1, Some(2)));
/// assert!(imports.get("env", "tick").is_some());
/// ```
#[derive(Debug, Clone, Default)]
pub struct Imports {
    items: Vec<(String, String, Extern)>,
    /// The WASI world of the instance, when the caller sets one.
    wasi: Option<WasiConfig>,
    /// Every empty set of imports is the same: generation 0.
    generation: u64,
}

/// What [`Imports::define_unknown`] gives functions the host does not provide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnknownImports {
    /// A function that fails with a [`HostError`] naming the import when called.
    Trap,
    /// A function that returns zeros (null references).
    Default,
}

/// A process-wide counter that gives each set of definitions its own number.
fn next_generation() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

impl Imports {
    /// No imports.
    pub fn new() -> Self {
        Self::default()
    }

    /// A number that changes whenever the definitions change (a clone keeps it,
    /// since it holds the same definitions). Engines key their linking caches on it.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Gives the instance WASI preview 1 with this world: every
    /// `wasi_snapshot_preview1` import that is not defined here is served by the
    /// engine's WASI implementation. This is the one switch WASI needs;
    /// [`WasmRuntimeConfig::enable_wasi`](crate::WasmRuntimeConfig::enable_wasi)
    /// only serves the empty world of [`WasiConfig::new`] to a module that
    /// imports WASI and was given no world here. A store has one WASI world: in a
    /// [`WasmStore`](crate::WasmStore), the first instance that uses WASI sets it
    /// and later instances share it (their WASI config is not used).
    ///
    /// An engine built without WASI refuses a world with
    /// [`WasmError::Unsupported`](crate::WasmError::Unsupported).
    pub fn wasi(&mut self, config: WasiConfig) -> &mut Self {
        self.wasi = Some(config);
        // Instances linked with WASI differ from those without.
        self.generation = next_generation();
        self
    }

    /// [`wasi`](Self::wasi) by value, to build imports in one expression.
    ///
    /// ```
    /// use plugin_system_core::{FuncType, HostFunc, Imports, ValType, WasiConfig};
    ///
    /// let log = HostFunc::new(FuncType::new([ValType::I32], []), |_, _, _| Ok(()));
    /// let imports = Imports::new()
    ///     .with_wasi(WasiConfig::new().args(["tool", "--help"]))
    ///     .with_func("env", "log", log);
    /// assert!(imports.wasi_config().is_some() && imports.get("env", "log").is_some());
    /// ```
    #[must_use]
    pub fn with_wasi(mut self, config: WasiConfig) -> Self {
        self.wasi(config);
        self
    }

    /// [`func`](Self::func) by value, to build imports in one expression.
    #[must_use]
    pub fn with_func(
        mut self,
        module: impl Into<String>,
        name: impl Into<String>,
        func: HostFunc,
    ) -> Self {
        self.func(module, name, func);
        self
    }

    /// The WASI world set with [`wasi`](Self::wasi).
    pub fn wasi_config(&self) -> Option<&WasiConfig> {
        self.wasi.as_ref()
    }

    /// Defines every import in `wanted` that is not defined yet, so that a module
    /// with host imports this host does not know still instantiates: functions
    /// [trap when called](UnknownImports::Trap) or [return zeros](UnknownImports::Default);
    /// memories, tables and globals are made fresh at their minimum size with
    /// zero (null) contents; exception tags stay undefined. `wasi_snapshot_preview1`
    /// imports are left to WASI.
    pub fn define_unknown(&mut self, wanted: &[ImportType], policy: UnknownImports) -> &mut Self {
        for import in wanted {
            if import.module == crate::wasi::WASI_MODULE
                || self.get(&import.module, &import.name).is_some()
            {
                continue;
            }
            let value = match &import.ty {
                ExternType::Func(ty) => {
                    let what = format!("{}::{}", import.module, import.name);
                    Extern::Func(match policy {
                        UnknownImports::Trap => HostFunc::new(ty.clone(), move |_, _, _| {
                            Err(HostError::new(format!(
                                "`{what}` is not provided by this host (--unknown-imports trap)"
                            )))
                        }),
                        UnknownImports::Default => HostFunc::new(ty.clone(), |_, _, _| Ok(())),
                    })
                }
                ExternType::Memory(ty) => Extern::Memory(*ty),
                ExternType::Global(ty) => Extern::Global(*ty, ty.content.default_value()),
                ExternType::Table(ty) => Extern::Table(*ty, ty.element.default_value()),
                // No host-made exception tags: linking names the import.
                ExternType::Tag(_) => continue,
            };
            self.define(import.module.clone(), import.name.clone(), value);
        }
        self
    }

    /// Defines `module.name`, replacing an earlier definition of it.
    pub fn define(
        &mut self,
        module: impl Into<String>,
        name: impl Into<String>,
        value: Extern,
    ) -> &mut Self {
        let (module, name) = (module.into(), name.into());
        self.items.retain(|(m, n, _)| *m != module || *n != name);
        self.items.push((module, name, value));
        self.generation = next_generation();
        self
    }

    /// Defines a host function.
    pub fn func(
        &mut self,
        module: impl Into<String>,
        name: impl Into<String>,
        func: HostFunc,
    ) -> &mut Self {
        self.define(module, name, Extern::Func(func))
    }

    /// Defines a fresh memory.
    pub fn memory(
        &mut self,
        module: impl Into<String>,
        name: impl Into<String>,
        ty: MemoryType,
    ) -> &mut Self {
        self.define(module, name, Extern::Memory(ty))
    }

    /// Defines a fresh global.
    pub fn global(
        &mut self,
        module: impl Into<String>,
        name: impl Into<String>,
        ty: GlobalType,
        value: WasmValue,
    ) -> &mut Self {
        self.define(module, name, Extern::Global(ty, value))
    }

    /// Defines a fresh table.
    pub fn table(
        &mut self,
        module: impl Into<String>,
        name: impl Into<String>,
        ty: TableType,
        init: WasmValue,
    ) -> &mut Self {
        self.define(module, name, Extern::Table(ty, init))
    }

    /// The definition of `module.name`, if any.
    pub fn get(&self, module: &str, name: &str) -> Option<&Extern> {
        self.items
            .iter()
            .find(|(m, n, _)| m == module && n == name)
            .map(|(_, _, e)| e)
    }

    /// Every definition.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str, &Extern)> {
        self.items
            .iter()
            .map(|(m, n, e)| (m.as_str(), n.as_str(), e))
    }

    /// Whether nothing is defined.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}
