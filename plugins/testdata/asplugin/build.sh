#!/bin/sh
# Rebuilds plugin.wasm from assembly/index.ts with the exact package versions
# in package-lock.json. Needs Node >= 18 and npm; the output is deterministic.
set -eu
cd "$(dirname "$0")"
npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
./node_modules/.bin/asc assembly/index.ts --config asconfig.json --target release
# Leave no node_modules behind unless asked to (it is gitignored anyway).
if [ -z "${KEEP_NODE_MODULES:-}" ]; then
	rm -rf node_modules
fi
sha256sum plugin.wasm 2>/dev/null || shasum -a 256 plugin.wasm
