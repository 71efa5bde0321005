//! Rules that every engine applies the same way, so that their behaviour matches
//! by construction rather than by care.

use plugin_system_core::{
    ExternType, Imports, MemoryType, ModuleInfo, TableType, ValidationReport, WasmError,
    WasmFeatures, WasmRuntimeConfig,
};

/// Nested calls allowed when `max_stack_depth` is not set: wasmtime's default
/// 512 KiB stack at `STACK_BYTES_PER_FRAME`.
const DEFAULT_STACK_DEPTH: u32 = 2048;

/// Fewest and most nested calls `max_stack_depth` can mean. Below the floor,
/// host calls and trampolines lack room on wasmtime; above the ceiling, wasmi's
/// frame stack and wasmtime's native stack would grow past what a host should
/// give one guest.
const STACK_DEPTH_RANGE: (u32, u32) = (256, 4096);

/// The nested-call limit both engines enforce for a configured `max_stack_depth`:
/// wasmi counts frames exactly, wasmtime turns it into native stack bytes.
pub(crate) fn stack_depth(configured: Option<u32>) -> u32 {
    configured
        .unwrap_or(DEFAULT_STACK_DEPTH)
        .clamp(STACK_DEPTH_RANGE.0, STACK_DEPTH_RANGE.1)
}

/// Native stack bytes allowed per nested wasm call when `max_stack_depth` is turned
/// into wasmtime's byte-based stack limit. A frame of plain wasm code takes well
/// under this; a deep limit still ends in a stack overflow, never a crash.
#[cfg(feature = "wasmtime")]
pub(crate) const STACK_BYTES_PER_FRAME: usize = 256;

/// Fuel a wasmi call runs between two looks at the clock when a deadline is set.
/// About a millisecond of interpretation on a development machine.
#[cfg(feature = "wasmi")]
pub(crate) const DEADLINE_FUEL_SLICE: u64 = 1_000_000;

/// Wall-clock resolution of wasmtime's deadline ticker.
#[cfg(feature = "wasmtime")]
pub(crate) const EPOCH_TICK: std::time::Duration = std::time::Duration::from_millis(1);

/// What a store's resource limiter enforces: bytes per linear memory and
/// elements per table (`None`: no limit). The memory limit is the tighter of
/// the runtime's `max_memory_pages` and the store's own cap
/// ([`set_memory_limit`](plugin_system_core::WasmInstance::set_memory_limit)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StoreLimitValues {
    pub(crate) memory_bytes: Option<usize>,
    pub(crate) table_elements: Option<usize>,
    /// `max_table_elements` as configured; `None` derives the table limit from
    /// the memory limit, also when a store's own cap tightens that.
    configured_table_elements: Option<u64>,
}

/// Bytes a table element is reckoned to take (a function pointer), for the
/// default table limit.
const TABLE_ELEMENT_BYTES: u64 = 8;

/// Most elements a table may have when neither `max_table_elements` nor a memory
/// limit is set: tens of times what large programs declare, and 8 MiB.
pub(crate) const DEFAULT_TABLE_ELEMENTS: u64 = 1 << 20;

/// Fewest elements the default allows, however small the memory limit.
const MIN_DEFAULT_TABLE_ELEMENTS: u64 = 4096;

/// The table limit when `max_table_elements` is not set: tables within the
/// memory budget (`memory_bytes`), and never more than
/// [`DEFAULT_TABLE_ELEMENTS`]. Without it one `table.grow` of 2^31 elements,
/// a single instruction that no deadline can cut, commits 16 GiB.
pub(crate) fn default_table_elements(memory_bytes: Option<u64>) -> u64 {
    memory_bytes.map_or(DEFAULT_TABLE_ELEMENTS, |bytes| {
        (bytes / TABLE_ELEMENT_BYTES).clamp(MIN_DEFAULT_TABLE_ELEMENTS, DEFAULT_TABLE_ELEMENTS)
    })
}

impl StoreLimitValues {
    /// The runtime's limits.
    pub(crate) fn new(config: &WasmRuntimeConfig) -> Self {
        let to_usize = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
        let memory_bytes = config
            .max_memory_pages
            .map(|pages| pages.saturating_mul(plugin_system_core::PAGE_SIZE));
        StoreLimitValues {
            memory_bytes: memory_bytes.map(to_usize),
            table_elements: None,
            configured_table_elements: config.max_table_elements,
        }
        .with_table_limit()
    }

