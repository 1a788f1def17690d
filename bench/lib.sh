# Shared by the bench scripts that serve Workers themselves (bench/run.sh, bench/compare.sh,
# bench/minimal/run.sh, bench/minimal/cold.sh, ...): source it, then call these.
# Expects ROOT (the repository) to be set.

WRANGLER_JS="$ROOT/node_modules/wrangler/wrangler-dist/cli.js"
export WRANGLER_SEND_METRICS=false CLOUDFLARE_CF_FETCH_ENABLED=false WRANGLER_HIDE_BANNER=true
export VSCODE_INSPECTOR_OPTIONS=':::{}'   # no DevTools relay (see BENCHMARKS.md)

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# web_snapshot DIR: a copy of public/ in DIR/public and, in DIR/web.toml, web/wrangler.toml (the
# board's files Worker) pointed at it, so a rebuild of public/ cannot restart a server mid-run.
web_snapshot() {
  mkdir -p "$1"
  cp -r "$ROOT/public" "$1/public"
  sed -E "s#^(directory[[:space:]]*=[[:space:]]*\")[^\"]*\"#\1$1/public\"#" \
    "$ROOT/web/wrangler.toml" > "$1/web.toml"
}

# spawn_wrangler CWD PORT DIR [ARGS...]: `wrangler dev --local` run from CWD on 127.0.0.1:PORT,
# with its state in DIR/state, its secrets from DIR/env (written here unless it exists) and its
# output in DIR/dev.log; ARGS go to `wrangler dev` (e.g. --config FILE). Without ARGS, a checkout
# whose board files are a Worker of their own (web/wrangler.toml) is served with it, as `make dev`
# does. Sets SPAWNED to its pid.
spawn_wrangler() {
  local cwd=$1 port=$2 dir=$3
  shift 3
  if [ $# = 0 ] && [ -f "$cwd/web/wrangler.toml" ]; then
    set -- --config wrangler.toml --config web/wrangler.toml
  fi
  mkdir -p "$dir"
  [ -f "$dir/env" ] || printf '%s\n' "ADMIN_TOKEN=bench-admin-$RANDOM$RANDOM" \
    "AUTH_SECRET=bench-secret-$RANDOM$RANDOM$RANDOM" "SHOPIFY_WEBHOOK_SECRET=unused" > "$dir/env"
  (cd "$cwd" && exec node --no-warnings "$WRANGLER_JS" dev "$@" --local --ip 127.0.0.1 \
     --port "$port" --show-interactive-dev-session=false --persist-to "$dir/state" \
     --env-file "$dir/env" --log-level warn </dev/null >"$dir/dev.log" 2>&1) &
  SPAWNED=$!
}

# The workerd processes of a wrangler on PORT: wrangler's proxy owns the port; the runtime is the
# other one. Sets PROXY_PID and RUNTIME_PID.
find_workerds() { # WRANGLER_PID PORT
  PROXY_PID=$(ss -Htlnp "sport = :$2" | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2)
  RUNTIME_PID=$(pgrep -P "$1" -x workerd | grep -vx "$PROXY_PID" | head -1 || true)
}

# stop_wrangler PID: wrangler, then whatever it started (its workerds).
stop_wrangler() {
  local kids
  kids=$(pgrep -P "$1" || true)
  kill -TERM "$1" 2>/dev/null || true
  sleep 1
  for k in $kids; do kill -KILL "$k" 2>/dev/null || true; done
}

# For a script that serves Workers until it ends: `trap cleanup_servers EXIT` once WORK (its
# scratch directory) is set; each server it starts goes in PIDS.
PIDS=()
cleanup_servers() {
  local p
  for p in "${PIDS[@]}"; do stop_wrangler "$p"; done
  if [ "${BENCH_KEEP:-0}" = 1 ]; then echo "kept $WORK" >&2; else rm -rf "$WORK"; fi
}
