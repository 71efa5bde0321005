//! The one error type of the engine boundary.

use std::{fmt, path::PathBuf, time::Duration};

/// Why a guest trapped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TrapCode {
    /// `unreachable` was executed.
    Unreachable,
    /// A load or store outside linear memory.
    MemoryOutOfBounds,
    /// A table access outside the table.
    TableOutOfBounds,
    /// `call_indirect` through a null table entry.
    IndirectCallToNull,
    /// `call_indirect` with the wrong signature.
    BadSignature,
    /// Integer overflow (for example `i32.div_s` of `i32::MIN` by -1).
    IntegerOverflow,
    /// Integer division or remainder by zero.
    IntegerDivisionByZero,
    /// A float that does not fit the integer it is truncated to.
    BadConversionToInteger,
    /// A null reference was dereferenced.
    NullReference,
    /// A misaligned atomic access.
    UnalignedAtomic,
    /// An exception was thrown and not caught.
    UncaughtException,
    /// Any other trap the engine reports.
    Other,
}

impl fmt::Display for TrapCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TrapCode::Unreachable => "unreachable",
            TrapCode::MemoryOutOfBounds => "memory out of bounds",
            TrapCode::TableOutOfBounds => "table out of bounds",
            TrapCode::IndirectCallToNull => "indirect call to null",
            TrapCode::BadSignature => "indirect call signature mismatch",
            TrapCode::IntegerOverflow => "integer overflow",
            TrapCode::IntegerDivisionByZero => "integer divide by zero",
            TrapCode::BadConversionToInteger => "invalid conversion to integer",
            TrapCode::NullReference => "null reference",
            TrapCode::UnalignedAtomic => "unaligned atomic",
            TrapCode::UncaughtException => "uncaught exception",
            TrapCode::Other => "trap",
        })
    }
}

/// Which structural bound a module passes ([`WasmError::ModuleLimit`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ModuleBound {
    /// [`ModuleBounds::max_nesting_depth`](crate::ModuleBounds::max_nesting_depth).
    NestingDepth,
    /// [`ModuleBounds::max_function_size`](crate::ModuleBounds::max_function_size).
    FunctionSize,
    /// [`ModuleBounds::max_locals`](crate::ModuleBounds::max_locals).
    Locals,
    /// [`ModuleBounds::max_br_table_targets`](crate::ModuleBounds::max_br_table_targets).
    BrTableTargets,
    /// [`ModuleBounds::max_result_blocks`](crate::ModuleBounds::max_result_blocks).
    ResultBlocks,
    /// [`ModuleBounds::max_loops`](crate::ModuleBounds::max_loops).
    Loops,
    /// [`ModuleBounds::max_functions`](crate::ModuleBounds::max_functions).
    Functions,
    /// A limit of the engine's own translator that no [`ModuleBounds`](crate::ModuleBounds)
    /// field covers (wasmi's registers per function, for example): the module is
    /// valid, but this engine cannot compile it.
    Engine,
}

impl fmt::Display for ModuleBound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ModuleBound::NestingDepth => "nesting depth",
            ModuleBound::FunctionSize => "function size",
            ModuleBound::Locals => "locals",
            ModuleBound::BrTableTargets => "br_table targets",
            ModuleBound::ResultBlocks => "blocks with results",
            ModuleBound::Loops => "loops",
            ModuleBound::Functions => "functions",
            ModuleBound::Engine => "engine limit",
        })
    }
}

/// The boxed payload of [`WasmError::ModuleLimit`]: which bound a module
/// passes, where, and by how much.
#[derive(Debug)]
#[non_exhaustive]
pub struct ModuleLimitError {
    /// The bound passed.
    pub bound: ModuleBound,
    /// The function that passes it, in the function index space (imported
    /// functions first), when the bound is one function's.
    pub function: Option<u32>,
    /// The value found, when known (an engine's own limit does not say).
    pub found: Option<u64>,
    /// The limit, when known.
    pub limit: Option<u64>,
    /// The engine's own error for [`ModuleBound::Engine`]; `None` for the
    /// runtime's own bounds, which the other fields tell in full.
    pub source: Option<BoxError>,
}

