-- Schema of the JavaScript baseline used by `make bench` (not the product's schema).
CREATE TABLE tenants (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  shopify_domain TEXT UNIQUE,
  created_at TEXT NOT NULL,
  last_seq INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE orders (
  tenant_id TEXT NOT NULL,
  id TEXT NOT NULL,
  order_number TEXT NOT NULL,
  source TEXT NOT NULL DEFAULT 'manual',
  shopify_order_id TEXT,
  customer_name TEXT NOT NULL,
  customer_email TEXT,
  delivery_date TEXT,
  items TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'new',
  assigned_to TEXT,
  notes TEXT NOT NULL DEFAULT '',
  card_message TEXT,
  shopify_note TEXT,
  version INTEGER NOT NULL DEFAULT 1,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  updated_by TEXT NOT NULL,
  PRIMARY KEY (tenant_id, id)
);

CREATE TABLE events (
  tenant_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  order_id TEXT NOT NULL,
  type TEXT NOT NULL,
  created_at TEXT NOT NULL,
  updated_by TEXT NOT NULL,
  changes TEXT NOT NULL DEFAULT '[]',
  PRIMARY KEY (tenant_id, seq)
);
