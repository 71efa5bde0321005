//! `plugin-system new NAME [--lang rust|c] [--format json|msgpack] [--dir PATH]
//! [--sdk PATH]`: writes a plugin project that builds on its own, outside this
//! repository.
//!
//! - Rust: a `cdylib` crate on the guest SDK (a `path` dependency to this
//!   checkout's `guests/sdk`, or `--sdk`), its own `[workspace]`, a release
//!   profile for plugins, `.cargo/config.toml` that builds for
//!   `wasm32-unknown-unknown`, a plugin in `src/lib.rs` with native tests
//!   (`cargo test --target host-tuple`), and a README.
//! - C: the ABI in freestanding C (JSON only), `build.sh` (clang for wasm32),
//!   and a README.
//!
//! The templates are the files of `new/`. Nothing is ever overwritten: the
//! folder must be new or empty, and each file is created only if it does not
//! exist.

use std::{
    fs,
    io::{self, Write},
    path::{Path, PathBuf},
};

use clap::{Args, ValueEnum};

use super::Failure;

/// Arguments of `new`.
#[derive(Debug, Args)]
pub(crate) struct NewArgs {
    /// The plugin's name: lowercase ASCII letters, digits, `-` and `_`,
    /// starting with a letter, like `word-count`. Its id is `plugin.NAME`.
    name: String,
    /// The language of the plugin.
    #[arg(long, value_enum, default_value_t = Lang::Rust)]
    lang: Lang,
    /// The wire format the plugin speaks with the host (C: json only).
    #[arg(long, value_enum, default_value_t = Format::Json)]
    format: Format,
    /// The project's folder, new or empty [default: ./NAME].
    #[arg(long, value_name = "PATH")]
    dir: Option<PathBuf>,
    /// The guest SDK (`guests/sdk` of a plugin-system checkout) that a Rust
    /// project depends on [default: the one of the checkout this tool was
    /// built from].
    #[arg(long, value_name = "PATH")]
    sdk: Option<PathBuf>,
}

/// `--lang`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Lang {
    /// A crate on the guest SDK, `plugin-system-guest`.
    Rust,
    /// Freestanding C (no libc), built with clang.
    C,
}

/// `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    /// JSON, as the Dart original speaks it.
    Json,
    /// MessagePack (Rust only).
    Msgpack,
}

impl Format {
    fn title(self) -> &'static str {
        match self {
            Format::Json => "JSON",
            Format::Msgpack => "MessagePack",
        }
    }

    fn macro_name(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Msgpack => "msgpack",
        }
    }
}

/// One file of a project: where, what, and whether it is a script.
struct File {
    path: String,
    contents: String,
    executable: bool,
}

/// The guest SDK of the checkout this binary was built from.
const CHECKOUT_SDK: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../guests/sdk");

/// The longest name taken.
const MAX_NAME: usize = 64;

/// Writes the project and says what to do next.
///
/// # Errors
/// [`Failure::Usage`] (exit 2) for a bad name, a combination that does not
/// exist (`--lang c --format msgpack`), a missing SDK, a folder that is not
/// new or empty, or one that cannot be written.
pub(crate) fn run(args: &NewArgs, out: &mut dyn Write) -> Result<(), Failure> {
    check_name(&args.name)?;
    let vars = Vars::new(&args.name, args.format);
    let files = match args.lang {
        Lang::Rust => {
            let sdk = find_sdk(args.sdk.as_deref())?;
            rust_files(&vars, &sdk)
        }
        Lang::C => {
            if args.format == Format::Msgpack {
                return Err(Failure::Usage(
                    "bad usage: --lang c speaks JSON only (the C template reads and writes \
                     it by hand); use --format json, or --lang rust for MessagePack"
                        .into(),
                ));
            }
            if args.sdk.is_some() {
                return Err(Failure::Usage(
                    "bad usage: --sdk is for --lang rust; the C template needs no SDK".into(),
                ));
            }
            c_files(&vars)
        }
    };
    let dir = args
        .dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(&args.name));
    let dir = write_project(&dir, &files)?;

    let shown = shell_word(&dir.display().to_string());
    let lang = match args.lang {
        Lang::Rust => "Rust",
        Lang::C => "C",
    };
    writeln!(
        out,
        "created {id}, a {lang} plugin speaking {format}, in {shown}:",
        id = vars.id,
        format = args.format.title(),
    )?;
    for file in &files {
        writeln!(out, "  {}", file.path)?;
    }
    writeln!(out, "next:\n  cd {shown}")?;
    let wasm = match args.lang {
        Lang::Rust => {
            let wasm = format!("target/wasm32-unknown-unknown/release/{}.wasm", vars.krate);
            writeln!(out, "  cargo build --release            # {wasm}")?;
            writeln!(
                out,
                "  cargo test --target host-tuple   # the tests, natively"
            )?;
            wasm
        }
        Lang::C => {
            let wasm = format!("build/{}.wasm", vars.krate);
            writeln!(out, "  ./build.sh                       # {wasm}")?;
            wasm
        }
    };
    writeln!(
        out,
        "  plugin-system event {wasm} --type hello --data '{{\"name\":\"Ada\"}}'"
    )?;
    Ok(())
}

