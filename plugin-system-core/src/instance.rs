//! A running instance: calls, globals, memory, fuel and deadlines.

use std::{
    marker::PhantomData,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use crate::{
    error::{Result, WasmError},
    memory::WasmMemory,
    module::WasmModule,
    types::{ExternType, FuncType, GlobalType},
    value::{ValType, WasmValue},
};

/// Identifies one instance, so that a handle of one is never used with another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct InstanceId(u64);

impl InstanceId {
    /// A fresh, process-wide unique id.
    pub fn next() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        InstanceId(NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

/// A function export resolved once, for calls that skip the lookup by name.
#[derive(Debug, Clone)]
pub struct Func {
    owner: InstanceId,
    index: usize,
    ty: FuncType,
}

impl Func {
    /// A handle to an engine's function `index` in instance `owner`. Only engines need this.
    pub fn new(owner: InstanceId, index: usize, ty: FuncType) -> Self {
        Func { owner, index, ty }
    }

    /// The instance this handle belongs to.
    pub fn owner(&self) -> InstanceId {
        self.owner
    }

    /// The engine's index of the function.
    pub fn index(&self) -> usize {
        self.index
    }

    /// The signature.
    pub fn ty(&self) -> &FuncType {
        &self.ty
    }

    /// Checks that the handle belongs to `instance` and that `args` and `results`
    /// fit the signature. Engines call this before every call.
    ///
    /// # Errors
    /// [`WasmError::TypeMismatch`] for a foreign handle or ill-fitting values.
    pub fn check_call(
        &self,
        instance: InstanceId,
        args: &[WasmValue],
        results: &[WasmValue],
    ) -> Result<()> {
        if self.owner != instance {
            return Err(WasmError::type_mismatch(
                "function handle of another instance",
            ));
        }
        let params = self.ty.params();
        if args.len() != params.len() || args.iter().zip(params).any(|(a, p)| !a.matches(*p)) {
            // A null says `null`: its kind's type would hide why it does not fit.
            let given: Vec<String> = args
                .iter()
                .map(|a| match a.is_null() {
                    true => "null".to_owned(),
                    false => a.ty().to_string(),
                })
                .collect();
            return Err(WasmError::type_mismatch(format!(
                "function {} called with ({})",
                self.ty,
                given.join(", ")
            )));
        }
        if results.len() != self.ty.results().len() {
            return Err(WasmError::type_mismatch(format!(
                "function {} returns {} values, {} slots given",
                self.ty,
                self.ty.results().len(),
                results.len()
            )));
        }
        Ok(())
    }
}

/// Counters of one instance.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct InstanceStats {
    /// Calls into the guest, failed ones included.
    pub calls: u64,
    /// Calls that ended in an error.
    pub failed_calls: u64,
    /// Fuel consumed so far, when metering is on.
    pub fuel_consumed: Option<u64>,
    /// Pages of the default memory, if there is one.
    pub memory_pages: Option<u64>,
}

/// A module instantiated in its own store: nothing it does can touch another instance.
///
/// An instance is `Send` but not `Sync`: calls need `&mut self`, so one guest call
/// runs at a time and a re-entrant call is impossible by construction.
pub trait WasmInstance: Send {
    /// The module this is an instance of.
    fn module(&self) -> &Arc<dyn WasmModule>;

    /// Resolves the exported function `name` once, for [`call_func`](Self::call_func).
    ///
    /// # Errors
    /// [`WasmError::ExportNotFound`] when there is no such function.
    fn func(&mut self, name: &str) -> Result<Func>;

    /// Calls a resolved function. `results` must have one slot per result.
    ///
    /// # Errors
    /// [`WasmError::TypeMismatch`] for ill-fitting values; a trap, limit or host
    /// error from the guest. The instance stays usable after any of them.
    fn call_func(
        &mut self,
        func: &Func,
        args: &[WasmValue],
        results: &mut [WasmValue],
    ) -> Result<()>;

    /// Calls the exported function `name`.
    ///
    /// # Errors
    /// As [`func`](Self::func) and [`call_func`](Self::call_func).
    fn call(&mut self, name: &str, args: &[WasmValue]) -> Result<Vec<WasmValue>> {
        let func = self.func(name)?;
        let mut results: Vec<WasmValue> = func
            .ty()
            .results()
            .iter()
            .map(|t| t.default_value())
            .collect();
        self.call_func(&func, args, &mut results)?;
        Ok(results)
    }

    /// The exported functions with their signatures.
    fn functions(&self) -> Vec<(String, FuncType)> {
        self.module()
            .exports()
            .iter()
            .filter_map(|e| match &e.ty {
                ExternType::Func(t) => Some((e.name.clone(), t.clone())),
                _ => None,
            })
            .collect()
    }

    /// The exported globals with their types.
    fn globals(&self) -> Vec<(String, GlobalType)> {
        self.module()
            .exports()
            .iter()
            .filter_map(|e| match &e.ty {
                ExternType::Global(t) => Some((e.name.clone(), *t)),
                _ => None,
            })
            .collect()
    }

    /// The value of the exported global `name`.
    ///
    /// # Errors
    /// [`WasmError::ExportNotFound`].
    fn global(&mut self, name: &str) -> Result<WasmValue>;

    /// Sets the exported global `name`.
    ///
    /// # Errors
    /// [`WasmError::ExportNotFound`], [`WasmError::ImmutableGlobal`], or
    /// [`WasmError::TypeMismatch`] for a value of another type.
    fn set_global(&mut self, name: &str, value: WasmValue) -> Result<()>;

    /// The default memory: the export `memory`, else the first exported memory.
    fn memory(&mut self) -> Option<&mut dyn WasmMemory>;

    /// The exported memory `name`.
    ///
    /// # Errors
    /// [`WasmError::ExportNotFound`].
    fn memory_named(&mut self, name: &str) -> Result<&mut dyn WasmMemory>;

    /// Fuel left.
    ///
    /// # Errors
    /// [`WasmError::Unsupported`] when metering is off (no `fuel_limit` configured).
    fn fuel(&self) -> Result<u64>;

    /// Sets the fuel left.
    ///
    /// # Errors
    /// [`WasmError::Unsupported`] when metering is off.
    fn set_fuel(&mut self, fuel: u64) -> Result<()>;

    /// Adds fuel.
    ///
    /// # Errors
    /// [`WasmError::Unsupported`] when metering is off.
    fn add_fuel(&mut self, fuel: u64) -> Result<()> {
        let now = self.fuel()?;
        self.set_fuel(now.saturating_add(fuel))
    }

    /// Sets the wall-clock deadline of each following call (`None`: no deadline).
    fn set_timeout(&mut self, timeout: Option<Duration>);

    /// Ends every following call at `deadline` at the latest, until it is set
    /// to `None`: several calls then share one budget (the plugin layer gives an
    /// event's whole exchange one). The per-call timeout still applies; the
    /// earlier of the two wins. A call that starts after the deadline fails
    /// at once with [`WasmError::Timeout`], without running guest code.
    ///
    /// # Errors
    /// [`WasmError::Unsupported`] from an engine without deadlines (the default
    /// of this method).
    fn set_deadline(&mut self, deadline: Option<crate::Deadline>) -> Result<()> {
        let _ = deadline;
        Err(WasmError::Unsupported {
            feature: "deadlines".into(),
        })
    }

    /// Caps each linear memory of this instance's store at `max_bytes` from now
    /// on, under the runtime's `max_memory_pages` (the tighter limit wins;
    /// `None` leaves the runtime's alone). A guest's `memory.grow` past the cap
    /// returns -1 and a host-side [`WasmMemory::grow`] fails with
    /// [`WasmError::MemoryLimit`]; a memory already larger keeps its size and
    /// cannot grow. Lets a host that shares one runtime give each plugin its
    /// own budget.
    ///
    /// # Errors
    /// [`WasmError::Unsupported`] from an engine that cannot limit one store
    /// (the default of this method).
    fn set_memory_limit(&mut self, max_bytes: Option<u64>) -> Result<()> {
        let _ = max_bytes;
        Err(WasmError::Unsupported {
            feature: "per-instance memory limits".into(),
        })
    }

    /// Counters of this instance.
    fn stats(&mut self) -> InstanceStats;
}

impl dyn WasmInstance + '_ {
    /// Resolves `name` as a typed function: its signature is checked once here, and
    /// each call then skips the checks and lookups of [`WasmInstance::call`].
    ///
    /// # Errors
    /// [`WasmError::ExportNotFound`], or [`WasmError::TypeMismatch`] when `P -> R`
    /// is not the function's signature.
    pub fn typed<P: WasmParams, R: WasmResults>(&mut self, name: &str) -> Result<TypedFunc<P, R>> {
        TypedFunc::new(self, name)
    }
}

/// A Rust type that is one WebAssembly value.
pub trait WasmTy: Copy {
    /// Its WebAssembly type.
    const TYPE: ValType;
    /// Into a value.
    fn into_value(self) -> WasmValue;
    /// Out of a value of type [`TYPE`](Self::TYPE).
    fn from_value(value: &WasmValue) -> Option<Self>;
}

macro_rules! wasm_ty {
    ($($t:ty => $v:ident),*) => {$(
        impl WasmTy for $t {
            const TYPE: ValType = ValType::$v;
            fn into_value(self) -> WasmValue { WasmValue::$v(self) }
            fn from_value(value: &WasmValue) -> Option<Self> {
                match *value { WasmValue::$v(v) => Some(v), _ => None }
            }
        }
    )*};
}
wasm_ty!(i32 => I32, i64 => I64, f32 => F32, f64 => F64, u128 => V128);

/// Parameters of a [`TypedFunc`]: `()`, a [`WasmTy`] or a tuple of them.
pub trait WasmParams {
    /// The values on the stack, no allocation.
    type Values: AsRef<[WasmValue]>;
    /// The parameter types.
    fn types() -> Vec<ValType>;
    /// Into values.
    fn into_values(self) -> Self::Values;
}

/// Results of a [`TypedFunc`]: `()`, a [`WasmTy`] or a tuple of them.
pub trait WasmResults: Sized {
    /// Slots for the results, no allocation.
    type Slots: AsMut<[WasmValue]> + AsRef<[WasmValue]> + Default;
    /// The result types.
    fn types() -> Vec<ValType>;
    /// Out of the values the call wrote.
    fn from_values(values: &[WasmValue]) -> Option<Self>;
}

impl<T: WasmTy> WasmParams for T {
    type Values = [WasmValue; 1];
    fn types() -> Vec<ValType> {
        vec![T::TYPE]
    }
    fn into_values(self) -> Self::Values {
        [self.into_value()]
    }
}

impl<T: WasmTy> WasmResults for T {
    type Slots = [WasmValue; 1];
    fn types() -> Vec<ValType> {
        vec![T::TYPE]
    }
    fn from_values(values: &[WasmValue]) -> Option<Self> {
        T::from_value(values.first()?)
    }
}

macro_rules! tuples {
    ($(($n:literal; $($t:ident $i:tt),*))*) => {$(
        impl<$($t: WasmTy),*> WasmParams for ($($t,)*) {
            type Values = [WasmValue; $n];
            fn types() -> Vec<ValType> { vec![$($t::TYPE),*] }
            #[allow(clippy::unused_unit, reason = "the empty tuple has no values")]
            fn into_values(self) -> Self::Values { [$(self.$i.into_value()),*] }
        }
        impl<$($t: WasmTy),*> WasmResults for ($($t,)*) {
            type Slots = [WasmValue; $n];
            fn types() -> Vec<ValType> { vec![$($t::TYPE),*] }
            #[allow(unused_variables, reason = "the empty tuple reads nothing")]
            fn from_values(values: &[WasmValue]) -> Option<Self> {
                Some(($($t::from_value(values.get($i)?)?,)*))
            }
        }
    )*};
}
tuples! {
    (0;)
    (2; A 0, B 1)
    (3; A 0, B 1, C 2)
    (4; A 0, B 1, C 2, D 3)
    (5; A 0, B 1, C 2, D 3, E 4)
    (6; A 0, B 1, C 2, D 3, E 4, F 5)
    (7; A 0, B 1, C 2, D 3, E 4, F 5, G 6)
    (8; A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7)
}

/// A function with a signature checked once, called with Rust values.
///
/// ```no_run
/// # fn demo(instance: &mut dyn plugin_system_core::WasmInstance) -> plugin_system_core::Result<()> {
/// let add = instance.typed::<(i32, i32), i32>("add")?;
/// assert_eq!(add.call(instance, (1, 2))?, 3);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct TypedFunc<P, R> {
    func: Func,
    _signature: PhantomData<fn(P) -> R>,
}

