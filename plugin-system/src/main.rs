//! `plugin-system`: inspect a WebAssembly module, or call one of its functions,
//! on the wasmtime or the wasmi engine. The commands live in `cli/`, one module
//! each; this file only hands over to them.

#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a command-line tool prints"
)]

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
