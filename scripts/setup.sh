#!/usr/bin/env bash
# Installs what a fresh machine lacks for building and testing this workspace:
# rustfmt and clippy, the wasm32 Rust targets the guests need, clang with the
# WASI sysroot for the C guests, and headless Chromium with wasm-bindgen's test
# runner for the web engine's tests. Idempotent: safe to run again.
set -euo pipefail

need_component() {
    if ! rustup component list --installed 2>/dev/null | grep -q "^$1"; then
        rustup component add "$1"
    fi
}

need_target() {
    # RUSTUP_AUTO_INSTALL=0 on these machines: targets are not fetched on demand.
    if ! rustup target list --installed 2>/dev/null | grep -qx "$1"; then
        rustup target add "$1"
    fi
}

# Runs a command as root: directly when root, through sudo when it exists.
as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null; then
        sudo "$@"
    else
        echo "setup: need root to run: $*" >&2
        exit 1
    fi
}

# True when clang can compile and link a WASI program: clang itself, the
# wasi-libc sysroot and the wasm32 compiler-rt builtins are all present.
have_wasi_clang() {
    command -v clang >/dev/null || return 1
    [ -d /usr/include/wasm32-wasi ] || return 1
    local builtins
    builtins="$(clang --target=wasm32-wasi --sysroot=/usr -print-libgcc-file-name 2>/dev/null)" || return 1
    [ -f "$builtins" ]
}

command -v cargo >/dev/null || { echo "setup: cargo is missing; install Rust 1.95 with rustup" >&2; exit 1; }
need_component rustfmt
need_component clippy
need_target wasm32-wasip1
need_target wasm32-unknown-unknown

if ! have_wasi_clang; then
    as_root apt-get update
    as_root env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y clang lld wasi-libc libclang-rt-dev-wasm32
fi

# The web engine's browser tests (`cargo xtask test-web`): headless Chromium
# with its WebDriver, and wasm-bindgen's test runner at the exact version of
# wasm-bindgen in Cargo.lock (the runner refuses a library of another version).
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
    as_root apt-get update
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium chromium-driver
fi
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
wasm_bindgen="$(awk '$0 == "name = \"wasm-bindgen\"" { getline; gsub(/version = |"/, ""); print; exit }' "$root/Cargo.lock")"
if [ "$(wasm-bindgen-test-runner --version 2>/dev/null | awk '{ print $2 }')" != "$wasm_bindgen" ]; then
    # --locked when the registry has every locked dependency; else the newest
    # compatible ones (the runner's version is what must match).
    cargo install wasm-bindgen-cli --version "$wasm_bindgen" --locked \
        || cargo install wasm-bindgen-cli --version "$wasm_bindgen"
fi
