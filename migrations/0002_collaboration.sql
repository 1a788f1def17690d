-- Collaboration without conflicts: per-field change metadata (field-level merge), edit locks
-- (leases), the note thread and the activity log.

-- For each florist field, the order version at which it last changed, by whom and when: a PUT
-- with `If-Match: "<v>"` conflicts only on fields whose `*_v` is above v.
ALTER TABLE orders ADD COLUMN status_v INTEGER NOT NULL DEFAULT 0;
ALTER TABLE orders ADD COLUMN status_by TEXT;
ALTER TABLE orders ADD COLUMN status_at TEXT;
ALTER TABLE orders ADD COLUMN assigned_to_v INTEGER NOT NULL DEFAULT 0;
ALTER TABLE orders ADD COLUMN assigned_to_by TEXT;
ALTER TABLE orders ADD COLUMN assigned_to_at TEXT;
ALTER TABLE orders ADD COLUMN notes_v INTEGER NOT NULL DEFAULT 0;
ALTER TABLE orders ADD COLUMN notes_by TEXT;
ALTER TABLE orders ADD COLUMN notes_at TEXT;

-- The edit lock (lease). A lease whose expiry (RFC 3339, sorts as text) is past reads as no
-- lock; the expiry sweep clears it and logs `order_unlocked` (reason `expired`).
-- lock_version only grows: it is the fencing token of the lease.
ALTER TABLE orders ADD COLUMN lock_holder TEXT;
ALTER TABLE orders ADD COLUMN lock_acquired_at TEXT;
ALTER TABLE orders ADD COLUMN lock_expires_at TEXT;
ALTER TABLE orders ADD COLUMN lock_version INTEGER NOT NULL DEFAULT 0;
CREATE INDEX orders_tenant_lock_expiry ON orders (tenant_id, lock_expires_at)
    WHERE lock_holder IS NOT NULL;

-- Extra data of lock, unlock and note events (`lock`, `reason`, `previousHolder`, `note`).
ALTER TABLE events ADD COLUMN data TEXT;

-- The note thread: append-only, so two florists adding at once both land.
CREATE TABLE order_notes (
    tenant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    order_id TEXT NOT NULL,
    text TEXT NOT NULL,
    author TEXT NOT NULL,
    created_at TEXT NOT NULL,
    seq INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX order_notes_by_order ON order_notes (tenant_id, order_id, seq);

-- Who did what when. One entry per committed change, written in the same batch as the change;
-- `seq` is the change's event seq. Kept for ACTIVITY_RETENTION_DAYS (independent of the event
-- log) and readable after the order is deleted.
CREATE TABLE activity (
    tenant_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    source TEXT NOT NULL CHECK (source IN ('board', 'shopify', 'admin', 'system')),
    action TEXT NOT NULL,
    order_id TEXT NOT NULL,
    changes TEXT NOT NULL,
    PRIMARY KEY (tenant_id, seq)
) WITHOUT ROWID;
CREATE INDEX activity_by_order ON activity (tenant_id, order_id, seq);
CREATE INDEX activity_by_actor ON activity (tenant_id, actor, seq);
CREATE INDEX activity_by_time ON activity (at);