    /// These limits with the table limit worked out from the rest.
    fn with_table_limit(self) -> Self {
        let elements = self
            .configured_table_elements
            .unwrap_or_else(|| default_table_elements(self.memory_bytes.map(|bytes| bytes as u64)));
        StoreLimitValues {
            table_elements: Some(usize::try_from(elements).unwrap_or(usize::MAX)),
            ..self
        }
    }

    /// These limits with memories capped at `max_bytes` too.
    pub(crate) fn capped(self, max_bytes: Option<u64>) -> Self {
        let cap = max_bytes.map(|n| usize::try_from(n).unwrap_or(usize::MAX));
        let memory_bytes = match (self.memory_bytes, cap) {
            (Some(runtime), Some(cap)) => Some(runtime.min(cap)),
            (runtime, cap) => runtime.or(cap),
        };
        StoreLimitValues {
            memory_bytes,
            ..self
        }
        .with_table_limit()
    }

    /// The memory limit in whole pages, for messages.
    pub(crate) fn memory_pages(&self) -> Option<u64> {
        self.memory_bytes
            .map(|bytes| bytes as u64 / plugin_system_core::PAGE_SIZE)
    }
}

/// Refuses modules whose own memories or tables start larger than the store's
/// limits, and imports that would create such memories. Both engines call this
/// before instantiating, so the error is [`WasmError::MemoryLimit`] on both.
pub(crate) fn check_limits(
    info: &ModuleInfo,
    imports: &Imports,
    limits: StoreLimitValues,
) -> Result<(), WasmError> {
    if let Some(max) = limits.memory_pages() {
        let imported = imports.iter().filter_map(|(_, _, e)| match e {
            plugin_system_core::Extern::Memory(m) => Some(m),
            _ => None,
        });
        for m in info.memories.iter().chain(imported) {
            if m.minimum > max {
                return Err(WasmError::MemoryLimit {
                    message: format!(
                        "memory needs {} pages at start, the limit is {max}",
                        m.minimum
                    ),
                });
            }
        }
    }
    if let Some(max) = limits.table_elements.map(|n| n as u64) {
        for t in &info.tables {
            if t.minimum > max {
                return Err(WasmError::MemoryLimit {
                    message: format!(
                        "table needs {} elements at start, the limit is {max}",
                        t.minimum
                    ),
                });
            }
        }
    }
    Ok(())
}

/// A host function's error on its way through an engine (as the engine's own
/// error), with the function's `module::name`; both engines turn it back into
/// [`WasmError::Host`].
#[derive(Debug, thiserror::Error)]
#[error("host function {function} failed: {error}")]
pub(crate) struct HostFailure {
    /// `module::name` of the import.
    pub(crate) function: std::sync::Arc<str>,
    /// What the host function returned.
    pub(crate) error: plugin_system_core::HostError,
}

impl From<HostFailure> for WasmError {
    fn from(failure: HostFailure) -> Self {
        WasmError::Host {
            function: failure.function.to_string(),
            source: failure.error,
        }
    }
}

/// An import that cannot be linked, worded alike on every engine:
/// ``import `env::f`: <why>``; `qualified` is `module::name`.
pub(crate) fn link_error(qualified: &str, why: impl std::fmt::Display) -> WasmError {
    WasmError::Link {
        message: format!("import `{qualified}`: {why}"),
    }
}

/// An import that nothing provides.
pub(crate) fn missing_import(qualified: &str, expected: &ExternType) -> WasmError {
    link_error(
        qualified,
        format_args!("missing, the module expects {expected}"),
    )
}

/// An import given something of another type or kind.
pub(crate) fn mismatched_import(
    qualified: &str,
    expected: &ExternType,
    given: impl std::fmt::Display,
) -> WasmError {
    link_error(
        qualified,
        format_args!("the host gives {given}, the module expects {expected}"),
    )
}

