// JavaScript baseline for `make bench`.
//
// The subset of docs/API.md the load generator uses, written the way a JavaScript developer would
// write it without special tuning: every write is one D1 batch (order row + tenants.last_seq bump +
// event row), then the Worker calls the tenant's Durable Object, which holds one TransformStream
// writer per SSE subscriber and writes the frame to each of them.
// The WebSocket route (GET …/realtime/ws) is the minimal hibernating equivalent of the Rust
// hub's: the object accepts sockets with the hibernation API (ctx.acceptWebSocket, attachment =
// who it is), sends the same frames ({"type":"hello"}, {"type":"presence"}, {"type":"event",
// "event":…}, {"type":"presence_diff"}), answers "ping" with "pong" without waking, and finds
// its sockets again with ctx.getWebSockets() after a wake. Its presence is minimal: a join on a
// user's first connection and a leave on the last (no per-connection count updates, no viewing
// or typing, no leave grace, no heartbeat).
// Not implemented (the benchmark does not use them): Last-Event-ID resume, DELETE, webhooks,
// list filters, If-Match, pruning, connection limits.
import { DurableObject } from "cloudflare:workers";

const enc = new TextEncoder();
const SSE_HEADERS = {
  "content-type": "text/event-stream",
  "cache-control": "no-cache, no-transform",
  "x-accel-buffering": "no",
};
const TRANSITIONS = {
  new: ["in_progress", "cancelled"],
  in_progress: ["new", "ready", "cancelled"],
  ready: ["in_progress", "out_for_delivery", "delivered", "cancelled"],
  out_for_delivery: ["ready", "delivered"],
  delivered: [],
  cancelled: [],
};
const TENANT_ID = /^[a-z0-9][a-z0-9-]{1,62}$/;

function json(body, status = 200, headers = {}) {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", ...headers },
  });
}
function err(status, code, message) {
  return json({ error: { code, message } }, status);
}
async function readJson(req) {
  try {
    const v = await req.json();
    return v && typeof v === "object" && !Array.isArray(v) ? v : null;
  } catch {
    return null;
  }
}