impl ModuleLimitError {
    /// A runtime bound passed: `found` where `limit` is the most allowed.
    pub fn new(bound: ModuleBound, function: Option<u32>, found: u64, limit: u64) -> Self {
        ModuleLimitError {
            bound,
            function,
            found: Some(found),
            limit: Some(limit),
            source: None,
        }
    }

    /// A limit of the engine's own translator ([`ModuleBound::Engine`]), in the
    /// engine's words.
    pub fn engine(source: impl Into<BoxError>) -> Self {
        ModuleLimitError {
            bound: ModuleBound::Engine,
            function: None,
            found: None,
            limit: None,
            source: Some(source.into()),
        }
    }
}

/// `nesting depth 40000 in function 3 exceeds the limit 2048`, or the engine's
/// own words for [`ModuleBound::Engine`].
impl fmt::Display for ModuleLimitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.bound)?;
        if let Some(found) = self.found {
            write!(f, " {found}")?;
        }
        if let Some(function) = self.function {
            write!(f, " in function {function}")?;
        }
        if let Some(limit) = self.limit {
            write!(f, " exceeds the limit {limit}")?;
        }
        if let Some(source) = &self.source {
            write!(f, ": {}", ErrorChain(source.as_ref()))?;
        }
        Ok(())
    }
}

impl std::error::Error for ModuleLimitError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|e| e as _)
    }
}

/// Any error, boxed: the cause an engine or a host function gives.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Shows an error with its causes on one line, `outer: cause: root cause`,
/// skipping a cause whose words the line already holds (an error that prints
/// its source itself, as this crate's errors do).
///
/// ```
/// use plugin_system_core::{ErrorChain, HostError};
/// let io = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
/// let error = HostError::with_source("cannot open the theme", io);
/// assert_eq!(
///     ErrorChain(&error).to_string(),
///     "cannot open the theme: no such file"
/// );
/// ```
#[derive(Clone, Copy)]
pub struct ErrorChain<'a>(pub &'a (dyn std::error::Error + 'static));

impl fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut line = self.0.to_string();
        let mut next = self.0.source();
        while let Some(cause) = next {
            let text = cause.to_string();
            if !line.contains(&text) {
                line.push_str(": ");
                line.push_str(&text);
            }
            next = cause.source();
        }
        f.write_str(&line)
    }
}

impl fmt::Debug for ErrorChain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// An engine error that says what the runtime was doing: `context: cause`.
#[derive(Debug)]
struct Context {
    context: String,
    source: BoxError,
}

impl fmt::Display for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.context, ErrorChain(self.source.as_ref()))
    }
}

impl std::error::Error for Context {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(self.source.as_ref())
    }
}

/// The kind of an export asked for by name ([`WasmError::ExportNotFound`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ExportKind {
    /// A function.
    Function,
    /// A linear memory.
    Memory,
    /// A table.
    Table,
    /// A global.
    Global,
    /// An exception tag.
    Tag,
}

impl ExportKind {
    /// `function`, `memory`, `table`, `global` or `tag`.
    pub fn as_str(self) -> &'static str {
        match self {
            ExportKind::Function => "function",
            ExportKind::Memory => "memory",
            ExportKind::Table => "table",
            ExportKind::Global => "global",
            ExportKind::Tag => "tag",
        }
    }
}

impl fmt::Display for ExportKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error raised by a host function.
///
/// Host functions return it to stop the guest; the caller gets it back inside
/// [`WasmError::Host`]. One pointer wide, so a host function's
/// `Result<(), HostError>` costs no more than a `bool` to return.
#[derive(Debug)]
pub struct HostError(Box<HostErrorInner>);

#[derive(Debug)]
struct HostErrorInner {
    message: String,
    source: Option<BoxError>,
}

impl HostError {
    /// An error with a message.
    pub fn new(message: impl Into<String>) -> Self {
        HostError(Box::new(HostErrorInner {
            message: message.into(),
            source: None,
        }))
    }

    /// An error that wraps another, with the other's message.
    pub fn from_error(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        HostError(Box::new(HostErrorInner {
            message: error.to_string(),
            source: Some(Box::new(error)),
        }))
    }

