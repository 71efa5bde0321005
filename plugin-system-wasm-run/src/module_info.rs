//! Reading what a module declares, and sorting compile failures into "invalid",
//! "unsupported here" and "past this engine's own limits". Shared by every engine
//! so that they report the same thing.

use std::borrow::Cow;

use plugin_system_core::{
    BoxError, ErrorChain, ExportType, Extern, ExternType, FuncType, GlobalType, HeapType,
    ImportType, Imports, MemoryType, ModuleBounds, ModuleInfo, ModuleLimitError, RefType,
    TableType, ValType, ValidationReport, WasmError, WasmRuntime, WasmRuntimeConfig,
};

use crate::module_kind::{ModuleKind, NOT_A_MODULE, module_kind};
use sha2::{Digest, Sha256};
use wasmparser::{
    CompositeInnerType, ExternalKind, Parser, Payload, TypeRef, Validator, WasmFeatures,
};

/// Names the runtime keeps for itself: exports (wasmi moves a start function
/// to such an export so that it runs under the deadline) and import modules
/// (the web engine's fuel counter is such an import, which a guest must not
/// reach for). Refused in a module's exports and import modules on every engine.
pub(crate) const RESERVED_PREFIX: &str = "\0plugin-system:";

/// Turns WAT text into binary; binary input passes through untouched.
pub(crate) fn to_binary(bytes: &[u8]) -> Result<Cow<'_, [u8]>, WasmError> {
    // An empty text would parse as an empty module; empty input is a mistake.
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(WasmError::InvalidModule {
            message: "empty input".into(),
        });
    }
    match module_kind(bytes) {
        ModuleKind::Binary => return Ok(Cow::Borrowed(bytes)),
        ModuleKind::Neither => {
            return Err(WasmError::InvalidModule {
                message: NOT_A_MODULE.into(),
            });
        }
        ModuleKind::Text => {}
    }
    wat::parse_bytes(bytes).map_err(|e| WasmError::InvalidModule {
        message: e.to_string(),
    })
}

/// What every engine compiles: the binary of `bytes` (WAT translated), once it
/// keeps within `bounds`. Every path from bytes to a module goes through here, so
/// that no engine compiles a module past the bounds.
pub(crate) fn prepare<'a>(
    bytes: &'a [u8],
    bounds: &ModuleBounds,
) -> Result<Cow<'a, [u8]>, WasmError> {
    let binary = to_binary(bytes)?;
    match crate::bounds::check(&binary, bounds) {
        Ok(()) => Ok(binary),
        // A bound speaks for valid modules only: one that is invalid besides (a
        // count of locals past what WebAssembly allows) is invalid, as the engine
        // would say. Validating costs as little as the check, and only here.
        Err(limit @ WasmError::ModuleLimit { .. }) => {
            match Validator::new_with_features(WasmFeatures::all()).validate_all(&binary) {
                Ok(_) => Err(limit),
                Err(e) => Err(WasmError::InvalidModule {
                    message: e.to_string(),
                }),
            }
        }
        Err(other) => Err(other),
    }
}

/// What a module declares, and how `runtime` would take it, read without
/// compiling it: what `plugin-system inspect` shows.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Inspection {
    /// What the module declares, as [`WasmModule::info`](plugin_system_core::WasmModule::info)
    /// would give it.
    pub info: ModuleInfo,
    /// As [`WasmModule::validate`](plugin_system_core::WasmModule::validate) would
    /// give it, with a bound of the runtime's [`ModuleBounds`] that the module
    /// exceeds as its first error.
    pub validation: ValidationReport,
    /// The shape of the code, to compare with the runtime's [`ModuleBounds`].
    pub code: crate::CodeShape,
}

