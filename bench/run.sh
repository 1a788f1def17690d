#!/usr/bin/env bash
# `make bench`: the Rust Worker and the JavaScript baseline, each under `wrangler dev` with a fresh
# local state, driven by the same load generator (bench/loadgen), side by side.
#
# Usage: bench/run.sh [--quick] [--only rust|js]
#   --quick       fewer samples, ramp to 1,000 subscribers (a smoke run, 1-2 min)
#   --only X      run one side only (the report then has "—" for the other)
# Environment:
#   BENCH_KEEP=1  keep the temporary directory (wrangler logs, persisted state, raw JSON)
#   BENCH_PROFILE=1  also record a V8 CPU profile of each side under sustained load
#                 (bench/results/profile-{rust,js}.cpuprofile and a self-time summary .txt)
#   BENCH_PHASES=profile  only the profiles (no rounds), of the scenario in
#                 BENCH_PROFILE_ONLY (loadgen's --only, default sustained) with BENCH_PROFILE_ARGS
#                 (e.g. BENCH_PROFILE_ONLY=wsfanout BENCH_PROFILE_ARGS="--fanout-sizes 1000:300")
#   BENCH_RUST_CONFIG=FILE  another wrangler config for the Rust side (default: a copy of
#                 ./wrangler.toml pointed at a snapshot of build/, served with a copy of
#                 web/wrangler.toml pointed at a snapshot of public/),
#                 e.g. to try a configuration change without editing the real one
#   BENCH_RUST_WEB_CONFIG=FILE  the static files' Worker to serve beside BENCH_RUST_CONFIG
#                 (none unless given)
#
# Prerequisite: `make build` has produced build/worker/shim.mjs (this script builds only the
# load generator). Traffic goes to 127.0.0.1 only; every server this script starts is stopped on
# exit; the whole run is bounded by a 10-minute watchdog.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH="$ROOT/bench"
WRANGLER_JS="$ROOT/node_modules/wrangler/wrangler-dist/cli.js"
WRANGLER="$ROOT/node_modules/.bin/wrangler"
# shellcheck source=bench/lib.sh
. "$BENCH/lib.sh"   # web_snapshot (its other helpers are redefined below for this script)
LOADGEN="$BENCH/loadgen/target/release/loadgen"
RESULTS="${BENCH_RESULTS:-$BENCH/results}"
LIMIT_S=${BENCH_LIMIT_S:-600}

QUICK=()
SIDES=(rust js)
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) QUICK=(--quick) ;;
    --only) SIDES=("$2"); shift ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
  shift
done

export WRANGLER_SEND_METRICS=false CLOUDFLARE_CF_FETCH_ENABLED=false WRANGLER_HIDE_BANNER=true
# wrangler dev attaches a DevTools inspector to the runtime and relays every Network.* event
# (one per subrequest and one per streamed chunk, i.e. per SSE delivery) through a second workerd
# process and node. Production has no inspector; with it on, the relay costs more CPU than the
# Worker itself and swamps every number here. wrangler 4.86 turns the relay off when this variable
# is set (it assumes a VS Code debug terminal); nothing else changes.
export VSCODE_INSPECTOR_OPTIONS=':::{}'

WORK=$(mktemp -d /tmp/florist-bench.XXXXXX)
SERVER_PID=""
WATCHDOG_PID=""

stop_server() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    local kids
    kids=$(pgrep -P "$SERVER_PID" || true)
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 1 50); do
      kill -0 "$SERVER_PID" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$SERVER_PID" 2>/dev/null || true
    # workerd children normally exit with wrangler; make sure they do.
    for k in $kids; do kill -KILL "$k" 2>/dev/null || true; done
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  SERVER_PID=""
}

cleanup() {
  local rc=$?
  stop_server
  if [ -n "$WATCHDOG_PID" ]; then kill "$WATCHDOG_PID" 2>/dev/null || true; fi
  if [ "${BENCH_KEEP:-0}" = "1" ]; then
    echo "bench: kept $WORK" >&2
  else
    rm -rf "$WORK"
  fi
  exit $rc
}
trap cleanup EXIT
trap 'echo "bench: interrupted" >&2; exit 130' INT TERM

