//! The guest ABI, version 1, as ABI.md describes it: names, signatures, caps, and
//! the checks a module passes before it is instantiated as a plugin.

use plugin_system_core::{
    ExternType, FuncType, ModuleInfo, PluginError, ValType, WasmModule, WireFormat,
};

/// The ABI version this host implements.
pub const ABI_VERSION: u32 = 1;
/// The custom section that declares a plugin's ABI version (ASCII decimal).
pub const ABI_VERSION_SECTION: &str = "plugin_abi_version";
/// The custom section that declares a plugin's wire format.
pub const WIRE_FORMAT_SECTION: &str = "plugin_wire_format";
/// The module name of the host's imports.
pub const IMPORT_MODULE: &str = "plugin_system";

/// Largest reply to an event.
pub const MAX_RESPONSE_BYTES: usize = 100 * 1024 * 1024;
/// Largest manifest.
pub const MAX_MANIFEST_BYTES: usize = 1024 * 1024;
/// Longest error or log message kept.
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;

pub(crate) const ALLOC: &str = "alloc";
pub(crate) const DEALLOC: &str = "dealloc";
pub(crate) const HANDLE_EVENT: &str = "plugin_handle_event";
pub(crate) const INITIALIZE: &str = "plugin_initialize";
pub(crate) const DISPOSE: &str = "plugin_dispose";
pub(crate) const GET_MANIFEST: &str = "plugin_get_manifest";
pub(crate) const SNAPSHOT: &str = "plugin_snapshot";
pub(crate) const RESTORE: &str = "plugin_restore";
pub(crate) const MEMORY: &str = "memory";

/// Which optional exports a plugin has, and in which form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Shape {
    pub(crate) initialize: Option<InitForm>,
    pub(crate) dispose: Option<DisposeForm>,
    pub(crate) manifest: bool,
    /// `plugin_snapshot() -> i64`: the state for a new version, packed.
    pub(crate) snapshot: bool,
    /// `plugin_restore(ptr, len) -> i32`: takes a previous version's state.
    pub(crate) restore: bool,
}

/// `plugin_initialize`: Dart's `() -> i32`, or `(ptr, len) -> i32` with a context.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum InitForm {
    Bare,
    WithContext,
}

/// `plugin_dispose`: the result is ignored, a packed buffer freed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DisposeForm {
    Unit,
    Status,
    Packed,
}

fn sig(params: &[ValType], results: &[ValType]) -> FuncType {
    FuncType::new(params.iter().copied(), results.iter().copied())
}

fn invalid(message: String) -> PluginError {
    PluginError::InvalidPlugin { message }
}

/// Whether a module's declarations (its ABI version marker and its exports)
/// make a plugin: what loading checks first, before anything runs. A host can
/// ask it of bytes it has not compiled (`read_module_info` of
/// `plugin-system-wasm-run`), to refuse a module at once.
///
/// # Errors
/// As loading would: [`PluginError::AbiVersion`] for another version,
/// [`PluginError::InvalidPlugin`] naming a missing or mistyped export, or a
/// 64-bit memory.
pub fn check_exports(module: &ModuleInfo) -> Result<(), PluginError> {
    check(module).map(drop)
}