/// Reads a module (binary or WAT) as `runtime` would load it, without compiling it:
/// the bytes are parsed, validated by the runtime's engine with its features, and
/// measured against its [`ModuleBounds`]. Time and memory stay linear in the
/// module's size, whatever the module (compiling is not: a module of 120 KB can
/// take gigabytes to compile).
///
/// A module that exceeds a bound is reported, not refused: the bound is the first
/// error of [`Inspection::validation`]. The engine's own translation limits are
/// not known without compiling.
///
/// # Errors
/// [`WasmError::InvalidModule`] for bytes that are not a valid module (or WAT),
/// [`WasmError::Unsupported`] for a module that needs a proposal the engine lacks.
pub fn inspect(runtime: &dyn WasmRuntime, bytes: &[u8]) -> Result<Inspection, WasmError> {
    let binary = to_binary(bytes)?;
    let code = crate::bounds::scan(&binary, &ModuleBounds::UNBOUNDED)?;
    let exceeded = code.exceeds(&runtime.config().module_bounds);
    match &exceeded {
        // The engine validates (without compiling) within the bounds; past them
        // it would stop at the bound, so the module is validated here with every
        // proposal: one over a bound and invalid besides is reported as invalid.
        Some(_) => {
            if let Err(e) = Validator::new_with_features(WasmFeatures::all()).validate_all(&binary)
            {
                return Err(WasmError::InvalidModule {
                    message: e.to_string(),
                });
            }
        }
        None => runtime.validate_bytes(&binary)?,
    }
    let info = read_module_info(&binary)?;
    let mut validation =
        crate::shared::validation_report(&info, runtime.config(), &runtime.supported_features());
    if let Some(limit) = exceeded {
        validation.errors.insert(0, limit.to_string());
    }
    Ok(Inspection {
        info,
        validation,
        code,
    })
}

/// What instantiating a module that declares `info` with `imports`, on a runtime
/// configured with `config` ([`WasmRuntime::instantiate`]), would refuse before
/// any of its code runs, with the error the engines give, found without
/// compiling it (`info` as [`read_module_info`] reads it): a memory or table
/// that starts over the limits, WASI that the module imports and is not served
/// (or a directory of the WASI world that cannot be opened), and the first
/// import that neither `imports` nor WASI's functions satisfy. Checked in the
/// order instantiating checks them, the same way on every engine.
///
/// `Ok` is no promise that instantiating succeeds: what only the engine can tell
/// is left to it (an import given as a memory, table, global or another
/// instance's export, a module that imports one name with two types, the start
/// function, a module the engine refuses).
///
/// # Errors
/// [`WasmError::MemoryLimit`], [`WasmError::Link`] or [`WasmError::Io`], as
/// [`WasmRuntime::instantiate`] would give them.
pub fn check_imports(
    config: &WasmRuntimeConfig,
    info: &ModuleInfo,
    imports: &Imports,
) -> Result<(), WasmError> {
    use std::collections::{HashMap, hash_map::Entry};

    crate::shared::check_limits(info, imports, crate::shared::StoreLimitValues::new(config))?;
    crate::shared::check_wasi_built(imports)?;
    // Whether WASI is served, and its world can be built (its directories
    // opened): the world is built here, and dropped.
    #[cfg(feature = "wasi")]
    crate::wasi::prepare(&mut None, config, imports, info)?;
    #[cfg(feature = "wasi")]
    let wasi_served = crate::shared::wasi_served(config, imports);

    // Each name is linked once; one imported again with another type is left to
    // the engine (wasmtime checks every import, wasmi the first of each name).
    let mut seen: HashMap<(&str, &str), &ExternType> = HashMap::with_capacity(info.imports.len());
    for import in &info.imports {
        let (module, name) = (import.module.as_str(), import.name.as_str());
        match seen.entry((module, name)) {
            Entry::Occupied(first) if *first.get() == &import.ty => continue,
            Entry::Occupied(_) => return Ok(()),
            Entry::Vacant(slot) => {
                slot.insert(&import.ty);
            }
        }
        let qualified = format!("{module}::{name}");
        match (imports.get(module, name), &import.ty) {
            (Some(Extern::Func(given)), ExternType::Func(want)) if given.ty() == want => continue,
            (Some(given @ Extern::Func(_)), ExternType::Func(_)) => {
                return Err(crate::shared::mismatched_import(
                    &qualified,
                    &import.ty,
                    crate::shared::given_type(given),
                ));
            }
            // Something to create in the store, or another kind: the engine tells.
            (Some(_), _) => return Ok(()),
            (None, _) => {}
        }
        // The caller's definitions win over WASI's.
        #[cfg(feature = "wasi")]
        if wasi_served
            && module == plugin_system_core::wasi::WASI_MODULE
            && let Some(ty) = wasi_function_type(name)
        {
            let given = ExternType::Func(ty);
            if given != import.ty {
                return Err(crate::shared::mismatched_import(
                    &qualified, &import.ty, given,
                ));
            }
            continue;
        }
        return Err(crate::shared::missing_import(&qualified, &import.ty));
    }
    Ok(())
}

