#!/usr/bin/env bash
# Runs the dashboard browser test against an impulsed binary:
#   tests/e2e/run.sh bazel-bin/server/impulsed
# Installs what it needs when missing: Debian chromium and chromium-driver
# (apt), and playwright-core from package-lock.json (npm ci; it never
# downloads a browser). Needs Node.js >= 20. Screenshots and the server log
# go to $TEST_UNDECLARED_OUTPUTS_DIR, else tests/e2e/artifacts/.
set -euo pipefail

impulsed="${1:-${IMPULSED:-}}"
if [[ -z "$impulsed" ]]; then
  echo "usage: $0 /path/to/impulsed" >&2
  exit 2
fi
if [[ ! -x "$impulsed" ]]; then
  echo "$0: no executable impulsed at $impulsed" >&2
  exit 2
fi
export IMPULSED="$(realpath "$impulsed")"
cd "$(dirname "$0")"

as_root() {
  if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi
}

missing=()
[[ -x /usr/bin/chromium ]] || missing+=(chromium)
[[ -x /usr/bin/chromedriver ]] || missing+=(chromium-driver)
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
if ((${#missing[@]})); then
  echo "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get install -y "${missing[@]}" ||
    { as_root apt-get update && as_root apt-get install -y "${missing[@]}"; }
fi

node_major=$(node -p 'process.versions.node.split(".")[0]')
if ((node_major < 20)); then
  echo "$0: Node.js >= 20 is needed (playwright-core); found $(node --version)" >&2
  exit 2
fi

# npm ci only when node_modules lacks a package of the lock file at its
# version (so a second run works offline).
lock_ok='const want = require("./package-lock.json").packages;
for (const [dir, p] of Object.entries(want)) {
  if (!dir) continue;
  try {
    if (require("./" + dir + "/package.json").version !== p.version) process.exit(1);
  } catch (e) { process.exit(1); }
}'
if ! node -e "$lock_ok" 2>/dev/null; then
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund
fi

exec node --test --test-reporter=spec dashboard.test.mjs
