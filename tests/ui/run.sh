#!/bin/sh
# ctest entry of the browser test (tests/ui/CMakeLists.txt):
#   run.sh TALLYD TALLY_LEDGER ARTIFACTS_DIR
# Exit 77 (ctest SKIP_RETURN_CODE) only when node or chromium is missing.
# Installs the pinned playwright-core (package-lock.json) with `npm ci` when
# node_modules is missing; it never downloads a browser.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
command -v node >/dev/null 2>&1 || { echo "SKIPPED: node is not installed"; exit 77; }
[ -x "${TALLY_CHROMIUM:-/usr/bin/chromium}" ] || { echo "SKIPPED: chromium is not installed (deploy/lib.sh installs it)"; exit 77; }
if [ ! -f "$here/node_modules/playwright-core/package.json" ]; then
  command -v npm >/dev/null 2>&1 || { echo "npm is missing: cannot install playwright-core" >&2; exit 1; }
  (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
fi
exec node "$here/ui_test.mjs" --tallyd "$1" --ledger "$2" --artifacts "$3"