/// Defines `wasi_function_type` from the list of WASI preview 1 functions.
#[cfg(feature = "wasi")]
macro_rules! wasi_function_types {
    ($( $mode:ident $fds:ident $name:ident ( $($arg:ident : $ty:ty),* ) $(-> $ret:ty)? ; )*) => {
        /// The type of the WASI preview 1 function `name`, as both engines serve
        /// it; `None` when WASI has no function of that name.
        fn wasi_function_type(name: &str) -> Option<FuncType> {
            use crate::wasi::calls::CoreType;
            match name {
                $(
                    stringify!($name) => Some(FuncType::new(
                        [$(<$ty as CoreType>::TYPE),*],
                        [$(<$ret as CoreType>::TYPE)?],
                    )),
                )*
                _ => None,
            }
        }
    };
}

#[cfg(feature = "wasi")]
crate::wasi::calls::for_each_wasi_function!(wasi_function_types);

/// Proposals an engine may lack, with the name reported in
/// [`WasmError::Unsupported`]. Checked in this order.
const PROPOSALS: &[(&str, WasmFeatures)] = &[
    ("exceptions", WasmFeatures::EXCEPTIONS),
    // The legacy `try`/`catch` instructions validate only with both flags.
    (
        "legacy exceptions",
        WasmFeatures::EXCEPTIONS.union(WasmFeatures::LEGACY_EXCEPTIONS),
    ),
    ("threads", WasmFeatures::THREADS),
    ("gc", WasmFeatures::GC),
    ("function references", WasmFeatures::FUNCTION_REFERENCES),
    ("memory64", WasmFeatures::MEMORY64),
    ("multi-memory", WasmFeatures::MULTI_MEMORY),
    ("tail calls", WasmFeatures::TAIL_CALL),
    ("simd", WasmFeatures::SIMD),
    ("relaxed simd", WasmFeatures::RELAXED_SIMD),
    ("extended const", WasmFeatures::EXTENDED_CONST),
    ("custom page sizes", WasmFeatures::CUSTOM_PAGE_SIZES),
    ("wide arithmetic", WasmFeatures::WIDE_ARITHMETIC),
    ("stack switching", WasmFeatures::STACK_SWITCHING),
    ("component model", WasmFeatures::COMPONENT_MODEL),
];

/// Classifies an engine's compile error: [`WasmError::InvalidModule`] with the
/// engine's message when the module is not valid WebAssembly;
/// [`WasmError::Unsupported`] when it is, but needs a proposal outside
/// `engine_features`; and [`WasmError::ModuleLimit`] ([`ModuleBound::Engine`])
/// when it is valid with the engine's own features: then the engine refused it
/// for a limit of its own (wasmi's registers per function, for example).
pub(crate) fn compile_error(
    bytes: &[u8],
    engine_features: WasmFeatures,
    engine_error: impl Into<BoxError>,
) -> WasmError {
    let validates = |features: WasmFeatures| {
        Validator::new_with_features(features)
            .validate_all(bytes)
            .is_ok()
    };
    // Not WebAssembly at all: the validator's own words say where and why.
    if let Err(invalid) = Validator::new_with_features(WasmFeatures::all()).validate_all(bytes) {
        return WasmError::InvalidModule {
            message: invalid.to_string(),
        };
    }
    let engine_error = engine_error.into();
    // A proposal is to blame only if the module fails without it: a module that
    // needs none was refused for what it is, not for what it uses.
    if validates(engine_features) {
        return WasmError::module_limit(ModuleLimitError::engine(engine_error));
    }
    // Valid WebAssembly that needs a proposal the engine lacks. A module may need
    // several; name the first that makes it validate when added.
    let missing = PROPOSALS
        .iter()
        .filter(|(_, f)| !engine_features.contains(*f))
        .find(|(_, f)| validates(engine_features | *f));
    let feature = match missing {
        Some((name, _)) => (*name).to_string(),
        None => {
            let needed: Vec<&str> = PROPOSALS
                .iter()
                .filter(|(_, f)| !engine_features.contains(*f))
                .map(|(name, _)| *name)
                .collect();
            format!(
                "one of {} ({})",
                needed.join(", "),
                ErrorChain(engine_error.as_ref())
            )
        }
    };
    WasmError::Unsupported { feature }
}

