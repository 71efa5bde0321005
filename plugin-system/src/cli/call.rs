//! `plugin-system call FILE FUNC [ARGS...]`: instantiate a module with no
//! imports under the given limits, call one function, print its results.

use std::{
    io::Write,
    path::{Path, PathBuf},
    sync::Arc,
};

use clap::Args;
use plugin_system::{
    ExternType, FuncType, Imports, ModuleInfo, ValType, WasmError, WasmModule, WasmRuntime,
    WasmValue, wasm_run,
};

use super::{Failure, RuntimeArgs, input};

/// Arguments of `call`.
#[derive(Debug, Args)]
pub(crate) struct CallArgs {
    /// The module: binary WebAssembly or WAT text.
    file: PathBuf,
    /// The exported function to call.
    func: String,
    /// The function's arguments, read by its parameter types: integers in decimal
    /// or 0x hex, negative too (i32 also takes 0..=u32::MAX as its bit pattern,
    /// i64 likewise); floats as Rust reads them (1.5, -2e3, nan, inf, -inf);
    /// v128 as one integer; a nullable reference (funcref, externref, anyref,
    /// i31ref, exnref, `(ref null ...)`) only as `null`. Options may come
    /// before or after them; after a `--`, everything is an argument.
    #[arg(value_name = "ARGS", allow_hyphen_values = true)]
    args: Vec<String>,
    #[command(flatten)]
    runtime: RuntimeArgs,
    /// Before FUNC, call the module's `_initialize` export, or else its `_start`.
    #[arg(long)]
    invoke_start: bool,
}

impl CallArgs {
    /// The function to call.
    #[cfg(test)]
    pub(crate) fn func(&self) -> &str {
        &self.func
    }

    /// The function's arguments as given.
    #[cfg(test)]
    pub(crate) fn values(&self) -> &[String] {
        &self.args
    }
}

/// Runs `call`. Every check of the command line comes before any guest code
/// runs, and before the module is compiled: the function, its arguments, and
/// imports (`call` links none).
pub(crate) fn run(args: &CallArgs, out: &mut dyn Write) -> Result<(), Failure> {
    let runtime = args.runtime.runtime(false)?;
    let (module, (values, start)) = load_checked(&*runtime, &args.file, |info| {
        let ty = function_type(info, &args.func)?;
        let values = parse_args(&args.func, &ty, &args.args)?;
        let start = if args.invoke_start {
            start_function(info)?
        } else {
            None
        };
        wasm_run::check_imports(runtime.config(), info, &Imports::new())?;
        Ok((values, start))
    })?;

    let mut instance = runtime.instantiate(&module, &Imports::new())?;
    if let Some(start) = start {
        instance.call(start, &[])?;
    }
    let results = instance.call(&args.func, &values)?;
    for value in results {
        writeln!(out, "{value}")?;
    }
    Ok(())
}

/// Loads the module file at `path` as [`super::load`] does, once `check` has
/// passed what the module declares, and returns it with what `check` returned.
///
/// `check` reads the module's imports and exports as
/// [`wasm_run::read_module_info`] parses them, before the engine compiles the
/// module (which takes seconds for a large one): a module that cannot serve
/// the command is refused at once, in the words it would get after compiling.
/// Bytes that do not parse so go to [`super::load`] as they are, for the
/// engine's own error, and are checked after, should the engine take them.
pub(crate) fn load_checked<T>(
    runtime: &dyn WasmRuntime,
    path: &Path,
    check: impl FnOnce(&ModuleInfo) -> Result<T, Failure>,
) -> Result<(Arc<dyn WasmModule>, T), Failure> {
    let bytes = plugin_system::core::read_module_file(path).map_err(Failure::from)?;
    // Neither wasm nor WAT: said plainly, not as a WAT parser's complaint.
    input::check_module(&bytes)?;
    let Ok(info) = wasm_run::read_module_info(&bytes) else {
        let module = super::load(runtime, path)?;
        let checked = check(module.info())?;
        return Ok((module, checked));
    };
    let checked = check(&info)?;
    // As `super::load` compiles, from the bytes checked.
    let module = runtime
        .load_module(&bytes)
        .map_err(|e| Failure::from(super::name_file(e, path)))?;
    Ok((module, checked))
}

/// The type of the export `name`, if there is one.
fn export<'a>(info: &'a ModuleInfo, name: &str) -> Option<&'a ExternType> {
    info.exports.iter().find(|e| e.name == name).map(|e| &e.ty)
}

