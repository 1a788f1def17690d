#!/usr/bin/env bash
# Usage: scripts/with-worker.sh CMD [ARGS...]
# Starts the built Worker (run `make build` first) under `wrangler dev` on a free loopback port
# with a throwaway local state (D1 migrated, nothing else), exports BASE_URL, ADMIN_TOKEN,
# AUTH_SECRET, SHOPIFY_WEBHOOK_SECRET and VAPID_PUBLIC_KEY to CMD, runs it, and always stops the
# Worker after. Web Push may go to http://127.0.0.1 (PUSH_ALLOW_LOCALHOST=1: a test's own push
# service).
set -euo pipefail
cd "$(dirname "$0")/.."

[ -f build/worker/shim.mjs ] || { echo "with-worker: no build/ — run 'make build' first" >&2; exit 2; }

# Two distinct free ports: both sockets are held until both are known.
read -r port inspector_port < <(python3 -c '
import socket
a, b = socket.socket(), socket.socket()
a.bind(("127.0.0.1", 0)); b.bind(("127.0.0.1", 0))
print(a.getsockname()[1], b.getsockname()[1])')
state=$(mktemp -d -t florist-worker-XXXXXX)
export BASE_URL="http://127.0.0.1:$port" WORKER_STATE="$state"
export ADMIN_TOKEN="test-admin-$RANDOM$RANDOM"
export AUTH_SECRET="test-auth-secret-$RANDOM$RANDOM$RANDOM"
export SHOPIFY_WEBHOOK_SECRET="test-shopify-secret-$RANDOM$RANDOM"
vapid=$(node scripts/gen-vapid.mjs)
vapid_private=$(sed -n 's/^VAPID_PRIVATE_KEY=//p' <<<"$vapid")
VAPID_PUBLIC_KEY=$(sed -n 's/^VAPID_PUBLIC_KEY=//p' <<<"$vapid")
export VAPID_PUBLIC_KEY
export WRANGLER_SEND_METRICS=false CLOUDFLARE_CF_FETCH_ENABLED=false

wrangler=node_modules/.bin/wrangler
"$wrangler" d1 migrations apply DB --local --persist-to "$state" >"$state/migrate.log" 2>&1 \
  || { cat "$state/migrate.log" >&2; exit 1; }

"$wrangler" dev -c wrangler.toml -c web/wrangler.toml --local --ip 127.0.0.1 --port "$port" --inspector-port "$inspector_port" --persist-to "$state" \
  --show-interactive-dev-session=false \
  --var "ADMIN_TOKEN:$ADMIN_TOKEN" --var "AUTH_SECRET:$AUTH_SECRET" \
  --var "SHOPIFY_WEBHOOK_SECRET:$SHOPIFY_WEBHOOK_SECRET" \
  --var "HEARTBEAT_SECONDS:${HEARTBEAT_SECONDS:-2}" \
  --var "VAPID_PRIVATE_KEY:$vapid_private" --var "VAPID_SUBJECT:mailto:e2e@florist.example" \
  --var "PUSH_ALLOW_LOCALHOST:1" \
  </dev/null >"$state/wrangler.log" 2>&1 &
pid=$!

stop() {
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  [ -n "${KEEP_STATE:-}" ] || rm -rf "$state"
}
trap stop EXIT

for _ in $(seq 300); do
  if curl -fsS "$BASE_URL/api/health" >/dev/null 2>&1; then break; fi
  if ! kill -0 "$pid" 2>/dev/null; then cat "$state/wrangler.log" >&2; exit 1; fi
  sleep 0.2
done
curl -fsS "$BASE_URL/api/health" >/dev/null || { echo "with-worker: the Worker did not answer" >&2; cat "$state/wrangler.log" >&2; exit 1; }

"$@"
