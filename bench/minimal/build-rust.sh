#!/usr/bin/env bash
# Builds bench/minimal/rust like the main Makefile's `build` target (worker-build --release
# --no-opt, then wasm-opt -Oz with the same flags), into bench/minimal/rust/build/.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
CARGO_BIN=${CARGO_HOME:-$HOME/.cargo}/bin
export PATH="$CARGO_BIN:$PATH"
export WASM_BINDGEN_BIN="$CARGO_BIN/wasm-bindgen"
export ESBUILD_BIN="$ROOT/node_modules/.bin/esbuild"
export WASM_OPT_BIN="$ROOT/node_modules/.bin/wasm-opt"
cd "$HERE/rust"
worker-build --release --no-opt
"$WASM_OPT_BIN" -Oz --low-memory-unused --strip-debug --strip-producers --enable-exception-handling \
  --enable-reference-types --enable-bulk-memory --enable-nontrapping-float-to-int \
  --enable-sign-ext --enable-mutable-globals --enable-multivalue build/index_bg.wasm -o build/index_bg.wasm
ls -l build/index_bg.wasm build/index.js >&2
