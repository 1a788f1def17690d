#!/usr/bin/env bash
# Issue #14: which part of the Rust Worker's per-request cost is workers-rs's own and which is ours.
# Serves, each under its own `wrangler dev --local` on a free port:
#   js      bench/minimal/js     GET /health, GET /health-log (one console.log of a 155-byte line)
#   rust    bench/minimal/rust   the same two routes in workers-rs 0.8.7 (built by build-rust.sh)
#   main    the real Worker as configured (a snapshot of build/, served with the board's files'
#           Worker, web/wrangler.toml, beside it, as bench/run.sh does), GET /api/health; and
#           main-assets, the same Worker with the files as its own [assets] and
#           run_worker_first = ["/api/*"] (the configuration before the web Worker: the
#           platform's asset router in front of every request)
#   base    bench/baseline-js, GET /api/health
#   js-assets  the minimal JS Worker with the real Worker's [assets] (public/), GET /health
#   main-b  with MAIN_B=DIR: another build of the real Worker (e.g. a worktree that ran
#           `make build`), served as `main` is, GET /api/health: a before/after of one change
# and measures N sequential keep-alive GETs per variant, interleaved over ROUNDS rounds
# (A, B, C, ... A, B, C, ...), with the CPU each server's processes spent (/proc/<pid>/stat).
#
# Usage: [ROUNDS=3] [REQUESTS=2000] [WARMUP=500] [MAIN=1] [MAIN_B=DIR] [REBUILD=0] bench/minimal/run.sh
# Output: a table on stdout; raw rounds in bench/minimal/results/minimal.json.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
ROUNDS=${ROUNDS:-3}; REQUESTS=${REQUESTS:-2000}; WARMUP=${WARMUP:-500}; MAIN=${MAIN:-1}
WORK=$(mktemp -d /tmp/florist-minimal.XXXXXX)
trap cleanup_servers EXIT

if [ "${REBUILD:-0}" = 1 ] || [ ! -f "$HERE/rust/build/worker/shim.mjs" ]; then
  "$HERE/build-rust.sh" >&2
fi

# --- the servers ----------------------------------------------------------------------------------
declare -A URLBASE RUNTIME PROXY WPID
start() { # $1 = name, $2 = wrangler.toml, $3 = readiness path, then more wrangler dev args
  local name=$1 cfg=$2 path=$3 port
  shift 3
  port=$(free_port)
  mkdir -p "$WORK/$name"
  # Run from $WORK/$name so wrangler's .wrangler/ lands there, not in the repo.
  spawn_wrangler "$WORK/$name" "$port" "$WORK/$name" --config "$cfg" "$@"
  PIDS+=("$SPAWNED"); WPID[$name]=$SPAWNED
  for _ in $(seq 240); do
    curl -sf -m 5 "http://127.0.0.1:$port$path" >/dev/null 2>&1 && break
    kill -0 "${WPID[$name]}" 2>/dev/null || { cat "$WORK/$name/dev.log" >&2; exit 1; }
    sleep 0.5
  done
  curl -sf -m 5 "http://127.0.0.1:$port$path" >/dev/null || { echo "$name: not ready" >&2; cat "$WORK/$name/dev.log" >&2; exit 1; }
  find_workerds "${WPID[$name]}" "$port"
  URLBASE[$name]="http://127.0.0.1:$port"; PROXY[$name]=$PROXY_PID; RUNTIME[$name]=$RUNTIME_PID
  echo "$name: port $port, wrangler ${WPID[$name]}, proxy workerd $PROXY_PID, runtime workerd $RUNTIME_PID" >&2
}

