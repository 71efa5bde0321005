#!/usr/bin/env bash
# Installs what a fresh machine lacks for building and testing this workspace.
# Idempotent: safe to run again.
set -euo pipefail

need_component() {
    if ! rustup component list --installed 2>/dev/null | grep -q "^$1"; then
        rustup component add "$1"
    fi
}

command -v cargo >/dev/null || { echo "setup: cargo is missing; install Rust 1.95 with rustup" >&2; exit 1; }
need_component rustfmt
need_component clippy
