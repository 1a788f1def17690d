-- Tenants (one florist shop each). last_seq is the tenant's change sequence: every committed
-- change to the tenant's orders bumps it by exactly one in the same atomic batch as the change.
CREATE TABLE tenants (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    shopify_domain TEXT UNIQUE,
    last_seq INTEGER NOT NULL DEFAULT 0,
    manual_counter INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL
);

CREATE TABLE orders (
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    id TEXT NOT NULL,
    order_number TEXT NOT NULL,
    source TEXT NOT NULL CHECK (source IN ('manual', 'shopify')),
    shopify_order_id TEXT,
    customer_name TEXT NOT NULL,
    customer_email TEXT,
    delivery_date TEXT,
    items TEXT NOT NULL,
    status TEXT NOT NULL,
    assigned_to TEXT,
    notes TEXT NOT NULL DEFAULT '',
    card_message TEXT,
    shopify_note TEXT,
    shopify_updated_at TEXT,
    version INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    updated_by TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX orders_tenant_updated ON orders (tenant_id, updated_at DESC, id DESC);
CREATE INDEX orders_tenant_status ON orders (tenant_id, status, updated_at DESC, id DESC);
CREATE UNIQUE INDEX orders_tenant_shopify ON orders (tenant_id, shopify_order_id)
    WHERE shopify_order_id IS NOT NULL;

-- The durable event log: the source of truth for "what changed", replayed on resume and
-- read by the polling fallback. (tenant_id, seq) is the primary key, so a range scan by seq
-- costs the number of changes, not the number of orders.
CREATE TABLE events (
    tenant_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    type TEXT NOT NULL,
    order_id TEXT NOT NULL,
    ts TEXT NOT NULL,
    updated_by TEXT NOT NULL,
    changes TEXT NOT NULL,
    order_json TEXT,
    PRIMARY KEY (tenant_id, seq)
) WITHOUT ROWID;
CREATE INDEX events_tenant_ts ON events (tenant_id, ts);

-- Shopify webhook deliveries already processed (deduplication by X-Shopify-Webhook-Id).
CREATE TABLE shopify_webhooks (
    webhook_id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    topic TEXT NOT NULL,
    received_at TEXT NOT NULL
);