# Watchdog: the whole run stays under LIMIT_S seconds. It signals this shell and its direct
# children (the load generator or wrangler of the moment); cleanup() then stops the rest. It owns
# its sleep and ends it when cleanup() stops the watchdog, so no stray process holds our stdout.
MAIN_PID=$$
(
  sleep "$LIMIT_S" </dev/null >/dev/null 2>&1 &
  s=$!
  trap 'kill "$s" 2>/dev/null; exit 0' TERM
  wait "$s"
  echo "bench: time limit of ${LIMIT_S}s reached, stopping" >&2
  kill -TERM "$MAIN_PID" 2>/dev/null
  pkill -TERM -P "$MAIN_PID" 2>/dev/null
) &
WATCHDOG_PID=$!

# Many sockets: 5,000 subscribers on each side of loopback.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

log() { printf '\n== %s\n' "$*" >&2; }

free_port() {
  local p
  for p in $(seq "$1" $(( $1 + 200 ))); do
    if ! ss -Htln "sport = :$p" | grep -q .; then echo "$p"; return; fi
  done
  echo "no free port near $1" >&2; exit 1
}

# --- build ------------------------------------------------------------------------------------
log "building the load generator"
cargo build --release --quiet --manifest-path "$BENCH/loadgen/Cargo.toml" --target-dir "$BENCH/loadgen/target"

if printf '%s\n' "${SIDES[@]}" | grep -qx rust; then
  if [ ! -f "$ROOT/build/worker/shim.mjs" ]; then
    echo "bench: build/worker/shim.mjs is missing: run 'make build' first" >&2
    exit 1
  fi
fi

# --- a snapshot of the Rust build ----------------------------------------------------------------
# wrangler dev reloads when build/ changes, and a rebuild deletes build/ first: a `make build` in
# another terminal would take the server down mid-run. The run therefore uses a copy of build/ and
# a copy of wrangler.toml whose relative paths point at it (main) and at the repo (migrations),
# and a copy of the static files (a rebuild of public/ also makes wrangler restart the runtime).
if [ -z "${BENCH_RUST_CONFIG:-}" ] && printf '%s\n' "${SIDES[@]}" | grep -qx rust; then
  cp -r "$ROOT/build" "$WORK/build"
  # The board's static files are a Worker of their own (web/wrangler.toml), served beside the API
  # as `make dev` does; its directory points at a copy of public/.
  web_snapshot "$WORK/web"
  sed -E \
    -e "s#^(main[[:space:]]*=[[:space:]]*\")(\./)?build/#\1$WORK/build/#" \
    -e "s#^(migrations_dir[[:space:]]*=[[:space:]]*\")(\./)?([^/\"][^\"]*)\"#\1$ROOT/\3\"#" \
    "$ROOT/wrangler.toml" > "$WORK/wrangler.rust.toml"
  if ! grep -q "^main[[:space:]]*=[[:space:]]*\"$WORK/build/" "$WORK/wrangler.rust.toml"; then
    echo "bench: could not point wrangler.toml's main at the build snapshot" >&2
    exit 1
  fi
fi

