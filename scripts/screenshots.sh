#!/usr/bin/env bash
# Takes the README's screenshots of the desktop app: starts the demo server
# and the app under Xvfb, enrols the app with the demo operative's code, and
# saves the Enrol, Today and Job screens to docs/screenshots/. Run by hand
# (it needs Xvfb, xdotool and ImageMagick: `apt-get install xvfb xdotool
# imagemagick`); clicks are at the coordinates of the 420×860 window.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

cargo build -p doorstep-server -p doorstep-mobile --features doorstep-mobile/desktop
"${CARGO_TARGET_DIR:-target}"/debug/doorstep-server --demo --data-dir "$work/server" --listen 127.0.0.1:18080 >"$work/server.log" 2>&1 &
until grep -q "Priya Sharma: enrolment code" "$work/server.log" 2>/dev/null; do sleep 0.2; done
code=$(grep "Priya Sharma: enrolment code" "$work/server.log" | awk '{print $NF}')

Xvfb :97 -screen 0 800x1000x24 >/dev/null 2>&1 &
export DISPLAY=:97
DOORSTEP_APP_DATA="$work/app" "${CARGO_TARGET_DIR:-target}"/debug/doorstep-mobile >"$work/app.log" 2>&1 &
sleep 12
shot() { import -window root "$work/full.png"; convert "$work/full.png" -crop 420x860+0+0 +repage "docs/screenshots/$1.png"; }

shot enrol
xdotool mousemove 200 200 click 1; xdotool type --delay 120 "http://127.0.0.1:18080"
xdotool mousemove 200 305 click 1; xdotool type --delay 120 "$code"
xdotool mousemove 200 372 click 1; sleep 5
shot today
xdotool mousemove 200 370 click 1; sleep 3
shot job
echo "saved docs/screenshots/{enrol,today,job}.png"