/// Refuses a name that would not make a package, a file and an id alike.
fn check_name(name: &str) -> Result<(), Failure> {
    let bad = |why: &str| Failure::Usage(format!("bad name `{name}`: {why}"));
    const RULE: &str = "a plugin name is lowercase ASCII letters, digits, `-` and `_`, \
                        starting with a letter and ending with a letter or digit, like `word-count`";
    let mut chars = name.chars();
    if !chars.next().is_some_and(|c| c.is_ascii_lowercase())
        || !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        || name.ends_with(['-', '_'])
    {
        return Err(bad(RULE));
    }
    if name.len() > MAX_NAME {
        return Err(bad(&format!("at most {MAX_NAME} characters")));
    }
    let krate = name.replace('-', "_");
    if RUST_KEYWORDS.contains(&krate.as_str()) {
        return Err(bad("a Rust keyword cannot name a crate"));
    }
    if RESERVED.contains(&krate.as_str()) {
        return Err(bad(
            "taken by Rust's own crates, the guest SDK or a device name on Windows",
        ));
    }
    Ok(())
}

/// Rust's keywords, strict and reserved, of every edition.
const RUST_KEYWORDS: &[&str] = &[
    "abstract", "as", "async", "await", "become", "box", "break", "const", "continue", "crate",
    "do", "dyn", "else", "enum", "extern", "false", "final", "fn", "for", "gen", "if", "impl",
    "in", "let", "loop", "macro", "match", "mod", "move", "mut", "override", "priv", "pub", "ref",
    "return", "self", "static", "struct", "super", "trait", "true", "try", "type", "typeof",
    "unsafe", "unsized", "use", "virtual", "where", "while", "yield",
];

/// Names (with `_` for `-`) that cargo or a file system refuse or confuse.
const RESERVED: &[&str] = &[
    "test",
    "std",
    "core",
    "alloc",
    "proc_macro",
    "plugin_system_guest",
    "con",
    "prn",
    "aux",
    "nul",
    "com1",
    "com2",
    "com3",
    "com4",
    "com5",
    "com6",
    "com7",
    "com8",
    "com9",
    "lpt1",
    "lpt2",
    "lpt3",
    "lpt4",
    "lpt5",
    "lpt6",
    "lpt7",
    "lpt8",
    "lpt9",
];

/// What the templates are filled with.
struct Vars {
    /// The package name, as given: `word-count`.
    name: String,
    /// The crate and module name: `word_count`.
    krate: String,
    /// The plugin's id: `plugin.word-count`.
    id: String,
    /// For people: `Word Count`.
    title: String,
    /// The Rust type: `WordCountPlugin`.
    ty: String,
    /// The wire format.
    format: Format,
}

impl Vars {
    fn new(name: &str, format: Format) -> Self {
        let words: Vec<String> = name
            .split(['-', '_'])
            .filter(|w| !w.is_empty())
            .map(|w| {
                let mut chars = w.chars();
                chars.next().map_or_else(String::new, |first| {
                    first.to_ascii_uppercase().to_string() + chars.as_str()
                })
            })
            .collect();
        let camel = words.concat();
        // Never `Plugin` alone (the SDK's trait), nor `Error`, `Value`, ...
        // of the prelude: the type always ends in `Plugin`.
        let ty = if camel.ends_with("Plugin") && camel != "Plugin" {
            camel
        } else {
            camel + "Plugin"
        };
        Vars {
            name: name.to_owned(),
            krate: name.replace('-', "_"),
            id: format!("plugin.{name}"),
            title: words.join(" "),
            ty,
            format,
        }
    }