# --- seed SQL for the polling scenario --------------------------------------------------------
# Two tenants: bench-poll-1k (1,000 orders) and bench-poll-100k (100,000 orders), one event per
# order, generated inside SQLite by a recursive CTE (a few hundred bytes of SQL instead of 100k
# HTTP requests). The two schemas differ only in the events table.
seed_sql() { # $1 = rust|js
  local ev_cols ev_vals
  if [ "$1" = rust ]; then
    ev_cols="tenant_id, seq, type, order_id, ts, updated_by, changes, order_json"
    ev_vals="t, i, 'order_created', printf('00000000-0000-4000-8000-%012d', i), ts, 'seed', '[]', NULL"
  else
    ev_cols="tenant_id, seq, order_id, type, created_at, updated_by, changes"
    ev_vals="t, i, printf('00000000-0000-4000-8000-%012d', i), 'order_created', ts, 'seed', '[]'"
  fi
  local spec t n
  for spec in bench-poll-1k:1000 bench-poll-100k:100000; do
    t=${spec%%:*}; n=${spec##*:}
    # The Rust Worker signs each shop's tokens with that shop's own key (created with the shop
    # by the admin API; a shop made by SQL needs one made the same way).
    [ "$1" = rust ] && cat <<SQL
INSERT INTO signing_keys (tenant_id, kid, secret, created_at, retires_at)
  VALUES ('$t', 'k-seed', lower(hex(randomblob(32))), '2026-01-01T00:00:00.000Z', NULL);
SQL
    cat <<SQL
INSERT INTO tenants (id, name, shopify_domain, last_seq, created_at)
  VALUES ('$t', 'Bench polling $n', NULL, $n, '2026-01-01T00:00:00.000Z');
INSERT INTO orders (tenant_id, id, order_number, source, shopify_order_id, customer_name,
    customer_email, delivery_date, items, status, assigned_to, notes, card_message, shopify_note,
    version, created_at, updated_at, updated_by)
  WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $n),
    r AS (SELECT i, '$t' AS t,
      strftime('%Y-%m-%dT%H:%M:%fZ', '2026-01-01', '+' || i || ' seconds') AS ts FROM n)
  SELECT t, printf('00000000-0000-4000-8000-%012d', i), 'M-' || i, 'manual', NULL,
    'Customer ' || i, NULL, '2026-11-25', '[{"title":"Pink roses","quantity":12}]', 'new', NULL,
    'seeded', NULL, NULL, 1, ts, ts, 'seed' FROM r;
INSERT INTO events ($ev_cols)
  WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $n),
    r AS (SELECT i, '$t' AS t,
      strftime('%Y-%m-%dT%H:%M:%fZ', '2026-01-01', '+' || i || ' seconds') AS ts FROM n)
  SELECT $ev_vals FROM r;
SQL
  done
}

# --- servers ----------------------------------------------------------------------------------
# Both sides can run at once (the interleaved rounds talk to both); per side: its directory, its
# admin token, and while it runs: wrangler's pid, port, runtime/proxy workerd pids, inspector.
declare -A SPID PORT RUNTIME PROXY INSP ENTRY ADMIN CFGDIR CFG WEBCFG COLDS

prepare_side() { # $1 = rust|js: fresh state, migrations, seed, env file
  local side=$1 dir="$WORK/$1"
  if [ "$side" = rust ]; then
    CFGDIR[$side]="$ROOT"; CFG[$side]="${BENCH_RUST_CONFIG:-$WORK/wrangler.rust.toml}"
    if [ -n "${BENCH_RUST_WEB_CONFIG:-}" ]; then WEBCFG[$side]=$BENCH_RUST_WEB_CONFIG
    elif [ -z "${BENCH_RUST_CONFIG:-}" ]; then WEBCFG[$side]="$WORK/web/web.toml"; fi
  else
    CFGDIR[$side]="$BENCH/baseline-js"; CFG[$side]="$BENCH/baseline-js/wrangler.toml"
  fi
  mkdir -p "$dir/state"
  ADMIN[$side]="bench-admin-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')"
  local secret
  secret="bench-secret-$(od -An -N16 -tx8 /dev/urandom | tr -d ' \n')"
  # A long heartbeat: the hibernation check needs the object idle for ~15 s after a ramp that
  # can take 100 s (with 120 s, the Rust hub's first heartbeat alarm landed in that idle window
  # once and kept the object awake), and a heartbeat in the middle of a measurement is noise and connection limits above what the bench opens (its
  # thousands of connections belong to a handful of users). The env file overrides [vars].
  printf '%s\n' "ADMIN_TOKEN=${ADMIN[$side]}" "AUTH_SECRET=$secret" "SHOPIFY_WEBHOOK_SECRET=bench-unused" \
    "HEARTBEAT_SECONDS=600" "MAX_CONNECTIONS_PER_USER=100000" "MAX_CONNECTIONS_PER_TENANT=100000" > "$dir/env"
  log "$side: migrations and seed (1,000 and 100,000 orders)"
  (cd "${CFGDIR[$side]}" && timeout 120 "$WRANGLER" d1 migrations apply DB --config "${CFG[$side]}" --local \
      --persist-to "$dir/state" </dev/null >"$dir/migrate.log" 2>&1) || { cat "$dir/migrate.log" >&2; return 1; }
  seed_sql "$side" > "$dir/seed.sql"
  local t0=$SECONDS
  (cd "${CFGDIR[$side]}" && timeout 180 "$WRANGLER" d1 execute DB --config "${CFG[$side]}" --local \
      --persist-to "$dir/state" --file "$dir/seed.sql" </dev/null >"$dir/seed.log" 2>&1) \
    || { cat "$dir/seed.log" >&2; return 1; }
  echo "seeded in $(( SECONDS - t0 )) s" >&2
}