/// Reads what a module (binary or WAT) declares, without compiling it: its
/// imports and exports with their types, memories, tables, start function and
/// custom sections, as [`WasmModule::info`](plugin_system_core::WasmModule::info)
/// gives them once an engine has compiled it. Only the sections that declare are
/// read: function bodies are skipped, not validated, so that a command can tell
/// at once whether a module can serve it (has the export it needs, imports only
/// what it can be given) before an engine spends seconds compiling it. Time and
/// memory stay linear in the module's size.
///
/// Reading is not validating: a module read here may still be refused by an
/// engine ([`inspect`] validates without compiling).
///
/// ```
/// use plugin_system_core::{ExternType, FuncType, ValType};
/// use plugin_system_wasm_run::read_module_info;
///
/// let info = read_module_info(br#"(module
///     (import "env" "log" (func (param i32)))
///     (func (export "add") (param i32 i32) (result i32)
///         local.get 0 local.get 1 i32.add))"#)?;
/// assert_eq!(info.imports[0].module, "env");
/// assert_eq!(
///     info.exports[0].ty,
///     ExternType::Func(FuncType::new([ValType::I32, ValType::I32], [ValType::I32]))
/// );
/// # Ok::<(), plugin_system_core::WasmError>(())
/// ```
///
/// # Errors
/// [`WasmError::InvalidModule`] for bytes that are neither binary WebAssembly nor
/// WAT, WAT that does not parse, sections that do not parse, an export of a
/// missing index, or an export name the runtime keeps for itself.
pub fn read_module_info(bytes: &[u8]) -> Result<ModuleInfo, WasmError> {
    // Binary (what the engines pass) goes through untouched.
    let binary = to_binary(bytes)?;
    let sha256 = Sha256::digest(&*binary).into();
    read_binary_info(&binary, sha256)
}