# Copies of the Rust build and the JS sources, so a rebuild elsewhere cannot reload a server mid-run.
cp -r "$HERE/rust/build" "$WORK/rust-build"
printf 'name = "minimal-rust"\nmain = "%s/rust-build/worker/shim.mjs"\ncompatibility_date = "2026-04-01"\n' "$WORK" > "$WORK/rust.toml"
cp "$HERE/js/worker.js" "$WORK/min-js.js"
printf 'name = "minimal-js"\nmain = "%s/min-js.js"\ncompatibility_date = "2026-04-01"\n' "$WORK" > "$WORK/js.toml"
start js "$WORK/js.toml" /health
start rust "$WORK/rust.toml" /health

VARIANTS=(js:/health js:/health-log rust:/health rust:/health-log)
if [ "$MAIN" = 1 ] && [ -f "$ROOT/build/worker/shim.mjs" ]; then
  # As bench/run.sh: a snapshot of build/ and public/, the configs' relative paths rewritten.
  cp -r "$ROOT/build" "$WORK/main-build"; web_snapshot "$WORK/web"
  sed -E \
    -e "s#^(main[[:space:]]*=[[:space:]]*\")(\./)?build/#\1$WORK/main-build/#" \
    -e "s#^(migrations_dir[[:space:]]*=[[:space:]]*\")(\./)?([^/\"][^\"]*)\"#\1$ROOT/\3\"#" \
    "$ROOT/wrangler.toml" > "$WORK/main.toml"
  # The files as the API Worker's own [assets] instead: the asset router in front of it.
  printf '[assets]\ndirectory = "%s/web/public"\nbinding = "ASSETS"\nrun_worker_first = ["/api/*"]\n' "$WORK" \
    | cat "$WORK/main.toml" - > "$WORK/main-assets.toml"
  sed -E "s#^(main[[:space:]]*=[[:space:]]*\")(\./)?#\1$ROOT/bench/baseline-js/#; s#^(migrations_dir[[:space:]]*=[[:space:]]*\")(\./)?#\1$ROOT/bench/baseline-js/#" \
    "$ROOT/bench/baseline-js/wrangler.toml" > "$WORK/base.toml"
  # The minimal JS Worker behind the same [assets] (the board's public/): the asset router's cost alone.
  printf '[assets]\ndirectory = "%s/web/public"\n' "$WORK" | cat "$WORK/js.toml" - > "$WORK/js-assets.toml"
  start js-assets "$WORK/js-assets.toml" /health
  start main "$WORK/main.toml" /api/health --config "$WORK/web/web.toml"
  start main-assets "$WORK/main-assets.toml" /api/health
  start base "$WORK/base.toml" /api/health
  VARIANTS+=(js-assets:/health main:/api/health main-assets:/api/health base:/api/health)
  if [ -n "${MAIN_B:-}" ]; then
    cp -r "$MAIN_B/build" "$WORK/main-b-build"
    sed -E "s#$WORK/main-build/#$WORK/main-b-build/#" "$WORK/main.toml" > "$WORK/main-b.toml"
    start main-b "$WORK/main-b.toml" /api/health --config "$WORK/web/web.toml"
    VARIANTS+=(main-b:/api/health)
  fi
fi

# --- measure --------------------------------------------------------------------------------------
{
  printf '{"rounds":%d,"requests":%d,"warmup":%d,"variants":[' "$ROUNDS" "$REQUESTS" "$WARMUP"
  sep=
  for v in "${VARIANTS[@]}"; do
    name=${v%%:*}; path=${v#*:}
    printf '%s{"label":"%s %s","url":"%s%s","pids":{"runtime":%s,"proxy":%s,"wrangler":%s}}' \
      "$sep" "$name" "$path" "${URLBASE[$name]}" "$path" "${RUNTIME[$name]:-0}" "${PROXY[$name]:-0}" "${WPID[$name]}"
    sep=,
  done
  printf ']}\n'
} > "$WORK/spec.json"
mkdir -p "$HERE/results"
CLK_TCK=$(getconf CLK_TCK) node "$HERE/measure.mjs" "$WORK/spec.json" "$HERE/results/minimal.json"
python3 "$HERE/table.py" "$HERE/results/minimal.json"
