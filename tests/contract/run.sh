#!/usr/bin/env bash
# `make contract`: Schemathesis fuzzes the running Worker against its OpenAPI document.
# Run under scripts/with-worker.sh (it exports BASE_URL, ADMIN_TOKEN, SHOPIFY_WEBHOOK_SECRET).
#
# Every operation of docs/openapi.json, in all four phases (the document's examples, boundary
# values, random data, and stateful sequences that follow the document's links), with the
# checks: no 5xx, only documented statuses and content types, bodies matching their schemas.
# Not fuzzable over plain HTTP, hence left out: the WebSocket upgrade (hooks.py drops the
# header, so that route is fuzzed for its non-upgrade answers) and the SSE stream beyond its
# first event (schemathesis reads one event per case, validates it, and hangs up).
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${BASE_URL:?run me through scripts/with-worker.sh}"

# The document the Worker serves is the one in the repository.
curl -fsS "$BASE_URL/api/openapi.json" | cmp -s - docs/openapi.json \
  || { echo "contract: GET /api/openapi.json differs from docs/openapi.json (rebuild?)" >&2; exit 1; }

api() { # METHOD PATH [JSON] — as the admin
  curl -fsS -X "$1" "$BASE_URL$2" -H "authorization: Bearer $ADMIN_TOKEN" \
    -H 'content-type: application/json' ${3:+--data-binary "$3"}
}
field() { python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }

export CONTRACT_TENANT="contract-$RANDOM$RANDOM"
export CONTRACT_SHOP_DOMAIN="$CONTRACT_TENANT.myshopify.com"
api POST /api/admin/tenants \
  "{\"id\":\"$CONTRACT_TENANT\",\"name\":\"Contract Flowers\",\"shopifyDomain\":\"$CONTRACT_SHOP_DOMAIN\"}" >/dev/null
# The shop whose keys and token cut-off the fuzzer may change at will.
export CONTRACT_KEYS_TENANT="$CONTRACT_TENANT-keys"
api POST /api/admin/tenants "{\"id\":\"$CONTRACT_KEYS_TENANT\",\"name\":\"Key Rotation\"}" >/dev/null
CONTRACT_TOKEN=$(api POST "/api/admin/tenants/$CONTRACT_TENANT/tokens" \
  '{"userId":"contract-manager","role":"manager"}' | field token)
export CONTRACT_TOKEN

# Orders of both sources, so list and polling answers hold each shape the schema allows.
curl -fsS -X POST "$BASE_URL/api/tenants/$CONTRACT_TENANT/orders" -H "authorization: Bearer $CONTRACT_TOKEN" \
  -H 'content-type: application/json' \
  --data-binary '{"customerName":"Ada","items":[{"title":"Pink roses","quantity":12}],"deliveryDate":"2026-11-26"}' \
  >/dev/null
SHOP_DOMAIN=$CONTRACT_SHOP_DOMAIN scripts/send-webhook.sh orders/create >/dev/null 2>&1

started=$(date +%s)
status=0
# The file, not the URL: schemathesis leaves out the operation that serves the document it loaded.
.venv/bin/schemathesis --config-file tests/contract/schemathesis.toml run docs/openapi.json \
  --url "$BASE_URL" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
  --max-time "${CONTRACT_MAX_TIME:-120}" \
  --seed "${CONTRACT_SEED:-$RANDOM}" \
  --generation-database none \
  --no-color "$@" || status=$?
echo "contract: schemathesis ran $(($(date +%s) - started)) s"
if [ "$status" -ne 0 ] && [ -n "${WORKER_STATE:-}" ]; then
  echo "contract: the Worker's log (errors):" >&2
  grep -iE 'error|panic' "$WORKER_STATE/wrangler.log" | tail -n 40 >&2 || true
fi
exit "$status"