/// [`read_module_info`] of binary `bytes` whose SHA-256 is known already
/// (sealed with a precompiled module): a 30 MB module is not hashed again.
pub(crate) fn read_binary_info(bytes: &[u8], sha256: [u8; 32]) -> Result<ModuleInfo, WasmError> {
    let invalid = |e: wasmparser::BinaryReaderError| WasmError::InvalidModule {
        message: e.to_string(),
    };
    let mut info = ModuleInfo {
        size: bytes.len(),
        sha256,
        ..ModuleInfo::default()
    };
    // Function types by type index (non-function types hold None), then the type
    // index of every function, imported ones first, in the function index space.
    let mut types: Vec<Option<FuncType>> = Vec::new();
    let mut func_types: Vec<u32> = Vec::new();
    let mut globals: Vec<GlobalType> = Vec::new();
    let mut memories: Vec<MemoryType> = Vec::new();
    let mut tables: Vec<TableType> = Vec::new();
    let mut tags: Vec<u32> = Vec::new();
    let mut exports: Vec<(String, ExternalKind, u32)> = Vec::new();

    for payload in Parser::new(0).parse_all(bytes) {
        match payload.map_err(invalid)? {
            Payload::Version { num, .. } => info.binary_version = u32::from(num),
            Payload::TypeSection(reader) => {
                for group in reader {
                    for sub in group.map_err(invalid)?.types() {
                        types.push(match &sub.composite_type.inner {
                            CompositeInnerType::Func(f) => Some(func_type(f)),
                            _ => None,
                        });
                    }
                }
            }
            Payload::ImportSection(reader) => {
                for import in reader.into_imports() {
                    let import = import.map_err(invalid)?;
                    if import.module.starts_with(RESERVED_PREFIX) {
                        return Err(WasmError::InvalidModule {
                            message: format!(
                                "import module {:?} is reserved by the runtime",
                                import.module
                            ),
                        });
                    }
                    let ty = match import.ty {
                        TypeRef::Func(i) | TypeRef::FuncExact(i) => {
                            func_types.push(i);
                            ExternType::Func(lookup(&types, i))
                        }
                        TypeRef::Table(t) => {
                            let t = table_type(&t);
                            tables.push(t);
                            ExternType::Table(t)
                        }
                        TypeRef::Memory(m) => {
                            let m = memory_type(&m);
                            memories.push(m);
                            ExternType::Memory(m)
                        }
                        TypeRef::Global(g) => {
                            let g = global_type(&g);
                            globals.push(g);
                            ExternType::Global(g)
                        }
                        TypeRef::Tag(t) => {
                            tags.push(t.func_type_idx);
                            ExternType::Tag(lookup(&types, t.func_type_idx))
                        }
                    };
                    info.imports.push(ImportType {
                        module: import.module.to_string(),
                        name: import.name.to_string(),
                        ty,
                    });
                }
            }
            Payload::FunctionSection(reader) => {
                for f in reader {
                    func_types.push(f.map_err(invalid)?);
                }
            }
            Payload::TableSection(reader) => {
                for t in reader {
                    let t = table_type(&t.map_err(invalid)?.ty);
                    tables.push(t);
                    info.tables.push(t);
                }
            }
            Payload::MemorySection(reader) => {
                for m in reader {
                    let m = memory_type(&m.map_err(invalid)?);
                    memories.push(m);
                    info.memories.push(m);
                }
            }
            Payload::GlobalSection(reader) => {
                for g in reader {
                    globals.push(global_type(&g.map_err(invalid)?.ty));
                }
            }
            Payload::TagSection(reader) => {
                for t in reader {
                    tags.push(t.map_err(invalid)?.func_type_idx);
                }
            }
            Payload::ExportSection(reader) => {
                for e in reader {
                    let e = e.map_err(invalid)?;
                    if e.name.starts_with(RESERVED_PREFIX) {
                        return Err(WasmError::InvalidModule {
                            message: format!("export name {:?} is reserved by the runtime", e.name),
                        });
                    }
                    exports.push((e.name.to_string(), e.kind, e.index));
                }
            }
            Payload::StartSection { .. } => info.has_start = true,
            Payload::CustomSection(section) => info
                .custom_sections
                .push((section.name().to_string(), section.data().to_vec())),
            _ => {}
        }
    }

    let at = |list_len: usize, index: u32| -> Result<usize, WasmError> {
        let i = index as usize;
        if i < list_len {
            Ok(i)
        } else {
            Err(WasmError::InvalidModule {
                message: format!("export refers to missing index {index}"),
            })
        }
    };
    for (name, kind, index) in exports {
        let ty = match kind {
            ExternalKind::Func | ExternalKind::FuncExact => {
                let i = at(func_types.len(), index)?;
                ExternType::Func(lookup(&types, func_types[i]))
            }
            ExternalKind::Table => ExternType::Table(tables[at(tables.len(), index)?]),
            ExternalKind::Memory => ExternType::Memory(memories[at(memories.len(), index)?]),
            ExternalKind::Global => ExternType::Global(globals[at(globals.len(), index)?]),
            ExternalKind::Tag => ExternType::Tag(lookup(&types, tags[at(tags.len(), index)?])),
        };
        info.exports.push(ExportType { name, ty });
    }
    Ok(info)
}

fn lookup(types: &[Option<FuncType>], index: u32) -> FuncType {
    types
        .get(index as usize)
        .cloned()
        .flatten()
        .unwrap_or_default()
}

fn func_type(f: &wasmparser::FuncType) -> FuncType {
    FuncType::new(
        f.params().iter().map(val_type),
        f.results().iter().map(val_type),
    )
}

/// Maps a parser type to ours.
pub(crate) fn val_type(t: &wasmparser::ValType) -> ValType {
    match t {
        wasmparser::ValType::I32 => ValType::I32,
        wasmparser::ValType::I64 => ValType::I64,
        wasmparser::ValType::F32 => ValType::F32,
        wasmparser::ValType::F64 => ValType::F64,
        wasmparser::ValType::V128 => ValType::V128,
        wasmparser::ValType::Ref(r) => ref_type(r),
    }
}

/// Maps a parser reference type to ours, each heap type to its own. The `shared`
/// flag (shared-everything threads) is dropped: no engine here enables it.
fn ref_type(r: &wasmparser::RefType) -> ValType {
    use wasmparser::AbstractHeapType as A;
    let heap = match r.heap_type() {
        wasmparser::HeapType::Abstract { ty, .. } => match ty {
            A::Func => HeapType::Func,
            A::Extern => HeapType::Extern,
            A::Any => HeapType::Any,
            A::None => HeapType::None,
            A::NoExtern => HeapType::NoExtern,
            A::NoFunc => HeapType::NoFunc,
            A::Eq => HeapType::Eq,
            A::Struct => HeapType::Struct,
            A::Array => HeapType::Array,
            A::I31 => HeapType::I31,
            A::Exn => HeapType::Exn,
            A::NoExn => HeapType::NoExn,
            A::Cont => HeapType::Cont,
            A::NoCont => HeapType::NoCont,
        },
        // The module reader (unlike the validator) gives type-section indices.
        wasmparser::HeapType::Concrete(i) | wasmparser::HeapType::Exact(i) => {
            HeapType::Concrete(i.as_module_index().unwrap_or(u32::MAX))
        }
    };
    ValType::Ref(RefType {
        nullable: r.is_nullable(),
        heap,
    })
}

