#!/usr/bin/env bash
# Rebuilds the pinned copy of govuk-frontend's stylesheet in assets/govuk/
# from the npm package. For developers updating the pin only: neither the
# build nor the server uses npm. Councils' pages must not use the GDS
# Transport font or the crown, so the stylesheet is compiled from the
# package's Sass with Arial and without the font's @font-face rules.
set -euo pipefail
VERSION="${1:-6.6.0}"
repo_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
npm pack --silent "govuk-frontend@$VERSION" >/dev/null
tar xzf "govuk-frontend-$VERSION.tgz"
npm install --no-save --silent sass@1 >/dev/null
cat > doorstep.scss <<'SCSS'
@use "govuk" with (
  $govuk-font-family: (arial, sans-serif),
  $govuk-assets-path: "/assets/govuk/"
);
SCSS
node_modules/.bin/sass --load-path=package/dist --style=compressed --no-source-map --quiet \
    doorstep.scss "$repo_dir/assets/govuk/govuk-frontend.min.css"

echo "$VERSION" > "$repo_dir/assets/govuk/VERSION"
echo "govuk-frontend $VERSION compiled into assets/govuk/"
