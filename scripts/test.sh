#!/usr/bin/env bash
# Every check CI runs, in order: formatting, lints, the web app's build, all
# tests (one drives the web app in Chromium), the browser build of shared/, shared/'s no-IO dependency rule, the desktop app starting
# under Xvfb, and each benchmark in its quick mode.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh

step() { printf '\n== %s\n' "$*"; }

step "formatting"
cargo fmt --all --check

step "lints"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "the web app builds (wasm32, wasm-bindgen) and passes lints"
cargo clippy -p doorstep-web --target wasm32-unknown-unknown --locked -- -D warnings
./scripts/build-web.sh

step "tests (the browser test uses the web app just built)"
cargo test --workspace --locked

step "shared/ builds for wasm32-unknown-unknown"
cargo build -p doorstep-shared --target wasm32-unknown-unknown --locked

step "shared/ depends on no IO crate"
forbidden='^(tokio|axum|hyper|reqwest|rusqlite|libsqlite3-sys|sqlx|dioxus[a-z-]*|mio|object_store|lettre) '
if offenders=$(cargo tree -p doorstep-shared --edges normal,build --target all --prefix none --locked \
        | grep -E "$forbidden" | sort -u) && [ -n "$offenders" ]; then
    echo "shared/ must stay free of IO, but depends on:" >&2
    echo "$offenders" >&2
    exit 1
fi
echo "ok"

step "the desktop app builds and starts under Xvfb"
./scripts/desktop-smoke.sh

step "benchmarks, quick mode (so none rots)"
DOORSTEP_BENCH_QUICK=1 cargo bench -p doorstep-tests --bench sync_reconnect --locked
DOORSTEP_BENCH_QUICK=1 cargo bench -p doorstep-tests --bench photo_pipeline --locked
DOORSTEP_BENCH_QUICK=1 cargo bench -p doorstep-tests --bench app_start --locked

step "all checks passed"
