-- Hardening: Shopify tombstones and parked deliveries, tie-breaking by trigger time, and the
-- activity log keyed by its own position (so an entry need not be an event, e.g. a Shopify
-- cancellation refused for a delivered order).

-- A Shopify order deleted here (by Shopify or a manager) never comes back from a later webhook.
CREATE TABLE shopify_tombstones (
    tenant_id TEXT NOT NULL,
    shopify_order_id TEXT NOT NULL,
    deleted_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, shopify_order_id)
) WITHOUT ROWID;

-- X-Shopify-Triggered-At of the last applied payload: breaks a same-instant updated_at tie.
ALTER TABLE orders ADD COLUMN shopify_triggered_at TEXT;

-- Deliveries for a shop no tenant is connected to yet, kept 7 days and replayed (oldest first)
-- when that shop's tenant is created. Accepting them (200) keeps Shopify from giving up on the
-- subscription while the shop is being onboarded.
CREATE TABLE shopify_parked (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    shop_domain TEXT NOT NULL,
    topic TEXT NOT NULL,
    dedupe_key TEXT NOT NULL UNIQUE,
    webhook_id TEXT NOT NULL,
    triggered_at TEXT,
    body TEXT NOT NULL,
    received_at TEXT NOT NULL
);
CREATE INDEX shopify_parked_by_shop ON shopify_parked (shop_domain, id);
CREATE INDEX shopify_parked_by_time ON shopify_parked (received_at);

-- Idempotent create: the first answer to a POST with an Idempotency-Key, kept 24 h.
CREATE TABLE idempotency_keys (
    tenant_id TEXT NOT NULL,
    key TEXT NOT NULL,
    user_id TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status INTEGER NOT NULL,
    body TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, key)
) WITHOUT ROWID;
CREATE INDEX idempotency_by_time ON idempotency_keys (created_at);

-- The activity log, now keyed by its own position `id`; `seq` is the event the entry belongs to
-- (NULL for an entry that changed nothing others see).
CREATE TABLE activity_v2 (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id TEXT NOT NULL,
    seq INTEGER,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    source TEXT NOT NULL CHECK (source IN ('board', 'shopify', 'admin', 'system')),
    action TEXT NOT NULL,
    order_id TEXT NOT NULL,
    changes TEXT NOT NULL
);
INSERT INTO activity_v2 (tenant_id, seq, at, actor, source, action, order_id, changes)
    SELECT tenant_id, seq, at, actor, source, action, order_id, changes FROM activity ORDER BY seq;
DROP TABLE activity;
ALTER TABLE activity_v2 RENAME TO activity;
CREATE INDEX activity_by_tenant ON activity (tenant_id, id);
CREATE INDEX activity_by_order ON activity (tenant_id, order_id, id);
CREATE INDEX activity_by_actor ON activity (tenant_id, actor, id);
CREATE INDEX activity_by_seq ON activity (tenant_id, seq);
CREATE INDEX activity_by_time ON activity (at);