/// The signature of the exported function `name`.
pub(crate) fn function_type(info: &ModuleInfo, name: &str) -> Result<FuncType, Failure> {
    let found = export(info, name);
    if let Some(ExternType::Func(ty)) = found {
        return Ok(ty.clone());
    }
    let missing = WasmError::ExportNotFound {
        kind: plugin_system_core::ExportKind::Function,
        name: name.to_owned(),
    };
    let functions: Vec<&str> = info
        .exports
        .iter()
        .filter(|e| matches!(e.ty, ExternType::Func(_)))
        .map(|e| e.name.as_str())
        .collect();
    let hint = match found {
        Some(other) => format!("`{name}` is a {}", other.kind()),
        None if functions.is_empty() => "the module exports no functions".to_owned(),
        None => format!("exported functions: {}", functions.join(", ")),
    };
    Err(Failure::Usage(format!("{missing} ({hint})")))
}

/// What `--invoke-start` calls: `_initialize` if the module exports that
/// function, else `_start`; nothing for a reactor (`_initialize` and no
/// `_start`), whose `_initialize` instantiating ran already.
fn start_function(info: &ModuleInfo) -> Result<Option<&'static str>, Failure> {
    let func = |name| match export(info, name) {
        Some(ExternType::Func(ty)) => Some(ty),
        _ => None,
    };
    match (func("_initialize"), func("_start")) {
        // A reactor: instantiating it ran its `_initialize`, which runs once.
        (Some(ty), None) if ty.params().is_empty() && ty.results().is_empty() => Ok(None),
        (Some(_), _) => Ok(Some("_initialize")),
        (None, Some(_)) => Ok(Some("_start")),
        (None, None) => Err(Failure::Usage(
            "bad usage: --invoke-start needs an exported `_initialize` or `_start` \
             function, and the module has neither"
                .to_owned(),
        )),
    }
}

/// Reads the command-line arguments by the function's parameter types.
pub(crate) fn parse_args(
    func: &str,
    ty: &FuncType,
    args: &[String],
) -> Result<Vec<WasmValue>, Failure> {
    let params = ty.params();
    if params.len() != args.len() {
        return Err(Failure::Usage(format!(
            "bad arguments: `{func}` {ty} takes {} argument{}, {} given",
            params.len(),
            if params.len() == 1 { "" } else { "s" },
            args.len()
        )));
    }
    params
        .iter()
        .zip(args)
        .enumerate()
        .map(|(i, (&param, text))| {
            parse_value(param, text).ok_or_else(|| {
                Failure::Usage(format!(
                    "bad argument: `{text}` is not {} (argument {} of `{func}` {ty})",
                    expected(param),
                    i + 1
                ))
            })
        })
        .collect()
}

/// What a value of type `ty` looks like, for an error message.
fn expected(ty: ValType) -> String {
    match ty {
        ValType::I32 => "an i32".to_owned(),
        ValType::I64 => "an i64".to_owned(),
        ValType::F32 => "an f32".to_owned(),
        ValType::F64 => "an f64".to_owned(),
        ValType::V128 => "a v128 (one 128-bit integer)".to_owned(),
        ValType::Ref(r) if r.nullable => format!("{} (only `null` can be given)", with_article(ty)),
        // No reference can be written on a command line, and null is not one of these.
        ValType::Ref(_) => format!("{} (non-nullable: no value can be given)", with_article(ty)),
    }
}

/// `a funcref`, `an externref`.
fn with_article(ty: ValType) -> String {
    let name = ty.to_string();
    let article = if name.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    };
    format!("{article} {name}")
}

/// One value of type `ty` from its text, or `None`.
fn parse_value(ty: ValType, text: &str) -> Option<WasmValue> {
    Some(match ty {
        ValType::I32 => {
            let n = parse_integer(text)?;
            WasmValue::I32(
                i32::try_from(n)
                    .ok()
                    .or_else(|| u32::try_from(n).ok().map(u32::cast_signed))?,
            )
        }
        ValType::I64 => {
            let n = parse_integer(text)?;
            WasmValue::I64(
                i64::try_from(n)
                    .ok()
                    .or_else(|| u64::try_from(n).ok().map(u64::cast_signed))?,
            )
        }
        ValType::F32 => WasmValue::F32(text.parse().ok()?),
        ValType::F64 => WasmValue::F64(text.parse().ok()?),
        ValType::V128 => WasmValue::V128(match text.strip_prefix('-') {
            Some(_) => parse_integer(text)?.cast_unsigned(),
            None => parse_magnitude(text)?,
        }),
        ValType::Ref(r) if r.nullable && text == "null" => ty.default_value(),
        ValType::Ref(_) => return None,
    })
}