start_side() { # $1 = rust|js: spawn wrangler dev, time the cold start, find its processes
  local side=$1 dir="$WORK/$1" port start_ns all n
  port=$(free_port 18800)
  n=$(( ${COLDS[$side]:-0} + 1 )); COLDS[$side]=$n
  log "$side: wrangler dev on 127.0.0.1:$port (start $n)"
  start_ns=$(date +%s%N)
  (cd "${CFGDIR[$side]}" && exec node --no-warnings --experimental-vm-modules "$WRANGLER_JS" dev --config "${CFG[$side]}" \
      ${WEBCFG[$side]:+--config "${WEBCFG[$side]}"} \
      --local --ip 127.0.0.1 --port "$port" --show-interactive-dev-session=false \
      --persist-to "$dir/state" --env-file "$dir/env" --log-level warn \
      </dev/null >>"$dir/dev.log" 2>&1) &
  SPID[$side]=$!
  PORT[$side]=$port
  if ! "$LOADGEN" wait-ready --base-url "http://127.0.0.1:$port" --start-ns "$start_ns" \
      --timeout-s 120 > "$dir/cold-$n.json"; then
    cat "$dir/dev.log" >&2
    return 1
  fi
  echo "ready: $(cat "$dir/cold-$n.json")" >&2
  # The workerd listening on $port is wrangler's proxy; the other one runs the Worker. The
  # runtime's inspector is the first socket it opens (lowest fd).
  PROXY[$side]=$(ss -Htlnp "sport = :$port" | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2)
  all=$(pgrep -P "${SPID[$side]}" -x workerd || true)
  RUNTIME[$side]=$(printf '%s\n' $all | grep -vx "${PROXY[$side]}" | head -1 || true)
  INSP[$side]=$(ss -Htlnp | grep "pid=${RUNTIME[$side]}," | sed -E 's/.*127\.0\.0\.1:([0-9]+) .*fd=([0-9]+).*/\2 \1/' \
    | sort -n | head -1 | cut -d' ' -f2)
  # The runtime's own entry socket (the port wrangler's proxy forwards to): the one of its
  # listening sockets, other than the inspector, that answers /api/health.
  ENTRY[$side]=""
  local p
  for p in $(ss -Htlnp | grep "pid=${RUNTIME[$side]}," | sed -E 's/.*127\.0\.0\.1:([0-9]+) .*/\1/'); do
    [ "$p" = "${INSP[$side]:-}" ] && continue
    if curl -sf -m 5 "http://127.0.0.1:$p/api/health" >/dev/null 2>&1; then ENTRY[$side]=$p; break; fi
  done
  echo "workerd: proxy pid ${PROXY[$side]}, runtime pid ${RUNTIME[$side]}, inspector ${INSP[$side]:-none}, entry ${ENTRY[$side]:-none}" >&2
}

stop_side() { # $1 = rust|js
  SERVER_PID=${SPID[$1]:-}
  stop_server
  SPID[$1]=""
}

side_spec() { # label,url,admin,runtime,proxy,node for `loadgen rounds`
  printf '%s,http://127.0.0.1:%s,%s,%s,%s,%s' "$1" "${PORT[$1]}" "${ADMIN[$1]}" "${RUNTIME[$1]}" "${PROXY[$1]}" "${SPID[$1]}"
}

