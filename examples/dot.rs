//! A C library's string exports, called as graphviz's WASI build would be:
//! `cargo xtask guests`, then `cargo run -p examples --example dot -- 'a -> b; b -> c'`.

#![allow(clippy::print_stdout, reason = "an example prints what it did")]

fn main() -> anyhow::Result<()> {
    let dot = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "editor -> plugins; plugins -> wasm; editor -> wasm".to_owned());
    print!("{}", examples::dot::tour(&dot)?);
    Ok(())
}
