//! A module compiled by wasmtime, and the sealed envelope of precompiled modules.

use std::{
    any::Any,
    sync::{Arc, Mutex},
};

use hmac::{Hmac, Mac};
use plugin_system_core::{
    ModuleInfo, Result, ValidationReport, WasmError, WasmFeatures, WasmModule, WasmRuntimeConfig,
};
use sha2::{Digest, Sha256};

use super::{Shared, state::StoreData};
use crate::{module_info, shared};
use wasmtime::InstancePre;

/// A module compiled by [`WasmtimeRuntime`](super::WasmtimeRuntime).
pub(crate) struct WasmtimeModule {
    pub(crate) module: wasmtime::Module,
    info: ModuleInfo,
    config: WasmRuntimeConfig,
    features: WasmFeatures,
    /// Export name of the default memory, worked out once.
    pub(crate) default_memory: Option<String>,
    /// The module linked against the last function-only imports, by their
    /// generation (see `instance::prelinked`).
    pub(crate) prelinked: Mutex<Option<(u64, InstancePre<StoreData>)>>,
}

impl WasmtimeModule {
    pub(crate) fn new(module: wasmtime::Module, info: ModuleInfo, shared: &Shared) -> Self {
        let default_memory = shared::default_memory(&info);
        WasmtimeModule {
            module,
            info,
            config: shared.config.clone(),
            features: super::features(),
            default_memory,
            prelinked: Mutex::new(None),
        }
    }
}

impl WasmModule for WasmtimeModule {
    fn info(&self) -> &ModuleInfo {
        &self.info
    }

    fn engine(&self) -> &'static str {
        "wasmtime"
    }

    fn validate(&self) -> ValidationReport {
        shared::validation_report(&self.info, &self.config, &self.features)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// Precompiled bytes are wrapped as `MAGIC | sha256(wasm) | artifact | tag`, where
/// `tag` is HMAC-SHA256 over everything before it, keyed with the runtime's secret.
const MAGIC: &[u8; 8] = b"PSWTPRE1";
const HASH_LEN: usize = 32;
const TAG_LEN: usize = 32;

type Tag = Hmac<Sha256>;

fn mac(key: &[u8; 32]) -> Tag {
    // HMAC takes keys of any length, so this cannot fail.
    <Tag as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!("hmac accepts any key"))
}

/// Compiles `bytes` and seals the artifact with the runtime's key.
pub(crate) fn precompile(shared: &Shared, bytes: &[u8]) -> Result<Vec<u8>> {
    let binary = module_info::prepare(bytes, &shared.config.module_bounds)?;
    let artifact = shared
        .engine
        .precompile_module(&binary)
        .map_err(|e| module_info::compile_error(&binary, super::parser_features(), e))?;
    let info = module_info::read_module_info(&binary)?;
    let mut out = Vec::with_capacity(MAGIC.len() + HASH_LEN + artifact.len() + TAG_LEN);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&info.sha256);
    out.extend_from_slice(&artifact);
    let mut tag = mac(&shared.precompile_key);
    tag.update(&out);
    out.extend_from_slice(&tag.finalize().into_bytes());
    // The module info is re-read from the artifact's embedded wasm when loading;
    // wasmtime keeps no original bytes, so the source goes in as well.
    let mut sealed = Vec::with_capacity(out.len() + binary.len() + 8);
    sealed.extend_from_slice(&(binary.len() as u64).to_le_bytes());
    sealed.extend_from_slice(&binary);
    sealed.extend_from_slice(&out);
    Ok(sealed)
}

/// Opens an envelope made by [`precompile`] and loads the artifact.
pub(crate) fn load_precompiled(shared: &Arc<Shared>, sealed: &[u8]) -> Result<Arc<dyn WasmModule>> {
    let rejected = |message: &str| WasmError::precompiled(message);
    let (len, rest) = sealed
        .split_first_chunk::<8>()
        .ok_or_else(|| rejected("too short"))?;
    let wasm_len = usize::try_from(u64::from_le_bytes(*len)).map_err(|_| rejected("bad length"))?;
    if rest.len() < wasm_len {
        return Err(rejected("too short"));
    }
    let (binary, envelope) = rest.split_at(wasm_len);
    if envelope.len() < MAGIC.len() + HASH_LEN + TAG_LEN || !envelope.starts_with(MAGIC) {
        return Err(rejected("not a precompiled module of this runtime"));
    }
    let (body, tag) = envelope.split_at(envelope.len() - TAG_LEN);
    let mut check = mac(&shared.precompile_key);
    check.update(body);
    check
        .verify_slice(tag)
        .map_err(|_| rejected("signature does not match: made by another runtime, or tampered"))?;
    // The embedded module is outside the tag: its hash, inside, vouches for
    // it, and is checked before the module is parsed.
    if body[MAGIC.len()..MAGIC.len() + HASH_LEN] != *Sha256::digest(binary) {
        return Err(rejected("embedded module does not match the artifact"));
    }
    let info = module_info::read_module_info(binary)
        .map_err(|_| rejected("embedded module is not valid"))?;
    let artifact = &body[MAGIC.len() + HASH_LEN..];
    // SAFETY: `Module::deserialize` trusts its input to be wasmtime's own output.
    // These bytes carry an HMAC-SHA256 tag under this runtime's secret key, checked
    // above, so they were made by `precompile` of a runtime holding the key, from
    // `Engine::precompile_module`. Bytes from another wasmtime version or engine
    // configuration are still refused by wasmtime's own header check.
    let module = unsafe { wasmtime::Module::deserialize(&shared.engine, artifact) }
        .map_err(|e| rejected(&format!("{e:#}")))?;
    shared.counters.module_loaded(true);
    Ok(Arc::new(WasmtimeModule::new(module, info, shared)))
}