impl<P: WasmParams, R: WasmResults> TypedFunc<P, R> {
    /// Resolves `name` in `instance` and checks its signature.
    ///
    /// # Errors
    /// [`WasmError::ExportNotFound`] or [`WasmError::TypeMismatch`].
    pub fn new(instance: &mut dyn WasmInstance, name: &str) -> Result<Self> {
        let func = instance.func(name)?;
        let wanted = FuncType::new(P::types(), R::types());
        if *func.ty() != wanted {
            return Err(WasmError::type_mismatch(format!(
                "`{name}` is {}, not {wanted}",
                func.ty()
            )));
        }
        Ok(TypedFunc {
            func,
            _signature: PhantomData,
        })
    }

    /// The resolved handle.
    pub fn func(&self) -> &Func {
        &self.func
    }

    /// Calls the function in `instance` (the one it was resolved in).
    ///
    /// # Errors
    /// As [`WasmInstance::call_func`].
    pub fn call(&self, instance: &mut dyn WasmInstance, params: P) -> Result<R> {
        let args = params.into_values();
        let mut slots = R::Slots::default();
        instance.call_func(&self.func, args.as_ref(), slots.as_mut())?;
        R::from_values(slots.as_ref())
            .ok_or_else(|| WasmError::type_mismatch("engine returned results of the wrong type"))
    }
}

impl std::fmt::Debug for dyn WasmInstance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WasmInstance")
            .field("module", self.module())
            .finish_non_exhaustive()
    }
}
