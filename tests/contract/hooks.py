"""Schemathesis hooks of `make contract`.

- Shopify webhooks are signed like Shopify signs them (HMAC-SHA256 of the exact body bytes with
  SHOPIFY_WEBHOOK_SECRET), name the contract tenant's shop and carry a fresh delivery id, so the
  payload parser and the order intake are fuzzed, not only the signature check (which answers
  401 to anything else) or the deduplication.
- The WebSocket route is fuzzed over plain HTTP only: its `Upgrade: websocket` header is dropped,
  so every case gets the non-upgrade answers (426, 401, 403, 404). A real upgrade cannot be
  driven by an HTTP fuzzer; tests/integration/websocket.rs covers it.
"""

import base64
import hashlib
import hmac
import json
import os
import uuid

import schemathesis

WEBHOOK_SECRET = os.environ["SHOPIFY_WEBHOOK_SECRET"].encode()
SHOP_DOMAIN = os.environ["CONTRACT_SHOP_DOMAIN"]


def _without(headers, name):
    return {k: v for k, v in (headers or {}).items() if k.lower() != name.lower()}


@schemathesis.hook
def before_call(context, case, kwargs):
    path = case.operation.path
    if path == "/api/webhooks/shopify":
        _sign_webhook(case, kwargs)
    elif path.endswith("/realtime/ws"):
        case.headers = _without(case.headers, "Upgrade")


def _sign_webhook(case, kwargs):
    body = b""
    if isinstance(case.body, bytes):
        body = case.body
    elif not isinstance(case.body, schemathesis.core.NotSet):
        body = json.dumps(case.body, ensure_ascii=False).encode()
    if body:
        # Send exactly the bytes that were signed.
        kwargs["data"] = body
    headers = _without(case.headers, "X-Shopify-Hmac-Sha256")
    if any(k.lower() == "x-shopify-webhook-id" for k in headers):
        # A fresh delivery each time (generated ids repeat; a repeat is only `duplicate`).
        headers = _without(headers, "X-Shopify-Webhook-Id")
        headers["X-Shopify-Webhook-Id"] = str(uuid.uuid4())
    if any(k.lower() == "x-shopify-shop-domain" for k in headers):
        headers = _without(headers, "X-Shopify-Shop-Domain")
        headers["X-Shopify-Shop-Domain"] = SHOP_DOMAIN
    digest = hmac.new(WEBHOOK_SECRET, body, hashlib.sha256).digest()
    headers["X-Shopify-Hmac-Sha256"] = base64.b64encode(digest).decode()
    case.headers = headers
