#!/usr/bin/env bash
# Installs what the tests need and a fresh machine may lack. Safe to run again:
# each step checks first and does nothing if already done.
set -euo pipefail

if ! command -v cargo >/dev/null 2>&1; then
    echo "setup: Rust is not installed; install it from https://rustup.rs and run this again" >&2
    exit 1
fi

if command -v rustup >/dev/null 2>&1; then
    installed_components=$(rustup component list --installed)
    for component in rustfmt clippy; do
        if ! grep -q "^${component}" <<<"$installed_components"; then
            rustup component add "$component"
        fi
    done
    # shared/ must build for the browser app.
    if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
        rustup target add wasm32-unknown-unknown
    fi
else
    echo "setup: rustup not found; make sure rustfmt, clippy and the wasm32-unknown-unknown target are installed" >&2
fi