# One capacity ramp (SSE or WebSocket) against a freshly started server, so the memory baseline
# is not flattered by pages a previous phase freed.
capacity_side() { # side scenario
  local side=$1 what=$2 insp=() port=${PORT[$1]}
  [ -n "${INSP[$side]:-}" ] && insp=(--inspector "127.0.0.1:${INSP[$side]}")
  # WebSockets go straight to the runtime's entry socket: wrangler's proxy holds about five file
  # descriptors per WebSocket (two sockets and pipes) and, at this sandbox's limit of 20,000,
  # fails with EMFILE near 3,500 sockets, resetting every connection it holds (BENCHMARKS.md).
  # The proxy is not in production's path; its per-connection memory is measured in the SSE ramp
  # and was measured for WebSockets at 1,000 (BENCHMARKS.md).
  if [ "$what" = wscapacity ] && [ -n "${ENTRY[$side]:-}" ]; then port=${ENTRY[$side]}; fi
  log "$side: $what (port $port)"
  timeout 300 "$LOADGEN" --base-url "http://127.0.0.1:$port" --admin-token "${ADMIN[$side]}" \
    --label "$side" --out "$WORK/$side/$what.json" --only "$what" --runtime-pid "${RUNTIME[$side]}" \
    --proxy-pid "${PROXY[$side]}" --wrangler-pid "${SPID[$side]}" "${insp[@]}" "${QUICK[@]}" \
    || echo "{\"$what\": {\"error\": \"load generator failed\"}}" > "$WORK/$side/$what.json"
}

# BENCH_PROFILE=1: after the rounds, a V8 CPU profile of the runtime workerd during an
# 8-second sustained-update run (through the runtime's own inspector, so no DevTools relay).
profile_side() { # side port admin runtime-pid
  local side=$1 port=$2 admin=$3 runtime=$4 insp
  insp=${INSP[$side]:-}
  if [ -z "$insp" ] || ! curl -sf -m 2 "http://127.0.0.1:$insp/json/version" >/dev/null; then
    echo "bench: no inspector found on the runtime workerd; skipping the profile" >&2
    return 0
  fi
  log "$side: CPU profile (inspector 127.0.0.1:$insp)"
  node "$BENCH/cpuprofile.mjs" "127.0.0.1:$insp" "${BENCH_PROFILE_SECONDS:-11}" \
    "$RESULTS/profile-$side.cpuprofile" > "$RESULTS/profile-$side.txt" &
  local prof=$! extra=()
  read -r -a extra <<< "${BENCH_PROFILE_ARGS:-}"
  sleep 1
  timeout 120 "$LOADGEN" --base-url "http://127.0.0.1:$port" --admin-token "$admin" \
    --label "${side}prof" --out "$WORK/$side/profile-run.json" --only "${BENCH_PROFILE_ONLY:-sustained}" \
    --sustained-seconds 8 --runtime-pid "$runtime" "${extra[@]}" || true
  wait "$prof" || true
  head -25 "$RESULTS/profile-$side.txt" >&2
}

mkdir -p "$RESULTS"
if [ -z "${BENCH_PHASES:-}" ]; then rm -f "$RESULTS/rust.json" "$RESULTS/js.json" "$RESULTS/rounds.json"; fi
for side in "${SIDES[@]}"; do prepare_side "$side"; done

PHASES=${BENCH_PHASES:-rounds,sse,ws}
has_phase() { [[ ",$PHASES," == *",$1,"* ]]; }

# Phase 1: both servers up; interleaved rounds of fan-out (SSE and WebSocket) and sustained
# updates, then presence and polling once per side.
if has_phase rounds; then
  for side in "${SIDES[@]}"; do start_side "$side"; done
  specs=()
  for side in "${SIDES[@]}"; do specs+=(--side "$(side_spec "$side")"); done
  log "interleaved rounds: ${SIDES[*]}"
  timeout 400 "$LOADGEN" rounds "${specs[@]}" --rounds "${BENCH_ROUNDS:-3}" --out "$WORK/rounds.json" \
    --poll-tenant 1000:bench-poll-1k --poll-tenant 100000:bench-poll-100k "${QUICK[@]}"
  cp "$WORK/rounds.json" "$RESULTS/rounds.json"
  if [ "${BENCH_PROFILE:-0}" = "1" ]; then
    for side in "${SIDES[@]}"; do profile_side "$side" "${PORT[$side]}" "${ADMIN[$side]}" "${RUNTIME[$side]}"; done
  fi
  for side in "${SIDES[@]}"; do stop_side "$side"; done