    /// An error that says what failed, caused by `source`: its message is
    /// `message`, and [`source`](std::error::Error::source) gives the cause.
    pub fn with_source(message: impl Into<String>, source: impl Into<BoxError>) -> Self {
        HostError(Box::new(HostErrorInner {
            message: message.into(),
            source: Some(source.into()),
        }))
    }

    /// The message, without the causes ([`ErrorChain`] shows them).
    pub fn message(&self) -> &str {
        &self.0.message
    }
}

impl fmt::Display for HostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.message)
    }
}

impl std::error::Error for HostError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source.as_deref().map(|e| e as _)
    }
}

/// Everything that can go wrong at the engine boundary.
///
/// Match on the variant, never on the message: messages are for people.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WasmError {
    /// The bytes are not a valid module (or the text is not valid WAT).
    #[error("invalid module: {message}")]
    InvalidModule {
        /// What the validator said.
        message: String,
    },
    /// The module needs a WebAssembly feature this engine does not implement.
    #[error("unsupported feature: {feature}")]
    Unsupported {
        /// The feature, for example `exceptions` or `fuel metering`.
        feature: String,
    },
    /// The module is valid WebAssembly, but past a bound on what is compiled: one
    /// of the runtime's [`ModuleBounds`](crate::ModuleBounds), checked before the
    /// engine compiles anything, or a limit of the engine's own translator
    /// ([`ModuleBound::Engine`]).
    #[error("module limit: {0}")]
    ModuleLimit(#[source] Box<ModuleLimitError>),
    /// An import is missing or has the wrong type.
    #[error("link error: {message}")]
    Link {
        /// Which import, and why.
        message: String,
    },
    /// The guest trapped.
    #[error("trap: {code}")]
    Trap {
        /// The trap's kind.
        code: TrapCode,
        /// The engine's description of the trap: one line, worded alike on
        /// every engine (no backtrace).
        message: String,
    },
    /// The guest used up its fuel.
    #[error("fuel exhausted")]
    FuelExhausted,
    /// The call ran past its wall-clock deadline.
    #[error("timeout: the call ran longer than {limit:?}")]
    Timeout {
        /// The deadline that was exceeded.
        limit: Duration,
    },
    /// The guest recursed deeper than the stack limit.
    #[error("stack overflow")]
    StackOverflow,
    /// A memory or table needs more than the configured limit.
    #[error("memory limit: {message}")]
    MemoryLimit {
        /// What asked for how much, and the limit.
        message: String,
    },
    /// A memory access outside the memory, from the host side.
    #[error("out of bounds: {len} bytes at offset {offset} in a memory of {size} bytes")]
    OutOfBounds {
        /// First byte asked for.
        offset: u64,
        /// Bytes asked for.
        len: u64,
        /// Size of the memory.
        size: u64,
    },
    /// A host function failed.
    #[error("host function {function} failed: {}", ErrorChain(source))]
    Host {
        /// `module::name` of the host function.
        function: String,
        /// The host function's error.
        #[source]
        source: HostError,
    },
    /// The guest exited through WASI `proc_exit`.
    #[error("exited with code {code}")]
    Exit {
        /// The exit code.
        code: i32,
    },
    /// No export of that name and kind.
    #[error("no exported {kind} named `{name}`")]
    ExportNotFound {
        /// What was asked for.
        kind: ExportKind,
        /// The name asked for.
        name: String,
    },
    /// Values of the wrong number or type.
    #[error("type mismatch: {message}")]
    TypeMismatch {
        /// What was expected and what was given.
        message: String,
    },
    /// An [`InstanceHandle`](crate::InstanceHandle) that names no instance of
    /// the store it was given to.
    #[error("no instance {index} in this store")]
    InstanceNotFound {
        /// The handle's index.
        index: usize,
    },
    /// `set_global` on an immutable global.
    #[error("global `{name}` is immutable")]
    ImmutableGlobal {
        /// The global's export name.
        name: String,
    },
    /// A module from another engine was passed to this one.
    #[error("module belongs to engine {module_engine}, not {engine}")]
    ForeignModule {
        /// The engine that was asked.
        engine: &'static str,
        /// The engine that compiled the module.
        module_engine: String,
    },
    /// Precompiled bytes were rejected (wrong engine version, config, or tampered).
    #[error("precompiled module rejected: {}", ErrorChain(source.as_ref()))]
    Precompiled {
        /// Why: the runtime's own check, or the engine's error.
        #[source]
        source: BoxError,
    },
    /// A file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// What the guest's memory holds is not what the host was to read: a C
    /// string with no NUL within its bound, text that is not UTF-8, an
    /// allocator that returned 0.
    #[error("bad guest data: {message}")]
    GuestData {
        /// What was expected, and what was found.
        message: String,
    },
    /// An engine error that fits no other variant.
    #[error("engine error: {}", ErrorChain(source.as_ref()))]
    Engine {
        /// The engine's error, with its causes.
        #[source]
        source: BoxError,
    },
}

