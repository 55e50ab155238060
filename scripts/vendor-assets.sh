#!/usr/bin/env bash
# Install the pinned front-end packages (package-lock.json) from the npm
# registry and copy their minified builds into the portal's static/vendor/.
# Idempotent: skips `npm ci` when node_modules matches the lock file and only
# rewrites vendor files whose content changed. Quiet on success.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENDOR_DIR="$ROOT/src/tinhso/portal/static/vendor"
STAMP="$ROOT/node_modules/.tinhso-lock.sha256"

# source path (relative to node_modules) -> file name in VENDOR_DIR
ASSETS=(
  "htmx.org/dist/htmx.min.js:htmx.min.js"
  "echarts/dist/echarts.min.js:echarts.min.js"
  "swagger-ui-dist/swagger-ui-bundle.js:swagger-ui-bundle.js"
  "swagger-ui-dist/swagger-ui.css:swagger-ui.css"
)

# Used by the test suite only (never served): axe-core, the accessibility checker the
# real-browser tests inject into each page.
TEST_ASSETS=("axe-core/axe.min.js")

command -v npm >/dev/null || { echo "vendor-assets: npm not found" >&2; exit 1; }
cd "$ROOT"

lock_sum="$(sha256sum package.json package-lock.json | sha256sum | cut -d' ' -f1)"
need_install=0
[[ -f "$STAMP" && "$(cat "$STAMP")" == "$lock_sum" ]] || need_install=1
for entry in "${ASSETS[@]}"; do
  [[ -f "node_modules/${entry%%:*}" ]] || need_install=1
done
for path in "${TEST_ASSETS[@]}"; do
  [[ -f "node_modules/$path" ]] || need_install=1
done

if (( need_install )); then
  log="$(mktemp)"
  if ! npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >"$log" 2>&1; then
    cat "$log" >&2; rm -f "$log"
    echo "vendor-assets: npm ci failed" >&2; exit 1
  fi
  rm -f "$log"
  printf '%s\n' "$lock_sum" >"$STAMP"
fi

mkdir -p "$VENDOR_DIR"
for entry in "${ASSETS[@]}"; do
  src="node_modules/${entry%%:*}"
  dst="$VENDOR_DIR/${entry##*:}"
  [[ -f "$src" ]] || { echo "vendor-assets: missing $src" >&2; exit 1; }
  if ! cmp -s "$src" "$dst"; then
    cp "$src" "$dst.tmp.$$" && mv -f "$dst.tmp.$$" "$dst"
  fi
done
