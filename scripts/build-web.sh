#!/usr/bin/env bash
# Builds the operative app for browsers into the build folder's `web-app`
# (target/web-app, or $CARGO_TARGET_DIR/web-app), where doorstep-server
# serves it at /app/. Plain cargo and wasm-bindgen-cli (the version in
# Cargo.lock, installed by scripts/setup.sh); no `dx` needed.
#   ./scripts/build-web.sh            release build (smaller, faster)
#   DOORSTEP_WEB_PROFILE=dev ./scripts/build-web.sh   debug build
set -euo pipefail
cd "$(dirname "$0")/.."

target_dir="${CARGO_TARGET_DIR:-target}"
tools_dir="${DOORSTEP_TOOLS_DIR:-$HOME/.cache/doorstep-tools}"
profile="${DOORSTEP_WEB_PROFILE:-release}"
out="$target_dir/web-app"

wanted=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/"/, "", $3); print $3; exit }' Cargo.lock)
bindgen="$tools_dir/bin/wasm-bindgen"
if [ "$("$bindgen" --version 2>/dev/null)" != "wasm-bindgen $wanted" ]; then
    echo "build-web: wasm-bindgen $wanted is not in $tools_dir; run ./scripts/setup.sh" >&2
    exit 1
fi

cargo build --quiet --locked -p doorstep-web --target wasm32-unknown-unknown --profile "$profile"
folder=$([ "$profile" = dev ] && echo debug || echo "$profile")

staging="$out.new"
rm -rf "$staging"
mkdir -p "$staging"
"$bindgen" --target web --no-typescript --out-dir "$staging" \
    "$target_dir/wasm32-unknown-unknown/$folder/doorstep_web.wasm"
cp mobile/web/static/* "$staging/"
# The service worker's cache is named after the build, so a new build
# replaces the old shell on phones.
version=$(cat "$staging"/*.wasm "$staging"/*.js "$staging"/*.html | sha256sum | cut -c1-16)
shell=$(cd "$staging" && find . -type f ! -name sw.js | sed 's|^\./||' | sort | awk 'BEGIN { printf "[" } { printf "%s\"%s\"", (NR > 1 ? ", " : ""), $0 } END { printf "]" }')
sed -i -e "s/__DOORSTEP_VERSION__/$version/" -e "s|__DOORSTEP_SHELL__|$shell|" "$staging/sw.js"
rm -rf "$out"
mv "$staging" "$out"
echo "build-web: $out ($(du -sh "$out" | cut -f1), version $version)"
