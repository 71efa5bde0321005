//! A module compiled by wasmtime, and the sealed envelope of precompiled modules.

use std::{
    any::Any,
    sync::{Arc, Mutex},
};

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

/// Precompiled bytes are `len | wasm | MAGIC | sha256(wasm) | artifact | tag`:
/// the module's binary (wasmtime keeps no original bytes, and the module info
/// is read from it), then wasmtime's artifact, then a keyed BLAKE3 of
/// everything before it under the runtime's secret. One pass of a fast MAC
/// authenticates all of it, so the embedded binary is neither hashed again nor
/// parsed before the tag is checked.
const MAGIC: &[u8; 8] = b"PSWTPRE2";
const HASH_LEN: usize = 32;
const TAG_LEN: usize = 32;

/// Compiles `bytes` and seals the artifact with the runtime's key.
pub(crate) fn precompile(shared: &Shared, bytes: &[u8]) -> Result<Vec<u8>> {
    let binary = module_info::prepare(bytes, &shared.config.module_bounds)?;
    let artifact = shared
        .engine
        .precompile_module(&binary)
        .map_err(|e| module_info::compile_error(&binary, super::parser_features(), e))?;
    let sha256: [u8; 32] = Sha256::digest(&*binary).into();
    let mut sealed =
        Vec::with_capacity(8 + binary.len() + MAGIC.len() + HASH_LEN + artifact.len() + TAG_LEN);
    sealed.extend_from_slice(&(binary.len() as u64).to_le_bytes());
    sealed.extend_from_slice(&binary);
    sealed.extend_from_slice(MAGIC);
    sealed.extend_from_slice(&sha256);
    sealed.extend_from_slice(&artifact);
    let tag = blake3::keyed_hash(&shared.precompile_key, &sealed);
    sealed.extend_from_slice(tag.as_bytes());
    Ok(sealed)
}

/// Opens an envelope made by [`precompile`] and loads the artifact.
pub(crate) fn load_precompiled(shared: &Arc<Shared>, sealed: &[u8]) -> Result<Arc<dyn WasmModule>> {
    let rejected = |message: &str| WasmError::precompiled(message);
    let (signed, tag) = sealed
        .split_last_chunk::<TAG_LEN>()
        .ok_or_else(|| rejected("too short"))?;
    // `blake3::Hash` compares in constant time.
    if blake3::keyed_hash(&shared.precompile_key, signed) != blake3::Hash::from_bytes(*tag) {
        return Err(rejected(
            "signature does not match: made by another runtime, or tampered",
        ));
    }
    let (len, rest) = signed
        .split_first_chunk::<8>()
        .ok_or_else(|| rejected("too short"))?;
    let wasm_len = usize::try_from(u64::from_le_bytes(*len)).map_err(|_| rejected("bad length"))?;
    let (binary, body) = rest
        .split_at_checked(wasm_len)
        .ok_or_else(|| rejected("too short"))?;
    let Some((sha256, _)) = body
        .strip_prefix(MAGIC.as_slice())
        .and_then(|after| after.split_first_chunk::<HASH_LEN>())
    else {
        return Err(rejected("not a precompiled module of this runtime"));
    };
    let info = module_info::read_binary_info(binary, *sha256)
        .map_err(|_| rejected("embedded module is not valid"))?;
    let artifact = &body[MAGIC.len() + HASH_LEN..];
    // SAFETY: `Module::deserialize` trusts its input to be wasmtime's own output.
    // These bytes carry a keyed BLAKE3 tag under this runtime's secret key, checked
    // above, so they were made by `precompile` of a runtime holding the key, from
    // `Engine::precompile_module`. Bytes from another wasmtime version or engine
    // configuration are still refused by wasmtime's own header check.
    let module = unsafe { wasmtime::Module::deserialize(&shared.engine, artifact) }
        .map_err(|e| rejected(&format!("{e:#}")))?;
    shared.counters.module_loaded(true);
    Ok(Arc::new(WasmtimeModule::new(module, info, shared)))
}
