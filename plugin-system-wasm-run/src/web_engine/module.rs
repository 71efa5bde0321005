//! A module the browser compiled, and the rewrite that caps its memories.
//!
//! A guest's `memory.grow` runs inside the browser, where no host code sees it:
//! the only bound the browser keeps is a memory's declared maximum. So before
//! compiling, every memory the module defines gets a maximum no larger than
//! `max_memory_pages`, and `memory.grow` past it returns -1 as on the other
//! engines. A module whose memory starts above the cap is refused at
//! instantiation with [`WasmError::MemoryLimit`] (`shared::check_limits`).

use std::{any::Any, borrow::Cow, sync::Arc};

use js_sys::{Uint8Array, WebAssembly};
use plugin_system_core::{
    ModuleInfo, Result, ValidationReport, WasmError, WasmModule, WasmRuntimeConfig,
};

use super::{ENGINE, convert::js_message, features, state::SingleThread};
use crate::shared;

/// A compiled `WebAssembly.Module` and what it declares.
pub(crate) struct WebModule {
    pub(crate) module: SingleThread<WebAssembly::Module>,
    info: ModuleInfo,
    config: Arc<WasmRuntimeConfig>,
}

impl WebModule {
    pub(super) fn new(
        module: WebAssembly::Module,
        info: ModuleInfo,
        config: Arc<WasmRuntimeConfig>,
    ) -> Self {
        WebModule {
            module: SingleThread(module),
            info,
            config,
        }
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

/// Compiles a validated binary with its memories capped at `max_memory_pages`
/// and, with a `fuel_limit`, metered.
///
/// # Errors
/// [`WasmError::InvalidModule`] when the memory section does not parse (the
/// binary was validated, so only a browser that refuses what wasmparser
/// accepts gets here), [`WasmError::Engine`] when the browser refuses it.
pub(super) fn compile(
    binary: &[u8],
    info: &ModuleInfo,
    config: &WasmRuntimeConfig,
) -> Result<WebAssembly::Module> {
    let capped = match config.max_memory_pages {
        Some(cap) => cap_memories(binary, cap)?,
        None => Cow::Borrowed(binary),
    };
    let metered = match config.fuel_limit {
        Some(_) => Cow::Owned(super::fuel::instrument(&capped, info)?),
        None => capped,
    };
    let bytes = Uint8Array::from(&metered[..]);
    WebAssembly::Module::new(&bytes).map_err(|thrown| {
        WasmError::engine_in("the browser refused the module", js_message(&thrown))
    })
}

/// The binary with each memory's maximum at most `cap` pages (a memory without
/// one gets `cap`). Only the memory section changes; it is re-encoded whole.
fn cap_memories(binary: &[u8], cap: u64) -> Result<Cow<'_, [u8]>> {
    let invalid = |message: String| WasmError::InvalidModule { message };
    let Some(section) = find_section(binary, MEMORY_SECTION) else {
        return Ok(Cow::Borrowed(binary));
    };
    let reader = wasmparser::MemorySectionReader::new(wasmparser::BinaryReader::new(
        &binary[section.content.clone()],
        section.content.start,
    ))
    .map_err(|e| invalid(e.to_string()))?;
    let mut content = Vec::new();
    write_u32(&mut content, reader.count());
    for memory in reader {
        let memory = memory.map_err(|e| invalid(e.to_string()))?;
        if memory.memory64 || memory.shared || memory.page_size_log2.is_some() {
            // Not among the proposals this engine validates with.
            return Err(invalid(
                "memory64, shared or custom-page-size memory".into(),
            ));
        }
        let maximum = memory.maximum.map_or(cap, |max| max.min(cap));
        // Flags 1: limits with a maximum. A minimum above the cap stays, and
        // is refused at instantiation with the other engines' error.
        content.push(0x01);
        write_u64(&mut content, memory.initial);
        write_u64(&mut content, maximum.max(memory.initial));
    }
    let mut out = Vec::with_capacity(binary.len() + 16);
    out.extend_from_slice(&binary[..section.start]);
    out.push(MEMORY_SECTION);
    write_u64(&mut out, content.len() as u64);
    out.extend_from_slice(&content);
    out.extend_from_slice(&binary[section.content.end..]);
    Ok(Cow::Owned(out))
}

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