/// What the host gives for an import, for [`mismatched_import`].
pub(crate) fn given_type(given: &plugin_system_core::Extern) -> String {
    use plugin_system_core::Extern;
    match given {
        Extern::Func(host) => ExternType::Func(host.ty().clone()).to_string(),
        Extern::Memory(ty) => ExternType::Memory(*ty).to_string(),
        Extern::Global(ty, _) => ExternType::Global(*ty).to_string(),
        Extern::Table(ty, _) => ExternType::Table(*ty).to_string(),
        Extern::Export { instance, name } => {
            format!("export `{name}` of instance {}", instance.index())
        }
    }
}

/// Whether `given` may satisfy an import of type `want`, by the spec's
/// import-matching rules (memories and tables at their current sizes). Both
/// engines check every import with it before instantiating, so a mismatch is
/// a [`WasmError::Link`] in the same words on both, never an engine's error.
pub(crate) fn extern_fits(given: &ExternType, want: &ExternType) -> bool {
    match (want, given) {
        (ExternType::Func(want), ExternType::Func(ty)) => ty == want,
        (ExternType::Memory(want), ExternType::Memory(ty)) => memory_fits(ty, want),
        (ExternType::Table(want), ExternType::Table(ty)) => table_fits(ty, want),
        (ExternType::Global(want), ExternType::Global(ty)) => ty == want,
        _ => false,
    }
}

/// Whether a memory of type `given` may satisfy an import of type `want`.
pub(crate) fn memory_fits(given: &MemoryType, want: &MemoryType) -> bool {
    given.memory64 == want.memory64
        && given.shared == want.shared
        && limits_fit(given.minimum, given.maximum, want.minimum, want.maximum)
}

/// Whether a table of type `given` may satisfy an import of type `want`.
pub(crate) fn table_fits(given: &TableType, want: &TableType) -> bool {
    given.element == want.element
        && limits_fit(given.minimum, given.maximum, want.minimum, want.maximum)
}

/// The spec's limits subtyping: at least as large, and bounded at least as tightly.
fn limits_fit(min: u64, max: Option<u64>, want_min: u64, want_max: Option<u64>) -> bool {
    min >= want_min
        && match want_max {
            None => true,
            Some(want_max) => max.is_some_and(|max| max <= want_max),
        }
}

/// A memory or table to create for an import that the store's limits refuse.
pub(crate) fn import_over_limit(qualified: &str, why: impl std::fmt::Display) -> WasmError {
    WasmError::MemoryLimit {
        message: format!("import `{qualified}`: {why}"),
    }
}

/// A global's initial value of another type than the global's.
pub(crate) fn global_value_mismatch(
    qualified: &str,
    value: impl std::fmt::Display,
    holds: impl std::fmt::Display,
) -> WasmError {
    link_error(
        qualified,
        format_args!("the initial value is {value}, the global holds {holds}"),
    )
}

/// Fuel can be read or set only on a runtime configured with a fuel limit.
///
/// # Errors
/// [`WasmError::Unsupported`] naming the setting when `metered` is false.
pub(crate) fn check_metered(metered: bool) -> Result<(), WasmError> {
    if metered {
        Ok(())
    } else {
        Err(WasmError::Unsupported {
            feature: "fuel metering (set fuel_limit in the config)".into(),
        })
    }
}

/// Whether WASI is served to an instance linked with `imports`: one switch
/// is enough, a world given with `Imports::wasi`, or the runtime's
/// `enable_wasi` (which serves the empty world to a module that imports WASI
/// and was given none). Never without the crate's `wasi` feature.
pub(crate) fn wasi_served(config: &WasmRuntimeConfig, imports: &Imports) -> bool {
    cfg!(feature = "wasi") && (config.enable_wasi || imports.wasi_config().is_some())
}

/// A WASI world given to a runtime built without WASI is refused plainly,
/// before anything is linked.
///
/// # Errors
/// [`WasmError::Unsupported`] when `imports` carry a world and the crate's
/// `wasi` feature is off.
pub(crate) fn check_wasi_built(imports: &Imports) -> Result<(), WasmError> {
    if !cfg!(feature = "wasi") && imports.wasi_config().is_some() {
        return Err(WasmError::Unsupported {
            feature: "WASI: plugin-system-wasm-run was built without its `wasi` feature".into(),
        });
    }
    Ok(())
}

