//! A module the browser compiled, and the rewrite that caps its memories.
//!
//! A guest's `memory.grow` and `table.grow` run inside the browser, where no
//! host code sees them: the only bound the browser keeps is the declared
//! maximum. So before compiling, every memory and table the module defines
//! gets a maximum no larger than the store limits the other engines keep
//! (`max_memory_pages`; `max_table_elements` or its default from the memory
//! budget), and growing past it returns -1 as on the other engines. A module
//! whose memory or table starts above its cap is refused at instantiation
//! with [`WasmError::MemoryLimit`] (`shared::check_limits`).

use std::{any::Any, borrow::Cow, cell::RefCell, sync::Arc};

use js_sys::{Uint8Array, WebAssembly};
use plugin_system_core::{
    ModuleInfo, Result, ValidationReport, WasmError, WasmModule, WasmRuntimeConfig,
};

use super::{ENGINE, PROPOSALS, convert::js_message, features, state::SingleThread};
use crate::{
    module_info::compile_error,
    shared::{self, StoreLimitValues},
};

/// A compiled `WebAssembly.Module` and what it declares.
///
/// The caps are compiled into the module, so an instance with tighter limits
/// of its own (`instantiate_with_limits`) needs a module compiled with them:
/// the binary is kept, and each set of limits compiled once.
pub(crate) struct WebModule {
    /// Compiled with the runtime's limits.
    module: SingleThread<WebAssembly::Module>,
    /// The validated binary, for other limits.
    binary: Vec<u8>,
    /// Modules compiled for other limits, by limits.
    variants: SingleThread<RefCell<Vec<(StoreLimitValues, WebAssembly::Module)>>>,
    info: ModuleInfo,
    config: Arc<WasmRuntimeConfig>,
}

impl WebModule {
    /// Compiles `binary` (validated) with the runtime's limits.
    ///
    /// # Errors
    /// As [`compile`].
    pub(super) fn new(
        binary: Vec<u8>,
        info: ModuleInfo,
        config: Arc<WasmRuntimeConfig>,
    ) -> Result<Self> {
        let limits = StoreLimitValues::new(&config);
        let module = compile(&binary, &info, limits, config.fuel_limit.is_some())?;
        Ok(WebModule {
            module: SingleThread(module),
            binary,
            variants: SingleThread(RefCell::new(Vec::new())),
            info,
            config,
        })
    }

    /// Whether the runtime of `config` compiled this module: each runtime
    /// holds its own `Arc` of its config, and a module compiled with one
    /// runtime's caps and fuel must not run under another's.
    pub(super) fn belongs_to(&self, config: &Arc<WasmRuntimeConfig>) -> bool {
        Arc::ptr_eq(&self.config, config)
    }

    /// The module compiled for `limits`: the runtime's own, or one compiled
    /// for these limits the first time they are asked for.
    ///
    /// # Errors
    /// As [`compile`].
    pub(super) fn compiled_for(&self, limits: StoreLimitValues) -> Result<WebAssembly::Module> {
        if limits == StoreLimitValues::new(&self.config) {
            return Ok(self.module.0.clone());
        }
        if let Some((_, module)) = self.variants.0.borrow().iter().find(|(l, _)| *l == limits) {
            return Ok(module.clone());
        }
        let module = compile(
            &self.binary,
            &self.info,
            limits,
            self.config.fuel_limit.is_some(),
        )?;
        self.variants.0.borrow_mut().push((limits, module.clone()));
        Ok(module)
    }
}

impl WasmModule for WebModule {
    fn info(&self) -> &ModuleInfo {
        &self.info
    }