fi

if has_phase profile; then
  for side in "${SIDES[@]}"; do
    start_side "$side"
    profile_side "$side" "${PORT[$side]}" "${ADMIN[$side]}" "${RUNTIME[$side]}"
    stop_side "$side"
  done
  # Only the profiles were asked for: no report from them.
  [ "$PHASES" = profile ] && exit 0
fi

# Phase 2: SSE capacity, each side on a fresh process (the other one stopped).
if has_phase sse; then
  for side in "${SIDES[@]}"; do
    start_side "$side"; capacity_side "$side" capacity; stop_side "$side"
  done
fi
# Phase 3: WebSocket capacity and hibernation, sides in the other order.
if has_phase ws; then
  for (( i=${#SIDES[@]}-1; i>=0; i-- )); do
    side=${SIDES[$i]}
    start_side "$side"; capacity_side "$side" wscapacity; stop_side "$side"
  done
fi
for side in "${SIDES[@]}"; do
  node -e '
    const fs = require("fs"); const [a, b, out] = process.argv.slice(1);
    const r = {};
    for (const f of [a, b]) { try { Object.assign(r, JSON.parse(fs.readFileSync(f, "utf8"))); } catch {} }
    fs.writeFileSync(out, JSON.stringify(r, null, 2));
  ' "$WORK/$side/capacity.json" "$WORK/$side/wscapacity.json" "$RESULTS/$side.json"
done

# --- sizes, machine, report -------------------------------------------------------------------
wasm_dir="$ROOT/build"; [ -d "$WORK/build" ] && wasm_dir="$WORK/build"
wasm=$(find "$wasm_dir" -name '*.wasm' -type f 2>/dev/null | head -1 || true)
wasm_raw=null; wasm_gz=null
if [ -n "$wasm" ]; then
  wasm_raw=$(stat -c %s "$wasm")
  wasm_gz=$(gzip -9 -c "$wasm" | wc -c)
fi
js_raw=$(stat -c %s "$BENCH/baseline-js/worker.js")
js_gz=$(gzip -9 -c "$BENCH/baseline-js/worker.js" | wc -c)
cold() { # every cold start of the side, as a JSON array
  local f first=1
  printf '['
  for f in "$WORK/$1"/cold-*.json; do
    [ -s "$f" ] || continue
    [ $first = 1 ] || printf ','
    first=0; cat "$f" | tr -d '\n'
  done
  printf ']'
}
jstr() { printf '%s' "$1" | sed 's/\\/\\\\/g; s/"/\\"/g'; }
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
mem=$(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)
cmd="make bench"; [ ${#QUICK[@]} -gt 0 ] && cmd="bench/run.sh --quick"
cat > "$WORK/meta.json" <<JSON
{
  "date": "$(date -u +%Y-%m-%dT%H:%M:%SZ)",
  "command": "$cmd",
  "machine": {
    "cpu": "$(jstr "$cpu")", "cores": $(nproc), "memory": "$mem",
    "kernel": "$(uname -r)", "loadAverageAtEnd": "$(cut -d' ' -f1-3 /proc/loadavg)",
    "node": "$(node --version)", "wrangler": "$("$WRANGLER" --version 2>/dev/null | tail -1)",
    "workerd": "$("$ROOT/node_modules/.bin/workerd" --version 2>/dev/null | tail -1)",
    "rustc": "$(rustc --version)"
  },
  "rust": { "wasmFile": "build/${wasm##*/build/}", "wasmBytes": $wasm_raw, "wasmGzipBytes": $wasm_gz, "coldStarts": $(cold rust) },
  "js": { "scriptBytes": $js_raw, "scriptGzipBytes": $js_gz, "coldStarts": $(cold js) }
}
JSON
cp "$WORK/meta.json" "$RESULTS/meta.json"
log "results"
"$LOADGEN" report --rounds "$RESULTS/rounds.json" --rust "$RESULTS/rust.json" --js "$RESULTS/js.json" --meta "$RESULTS/meta.json" \
  --out "$RESULTS/latest.json" | tee "$RESULTS/latest.md"