// ---- HS256 JWT -------------------------------------------------------------------------------
function b64urlEncode(bytes) {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}
function b64urlDecode(str) {
  const s = atob(str.replace(/-/g, "+").replace(/_/g, "/"));
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}
let cachedKey = null;
let cachedSecret = null;
async function hmacKey(secret) {
  if (cachedKey && cachedSecret === secret) return cachedKey;
  cachedKey = await crypto.subtle.importKey(
    "raw", enc.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"]);
  cachedSecret = secret;
  return cachedKey;
}
async function signJwt(claims, secret) {
  const head = b64urlEncode(enc.encode(JSON.stringify({ alg: "HS256", typ: "JWT" })));
  const body = b64urlEncode(enc.encode(JSON.stringify(claims)));
  const sig = await crypto.subtle.sign("HMAC", await hmacKey(secret), enc.encode(`${head}.${body}`));
  return `${head}.${body}.${b64urlEncode(new Uint8Array(sig))}`;
}
async function verifyJwt(token, secret) {
  try {
    const parts = token.split(".");
    if (parts.length !== 3) return null;
    const header = JSON.parse(new TextDecoder().decode(b64urlDecode(parts[0])));
    if (header.alg !== "HS256") return null;
    const ok = await crypto.subtle.verify(
      "HMAC", await hmacKey(secret), b64urlDecode(parts[2]), enc.encode(`${parts[0]}.${parts[1]}`));
    if (!ok) return null;
    const claims = JSON.parse(new TextDecoder().decode(b64urlDecode(parts[1])));
    if (typeof claims.exp !== "number" || claims.exp <= Date.now() / 1000) return null;
    if (typeof claims.sub !== "string" || typeof claims.tenant !== "string") return null;
    if (claims.role !== "florist" && claims.role !== "manager") return null;
    return claims;
  } catch {
    return null;
  }
}

// ---- rows -> API objects --------------------------------------------------------------------------
function orderFromRow(r) {
  return {
    id: r.id,
    orderNumber: r.order_number,
    source: r.source,
    shopifyOrderId: r.shopify_order_id,
    customerName: r.customer_name,
    customerEmail: r.customer_email,
    deliveryDate: r.delivery_date,
    items: JSON.parse(r.items),
    status: r.status,
    assignedTo: r.assigned_to,
    notes: r.notes,
    cardMessage: r.card_message,
    shopifyNote: r.shopify_note,
    version: r.version,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    updatedBy: r.updated_by,
  };
}

function hub(env, tenant) {
  return env.HUB.get(env.HUB.idFromName(tenant));
}

// ---- Worker ---------------------------------------------------------------------------------------
export default {
  async fetch(req, env, ctx) {
    const url = new URL(req.url);
    const p = url.pathname.split("/").filter(Boolean);
    const m = req.method;
    try {
      if (p[0] !== "api") return err(404, "not_found", "no such route");
      if (m === "GET" && p[1] === "health" && p.length === 2) {
        return json({ status: "ok", version: "baseline-js", schemaVersion: 1 });
      }
      if (p[1] === "admin") {
        const auth = req.headers.get("authorization") || "";
        if (!env.ADMIN_TOKEN || auth !== `Bearer ${env.ADMIN_TOKEN}`) {
          return err(401, "unauthorized", "admin token required");
        }
        if (m === "POST" && p.length === 3 && p[2] === "tenants") return createTenant(req, env);
        if (m === "POST" && p.length === 5 && p[2] === "tenants" && p[4] === "tokens") {
          return mintToken(req, env, p[3]);
        }
        return err(404, "not_found", "no such route");
      }
      if (p[1] === "tenants" && p.length >= 4) {
        const tenant = p[2];
        let token = null;
        const auth = req.headers.get("authorization") || "";
        if (auth.startsWith("Bearer ")) token = auth.slice(7);
        const isSse = m === "GET" && p[3] === "realtime" && p[4] === "orders" && p.length === 5;
        const isWs = m === "GET" && p[3] === "realtime" && p[4] === "ws" && p.length === 5;
        if (!token && (isSse || isWs)) token = url.searchParams.get("access_token");
        const claims = token ? await verifyJwt(token, env.AUTH_SECRET) : null;
        if (!claims) return err(401, "unauthorized", "missing or invalid token");
        if (claims.tenant !== tenant) return err(403, "forbidden", "token of another tenant");

        if (isSse) return hub(env, tenant).fetch(req);
        if (isWs) {
          if ((req.headers.get("upgrade") || "").toLowerCase() !== "websocket") {
            return err(426, "upgrade_required", "WebSocket upgrade required");
          }
          const u = new URL("https://hub/ws");
          u.searchParams.set("user", claims.sub);
          u.searchParams.set("role", claims.role);
          return hub(env, tenant).fetch(new Request(u, { headers: req.headers }));
        }
        if (m === "GET" && p[3] === "realtime" && p[4] === "stats" && p.length === 5) {
          if (claims.role !== "manager") return err(403, "forbidden", "managers only");
          return json(await hub(env, tenant).stats());
        }
        if (p[3] === "orders") {
          if (m === "GET" && p.length === 5 && p[4] === "realtime-status") {
            return realtimeStatus(env, tenant, url.searchParams.get("since"));
          }
          if (m === "POST" && p.length === 4) return createOrder(req, env, tenant, claims);
          if (m === "GET" && p.length === 5) return getOrder(env, tenant, p[4]);
          if (m === "PUT" && p.length === 5) return updateOrder(req, env, tenant, p[4], claims);
        }
      }
      return err(404, "not_found", "no such route");
    } catch (e) {
      return err(500, "internal", String(e && e.message ? e.message : e));
    }
  },
};

async function createTenant(req, env) {
  const b = await readJson(req);
  if (!b || typeof b.id !== "string" || !TENANT_ID.test(b.id)) {
    return err(400, "invalid_tenant_id", "bad tenant id");
  }
  const name = typeof b.name === "string" && b.name ? b.name : b.id;
  const createdAt = new Date().toISOString();
  try {
    await env.DB.prepare(
      "INSERT INTO tenants (id, name, shopify_domain, created_at, last_seq) VALUES (?, ?, ?, ?, 0)")
      .bind(b.id, name, b.shopifyDomain ?? null, createdAt).run();
  } catch (e) {
    if (String(e.message).includes("UNIQUE")) return err(409, "tenant_exists", "tenant exists");
    throw e;
  }
  return json({ id: b.id, name, shopifyDomain: b.shopifyDomain ?? null, createdAt }, 201);
}

async function mintToken(req, env, tenant) {
  const b = await readJson(req);
  if (!b || typeof b.userId !== "string" || !["florist", "manager"].includes(b.role)) {
    return err(400, "invalid_body", "userId and role required");
  }
  const t = await env.DB.prepare("SELECT id FROM tenants WHERE id = ?").bind(tenant).first();
  if (!t) return err(404, "tenant_not_found", "unknown tenant");
  const ttl = Number.isInteger(b.ttlSeconds) && b.ttlSeconds > 0 ? b.ttlSeconds : 43200;
  const exp = Math.floor(Date.now() / 1000) + ttl;
  const token = await signJwt({ sub: b.userId, tenant, role: b.role, exp }, env.AUTH_SECRET);
  return json({ token, expiresAt: new Date(exp * 1000).toISOString() }, 201);
}

async function getOrder(env, tenant, id) {
  const r = await env.DB.prepare("SELECT * FROM orders WHERE tenant_id = ? AND id = ?")
    .bind(tenant, id).first();
  if (!r) return err(404, "order_not_found", "no such order");
  return json(orderFromRow(r), 200, { etag: `"${r.version}"` });
}

// One D1 batch: bump the tenant's sequence, write the order, write the event row with that sequence.
function eventStatements(env, tenant, orderId, type, now, user, changes) {
  return [
    env.DB.prepare("UPDATE tenants SET last_seq = last_seq + 1 WHERE id = ?").bind(tenant),
    env.DB.prepare(
      "INSERT INTO events (tenant_id, seq, order_id, type, created_at, updated_by, changes) " +
      "VALUES (?1, (SELECT last_seq FROM tenants WHERE id = ?1), ?2, ?3, ?4, ?5, ?6) RETURNING seq")
      .bind(tenant, orderId, type, now, user, JSON.stringify(changes)),
  ];
}

async function broadcast(env, tenant, event) {
  await hub(env, tenant).broadcast(event);
}

async function createOrder(req, env, tenant, claims) {
  const b = await readJson(req);
  if (!b || typeof b.customerName !== "string" || !b.customerName) {
    return err(400, "invalid_body", "customerName required");
  }
  if (!Array.isArray(b.items) || b.items.length < 1 || b.items.length > 100) {
    return err(400, "invalid_body", "items must have 1-100 entries");
  }
  const id = crypto.randomUUID();
  const now = new Date().toISOString();
  const user = claims.sub;
  const orderNumber = typeof b.orderNumber === "string" && b.orderNumber
    ? b.orderNumber : `M-${Date.now()}${Math.floor(Math.random() * 1000)}`;
  const [bump, ev] = eventStatements(env, tenant, id, "order_created", now, user, []);
  const ins = env.DB.prepare(
    "INSERT INTO orders (tenant_id, id, order_number, source, customer_name, customer_email, " +
    "delivery_date, items, status, assigned_to, notes, card_message, version, created_at, " +
    "updated_at, updated_by) VALUES (?, ?, ?, 'manual', ?, ?, ?, ?, 'new', ?, ?, ?, 1, ?, ?, ?)")
    .bind(tenant, id, orderNumber, b.customerName, b.customerEmail ?? null, b.deliveryDate ?? null,
      JSON.stringify(b.items), b.assignedTo ?? null, b.notes ?? "", b.cardMessage ?? null,
      now, now, user);
  const res = await env.DB.batch([bump, ins, ev]);
  const seq = res[2].results[0].seq;
  const order = {
    id, orderNumber, source: "manual", shopifyOrderId: null, customerName: b.customerName,
    customerEmail: b.customerEmail ?? null, deliveryDate: b.deliveryDate ?? null, items: b.items,
    status: "new", assignedTo: b.assignedTo ?? null, notes: b.notes ?? "",
    cardMessage: b.cardMessage ?? null, shopifyNote: null, version: 1, createdAt: now,
    updatedAt: now, updatedBy: user,
  };
  const event = {
    id: String(seq), type: "order_created", tenantId: tenant, orderId: id, timestamp: now,
    updatedBy: user, changes: [], order,
  };
  await broadcast(env, tenant, event);
  return json(order, 201, {
    location: `/api/tenants/${tenant}/orders/${id}`, etag: `"1"`,
  });
}

async function updateOrder(req, env, tenant, id, claims) {
  const b = await readJson(req);
  if (!b) return err(400, "invalid_body", "JSON object required");
  const row = await env.DB.prepare("SELECT * FROM orders WHERE tenant_id = ? AND id = ?")
    .bind(tenant, id).first();
  if (!row) return err(404, "order_not_found", "no such order");
  const order = orderFromRow(row);
  const changes = [];
  if (b.status !== undefined && b.status !== order.status) {
    if (!(b.status in TRANSITIONS)) return err(422, "invalid_status", "unknown status");
    if (!TRANSITIONS[order.status].includes(b.status)) {
      return err(422, "invalid_transition", `${order.status} -> ${b.status}`);
    }
    order.status = b.status;
    changes.push("status");
  }
  if (b.assignedTo !== undefined && b.assignedTo !== order.assignedTo) {
    order.assignedTo = b.assignedTo;
    changes.push("assignedTo");
  }
  if (typeof b.notes === "string" && b.notes !== order.notes) {
    order.notes = b.notes;
    changes.push("notes");
  }
  if (changes.length === 0) return json({ order, event: null });
  const now = new Date().toISOString();
  order.version += 1;
  order.updatedAt = now;
  order.updatedBy = claims.sub;
  const [bump, ev] = eventStatements(env, tenant, id, "order_updated", now, claims.sub, changes);
  const upd = env.DB.prepare(
    "UPDATE orders SET status = ?, assigned_to = ?, notes = ?, version = version + 1, " +
    "updated_at = ?, updated_by = ? WHERE tenant_id = ? AND id = ?")
    .bind(order.status, order.assignedTo, order.notes, now, claims.sub, tenant, id);
  const res = await env.DB.batch([bump, upd, ev]);
  const seq = res[2].results[0].seq;
  const event = {
    id: String(seq), type: "order_updated", tenantId: tenant, orderId: id, timestamp: now,
    updatedBy: claims.sub, changes, order,
  };
  await broadcast(env, tenant, event);
  return json({ order, event });
}

async function realtimeStatus(env, tenant, since) {
  const LIMIT = 500;
  let sinceSeq = 0;
  if (since) {
    if (/^\d+$/.test(since)) {
      sinceSeq = Number(since);
    } else {
      const t = Date.parse(since);
      if (Number.isNaN(t)) return err(400, "invalid_since", "since must be a seq or RFC 3339");
      const r = await env.DB.prepare(
        "SELECT COALESCE(MAX(seq), 0) AS seq FROM events WHERE tenant_id = ? AND created_at <= ?")
        .bind(tenant, new Date(t).toISOString()).first();
      sinceSeq = r.seq;
    }
  }
  const evs = await env.DB.prepare(
    "SELECT seq, order_id, type FROM events WHERE tenant_id = ? AND seq > ? ORDER BY seq LIMIT ?")
    .bind(tenant, sinceSeq, LIMIT + 1).all();
  const rows = evs.results;
  const hasMore = rows.length > LIMIT;
  if (hasMore) rows.length = LIMIT;
  let cursor;
  if (rows.length) {
    cursor = rows[rows.length - 1].seq;
  } else {
    const t = await env.DB.prepare("SELECT last_seq FROM tenants WHERE id = ?").bind(tenant).first();
    cursor = t ? Math.max(t.last_seq, sinceSeq) : sinceSeq;
  }
  const ids = [...new Set(rows.map((r) => r.order_id))];
  let orders = [];
  if (ids.length) {
    const o = await env.DB.prepare(
      "SELECT * FROM orders WHERE tenant_id = ? AND id IN (SELECT value FROM json_each(?))")
      .bind(tenant, JSON.stringify(ids)).all();
    orders = o.results.map(orderFromRow);
  }
  const present = new Set(orders.map((o) => o.id));
  const deletedOrderIds = ids.filter((i) => !present.has(i));
  return json({ cursor: String(cursor), orders, deletedOrderIds, hasMore });
}

// ---- Durable Object: one per tenant, holds the SSE writers and the hibernatable WebSockets ----
function userEntry(userId, role, connections) {
  return { userId, role, connections, viewing: [], editing: [] };
}

export class TenantHub extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    this.writers = new Set();
    this.lastSeq = "0";
    this.heartbeat = null;
    this.startedAt = new Date().toISOString();
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair("ping", "pong"));
    // After a wake: the runtime kept the sockets; presence is rebuilt from their attachments.
    this.users = new Map(); // userId -> { role, connections }
    const sockets = ctx.getWebSockets();
    this.adopted = sockets.length;
    for (const ws of sockets) {
      const a = ws.deserializeAttachment();
      if (a) this.userJoined(a.user, a.role);
    }
  }

  userJoined(user, role) {
    const u = this.users.get(user);
    if (u) {
      u.connections += 1;
      return false;
    }
    this.users.set(user, { role, connections: 1 });
    return true;
  }

  sendAll(text, except) {
    for (const ws of this.ctx.getWebSockets()) {
      if (ws === except) continue;
      try {
        ws.send(text);
      } catch {
        // gone: its close handler cleans up
      }
    }
  }

  drop(w) {
    if (this.writers.delete(w)) {
      w.abort().catch(() => {});
    }
  }

  send(w, bytes) {
    w.write(bytes).catch(() => this.drop(w));
  }

  async fetch(req) {
    const url = new URL(req.url);
    if (url.pathname === "/ws") return this.acceptSocket(url);
    const { readable, writable } = new TransformStream();
    const w = writable.getWriter();
    this.writers.add(w);
    this.send(w, enc.encode("retry: 3000\n: connected\n\n"));
    if (!this.heartbeat) {
      const secs = Number(this.env.HEARTBEAT_SECONDS || "15");
      const beat = enc.encode(": heartbeat\n\n");
      this.heartbeat = setInterval(() => {
        for (const x of this.writers) this.send(x, beat);
      }, secs * 1000);
    }
    return new Response(readable, { headers: SSE_HEADERS });
  }

  acceptSocket(url) {
    const user = url.searchParams.get("user");
    const role = url.searchParams.get("role");
    const { 0: client, 1: server } = new WebSocketPair();
    const conn = `ws-${crypto.randomUUID()}`;
    this.ctx.acceptWebSocket(server, [`user:${user}`]);
    server.serializeAttachment({ user, role, conn });
    const joined = this.userJoined(user, role);
    server.send(JSON.stringify({ type: "hello", connectionId: conn, head: this.lastSeq, position: this.lastSeq }));
    const users = [...this.users].map(([id, u]) => userEntry(id, u.role, u.connections));
    server.send(JSON.stringify({ type: "presence", users }));
    if (joined) {
      const diff = { type: "presence_diff", joins: [userEntry(user, role, 1)], leaves: [], updates: [] };
      this.sendAll(JSON.stringify(diff), server);
    }
    return new Response(null, { status: 101, webSocket: client });
  }

  webSocketMessage(_ws, _message) {
    // Clients only ping (answered by the runtime); anything else is ignored.
  }

  webSocketClose(ws, _code, _reason, _wasClean) {
    const a = ws.deserializeAttachment();
    try {
      ws.close(1000, "closed");
    } catch {
      // already closed
    }
    if (!a) return;
    const u = this.users.get(a.user);
    if (!u) return;
    u.connections -= 1;
    if (u.connections <= 0) {
      this.users.delete(a.user);
      const diff = { type: "presence_diff", joins: [], leaves: [userEntry(a.user, a.role, 0)], updates: [] };
      this.sendAll(JSON.stringify(diff), ws);
    }
  }

  webSocketError(ws, _error) {
    this.webSocketClose(ws, 1006, "", false);
  }

  async broadcast(event) {
    const frame = enc.encode(
      `id: ${event.id}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`);
    for (const w of this.writers) this.send(w, frame);
    this.sendAll(JSON.stringify({ type: "event", event }));
    this.lastSeq = event.id;
    return this.writers.size;
  }

  async stats() {
    return {
      subscribers: this.writers.size,
      websockets: this.ctx.getWebSockets().length,
      lastBroadcastSeq: this.lastSeq,
      instanceStartedAt: this.startedAt,
      adoptedSockets: this.adopted,
    };
  }
}