impl WasmError {
    /// A short, stable name of the error's kind, for logs and command-line output.
    pub fn kind(&self) -> &'static str {
        match self {
            WasmError::InvalidModule { .. } => "invalid module",
            WasmError::Unsupported { .. } => "unsupported feature",
            WasmError::ModuleLimit { .. } => "module limit",
            WasmError::Link { .. } => "link error",
            WasmError::Trap { .. } => "trap",
            WasmError::FuelExhausted => "fuel exhausted",
            WasmError::Timeout { .. } => "timeout",
            WasmError::StackOverflow => "stack overflow",
            WasmError::MemoryLimit { .. } => "memory limit",
            WasmError::OutOfBounds { .. } => "out of bounds",
            WasmError::Host { .. } => "host error",
            WasmError::Exit { .. } => "exit",
            WasmError::ExportNotFound { .. } => "export not found",
            WasmError::InstanceNotFound { .. } => "instance not found",
            WasmError::TypeMismatch { .. } => "type mismatch",
            WasmError::ImmutableGlobal { .. } => "immutable global",
            WasmError::ForeignModule { .. } => "foreign module",
            WasmError::Precompiled { .. } => "precompiled module rejected",
            WasmError::Io { .. } => "io error",
            WasmError::GuestData { .. } => "bad guest data",
            WasmError::Engine { .. } => "engine error",
        }
    }

    /// Whether the guest, not the caller's input, caused the error: a trap, a limit,
    /// a host function's failure or an exit.
    pub fn is_guest_failure(&self) -> bool {
        matches!(
            self,
            WasmError::Trap { .. }
                | WasmError::FuelExhausted
                | WasmError::Timeout { .. }
                | WasmError::StackOverflow
                | WasmError::MemoryLimit { .. }
                | WasmError::Host { .. }
                | WasmError::Exit { .. }
                | WasmError::GuestData { .. }
        )
    }

    /// [`WasmError::Engine`] with an engine's error (or a message), causes kept.
    pub fn engine(source: impl Into<BoxError>) -> Self {
        WasmError::Engine {
            source: source.into(),
        }
    }

    /// [`WasmError::Engine`] that says what the runtime was doing:
    /// `engine error: context: cause`, with `source` as the cause.
    pub fn engine_in(context: impl Into<String>, source: impl Into<BoxError>) -> Self {
        WasmError::Engine {
            source: Box::new(Context {
                context: context.into(),
                source: source.into(),
            }),
        }
    }

    /// [`WasmError::ModuleLimit`] with its payload.
    pub fn module_limit(limit: ModuleLimitError) -> Self {
        WasmError::ModuleLimit(Box::new(limit))
    }

    /// [`WasmError::Precompiled`] with the runtime's reason or the engine's error.
    pub fn precompiled(source: impl Into<BoxError>) -> Self {
        WasmError::Precompiled {
            source: source.into(),
        }
    }

    /// Shorthand for [`WasmError::TypeMismatch`].
    pub fn type_mismatch(message: impl Into<String>) -> Self {
        WasmError::TypeMismatch {
            message: message.into(),
        }
    }
}

// Every `Result` of the engine API carries this error, on the hot path too:
// large payloads are boxed so that it stays five words.
const _: () = assert!(size_of::<WasmError>() <= 40);
const _: () = assert!(size_of::<HostError>() == size_of::<usize>());

/// `Result` with [`WasmError`].
pub type Result<T, E = WasmError> = std::result::Result<T, E>;