    fn engine(&self) -> &'static str {
        ENGINE
    }

    fn validate(&self) -> ValidationReport {
        shared::validation_report(&self.info, &self.config, &features())
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// Compiles a validated binary with its memories and tables capped at
/// `limits` and, when `metered`, counting its fuel (`fuel.rs`).
///
/// # Errors
/// [`WasmError::InvalidModule`] when a section does not parse again (the
/// binary was validated, so only what wasmparser accepts and the rewrite does
/// not gets here); when the browser refuses it, what `compile_error` makes
/// of that ([`WasmError::ModuleLimit`] of the engine for valid bytes).
fn compile(
    binary: &[u8],
    info: &ModuleInfo,
    limits: StoreLimitValues,
    metered: bool,
) -> Result<WebAssembly::Module> {
    let mut rewritten = Cow::Borrowed(binary);
    if let Some(pages) = limits.memory_pages() {
        rewritten = Cow::Owned(rewrite_section(&rewritten, MEMORY_SECTION, |content| {
            cap_memories(content, pages)
        })?);
    }
    if let Some(elements) = limits.table_elements {
        rewritten = Cow::Owned(rewrite_section(&rewritten, TABLE_SECTION, |content| {
            cap_tables(content, elements as u64)
        })?);
    }
    if metered {
        rewritten = Cow::Owned(super::fuel::instrument(&rewritten, info)?);
    }
    let bytes = Uint8Array::from(&rewritten[..]);
    // Valid bytes the browser refuses passed a limit of its own (V8's
    // br_table targets, say): sorted as the other engines' refusals are.
    WebAssembly::Module::new(&bytes)
        .map_err(|thrown| compile_error(&rewritten, PROPOSALS, js_message(&thrown)))
}

/// `binary` with the content of its section `id` replaced by what `rewrite`
/// makes of it (a reader at the content's offset); unchanged without one.
fn rewrite_section(
    binary: &[u8],
    id: u8,
    rewrite: impl FnOnce(wasmparser::BinaryReader<'_>) -> Result<Vec<u8>>,
) -> Result<Vec<u8>> {
    let Some(section) = find_section(binary, id) else {
        return Ok(binary.to_vec());
    };
    let content = rewrite(wasmparser::BinaryReader::new(
        &binary[section.content.clone()],
        section.content.start,
    ))?;
    let mut out = Vec::with_capacity(binary.len() + 16);
    out.extend_from_slice(&binary[..section.start]);
    out.push(id);
    write_u64(&mut out, content.len() as u64);
    out.extend_from_slice(&content);
    out.extend_from_slice(&binary[section.content.end..]);
    Ok(out)
}

/// A reader's error as the rewrite reports it.
fn invalid(error: impl std::fmt::Display) -> WasmError {
    WasmError::InvalidModule {
        message: error.to_string(),
    }
}

/// A memory section with each maximum at most `cap` pages (a memory without
/// one gets `cap`). A minimum above the cap stays, and is refused at
/// instantiation with the other engines' error (`shared::check_limits`).
fn cap_memories(content: wasmparser::BinaryReader<'_>, cap: u64) -> Result<Vec<u8>> {
    let reader = wasmparser::MemorySectionReader::new(content).map_err(invalid)?;
    let mut out = Vec::new();
    write_u32(&mut out, reader.count());
    for memory in reader {
        let memory = memory.map_err(invalid)?;
        if memory.memory64 || memory.shared || memory.page_size_log2.is_some() {
            // Not among the proposals this engine validates with.
            return Err(invalid("memory64, shared or custom-page-size memory"));
        }
        write_limits(&mut out, memory.initial, memory.maximum, cap);
    }
    Ok(out)
}

/// A table section with each maximum at most `cap` elements, as
/// [`cap_memories`] does for memories: `table.grow` past it returns -1.
fn cap_tables(content: wasmparser::BinaryReader<'_>, cap: u64) -> Result<Vec<u8>> {
    let reader = wasmparser::TableSectionReader::new(content).map_err(invalid)?;
    let mut out = Vec::new();
    write_u32(&mut out, reader.count());
    for table in reader {
        let table = table.map_err(invalid)?;
        let ty = table.ty;
        let element = match ty.element_type {
            wasmparser::RefType::FUNCREF => 0x70,
            wasmparser::RefType::EXTERNREF => 0x6f,
            _ => return Err(invalid("a table of typed references")),
        };
        if ty.table64 || ty.shared || !matches!(table.init, wasmparser::TableInit::RefNull) {
            // Not among the proposals this engine validates with.
            return Err(invalid("table64, shared or initialized table"));
        }
        out.push(element);
        write_limits(&mut out, ty.initial, ty.maximum, cap);
    }
    Ok(out)
}

/// Limits with a maximum (flags 1): the declared one, at most `cap`, never
/// below the minimum (which would make the module invalid).
fn write_limits(out: &mut Vec<u8>, initial: u64, maximum: Option<u64>, cap: u64) {
    let maximum = maximum.map_or(cap, |max| max.min(cap)).max(initial);
    out.push(0x01);
    write_u64(out, initial);
    write_u64(out, maximum);
}

/// The id of the table section.
const TABLE_SECTION: u8 = 4;
/// The id of the memory section.
const MEMORY_SECTION: u8 = 5;

/// Where a section sits: its first byte (the id) and its content.
struct Section {
    start: usize,
    content: std::ops::Range<usize>,
}

/// The first section with `id`, walking section headers only (the binary is
/// valid, so a malformed header just ends the walk).
fn find_section(binary: &[u8], id: u8) -> Option<Section> {
    let mut at = 8; // magic and version
    while at < binary.len() {
        let start = at;
        let this = binary[at];
        let mut reader = wasmparser::BinaryReader::new(&binary[at + 1..], at + 1);
        let len = reader.read_var_u32().ok()? as usize;
        let content_start = reader.original_position();
        let content = content_start..content_start.checked_add(len)?;
        if content.end > binary.len() {
            return None;
        }
        if this == id {
            return Some(Section { start, content });
        }
        at = content.end;
    }
    None
}

fn write_u32(out: &mut Vec<u8>, value: u32) {
    write_u64(out, u64::from(value));
}

/// Unsigned LEB128.
fn write_u64(out: &mut Vec<u8>, mut value: u64) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

#[cfg(test)]
mod tests {
    use wasm_bindgen_test::wasm_bindgen_test;

    use super::*;

    fn memory_and_table_limits(binary: &[u8]) -> (Option<u64>, Option<u64>) {
        let info = crate::read_module_info(binary).unwrap();
        (info.memories[0].maximum, info.tables[0].maximum)
    }

    #[wasm_bindgen_test]
    fn maxima_are_capped_and_never_below_the_minimum() {
        let binary =
            wat::parse_str("(module (memory 2) (table 3 10 funcref) (func) (data \"x\"))").unwrap();
        let capped = rewrite_section(&binary, MEMORY_SECTION, |c| cap_memories(c, 5)).unwrap();
        let capped = rewrite_section(&capped, TABLE_SECTION, |c| cap_tables(c, 4)).unwrap();
        wasmparser::Validator::new().validate_all(&capped).unwrap();
        assert_eq!(memory_and_table_limits(&capped), (Some(5), Some(4)));
        // A cap below the minimum leaves maximum = minimum: the module stays
        // valid, and instantiating refuses it with the limit's error.
        let below = rewrite_section(&binary, MEMORY_SECTION, |c| cap_memories(c, 1)).unwrap();
        wasmparser::Validator::new().validate_all(&below).unwrap();
        assert_eq!(memory_and_table_limits(&below).0, Some(2));
    }

    #[wasm_bindgen_test]
    fn a_module_without_the_section_is_unchanged() {
        let binary = wat::parse_str("(module (func))").unwrap();
        let same = rewrite_section(&binary, MEMORY_SECTION, |c| cap_memories(c, 1)).unwrap();
        assert_eq!(same, binary);
    }
}
