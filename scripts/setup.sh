#!/usr/bin/env bash
# Installs every tool the build needs, each only when missing (safe to run again and again).
# Only package registries are reachable here: nothing is downloaded from anywhere else.
set -euo pipefail
cd "$(dirname "$0")/.."

WORKER_BUILD_VERSION=0.8.7
# The wasm-bindgen CLI must equal the wasm-bindgen library version in Cargo.lock.
WASM_BINDGEN_VERSION=$(awk '/^name = "wasm-bindgen"$/ {getline; gsub(/version = |"/, ""); print; exit}' Cargo.lock)

export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  echo "setup: adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

if ! worker-build --version 2>/dev/null | grep -q "$WORKER_BUILD_VERSION"; then
  echo "setup: installing worker-build $WORKER_BUILD_VERSION (several minutes, once)"
  cargo install worker-build --version "$WORKER_BUILD_VERSION" --locked
fi

if ! wasm-bindgen --version 2>/dev/null | grep -q "$WASM_BINDGEN_VERSION"; then
  echo "setup: installing wasm-bindgen-cli $WASM_BINDGEN_VERSION (a few minutes, once)"
  # Not --locked: the 0.2.130 lockfile names a yanked dependency.
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --force
fi

# npm packages: wrangler (pinned for Node 20), esbuild, binaryen's wasm-opt, the client's tools.
if [ -L node_modules ]; then
  # A shared node_modules (e.g. a git worktree's symlink to the main checkout) is not ours to
  # reinstall: npm ci would empty the original.
  echo "setup: node_modules is a symlink; leaving it as it is"
elif [ ! -x node_modules/.bin/wrangler ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: installing npm packages"
  npm ci --no-audit --no-fund
fi

# The contract test's Schemathesis, pinned with everything it pulls in, in a local virtualenv.
if [ ! -x .venv/bin/schemathesis ] || [ tests/contract/requirements.txt -nt .venv/.installed ]; then
  echo "setup: installing schemathesis into .venv (a minute, once)"
  python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check -r tests/contract/requirements.txt
  touch .venv/.installed
fi
