-- Each shop signs its users' tokens with its own keys (JWT `kid`), so one shop's key cannot
-- mint tokens for another. A rotated-out key keeps verifying until `retires_at` (unix seconds).
CREATE TABLE signing_keys (
    tenant_id TEXT NOT NULL,
    kid TEXT NOT NULL,
    secret TEXT NOT NULL,
    created_at TEXT NOT NULL,
    retires_at INTEGER,
    PRIMARY KEY (tenant_id, kid)
) WITHOUT ROWID;

-- Tokens issued (iat, unix seconds) before this are revoked.
ALTER TABLE tenants ADD COLUMN tokens_not_before INTEGER NOT NULL DEFAULT 0;

-- Single-use tickets for opening a live connection without a token in the URL (30 s).
CREATE TABLE realtime_tickets (
    ticket TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    role TEXT NOT NULL,
    token_exp INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;
