#!/usr/bin/env bash
# Builds build/index.js + the wasm with worker-build, using only tools installed from the
# package registries (worker-build would otherwise download its own).
set -euo pipefail
cd "$(dirname "$0")/.."
# wrangler runs this whenever its dev server starts; a caller that has just built, such as
# the local-server test (running beside tests that read build/), asks it not to rebuild.
if [ "${SKIP_WORKER_BUILD:-}" = 1 ] && [ -f build/index.js ] && [ -f build/index_bg.wasm ]; then exit 0; fi
bash scripts/setup.sh
export PATH="$PWD/.tools/bin:$PATH"
export WASM_BINDGEN_BIN="$PWD/.tools/bin/wasm-bindgen"
export ESBUILD_BIN="$PWD/node_modules/.bin/esbuild"
export WASM_OPT_BIN="$PWD/node_modules/.bin/wasm-opt"
worker-build --release "$@"
# Function names (the wasm "name" section, ~140 KB) are only for debugging: drop them.
"$WASM_OPT_BIN" build/index_bg.wasm --strip-debug -o build/index_bg.wasm