/// An integer in decimal or `0x` hex, with an optional sign.
fn parse_integer(text: &str) -> Option<i128> {
    let (negative, body) = match text.strip_prefix('-') {
        Some(body) => (true, body),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let magnitude = i128::try_from(parse_magnitude(body)?).ok()?;
    Some(if negative { -magnitude } else { magnitude })
}

/// An unsigned integer in decimal or `0x` hex, no sign.
fn parse_magnitude(text: &str) -> Option<u128> {
    // `from_str_radix` takes a leading `+`, which would let `-+1` through.
    if text.starts_with(['+', '-']) {
        return None;
    }
    match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) if !hex.starts_with(['+', '-']) => u128::from_str_radix(hex, 16).ok(),
        Some(_) => None,
        None => text.parse().ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn i32_of(text: &str) -> Option<i32> {
        parse_value(ValType::I32, text).and_then(|v| v.as_i32())
    }

    fn i64_of(text: &str) -> Option<i64> {
        parse_value(ValType::I64, text).and_then(|v| v.as_i64())
    }

    #[test]
    fn integers() {
        assert_eq!(i32_of("5"), Some(5));
        assert_eq!(i32_of("+5"), Some(5));
        assert_eq!(i32_of("-7"), Some(-7));
        assert_eq!(i32_of("0x10"), Some(16));
        assert_eq!(i32_of("0XfF"), Some(255));
        assert_eq!(i32_of("-0x10"), Some(-16));
        assert_eq!(i32_of("-2147483648"), Some(i32::MIN));
        assert_eq!(i32_of("0xffffffff"), Some(-1));
        assert_eq!(i32_of("4294967295"), Some(-1));
        assert_eq!(i32_of("4294967296"), None);
        assert_eq!(i32_of("-2147483649"), None);
        for bad in [
            "", "-", "0x", "-0x", "--1", "-+1", "+-1", "0x+1", "0x-1", "1.5", "abc", " 1",
        ] {
            assert_eq!(i32_of(bad), None, "{bad:?}");
        }
        assert_eq!(i64_of("-9223372036854775808"), Some(i64::MIN));
        assert_eq!(i64_of("0xffffffffffffffff"), Some(-1));
        assert_eq!(i64_of("18446744073709551616"), None);
        assert_eq!(i64_of("99999999999999999999999999999999999999999999"), None);
    }

    #[test]
    fn floats() {
        assert_eq!(parse_value(ValType::F64, "2.5"), Some(WasmValue::F64(2.5)));
        assert_eq!(
            parse_value(ValType::F64, "-1e3"),
            Some(WasmValue::F64(-1000.0))
        );
        assert_eq!(
            parse_value(ValType::F32, "inf"),
            Some(WasmValue::F32(f32::INFINITY))
        );
        assert_eq!(
            parse_value(ValType::F64, "-inf"),
            Some(WasmValue::F64(f64::NEG_INFINITY))
        );
        assert!(
            parse_value(ValType::F64, "nan")
                .and_then(|v| v.as_f64())
                .is_some_and(f64::is_nan)
        );
        assert_eq!(parse_value(ValType::F32, "one"), None);
    }

    #[test]
    fn vectors_and_references() {
        assert_eq!(parse_value(ValType::V128, "0x01"), Some(WasmValue::V128(1)));
        assert_eq!(
            parse_value(ValType::V128, "-1"),
            Some(WasmValue::V128(u128::MAX))
        );
        assert_eq!(
            parse_value(ValType::FuncRef, "null"),
            Some(WasmValue::FuncRef(None))
        );
        assert_eq!(parse_value(ValType::ExternRef, "0"), None);
        assert_eq!(
            parse_value(ValType::ExnRef, "null"),
            Some(WasmValue::ExnRef(None))
        );
        assert_eq!(
            parse_value(ValType::I31Ref, "null"),
            Some(WasmValue::AnyRef(None))
        );
        let concrete: ValType = "(ref null 0)".parse().unwrap();
        assert!(parse_value(concrete, "null").is_some_and(|v| v.is_null()));
        let non_null: ValType = "(ref func)".parse().unwrap();
        assert_eq!(parse_value(non_null, "null"), None);
        assert_eq!(
            expected(non_null),
            "a (ref func) (non-nullable: no value can be given)"
        );
        assert_eq!(
            expected(ValType::ExnRef),
            "an exnref (only `null` can be given)"
        );
    }

    #[test]
    fn argument_count_and_types_are_checked() {
        let ty = FuncType::new([ValType::I32, ValType::F64], [ValType::I32]);
        let args = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let values = parse_args("f", &ty, &args(&["-3", "0.5"])).ok();
        assert_eq!(values, Some(vec![WasmValue::I32(-3), WasmValue::F64(0.5)]));
        let Err(Failure::Usage(count)) = parse_args("f", &ty, &args(&["1"])) else {
            panic!("a wrong count is a usage error");
        };
        assert!(
            count.starts_with("bad arguments: `f` (i32, f64) -> (i32) takes 2 arguments, 1 given")
        );
        let Err(Failure::Usage(value)) = parse_args("f", &ty, &args(&["x", "1"])) else {
            panic!("an unreadable value is a usage error");
        };
        assert!(value.starts_with("bad argument: `x` is not an i32 (argument 1"));
    }
}
