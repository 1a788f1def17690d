#!/usr/bin/env bash
# Two builds of the Rust Worker against each other, interleaved: the SSE fan-out rows of
# `make bench` (fan-out latency and PUT round trip at 1 / 100 / 1,000 subscribers), round after
# round, A then B. Used for before/after comparisons across commits (BENCHMARKS.md, issue #9).
#
# Usage: [SCENARIOS=fanout,wsfanout,sustained] [SUSTAINED_SUBSCRIBERS=100] \
#          bench/compare.sh DIR_A DIR_B [ROUNDS]
#   DIR_A, DIR_B  checkouts (e.g. git worktrees) that each ran `make build`, or bench/baseline-js;
#                 each is served with its own wrangler.toml, migrations and a fresh local state
#   SUSTAINED_SUBSCRIBERS=0 measures the write path alone (no fan-out) in the sustained rows
# Output: a table on stdout; the raw rounds in bench/results/compare.json (or $COMPARE_OUT).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
A=$(cd "$1" && pwd); B=$(cd "$2" && pwd); ROUNDS=${3:-3}
LOADGEN="$ROOT/bench/loadgen/target/release/loadgen"
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
WORK=$(mktemp -d /tmp/florist-compare.XXXXXX)
trap cleanup_servers EXIT
cargo build --release --quiet --manifest-path "$ROOT/bench/loadgen/Cargo.toml" --target-dir "$ROOT/bench/loadgen/target"

specs=()
for label in a b; do
  dir=$A; [ $label = b ] && dir=$B
  if grep -q 'build/worker/shim.mjs' "$dir/wrangler.toml" && [ ! -f "$dir/build/worker/shim.mjs" ]; then
    echo "$dir: run 'make build' there first" >&2; exit 1
  fi
  mkdir -p "$WORK/$label/state"
  admin="cmp-admin-$RANDOM$RANDOM"
  printf '%s\n' "ADMIN_TOKEN=$admin" "AUTH_SECRET=cmp-secret-$RANDOM$RANDOM$RANDOM" \
    "SHOPIFY_WEBHOOK_SECRET=unused" "HEARTBEAT_SECONDS=600" \
    "MAX_CONNECTIONS_PER_USER=100000" "MAX_CONNECTIONS_PER_TENANT=100000" > "$WORK/$label/env"
  (cd "$dir" && node "$WRANGLER_JS" d1 migrations apply DB --local --persist-to "$WORK/$label/state" \
     </dev/null >"$WORK/$label/migrate.log" 2>&1)
  port=$(( 18950 + ${#specs[@]} ))
  spawn_wrangler "$dir" "$port" "$WORK/$label"
  PIDS+=("$SPAWNED")
  "$LOADGEN" wait-ready --base-url "http://127.0.0.1:$port" --start-ns "$(date +%s%N)" --timeout-s 120 >/dev/null
  find_workerds "$SPAWNED" "$port"
  specs+=(--side "$label,http://127.0.0.1:$port,$admin,$RUNTIME_PID,$PROXY_PID,$SPAWNED")
  echo "$label = $dir ($(git -C "$dir" log --oneline -1 2>/dev/null || echo '?')) on port $port" >&2
done
"$LOADGEN" rounds "${specs[@]}" --rounds "$ROUNDS" --scenarios "${SCENARIOS:-fanout}" \
  --sustained-subscribers "${SUSTAINED_SUBSCRIBERS:-100}" --out "$WORK/rounds.json"
mkdir -p "$ROOT/bench/results"
cp "$WORK/rounds.json" "${COMPARE_OUT:-$ROOT/bench/results/compare.json}"
python3 - "$WORK/rounds.json" "$A" "$B" <<'PY'
import json, statistics, sys
d = json.load(open(sys.argv[1])); rounds = d["rounds"]
def med(xs): return statistics.median(xs) if xs else float("nan")
print(f"a = {sys.argv[2]}\nb = {sys.argv[3]}\n{len(rounds)} interleaved rounds (a, b, a, b, ...)\n")
print("| row | a p50 / p99 (median of rounds) | b p50 / p99 | b/a p50: median (min–max) |")
print("|---|---|---|---|")
for group, tr in (("fanout", "SSE"), ("wsfanout", "WebSocket")):
    if not rounds or not rounds[0]["a"].get(group):
        continue
    for n in ("1", "100", "1000"):
        for key, name in (("putLatencyMs", "PUT round trip"), ("latencyMs", "fan-out latency")):
            v = {s: [r[s][group][n][key] for r in rounds if key in r[s][group].get(n, {})] for s in "ab"}
            ra = [y["p50"] / x["p50"] for x, y in zip(v["a"], v["b"]) if x["p50"]]
            if not ra:
                continue
            cell = lambda s: f'{med([x["p50"] for x in v[s]]):.2f} / {med([x["p99"] for x in v[s]]):.2f} ms'
            print(f"| {tr} {name}, {n} connection(s) | {cell('a')} | {cell('b')} | "
                  f"{med(ra):.2f} ({min(ra):.2f}–{max(ra):.2f}) |")
    cpu = {s: [r[s][group]["1000"]["cpu"]["runtimeMs"] / r[s][group]["1000"]["puts"] for r in rounds] for s in "ab"}
    rc = [b / a for a, b in zip(cpu["a"], cpu["b"]) if a]
    print(f"| {tr} runtime CPU ms per PUT to 1,000 | {med(cpu['a']):.1f} | {med(cpu['b']):.1f} | "
          f"{med(rc):.2f} ({min(rc):.2f}–{max(rc):.2f}) |")
if rounds and rounds[0]["a"].get("sustained"):
    subs = rounds[0]["a"]["sustained"]["subscribers"]
    for key, name in (("updatesPerSec", "updates/s (higher is better)"),
                      ("runtimeCpuMsPerUpdate", "runtime CPU ms per update"),
                      ("chunksPerSubscriberPerSec", "body chunks per subscriber per second")):
        v = {s: [r[s]["sustained"][key] or 0 for r in rounds] for s in "ab"}
        ra = [y / x for x, y in zip(v["a"], v["b"]) if x]
        rr = f"{med(ra):.2f} ({min(ra):.2f}–{max(ra):.2f})" if ra else "–"
        print(f"| sustained, {subs} subscribers: {name} | {med(v['a']):.2f} | {med(v['b']):.2f} | {rr} |")
PY
