#!/usr/bin/env bash
# Installs everything the build needs, from the package registries only, and skips
# what is already there at the right version. Safe to run on every `npm start`/`npm test`.
# With --browser (what `npm test` passes) it also installs Debian's chromium, which the
# dashboard's real-browser test drives, when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

WORKER_BUILD_VERSION=0.8.7
TOOLS="$PWD/.tools"
export PATH="$TOOLS/bin:$PATH"

say() { printf '[setup] %s\n' "$*" >&2; }

# wasm-bindgen-cli must be exactly the wasm-bindgen of Cargo.lock, or the glue it emits
# does not match the compiled wasm.
bindgen_version=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)

if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  say "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown >&2
fi

# npm test runs clippy; a minimal rustup profile lacks it.
if ! cargo clippy --version >/dev/null 2>&1; then
  say "adding clippy"
  rustup component add clippy >&2
fi

# cargo install --locked can fail when the registry lacks a locked dependency version;
# a plain install of the pinned version is the fallback.
install_crate() { # crate version binary
  if "$TOOLS/bin/$3" --version 2>/dev/null | grep -qw -- "$2"; then return; fi
  say "installing $1 $2 (a few minutes, once)"
  cargo install --quiet --root "$TOOLS" --locked "$1" --version "$2" >&2 ||
    cargo install --quiet --root "$TOOLS" "$1" --version "$2" >&2
}
install_crate wasm-bindgen-cli "$bindgen_version" wasm-bindgen
install_crate worker-build "$WORKER_BUILD_VERSION" worker-build

# npm packages (wrangler, miniflare, esbuild, binaryen) exactly as package-lock.json says.
# A node_modules that is a symlink is another checkout's install: `npm ci` would empty it.
if [ -L node_modules ]; then
  say "node_modules is a symlink: leaving it alone (remove it to install this checkout's own)"
elif [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing npm packages"
  npm ci --no-audit --no-fund >&2
fi

# The dashboard test's browser: Debian's chromium (playwright-core downloads none of its own).
if [ "${1:-}" = "--browser" ] && [ ! -x /usr/bin/chromium ]; then
  say "installing chromium from Debian (once)"
  as_root=()
  [ "$(id -u)" -eq 0 ] || as_root=(sudo -n)
  export DEBIAN_FRONTEND=noninteractive
  "${as_root[@]}" apt-get update -qq >&2
  "${as_root[@]}" apt-get install -y -qq --no-install-recommends chromium >&2
fi
