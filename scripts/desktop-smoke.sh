#!/usr/bin/env bash
# CI's check that the desktop app builds and starts: under Xvfb, with an
# empty data folder, its "Doorstep" window must appear (xdotool waits for
# it; no fixed sleep), then the app is stopped.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -p doorstep-mobile --features desktop --locked
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
Xvfb :96 -screen 0 800x1000x24 >/dev/null 2>&1 &
export DISPLAY=:96
# Wait for the display to answer before starting anything on it.
if ! timeout 60 bash -c 'until xdotool getdisplaygeometry >/dev/null 2>&1; do sleep 0.1; done'; then
    echo "desktop smoke: Xvfb did not start" >&2
    exit 1
fi
DOORSTEP_APP_DATA="$work/app" "${CARGO_TARGET_DIR:-target}/debug/doorstep-mobile" >"$work/app.log" 2>&1 &
app=$!
if ! timeout 180 xdotool search --sync --onlyvisible --name '^Doorstep$' >/dev/null; then
    echo "desktop smoke: no Doorstep window within 3 minutes; the app said:" >&2
    cat "$work/app.log" >&2
    exit 1
fi
if ! kill -0 "$app" 2>/dev/null; then
    echo "desktop smoke: the app exited" >&2
    cat "$work/app.log" >&2
    exit 1
fi
echo "desktop smoke: the Doorstep window is up"