fn table_type(t: &wasmparser::TableType) -> TableType {
    TableType {
        element: ref_type(&t.element_type),
        minimum: t.initial,
        maximum: t.maximum,
    }
}

fn memory_type(m: &wasmparser::MemoryType) -> MemoryType {
    MemoryType {
        minimum: m.initial,
        maximum: m.maximum,
        memory64: m.memory64,
        shared: m.shared,
    }
}

fn global_type(g: &wasmparser::GlobalType) -> GlobalType {
    GlobalType {
        content: val_type(&g.content_type),
        mutable: g.mutable,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_imports_exports_and_custom_sections() {
        let wasm = wat::parse_str(
            r#"(module
                (import "env" "f" (func $f (param i32) (result i64)))
                (import "env" "g" (global (mut f32)))
                (memory (export "memory") 1 3)
                (table (export "t") 2 funcref)
                (global (export "counter") (mut i32) (i32.const 7))
                (func (export "run") (param f64 i32) (result i32) (i32.const 0))
                (@custom "meta" "hello")
                (start $s)
                (func $s))"#,
        )
        .unwrap();
        let info = read_module_info(&wasm).unwrap();
        assert_eq!(info.binary_version, 1);
        assert_eq!(info.size, wasm.len());
        assert_eq!(info.imports.len(), 2);
        assert_eq!(
            info.imports[0].ty,
            ExternType::Func(FuncType::new([ValType::I32], [ValType::I64]))
        );
        assert_eq!(
            info.imports[1].ty,
            ExternType::Global(GlobalType {
                content: ValType::F32,
                mutable: true
            })
        );
        let run = info.exports.iter().find(|e| e.name == "run").unwrap();
        assert_eq!(
            run.ty,
            ExternType::Func(FuncType::new([ValType::F64, ValType::I32], [ValType::I32]))
        );
        assert!(matches!(
            info.exports.iter().find(|e| e.name == "memory").unwrap().ty,
            ExternType::Memory(MemoryType {
                minimum: 1,
                maximum: Some(3),
                ..
            })
        ));
        assert_eq!(info.memories.len(), 1);
        assert!(info.has_start);
        let meta: Vec<_> = info
            .custom_sections
            .iter()
            .filter(|(n, _)| n == "meta")
            .collect();
        assert_eq!(meta, [&("meta".to_string(), b"hello".to_vec())]);
    }

    #[test]
    fn sorts_unsupported_from_invalid() {
        let exceptions =
            wat::parse_str(r#"(module (tag $e) (func (export "f") (throw $e)))"#).unwrap();
        let without = WasmFeatures::WASM2;
        assert!(matches!(
            compile_error(&exceptions, without, "x"),
            WasmError::Unsupported { feature } if feature == "exceptions"
        ));
        assert!(matches!(
            compile_error(b"\0asm\x01\0\0\0\x7f", without, "bad"),
            WasmError::InvalidModule { .. }
        ));
    }

    #[test]
    fn blames_no_proposal_the_module_does_not_use() {
        // Valid without any proposal, yet refused: the engine's own limit.
        let plain = wat::parse_str(r#"(module (func (export "f")))"#).unwrap();
        assert!(matches!(
            compile_error(&plain, WasmFeatures::WASM2, "too big"),
            WasmError::ModuleLimit(limit)
                if limit.bound == plugin_system_core::ModuleBound::Engine
                    && limit.to_string() == "engine limit: too big"
        ));
        let legacy = wat::parse_str("(module (func try catch_all end))").unwrap();
        assert!(matches!(
            compile_error(&legacy, WasmFeatures::WASM2 | WasmFeatures::EXCEPTIONS, "x"),
            WasmError::Unsupported { feature } if feature == "legacy exceptions"
        ));
    }

    #[test]
    fn reads_wat_and_skips_the_code() {
        let text = br#"(module (func (export "f") (result i32) (i32.const 7)))"#;
        let info = read_module_info(text).unwrap();
        assert_eq!(
            info.exports[0].ty,
            ExternType::Func(FuncType::new([], [ValType::I32]))
        );
        // A body that does not validate (an i64 where an i32 is returned) is
        // not looked at: what the module declares is still read.
        let mut wasm = wat::parse_bytes(text).unwrap().into_owned();
        let at = wasm.windows(2).position(|w| w == [0x41, 0x07]).unwrap();
        wasm[at] = 0x42;
        assert!(Validator::new().validate_all(&wasm).is_err());
        assert_eq!(read_module_info(&wasm).unwrap().exports.len(), 1);
    }

    /// What `check_imports` refuses is what instantiating refuses, in the
    /// same words, on both engines; what it passes instantiates.
    #[cfg(all(feature = "wasmtime", feature = "wasmi", feature = "wasi"))]
    #[test]
    fn check_imports_says_what_instantiating_says() {
        use plugin_system_core::{HostFunc, UnknownImports, WasiConfig};

        use crate::{EngineKind, new_runtime};

        let modules = [
            r#"(module)"#,
            r#"(module (import "env" "f" (func (param i32))))"#,
            r#"(module (import "env" "f" (func (param i32))) (import "env" "g" (func)))"#,
            r#"(module (import "env" "f" (func (param i64))))"#,
            r#"(module (import "env" "m" (memory 1)) (import "env" "g" (func)))"#,
            r#"(module (import "env" "f" (func (param i32))) (import "env" "f" (func (param i32))))"#,
            r#"(module (import "wasi_snapshot_preview1" "proc_exit" (func (param i32))))"#,
            r#"(module (import "wasi_snapshot_preview1" "fd_write" (func (param i32))))"#,
            r#"(module (import "wasi_snapshot_preview1" "fd_write" (global i32)))"#,
            r#"(module (import "wasi_snapshot_preview1" "no_such_call" (func)))"#,
            r#"(module (import "wasi_snapshot_preview1" "random_get"
                (func (param i32 i32) (result i32))) (import "env" "f" (func (param i32))))"#,
            r#"(module (import "env" "f" (func (param i32))) (memory 20))"#,
            r#"(module (table 100000 funcref))"#,
        ];
        let mut given = Imports::new();
        given.define(
            "env",
            "f",
            Extern::Func(HostFunc::new(
                FuncType::new([ValType::I32], []),
                |_, _, _| Ok(()),
            )),
        );
        for kind in [EngineKind::Wasmtime, EngineKind::Wasmi] {
            for enable_wasi in [false, true] {
                let config = WasmRuntimeConfig::default()
                    .enable_wasi(enable_wasi)
                    .max_memory_pages(10)
                    .max_table_elements(1000);
                let runtime = new_runtime(kind, config).unwrap();
                for wat in modules {
                    let info = read_module_info(wat.as_bytes()).unwrap();
                    let mut unknown = Imports::new();
                    unknown.define_unknown(&info.imports, UnknownImports::Default);
                    let missing_dir = WasiConfig::new().preopen(
                        "/no/such/dir/anywhere",
                        "/d",
                        plugin_system_core::DirAccess::ReadOnly,
                    );
                    for imports in [
                        Imports::new(),
                        given.clone(),
                        Imports::new().with_wasi(WasiConfig::new()),
                        unknown.clone().with_wasi(WasiConfig::new()),
                        Imports::new().with_wasi(missing_dir),
                    ] {
                        let said = |r: Result<(), WasmError>| r.map_err(|e| e.to_string());
                        let predicted = said(check_imports(runtime.config(), &info, &imports));
                        let module = runtime.load_module(wat.as_bytes()).unwrap();
                        let actual = said(runtime.instantiate(&module, &imports).map(drop));
                        assert_eq!(
                            predicted, actual,
                            "{kind} (enable_wasi {enable_wasi}): {wat} with {imports:?}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn wat_text_and_garbage() {
        assert!(to_binary(b"(module)").unwrap().starts_with(b"\0asm"));
        assert!(matches!(
            to_binary(b"not wasm at all"),
            Err(WasmError::InvalidModule { .. })
        ));
        assert!(matches!(
            to_binary(&[0xff, 0xfe, 0x00]),
            Err(WasmError::InvalidModule { .. })
        ));
    }
}
