//! Host function signatures (Dart's `HostFunctionSignature`): what a host
//! function takes, checked before it runs.

use std::fmt;

use plugin_system_core::{Value, ValueMap};

/// The type of an argument or a result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum ValueType {
    /// Anything.
    Any,
    /// `null`.
    Null,
    /// A boolean.
    Bool,
    /// An integer.
    Int,
    /// A number: an integer or a float.
    Float,
    /// A string.
    String,
    /// Bytes.
    Bytes,
    /// A list.
    Array,
    /// A map.
    Map,
}

impl ValueType {
    /// Whether `value` is of this type.
    pub fn accepts(self, value: &Value) -> bool {
        matches!(
            (self, value),
            (ValueType::Any, _)
                | (ValueType::Null, Value::Null)
                | (ValueType::Bool, Value::Bool(_))
                | (ValueType::Int, Value::Int(_) | Value::UInt(_))
                | (
                    ValueType::Float,
                    Value::Int(_) | Value::UInt(_) | Value::Float(_)
                )
                | (ValueType::String, Value::String(_))
                | (ValueType::Bytes, Value::Bytes(_))
                | (ValueType::Array, Value::Array(_))
                | (ValueType::Map, Value::Map(_))
        )
    }

    /// `any`, `null`, `bool`, `int`, `float`, `string`, `bytes`, `array` or
    /// `map`.
    pub fn as_str(self) -> &'static str {
        match self {
            ValueType::Any => "any",
            ValueType::Null => "null",
            ValueType::Bool => "bool",
            ValueType::Int => "int",
            ValueType::Float => "float",
            ValueType::String => "string",
            ValueType::Bytes => "bytes",
            ValueType::Array => "array",
            ValueType::Map => "map",
        }
    }
}

impl fmt::Display for ValueType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One named argument of a host function (Dart's `HostFunctionParam`).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[non_exhaustive]
pub struct HostFunctionParam {
    /// Its key in the arguments map.
    pub name: String,
    /// Its type.
    #[serde(rename = "type")]
    pub ty: ValueType,
    /// What it is.
    pub description: String,
    /// Whether it may be left out.
    pub optional: bool,
    /// What it is when left out.
    #[serde(rename = "defaultValue")]
    pub default: Option<Value>,
}

impl HostFunctionParam {
    /// A required argument.
    pub fn new(name: impl Into<String>, ty: ValueType, description: impl Into<String>) -> Self {
        HostFunctionParam {
            name: name.into(),
            ty,
            description: description.into(),
            optional: false,
            default: None,
        }
    }

    /// Makes it optional, `default` when left out (`None`: left out).
    #[must_use]
    pub fn optional(mut self, default: Option<Value>) -> Self {
        self.optional = true;
        self.default = default;
        self
    }
}

/// What a host function takes and gives (Dart's `HostFunctionSignature`):
/// its arguments are a map of named values, checked before the function runs.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct HostFunctionSignature {
    /// The function's name.
    pub name: String,
    /// What it does.
    pub description: String,
    /// Its arguments.
    pub params: Vec<HostFunctionParam>,
    /// What it returns.
    pub return_type: ValueType,
}

impl HostFunctionSignature {
    /// A function of no arguments that returns anything.
    pub fn new(name: impl Into<String>, description: impl Into<String>) -> Self {
        HostFunctionSignature {
            name: name.into(),
            description: description.into(),
            params: Vec::new(),
            return_type: ValueType::Any,
        }
    }

    /// Adds an argument.
    #[must_use]
    pub fn param(mut self, param: HostFunctionParam) -> Self {
        self.params.push(param);
        self
    }

    /// Sets the result's type.
    #[must_use]
    pub fn returns(mut self, ty: ValueType) -> Self {
        self.return_type = ty;
        self
    }

    /// The arguments as the function gets them: `args` (a map, or `null` for
    /// none) with the defaults of optional arguments left out filled in.
    ///
    /// # Errors
    /// The first problem, in words a plugin author can act on: arguments that
    /// are no map, a missing required argument, one of the wrong type, or one
    /// the function does not take.
    pub fn check(&self, args: Value) -> Result<Value, String> {
        let mut map = match args {
            Value::Null => ValueMap::new(),
            Value::Map(map) => map,
            other => {
                return Err(format!(
                    "{} takes a map of named arguments, not {}",
                    self.name,
                    other.kind()
                ));
            }
        };
        if let Some(unknown) = map
            .keys()
            .find(|key| !self.params.iter().any(|p| &p.name == *key))
        {
            return Err(format!("{} takes no argument `{unknown}`", self.name));
        }
        for param in &self.params {
            match map.get(&param.name) {
                Some(value) if !param.ty.accepts(value) => {
                    return Err(format!(
                        "{}: argument `{}` must be {}, not {}",
                        self.name,
                        param.name,
                        param.ty,
                        value.kind()
                    ));
                }
                Some(_) => {}
                None if param.optional => {
                    if let Some(default) = &param.default {
                        map.insert(param.name.clone(), default.clone());
                    }
                }
                None => {
                    return Err(format!(
                        "{}: missing argument `{}` ({})",
                        self.name, param.name, param.ty
                    ));
                }
            }
        }
        Ok(Value::Map(map))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signature() -> HostFunctionSignature {
        HostFunctionSignature::new("editor.get_line", "one line of the open document")
            .param(HostFunctionParam::new("line", ValueType::Int, "0-based"))
            .param(
                HostFunctionParam::new("trim", ValueType::Bool, "strip whitespace")
                    .optional(Some(Value::Bool(false))),
            )
            .returns(ValueType::String)
    }

    #[test]
    fn arguments_are_checked_and_defaults_filled_in() {
        let s = signature();
        let args = Value::from_iter([("line".to_owned(), Value::from(3))]);
        let checked = s.check(args).unwrap();
        assert_eq!(checked.get("trim"), Some(&Value::Bool(false)));
        for (args, error) in [
            (Value::Null, "missing argument `line` (int)"),
            (
                Value::from_iter([("line".to_owned(), Value::from("3"))]),
                "argument `line` must be int, not string",
            ),
            (
                Value::from_iter([
                    ("line".to_owned(), Value::from(3)),
                    ("color".to_owned(), Value::from(1)),
                ]),
                "takes no argument `color`",
            ),
            (Value::from(3), "takes a map of named arguments"),
        ] {
            let e = s.check(args).unwrap_err();
            assert!(e.contains(error), "{e}");
        }
    }
}
