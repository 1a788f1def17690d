// The tenant hub hibernates while only idle WebSockets are open, and a broadcast after it wakes
// reaches every socket. Run against a fresh Worker with a long heartbeat (so nothing but the
// sockets keeps the object): HEARTBEAT_SECONDS=120 scripts/with-worker.sh node --experimental-websocket …
import assert from "node:assert/strict";
import { test } from "node:test";

const BASE = process.env.BASE_URL;
const ADMIN = process.env.ADMIN_TOKEN;
const SOCKETS = Number(process.env.SOCKETS ?? 50);
/** workerd evicts an idle object with hibernatable sockets after about 10 s. */
const IDLE_MS = Number(process.env.IDLE_MS ?? 20000);

async function call(path, token, body) {
  const res = await fetch(BASE + path, {
    method: body ? "POST" : "GET",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: body ? JSON.stringify(body) : undefined,
  });
  assert.ok(res.ok, `${path}: ${res.status}`);
  return res.json();
}

test(`the hub sleeps with ${SOCKETS} idle sockets and reaches all of them after waking`, { timeout: IDLE_MS + 30000 }, async () => {
  const tenant = `hib-${Date.now()}`;
  await call("/api/admin/tenants", ADMIN, { id: tenant, name: "Hibernation" });
  // Ten sockets per user (a user may hold 20).
  const tokens = [];
  for (let u = 0; u < Math.ceil(SOCKETS / 10); u++) {
    const { token } = await call(`/api/admin/tenants/${tenant}/tokens`, ADMIN, { userId: `florist-${u}`, role: "manager" });
    tokens.push(token);
  }
  const token = tokens[0];
  const received = new Array(SOCKETS).fill(0);
  const sockets = [];
  for (let i = 0; i < SOCKETS; i++) {
    const ws = new WebSocket(`${BASE.replace(/^http/, "ws")}/api/tenants/${tenant}/realtime/ws?access_token=${tokens[Math.floor(i / 10)]}`);
    ws.onmessage = (m) => {
      if (JSON.parse(m.data).type === "event") received[i] += 1;
    };
    await new Promise((resolve, reject) => {
      ws.onopen = resolve;
      ws.onerror = reject;
    });
    sockets.push(ws);
  }
  const stats = () => call(`/api/tenants/${tenant}/realtime/stats`, token);
  const before = await stats();
  assert.equal(before.websockets, SOCKETS);

  await new Promise((resolve) => setTimeout(resolve, IDLE_MS));
  await call(`/api/tenants/${tenant}/orders`, token, { customerName: "Ada", items: [{ title: "Roses", quantity: 3 }] });
  const deadline = Date.now() + 10000;
  while (received.some((n) => n < 1) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const after = await stats();
  assert.notEqual(after.instanceStartedAt, before.instanceStartedAt, "the object was evicted and constructed again");
  assert.equal(after.adoptedSockets, SOCKETS, "the woken object took every socket back");
  assert.deepEqual(received.filter((n) => n !== 1).length, 0, `every socket got the event once: ${received.join(",")}`);
  for (const ws of sockets) ws.close(1000);
});