    /// `template` with each `{{key}}` replaced.
    fn render(&self, template: &str, extra: &[(&str, &str)]) -> String {
        let export = format!(
            "export_plugin!({}, format = {});",
            self.ty,
            self.format.macro_name()
        );
        let mut text = template.to_owned();
        for (key, value) in [
            ("name", self.name.as_str()),
            ("crate", &self.krate),
            ("id", &self.id),
            ("title", &self.title),
            ("type", &self.ty),
            ("format_name", self.format.title()),
            ("export", &export),
        ]
        .into_iter()
        .chain(extra.iter().copied())
        {
            text = text.replace(&format!("{{{{{key}}}}}"), value);
        }
        debug_assert!(!text.contains("{{"), "a placeholder is left: {text}");
        text
    }
}

fn rust_files(vars: &Vars, sdk: &str) -> Vec<File> {
    let sdk = toml_string(sdk);
    let extra = [("sdk", sdk.as_str())];
    let file = |path: &str, template: &str| File {
        path: path.to_owned(),
        contents: vars.render(template, &extra),
        executable: false,
    };
    vec![
        file("Cargo.toml", include_str!("new/rust/Cargo.toml.tmpl")),
        file(
            ".cargo/config.toml",
            include_str!("new/rust/config.toml.tmpl"),
        ),
        file("src/lib.rs", include_str!("new/rust/lib.rs.tmpl")),
        file("README.md", include_str!("new/rust/README.md.tmpl")),
        file(".gitignore", include_str!("new/rust/gitignore.tmpl")),
    ]
}

fn c_files(vars: &Vars) -> Vec<File> {
    let file = |path: String, template: &str, executable: bool| File {
        path,
        contents: vars.render(template, &[]),
        executable,
    };
    vec![
        file(
            format!("{}.c", vars.krate),
            include_str!("new/c/plugin.c.tmpl"),
            false,
        ),
        file("build.sh".into(), include_str!("new/c/build.sh.tmpl"), true),
        file(
            "README.md".into(),
            include_str!("new/c/README.md.tmpl"),
            false,
        ),
        file(
            ".gitignore".into(),
            include_str!("new/c/gitignore.tmpl"),
            false,
        ),
    ]
}

/// The guest SDK's folder, absolute: `--sdk`, or this checkout's.
fn find_sdk(given: Option<&Path>) -> Result<String, Failure> {
    let (path, hint) = match given {
        Some(path) => (path.to_path_buf(), ""),
        None => (
            PathBuf::from(CHECKOUT_SDK),
            "; this plugin-system was built from a checkout that no longer has it: \
             give the SDK's folder (guests/sdk of a plugin-system checkout) with --sdk PATH",
        ),
    };
    let shown = path.display().to_string();
    let manifest = fs::read_to_string(path.join("Cargo.toml")).unwrap_or_default();
    let is_sdk = manifest
        .lines()
        .any(|line| line.replace(' ', "") == "name=\"plugin-system-guest\"");
    let absolute = fs::canonicalize(&path).ok().filter(|_| is_sdk);
    let Some(absolute) = absolute else {
        return Err(Failure::Usage(format!(
            "bad usage: no guest SDK (plugin-system-guest) in {shown}{hint}"
        )));
    };
    absolute.into_os_string().into_string().map_err(|path| {
        Failure::Usage(format!(
            "bad usage: the SDK's path {} is not UTF-8, which Cargo.toml cannot hold",
            PathBuf::from(path).display()
        ))
    })
}

/// Creates `dir` (or takes it when it is empty) and writes `files` into it,
/// none of which may exist yet; the absolute path of `dir`. On failure, what
/// it created is removed again.
fn write_project(dir: &Path, files: &[File]) -> Result<PathBuf, Failure> {
    let shown = || dir.display();
    match fs::metadata(dir) {
        Ok(metadata) if !metadata.is_dir() => {
            return Err(Failure::Usage(format!(
                "bad usage: {} exists and is not a folder",
                shown()
            )));
        }
        Ok(_) => {
            let mut entries = fs::read_dir(dir)
                .map_err(|e| Failure::Usage(format!("bad usage: cannot read {}: {e}", shown())))?;
            if entries.next().is_some() {
                return Err(Failure::Usage(format!(
                    "bad usage: {} is not empty: `new` writes only into a new or empty \
                     folder, and never over a file",
                    shown()
                )));
            }
        }
        Err(_) => {}
    }

    let mut created = Created::default();
    let result = (|| {
        created.dirs_to(dir)?;
        for file in files {
            let path = dir.join(&file.path);
            if let Some(parent) = path.parent() {
                created.dirs_to(parent)?;
            }
            write_new(&path, &file.contents, file.executable)
                .map_err(|e| io_failure("write", &path, &e))?;
            created.files.push(path);
        }
        fs::canonicalize(dir).map_err(|e| io_failure("read", dir, &e))
    })();
    if result.is_err() {
        created.remove();
    }
    result
}