/// Checks the ABI version marker and the exports, and tells the optional ones.
///
/// # Errors
/// As [`check_exports`].
pub(crate) fn check(module: &ModuleInfo) -> Result<Shape, PluginError> {
    if let Some(section) = module.custom_section(ABI_VERSION_SECTION) {
        let text = String::from_utf8_lossy(section);
        let declared = text.trim_matches(|c: char| c.is_whitespace() || c == '\0');
        if declared.parse::<u32>().ok() != Some(ABI_VERSION) {
            return Err(PluginError::AbiVersion {
                required: declared.chars().take(32).collect(),
                supported: ABI_VERSION,
            });
        }
    }
    use ValType::{I32, I64};
    match module.export(MEMORY) {
        // Pointers and lengths cross the ABI as i32: a 64-bit memory cannot be
        // addressed through them. (Engines without memory64 refuse it earlier,
        // as an unsupported feature.)
        Some(ExternType::Memory(m)) if m.memory64 => {
            return Err(invalid(format!(
                "the plugin's `{MEMORY}` is a 64-bit memory; the ABI is wasm32"
            )));
        }
        Some(ExternType::Memory(_)) => {}
        _ => {
            return Err(invalid(format!(
                "the plugin exports no memory named `{MEMORY}`"
            )));
        }
    }
    let required = [
        (ALLOC, sig(&[I32], &[I32])),
        (DEALLOC, sig(&[I32, I32], &[])),
        (HANDLE_EVENT, sig(&[I32, I32], &[I64])),
    ];
    for (name, want) in &required {
        match module.export(name) {
            Some(ExternType::Func(ty)) if ty == want => {}
            Some(ExternType::Func(ty)) => {
                return Err(invalid(format!("`{name}` is {ty}, the ABI wants {want}")));
            }
            Some(other) => {
                return Err(invalid(format!(
                    "`{name}` is a {}, the ABI wants a function {want}",
                    other.kind()
                )));
            }
            None => {
                return Err(invalid(format!(
                    "the plugin does not export `{name}` {want}"
                )));
            }
        }
    }
    let func = |name: &str| match module.export(name) {
        Some(ExternType::Func(ty)) => Some(ty.clone()),
        _ => None,
    };
    let initialize = match func(INITIALIZE) {
        None => None,
        Some(ty) if ty == sig(&[], &[I32]) => Some(InitForm::Bare),
        Some(ty) if ty == sig(&[I32, I32], &[I32]) => Some(InitForm::WithContext),
        Some(ty) => {
            return Err(invalid(format!(
                "`{INITIALIZE}` is {ty}, the ABI wants [] -> [i32] or [i32 i32] -> [i32]"
            )));
        }
    };
    let dispose = match func(DISPOSE) {
        None => None,
        Some(ty) if ty == sig(&[], &[]) => Some(DisposeForm::Unit),
        Some(ty) if ty == sig(&[], &[I32]) => Some(DisposeForm::Status),
        Some(ty) if ty == sig(&[], &[I64]) => Some(DisposeForm::Packed),
        Some(ty) => {
            return Err(invalid(format!(
                "`{DISPOSE}` is {ty}, the ABI wants no parameters"
            )));
        }
    };
    let manifest = match func(GET_MANIFEST) {
        None => false,
        Some(ty) if ty == sig(&[], &[I64]) => true,
        Some(ty) => {
            return Err(invalid(format!(
                "`{GET_MANIFEST}` is {ty}, the ABI wants [] -> [i64]"
            )));
        }
    };
    let snapshot = match func(SNAPSHOT) {
        None => false,
        Some(ty) if ty == sig(&[], &[I64]) => true,
        Some(ty) => {
            return Err(invalid(format!(
                "`{SNAPSHOT}` is {ty}, the ABI wants [] -> [i64]"
            )));
        }
    };
    let restore = match func(RESTORE) {
        None => false,
        Some(ty) if ty == sig(&[I32, I32], &[I32]) => true,
        Some(ty) => {
            return Err(invalid(format!(
                "`{RESTORE}` is {ty}, the ABI wants [i32 i32] -> [i32]"
            )));
        }
    };
    Ok(Shape {
        initialize,
        dispose,
        manifest,
        snapshot,
        restore,
    })
}

/// The wire format a plugin declares, if it does.
///
/// # Errors
/// [`PluginError::InvalidPlugin`] for a format this host does not know.
pub(crate) fn declared_format(module: &dyn WasmModule) -> Result<Option<WireFormat>, PluginError> {
    let Some(section) = module.custom_section(WIRE_FORMAT_SECTION) else {
        return Ok(None);
    };
    let text = String::from_utf8_lossy(section);
    match text.trim_matches(|c: char| c.is_whitespace() || c == '\0') {
        "json" => Ok(Some(WireFormat::Json)),
        "msgpack" | "messagepack" => Ok(Some(WireFormat::MessagePack)),
        "postcard" => Ok(Some(WireFormat::Postcard)),
        other => Err(invalid(format!(
            "the plugin declares wire format `{}`; this host knows json, msgpack and postcard",
            other.chars().take(32).collect::<String>()
        ))),
    }
}

/// Splits a packed `(ptr << 32) | len`; `None` for the failure values 0 and -1.
pub(crate) fn unpack(packed: i64) -> Option<(u32, u32)> {
    if packed == 0 || packed == -1 {
        return None;
    }
    let bits = packed as u64;
    Some(((bits >> 32) as u32, bits as u32))
}

#[cfg(test)]
mod tests {
    use super::unpack;

    #[test]
    fn packed_results_split_into_pointer_and_length() {
        assert_eq!(unpack(0), None);
        assert_eq!(unpack(-1), None);
        assert_eq!(unpack((1024 << 32) | 200), Some((1024, 200)));
        assert_eq!(unpack(i64::MIN | 5), Some((0x8000_0000, 5)));
        assert_eq!(unpack(0xFFFF_FFFF), Some((0, u32::MAX)));
    }
}
