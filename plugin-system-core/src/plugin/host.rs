//! Host functions: what a host offers its plugins to call, by name.

use std::{collections::BTreeMap, fmt, sync::Arc};

use super::Value;

/// Who is calling a host function.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct HostCall<'a> {
    /// The calling plugin's id.
    pub plugin_id: &'a str,
}

impl<'a> HostCall<'a> {
    /// A call from the plugin `plugin_id`.
    pub fn new(plugin_id: &'a str) -> Self {
        HostCall { plugin_id }
    }
}

/// The error a host function returns; the plugin sees its message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct HostFunctionError(pub String);

impl HostFunctionError {
    /// An error with this message.
    pub fn new(message: impl Into<String>) -> Self {
        HostFunctionError(message.into())
    }
}

type Callback = dyn Fn(HostCall<'_>, Value) -> Result<Value, HostFunctionError> + Send + Sync;

/// A function of the host that plugins may call by name, with one [`Value`] in
/// and one out. It runs synchronously inside the plugin's call, under the same
/// fuel and deadline; a panic in it is caught and reported as its error.
#[derive(Clone)]
pub struct HostFunction {
    description: String,
    callback: Arc<Callback>,
}

impl HostFunction {
    /// A host function from a closure.
    pub fn new(
        callback: impl Fn(HostCall<'_>, Value) -> Result<Value, HostFunctionError>
        + Send
        + Sync
        + 'static,
    ) -> Self {
        HostFunction {
            description: String::new(),
            callback: Arc::new(callback),
        }
    }

    /// Sets a description, for listings.
    pub fn with_description(mut self, description: impl Into<String>) -> Self {
        self.description = description.into();
        self
    }

    /// The description.
    pub fn description(&self) -> &str {
        &self.description
    }

    /// Calls the function; a panic becomes its error.
    ///
    /// # Errors
    /// The function's error, or a [`HostFunctionError`] saying it panicked.
    pub fn call(&self, call: HostCall<'_>, args: Value) -> Result<Value, HostFunctionError> {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (self.callback)(call, args)))
            .unwrap_or_else(|_| Err(HostFunctionError::new("the host function panicked")))
    }
}

impl fmt::Debug for HostFunction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HostFunction")
            .field("description", &self.description)
            .finish_non_exhaustive()
    }
}

/// The host functions a host offers, by name. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct HostFunctions {
    functions: BTreeMap<String, HostFunction>,
}

impl HostFunctions {
    /// No functions.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers `function` as `name`, replacing an earlier one of that name.
    pub fn register(&mut self, name: impl Into<String>, function: HostFunction) -> &mut Self {
        self.functions.insert(name.into(), function);
        self
    }

    /// The function named `name`.
    pub fn get(&self, name: &str) -> Option<&HostFunction> {
        self.functions.get(name)
    }

    /// The names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.functions.keys().map(String::as_str)
    }

    /// How many there are.
    pub fn len(&self) -> usize {
        self.functions.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.functions.is_empty()
    }
}
