#!/usr/bin/env bash
# Cold starts of several Workers, interleaved: for each round and each directory, spawn
# `wrangler dev` on a fresh local state and time the first `GET /api/health` that answers 200
# (`loadgen wait-ready`, as bench/run.sh does). Prints "<dir> <ready ms> <first answer ms>
# <warm p50 ms>" per start, then the median first answer per directory.
#
#   N=5 bench/minimal/cold.sh . bench/minimal/rust bench/minimal/js bench/baseline-js
#
# Each directory needs its wrangler.toml and a build (`make build` at the root,
# bench/minimal/build-rust.sh for bench/minimal/rust).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
N=${N:-5}
LOADGEN="$ROOT/bench/loadgen/target/release/loadgen"
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
cargo build --release --quiet --manifest-path "$ROOT/bench/loadgen/Cargo.toml" --target-dir "$ROOT/bench/loadgen/target"
OUT=$(mktemp /tmp/florist-cold.XXXXXX)
for _ in $(seq 1 "$N"); do
  for dir in "$@"; do
    dir=$(cd "$dir" && pwd)
    work=$(mktemp -d /tmp/florist-cold.XXXXXX)
    port=$(free_port)
    start=$(date +%s%N)
    spawn_wrangler "$dir" "$port" "$work"
    pid=$SPAWNED
    if result=$("$LOADGEN" wait-ready --base-url "http://127.0.0.1:$port" --start-ns "$start" --timeout-s 60); then
      python3 -c 'import json,sys; d=json.loads(sys.argv[2]); print(sys.argv[1], d["readyMs"], d["firstAnswerMs"], d["warmHealth"]["p50"])' \
        "$( [ "$dir" = "$ROOT" ] && echo . || echo "${dir#"$ROOT"/}" )" "$result" | tee -a "$OUT"
    else
      cat "$work/dev.log" >&2
    fi
    stop_wrangler "$pid"
    wait "$pid" 2>/dev/null || true
    rm -rf "$work"
  done
done
echo "median first answer (ms):"
python3 - "$OUT" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
for name in dict.fromkeys(r[0] for r in rows):
    xs = [float(r[2]) for r in rows if r[0] == name]
    print(f"  {name:28} {statistics.median(xs):7.1f}  ({min(xs):.1f}–{max(xs):.1f}, {len(xs)} starts)")
PY
rm -f "$OUT"