/// Growing a memory that is not there (an instance or caller without one).
pub(crate) fn no_memory() -> WasmError {
    WasmError::ExportNotFound {
        kind: plugin_system_core::ExportKind::Memory,
        name: "memory".into(),
    }
}

/// The reactor initializer to run once at instantiation, before any other export:
/// `_initialize` exported as `[] -> []` by a module that is no command (a module
/// with `_start` runs its set-up from there).
pub(crate) fn initializer(info: &ModuleInfo) -> Option<&'static str> {
    let exported = |name: &str| info.exports.iter().find(|e| e.name == name);
    let init = exported(plugin_system_core::wasi::INITIALIZE)?;
    let ExternType::Func(ty) = &init.ty else {
        return None;
    };
    (ty.params().is_empty()
        && ty.results().is_empty()
        && exported(plugin_system_core::wasi::START).is_none())
    .then_some(plugin_system_core::wasi::INITIALIZE)
}

/// Refuses `name` when it is the reactor initializer that instantiating ran
/// already: a second run would redo the module's set-up (C constructors, a
/// Rust reactor's statics) over live state.
///
/// # Errors
/// [`WasmError::Unsupported`] for `_initialize` of a reactor.
pub(crate) fn check_not_initializer(info: &ModuleInfo, name: &str) -> Result<(), WasmError> {
    if name == plugin_system_core::wasi::INITIALIZE && initializer(info).is_some() {
        return Err(WasmError::Unsupported {
            feature: "calling `_initialize` again: instantiating the reactor ran it already, \
                      and its set-up runs once"
                .into(),
        });
    }
    Ok(())
}

/// The outcome of an initializer: an exit with code 0 is a success too, any other
/// exit fails the instantiation.
pub(crate) fn initialized(outcome: Result<(), WasmError>) -> Result<(), WasmError> {
    match plugin_system_core::wasi::exit_code(outcome)? {
        0 => Ok(()),
        code => Err(WasmError::Exit { code }),
    }
}

/// The export name of the default memory: `memory`, else the first exported memory.
pub(crate) fn default_memory(info: &ModuleInfo) -> Option<String> {
    let mut memories = info
        .exports
        .iter()
        .filter(|e| matches!(e.ty, ExternType::Memory(_)));
    let first = memories.clone().next()?;
    Some(
        memories
            .find(|e| e.name == "memory")
            .unwrap_or(first)
            .name
            .clone(),
    )
}

/// What [`plugin_system_core::WasmModule::validate`] reports, from the module's
/// declarations and the engine's configuration.
pub(crate) fn validation_report(
    info: &ModuleInfo,
    config: &WasmRuntimeConfig,
    features: &WasmFeatures,
) -> ValidationReport {
    let mut report = ValidationReport::default();
    if let Err(e) = check_limits(info, &Imports::new(), StoreLimitValues::new(config)) {
        report.errors.push(e.to_string());
    }
    for import in &info.imports {
        if import.module.starts_with("wasi_") && !(config.enable_wasi && features.wasi) {
            report.errors.push(format!(
                "imports {}::{} but WASI is not enabled",
                import.module, import.name
            ));
        }
    }
    if info.exports.is_empty() {
        report.warnings.push("module exports nothing".into());
    }
    if default_memory(info).is_none() && !info.memories.is_empty() {
        report
            .warnings
            .push("module has a memory but does not export it".into());
    }
    if info.has_start {
        report
            .warnings
            .push("module has a start function, which runs at instantiation".into());
    }
    for m in &info.memories {
        if m.maximum.is_none() && config.max_memory_pages.is_none() {
            report
                .warnings
                .push("memory has no maximum and no max_memory_pages is configured".into());
            break;
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_follow_import_subtyping() {
        assert!(limits_fit(2, Some(4), 1, Some(5)));
        assert!(limits_fit(1, None, 1, None));
        assert!(!limits_fit(0, None, 1, None), "smaller minimum");
        assert!(
            !limits_fit(1, None, 1, Some(5)),
            "unbounded where a bound is wanted"
        );
        assert!(!limits_fit(1, Some(6), 1, Some(5)), "looser bound");
    }
}
