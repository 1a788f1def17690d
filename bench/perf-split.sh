#!/usr/bin/env bash
# Where the runtime's CPU goes during sustained updates, by kind of code: `perf` samples of the
# runtime workerd (every thread) while the load generator runs, grouped into our JIT code (the
# Worker's JavaScript and Wasm), SQLite (local D1), V8's runtime, workerd's API layer, kj/capnp
# (I/O, promises, RPC), the allocator, the kernel and the rest. One side per call, so run it
# for both: the V8 inspector profile (BENCH_PROFILE=1) sees only the Worker's isolate, this sees
# the whole thread that D1, the object and the Worker share.
#
# Usage: bench/perf-split.sh rust|js [SUBSCRIBERS=100] [SECONDS=8]
# Needs `perf` (linux-perf) and, for the Rust side, `make build` run beforehand.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
side=${1:?usage: bench/perf-split.sh rust|js [subscribers] [seconds]}
subs=${2:-100}
secs=${3:-8}
command -v perf >/dev/null || { echo "perf-split: needs perf (apt-get install linux-perf)" >&2; exit 1; }
case "$side" in
  rust) cwd=$ROOT ;;
  js) cwd=$ROOT/bench/baseline-js ;;
  *) echo "perf-split: rust or js, not $side" >&2; exit 2 ;;
esac
LOADGEN="$ROOT/bench/loadgen/target/release/loadgen"
cargo build --release --quiet --manifest-path "$ROOT/bench/loadgen/Cargo.toml" --target-dir "$ROOT/bench/loadgen/target"

WORK=$(mktemp -d /tmp/florist-perf.XXXXXX)
trap cleanup_servers EXIT
admin="perf-admin-$RANDOM$RANDOM"
printf '%s\n' "ADMIN_TOKEN=$admin" "AUTH_SECRET=perf-secret-$RANDOM$RANDOM$RANDOM" \
  "SHOPIFY_WEBHOOK_SECRET=unused" "HEARTBEAT_SECONDS=600" \
  "MAX_CONNECTIONS_PER_USER=100000" "MAX_CONNECTIONS_PER_TENANT=100000" > "$WORK/env"
(cd "$cwd" && "$ROOT/node_modules/.bin/wrangler" d1 migrations apply DB --local \
   --persist-to "$WORK/state" </dev/null >"$WORK/migrate.log" 2>&1) || { cat "$WORK/migrate.log" >&2; exit 1; }
port=$(free_port)
spawn_wrangler "$cwd" "$port" "$WORK"
PIDS+=("$SPAWNED")
for _ in $(seq 120); do
  curl -sf -m 2 "http://127.0.0.1:$port/api/health" >/dev/null 2>&1 && break
  sleep 0.5
done
find_workerds "$SPAWNED" "$port"
[ -n "$RUNTIME_PID" ] || { cat "$WORK/dev.log" >&2; exit 1; }

gen() { # label seconds
  "$LOADGEN" --base-url "http://127.0.0.1:$port" --admin-token "$admin" --label "$1" \
    --out "$WORK/$1.json" --only sustained --sustained-seconds "$2" --sustained-subscribers "$subs" \
    --runtime-pid "$RUNTIME_PID"
}
gen warmup 3 >/dev/null 2>&1
# The samples cover the middle of the run: after the subscribers connected, before the end.
(sleep 1.5; exec perf record -q -F 499 -p "$RUNTIME_PID" -o "$WORK/perf.data" -- sleep $(( secs - 2 ))) \
  >/dev/null 2>&1 &
recorder=$!
gen "$side" "$secs" 2>&1 | grep -- '->' || true
wait "$recorder" || true

per_update=$(node -e 'const r = require(process.argv[1]).sustained;
  console.log(r.runtimeCpuMsPerUpdate ?? "")' "$WORK/$side.json")
echo "runtime CPU per update: ${per_update:-?} ms (perf attached for part of the run); by kind of code:"
perf report -i "$WORK/perf.data" --sort dso,sym --stdio 2>/dev/null | grep -v '^#' | grep '%' | awk -v t="${per_update:-0}" '
  { p = $1; sub("%", "", p); c = "other (libc, workerd without a namespace)"
    if ($0 ~ /\[kernel/) c = "kernel (syscalls, sockets, scheduling)"
    else if ($0 ~ /\[JIT\]/) c = "JIT code: the Worker (JavaScript and Wasm)"
    else if ($0 ~ /sqlite3/) c = "SQLite (local D1)"
    else if ($0 ~ /tcmalloc|__mem|malloc|free/) c = "allocator, memcpy"
    else if ($0 ~ /v8::|Builtins_/) c = "V8 runtime (handles, promises, GC, JSON, calls)"
    else if ($0 ~ /workerd::/) c = "workerd API (Request, Response, streams, D1 glue)"
    else if ($0 ~ /kj::|capnp/) c = "kj/capnp (event loop, promises, I/O, RPC)"
    s[c] += p }
  END { for (k in s) printf "%6.1f%%  %5.2f ms  %s\n", s[k], s[k] * t / 100, k }' | sort -rn
echo "samples: $(perf report -i "$WORK/perf.data" --stdio 2>/dev/null | sed -n 's/^# Samples: \([0-9kKM]*\).*/\1/p' | head -1)"
