-- Web Push subscriptions (issue 13): one row per browser push endpoint. The endpoint is the
-- subscription's identity (a browser has one per application server key), so registering it
-- again updates the row, and a browser that now belongs to another user moves with it.
-- `events` is a JSON array of what the user asked for (order_created, assigned_to_me,
-- note_on_my_order, status_of_my_order). A push service answering 404/410 deletes the row.
CREATE TABLE push_subscriptions (
    endpoint TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    user_id TEXT NOT NULL,
    p256dh TEXT NOT NULL,
    auth TEXT NOT NULL,
    events TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
-- A user's own list, the per-user limit, and the one user an assignment/note/status push is for.
CREATE INDEX push_subscriptions_by_user ON push_subscriptions (tenant_id, user_id);
