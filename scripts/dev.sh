#!/usr/bin/env bash
# Serves the built Worker for a person: `make dev` calls this after build + migrate.
# Seeds the demo shop (`demo`, Shopify domain demo-flowers.myshopify.com) with a few orders the
# first time, prints a florist and a manager token and the board URL, then serves until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
port=${1:-8787}
state=${2:-.wrangler/state}
base="http://127.0.0.1:$port"
export WRANGLER_SEND_METRICS=false CLOUDFLARE_CF_FETCH_ENABLED=false

admin=$(sed -n 's/^ADMIN_TOKEN=//p' .dev.vars | tr -d '"' | head -1)
[ -n "$admin" ] || { echo "dev: ADMIN_TOKEN missing in .dev.vars" >&2; exit 1; }

node_modules/.bin/wrangler dev --local --ip 127.0.0.1 --port "$port" --persist-to "$state" \
  --show-interactive-dev-session=false </dev/null &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null' EXIT INT TERM

for _ in $(seq 300); do
  curl -fsS "$base/api/health" >/dev/null 2>&1 && break
  kill -0 "$pid" 2>/dev/null || exit 1
  sleep 0.2
done

api() { # METHOD PATH TOKEN [JSON]
  curl -sS -X "$1" "$base$2" -H "authorization: Bearer $3" -H 'content-type: application/json' \
    ${4:+--data-binary "$4"}
}
json_field() { python3 -c "import json,sys; print(json.load(sys.stdin).get('$1',''))"; }

created=$(api POST /api/admin/tenants "$admin" \
  '{"id":"demo","name":"Demo Flowers","shopifyDomain":"demo-flowers.myshopify.com"}' | json_field id)
florist=$(api POST /api/admin/tenants/demo/tokens "$admin" '{"userId":"florist-123","role":"florist"}' | json_field token)
florist2=$(api POST /api/admin/tenants/demo/tokens "$admin" '{"userId":"florist-456","role":"florist"}' | json_field token)
manager=$(api POST /api/admin/tenants/demo/tokens "$admin" '{"userId":"manager-1","role":"manager"}' | json_field token)

if [ "$created" = "demo" ]; then
  for order in \
    '{"orderNumber":"#1001","customerName":"Emma Clarke","customerEmail":"emma@example.com","deliveryDate":"2026-11-26","items":[{"title":"Pink Rose Bouquet","quantity":1},{"title":"Greeting card","quantity":1}],"cardMessage":"Happy birthday, Mum!","notes":"customer requested pink roses"}' \
    '{"orderNumber":"#1002","customerName":"Liam Chen","deliveryDate":"2026-11-25","items":[{"title":"Sympathy wreath","quantity":1}]}' \
    '{"orderNumber":"#1003","customerName":"Sofia Rossi","items":[{"title":"Tulip bunch (yellow)","quantity":3}],"assignedTo":"florist-456"}' \
    '{"orderNumber":"#1004","customerName":"Noah Patel","deliveryDate":"2026-11-27","items":[{"title":"Orchid in ceramic pot","quantity":1}]}'
  do
    api POST /api/tenants/demo/orders "$florist" "$order" >/dev/null
  done
  echo "dev: seeded the demo shop with 4 orders"
fi

cat <<MSG

  Florist board (florist-123):  $base/?token=$florist
  Second florist (florist-456): $base/?token=$florist2
  Manager token (manager-1):    $manager

  Try:  curl -H "authorization: Bearer $florist" $base/api/tenants/demo/orders
        make webhook TOPIC=orders/create     (a signed sample Shopify order appears on the board)

MSG
wait "$pid"
