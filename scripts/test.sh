#!/usr/bin/env bash
# Every test: native unit tests, then the built worker in Miniflare against local fakes.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --browser
echo "== cargo clippy (warnings fail)"
cargo clippy --quiet --all-targets -- -D warnings
echo "== cargo test (native domain tests, the module graph)"
cargo test --quiet
echo "== build the worker"
bash scripts/build.sh
echo "== Miniflare suite (tests/e2e)"
node --test --test-reporter=spec tests/fakes/*.selftest.mjs tests/e2e/
