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

# vipsthumbnail, the peer the photo benchmark is compared with.
if ! command -v vipsthumbnail >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q libvips-tools >/dev/null
fi

# The desktop app's build (webkit) and its smoke test (Xvfb, xdotool).
desktop_packages="libwebkit2gtk-4.1-dev libxdo-dev xvfb xdotool"
missing_desktop=$(for p in $desktop_packages; do dpkg -s "$p" >/dev/null 2>&1 || echo "$p"; done)
if [ -n "$missing_desktop" ] && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q $missing_desktop >/dev/null
fi

# s3s-fs, a small S3-compatible server, for the tests of photos on S3 storage.
# Built once from crates.io into the tools folder the tests look in.
S3S_VERSION=0.14.1
tools_dir="${DOORSTEP_TOOLS_DIR:-$HOME/.cache/doorstep-tools}"
if [ "$("$tools_dir/bin/s3s-fs" --version 2>/dev/null)" != "s3s-fs $S3S_VERSION" ]; then
    echo "setup: building s3s-fs $S3S_VERSION into $tools_dir (once)"
    cargo install --quiet --locked --features binary --root "$tools_dir" "s3s-fs@$S3S_VERSION"
fi

# The web app's build and its browser tests: clang compiles sqlite3.c for
# wasm32, Debian's Chromium is the browser the tests drive.
web_packages="chromium clang"
missing_web=$(for p in $web_packages; do dpkg -s "$p" >/dev/null 2>&1 || echo "$p"; done)
if [ -n "$missing_web" ] && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q $missing_web >/dev/null
fi

# wasm-bindgen-cli, which must be exactly the wasm-bindgen crate's version in
# Cargo.lock. Not --locked: its lock file pins a webpki-roots that fails to build.
repo_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
wasm_bindgen_version=$(awk '$0 == "name = \"wasm-bindgen\"" { getline; gsub(/"/, "", $3); print $3; exit }' "$repo_dir/Cargo.lock")
if [ -z "$wasm_bindgen_version" ]; then
    echo "setup: no wasm-bindgen in $repo_dir/Cargo.lock; cannot tell which wasm-bindgen-cli to install" >&2
    exit 1
fi
if [ "$("$tools_dir/bin/wasm-bindgen" --version 2>/dev/null)" != "wasm-bindgen $wasm_bindgen_version" ]; then
    echo "setup: building wasm-bindgen-cli $wasm_bindgen_version into $tools_dir (once)"
    cargo install --quiet wasm-bindgen-cli --version "=$wasm_bindgen_version" --root "$tools_dir"
fi

# playwright-core (which drives the Chromium above and downloads no
# browser) and axe-core for the browser tests in tests/browser, at the
# versions its package-lock.json pins.
if ! command -v npm >/dev/null 2>&1; then
    echo "setup: npm is not installed; install Node.js and npm (Debian: apt-get install nodejs npm) and run this again" >&2
    exit 1
fi
browser_tests_dir="$repo_dir/tests/browser"
if [ ! -f "$browser_tests_dir/node_modules/playwright-core/package.json" ] \
    || [ ! -f "$browser_tests_dir/node_modules/axe-core/package.json" ] \
    || [ "$browser_tests_dir/package-lock.json" -nt "$browser_tests_dir/node_modules/.package-lock.json" ]; then
    (cd "$browser_tests_dir" && npm ci --silent)
fi

# aiosmtpd, a real SMTP server the email tests send to on loopback, in a
# virtual environment of its own in the tools folder.
AIOSMTPD_VERSION=1.4.6
smtp_env="$tools_dir/aiosmtpd"
if ! "$smtp_env/bin/python" -c "import aiosmtpd, sys; sys.exit(aiosmtpd.__version__ != '$AIOSMTPD_VERSION')" 2>/dev/null; then
    echo "setup: installing aiosmtpd $AIOSMTPD_VERSION into $smtp_env (once)"
    python3 -m venv "$smtp_env"
    "$smtp_env/bin/pip" install --quiet "aiosmtpd==$AIOSMTPD_VERSION"
fi

# PostgreSQL for the store tests: started if installed but stopped,
# installed from Debian's packages if missing (as root).
pg_ready() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }
if [ -z "${DATABASE_URL:-}" ] && ! pg_ready; then
    if ! command -v pg_ctlcluster >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >/dev/null
    fi
    if command -v pg_ctlcluster >/dev/null 2>&1; then
        for version in $(ls /etc/postgresql 2>/dev/null); do
            pg_ctlcluster --skip-systemctl-redirect "$version" main start 2>/dev/null || true
        done
    fi
    for _ in $(seq 1 30); do pg_ready && break; sleep 1; done
    if ! pg_ready; then
        echo "setup: PostgreSQL is not running on 127.0.0.1:5432 and could not be started;" >&2
        echo "       start it, or set DATABASE_URL to one the tests may use" >&2
        exit 1
    fi
fi