/// What [`write_project`] created, to remove when it fails half-way.
#[derive(Default)]
struct Created {
    files: Vec<PathBuf>,
    /// Outermost first.
    dirs: Vec<PathBuf>,
}

impl Created {
    /// Creates `dir` and its missing parents, noting each.
    fn dirs_to(&mut self, dir: &Path) -> Result<(), Failure> {
        let mut missing = Vec::new();
        let mut next = Some(dir);
        while let Some(dir) = next.filter(|d| !d.as_os_str().is_empty() && !d.exists()) {
            missing.push(dir.to_path_buf());
            next = dir.parent();
        }
        for dir in missing.into_iter().rev() {
            fs::create_dir(&dir).map_err(|e| io_failure("create", &dir, &e))?;
            self.dirs.push(dir);
        }
        Ok(())
    }

    fn remove(self) {
        for file in self.files.iter().rev() {
            let _ = fs::remove_file(file);
        }
        for dir in self.dirs.iter().rev() {
            let _ = fs::remove_dir(dir);
        }
    }
}

/// Writes a file that must not exist yet.
fn write_new(path: &Path, contents: &str, executable: bool) -> io::Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(if executable { 0o755 } else { 0o644 });
    }
    #[cfg(not(unix))]
    let _ = executable;
    let mut file = options.open(path)?;
    file.write_all(contents.as_bytes())?;
    file.sync_all()
}

fn io_failure(what: &str, path: &Path, e: &io::Error) -> Failure {
    Failure::Usage(format!("cannot {what} {}: {e}", path.display()))
}

/// `text` as a TOML basic string, quotes included.
fn toml_string(text: &str) -> String {
    let mut quoted = String::with_capacity(text.len() + 2);
    quoted.push('"');
    for c in text.chars() {
        match c {
            '"' => quoted.push_str("\\\""),
            '\\' => quoted.push_str("\\\\"),
            c if c.is_control() => quoted.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}

/// `text` as one word for a POSIX shell: as it is when that is safe, else
/// in single quotes.
fn shell_word(text: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "/._-+:,=@%~".contains(c);
    if !text.is_empty() && text.chars().all(safe) {
        text.to_owned()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_become_types_titles_and_crates() {
        let vars = Vars::new("word-count", Format::Json);
        assert_eq!(
            (
                vars.krate.as_str(),
                vars.id.as_str(),
                vars.title.as_str(),
                vars.ty.as_str()
            ),
            (
                "word_count",
                "plugin.word-count",
                "Word Count",
                "WordCountPlugin"
            )
        );
        assert_eq!(Vars::new("plugin", Format::Json).ty, "PluginPlugin");
        assert_eq!(Vars::new("error", Format::Json).ty, "ErrorPlugin");
        assert_eq!(Vars::new("my-plugin", Format::Json).ty, "MyPlugin");
        assert_eq!(Vars::new("a1_b2", Format::Json).ty, "A1B2Plugin");
    }

    #[test]
    fn names_are_checked() {
        for good in ["hello", "word-count", "a1", "x_y-z9"] {
            assert!(check_name(good).is_ok(), "{good}");
        }
        let long = "a".repeat(MAX_NAME + 1);
        for bad in [
            "",
            "Hello",
            "1a",
            "-a",
            "a-",
            "a_",
            "a b",
            "a.b",
            "a/b",
            "é",
            "fn",
            "self",
            "test",
            "plugin-system-guest",
            "con",
            &long,
        ] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn quoting() {
        assert_eq!(toml_string(r#"/a "b"\c"#), r#""/a \"b\"\\c""#);
        assert_eq!(toml_string("a\tb"), r#""a\u0009b""#);
        assert_eq!(shell_word("/tmp/a-b_c.d"), "/tmp/a-b_c.d");
        assert_eq!(shell_word("/tmp/it's here"), r"'/tmp/it'\''s here'");
    }
}
