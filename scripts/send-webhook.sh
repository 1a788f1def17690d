#!/usr/bin/env bash
# Sends a correctly signed sample Shopify webhook to the local Worker.
#
#   scripts/send-webhook.sh TOPIC [FIXTURE]
#
# TOPIC    orders/create | orders/updated | orders/edited | orders/cancelled | orders/delete | any other
# FIXTURE  a file path, or a name in tests/fixtures/shopify/ (default chosen from TOPIC)
#
# Environment:
#   BASE_URL                default http://127.0.0.1:${PORT:-8787}
#   SHOPIFY_WEBHOOK_SECRET  default: the SHOPIFY_WEBHOOK_SECRET= line of .dev.vars
#   SHOP_DOMAIN             default demo-flowers.myshopify.com
#   WEBHOOK_ID              default: a fresh UUID (set it to replay a delivery and test deduplication)
set -euo pipefail

usage() {
  sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

[ $# -ge 1 ] && [ $# -le 2 ] || usage
topic=$1
root=$(cd "$(dirname "$0")/.." && pwd)
fixtures="$root/tests/fixtures/shopify"

if [ $# -eq 2 ]; then
  fixture=$2
  if [ ! -f "$fixture" ] && [ -f "$fixtures/$fixture" ]; then
    fixture="$fixtures/$fixture"
  fi
else
  case "$topic" in
    orders/create) fixture="$fixtures/orders-create.json" ;;
    orders/updated) fixture="$fixtures/orders-updated.json" ;;
    orders/edited) fixture="$fixtures/orders-edited.json" ;;
    orders/cancelled) fixture="$fixtures/orders-cancelled.json" ;;
    orders/delete) fixture="$fixtures/orders-delete.json" ;;
    *) fixture="$fixtures/orders-create.json" ;;
  esac
fi
[ -f "$fixture" ] || { echo "fixture not found: $fixture" >&2; exit 1; }

secret=${SHOPIFY_WEBHOOK_SECRET:-}
if [ -z "$secret" ] && [ -f "$root/.dev.vars" ]; then
  # Last matching line wins; surrounding quotes and a trailing CR are stripped.
  secret=$(sed -n 's/^[[:space:]]*SHOPIFY_WEBHOOK_SECRET[[:space:]]*=[[:space:]]*//p' "$root/.dev.vars" |
    tail -n 1 | tr -d '\r' | sed -e 's/^"\(.*\)"$/\1/' -e "s/^'\(.*\)'$/\1/")
fi
[ -n "$secret" ] || {
  echo "no secret: set SHOPIFY_WEBHOOK_SECRET or add SHOPIFY_WEBHOOK_SECRET=... to .dev.vars" >&2
  exit 1
}

command -v curl >/dev/null || { echo "curl is required" >&2; exit 1; }

# The signature covers the exact bytes sent, so curl posts the file unchanged (--data-binary).
if command -v openssl >/dev/null; then
  hmac=$(openssl dgst -sha256 -hmac "$secret" -binary <"$fixture" | base64 | tr -d '\n')
elif command -v python3 >/dev/null; then
  hmac=$(SECRET="$secret" python3 -c '
import base64, hashlib, hmac, os, sys
body = sys.stdin.buffer.read()
print(base64.b64encode(hmac.new(os.environ["SECRET"].encode(), body, hashlib.sha256).digest()).decode())
' <"$fixture")
else
  echo "openssl or python3 is required to sign the body" >&2
  exit 1
fi

webhook_id=${WEBHOOK_ID:-$(cat /proc/sys/kernel/random/uuid)}
base_url=${BASE_URL:-http://127.0.0.1:${PORT:-8787}}
shop_domain=${SHOP_DOMAIN:-demo-flowers.myshopify.com}

echo "POST $base_url/api/webhooks/shopify  topic=$topic  shop=$shop_domain  webhook-id=$webhook_id  body=$fixture" >&2
curl -sS -X POST "$base_url/api/webhooks/shopify" \
  -H "Content-Type: application/json" \
  -H "X-Shopify-Topic: $topic" \
  -H "X-Shopify-Shop-Domain: $shop_domain" \
  -H "X-Shopify-Hmac-Sha256: $hmac" \
  -H "X-Shopify-Webhook-Id: $webhook_id" \
  --data-binary "@$fixture" \
  -w '\nHTTP %{http_code}\n'
