//! The types of a module's imports and exports.

use std::fmt;

use crate::value::ValType;

/// A function signature.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct FuncType {
    params: Vec<ValType>,
    results: Vec<ValType>,
}

impl FuncType {
    /// A signature from its parameter and result types.
    pub fn new(
        params: impl IntoIterator<Item = ValType>,
        results: impl IntoIterator<Item = ValType>,
    ) -> Self {
        FuncType {
            params: params.into_iter().collect(),
            results: results.into_iter().collect(),
        }
    }

    /// The parameter types.
    pub fn params(&self) -> &[ValType] {
        &self.params
    }

    /// The result types.
    pub fn results(&self) -> &[ValType] {
        &self.results
    }
}

impl fmt::Display for FuncType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("(")?;
        write_list(f, &self.params)?;
        f.write_str(") -> (")?;
        write_list(f, &self.results)?;
        f.write_str(")")
    }
}

fn write_list(f: &mut fmt::Formatter<'_>, types: &[ValType]) -> fmt::Result {
    for (i, t) in types.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{t}")?;
    }
    Ok(())
}

/// A linear memory's type; sizes are in 64 KiB pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MemoryType {
    /// Pages at instantiation.
    pub minimum: u64,
    /// Most pages the memory may grow to, if bounded.
    pub maximum: Option<u64>,
    /// Whether addresses are 64-bit (memory64 proposal).
    pub memory64: bool,
    /// Whether the memory is shared between threads (threads proposal).
    pub shared: bool,
}

impl MemoryType {
    /// A 32-bit, unshared memory.
    pub fn new(minimum: u64, maximum: Option<u64>) -> Self {
        MemoryType {
            minimum,
            maximum,
            memory64: false,
            shared: false,
        }
    }
}

/// A table's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TableType {
    /// The element type, a reference type such as [`ValType::FuncRef`].
    pub element: ValType,
    /// Elements at instantiation.
    pub minimum: u64,
    /// Most elements the table may grow to, if bounded.
    pub maximum: Option<u64>,
}

/// A global's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct GlobalType {
    /// The type of the value it holds.
    pub content: ValType,
    /// Whether it may be set after instantiation.
    pub mutable: bool,
}

/// The type of anything a module imports or exports.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ExternType {
    /// A function.
    Func(FuncType),
    /// A linear memory.
    Memory(MemoryType),
    /// A table.
    Table(TableType),
    /// A global.
    Global(GlobalType),
    /// An exception tag (exception-handling proposal).
    Tag(FuncType),
}

impl ExternType {
    /// `function`, `memory`, `table`, `global` or `tag`.
    pub fn kind(&self) -> &'static str {
        match self {
            ExternType::Func(_) => "function",
            ExternType::Memory(_) => "memory",
            ExternType::Table(_) => "table",
            ExternType::Global(_) => "global",
            ExternType::Tag(_) => "tag",
        }
    }
}

impl fmt::Display for ExternType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExternType::Func(t) => write!(f, "func {t}"),
            ExternType::Tag(t) => write!(f, "tag {t}"),
            ExternType::Memory(m) => {
                write!(
                    f,
                    "memory{} {}",
                    if m.memory64 { " i64" } else { "" },
                    m.minimum
                )?;
                if let Some(max) = m.maximum {
                    write!(f, " {max}")?;
                }
                if m.shared {
                    f.write_str(" shared")?;
                }
                Ok(())
            }
            ExternType::Table(t) => {
                write!(f, "table {}", t.minimum)?;
                if let Some(max) = t.maximum {
                    write!(f, " {max}")?;
                }
                write!(f, " {}", t.element)
            }
            ExternType::Global(g) if g.mutable => write!(f, "global (mut {})", g.content),
            ExternType::Global(g) => write!(f, "global {}", g.content),
        }
    }
}

/// One import of a module.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ImportType {
    /// The module name, such as `env` or `wasi_snapshot_preview1`.
    pub module: String,
    /// The field name.
    pub name: String,
    /// What is imported.
    pub ty: ExternType,
}

/// One export of a module.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ExportType {
    /// The export name.
    pub name: String,
    /// What is exported.
    pub ty: ExternType,
}
