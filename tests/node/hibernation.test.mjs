// The tenant hub hibernates while only idle WebSockets are open, and a broadcast after it wakes
// reaches every socket, exactly once: the events sent before the sleep are not sent again (the
// hub stores its broadcast position shortly after each burst and starts from it after a wake). Run against a fresh Worker with a long heartbeat (so nothing but the
// sockets keeps the object): HEARTBEAT_SECONDS=120 scripts/with-worker.sh node --experimental-websocket …
// The second test uses that long heartbeat too: a change reaches a live SSE stream by its publish.
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

test(`the hub sleeps with ${SOCKETS} idle sockets and reaches all of them after waking, with no event twice`, { timeout: IDLE_MS + 40000 }, async (t) => {
  const tenant = `hib-${Date.now()}`;
  await call("/api/admin/tenants", ADMIN, { id: tenant, name: "Hibernation" });
  // Ten sockets per user (a user may hold 20).
  const tokens = [];
  for (let u = 0; u < Math.ceil(SOCKETS / 10); u++) {
    const { token } = await call(`/api/admin/tenants/${tenant}/tokens`, ADMIN, { userId: `florist-${u}`, role: "manager" });
    tokens.push(token);
  }
  const token = tokens[0];
  const received = Array.from({ length: SOCKETS }, () => []);
  const sockets = [];
  // Closed whether the test passes or not (an open socket would keep the test process alive).
  t.after(() => {
    for (const ws of sockets) ws.close(1000);
  });
  for (let i = 0; i < SOCKETS; i++) {
    const ws = new WebSocket(`${BASE.replace(/^http/, "ws")}/api/tenants/${tenant}/realtime/ws?access_token=${tokens[Math.floor(i / 10)]}`);
    ws.onmessage = (m) => {
      const frame = JSON.parse(m.data);
      if (frame.type === "event") received[i].push(Number(frame.event.id));
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

  const order = (name) =>
    call(`/api/tenants/${tenant}/orders`, token, { customerName: name, items: [{ title: "Roses", quantity: 3 }] });
  const everySocketHas = async (count) => {
    const deadline = Date.now() + 10000;
    while (received.some((ids) => ids.length < count) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };
  // A burst while awake, then the sleep, then one more order.
  await Promise.all(["Ada", "Grace", "Hedy"].map(order));
  await everySocketHas(3);
  await new Promise((resolve) => setTimeout(resolve, IDLE_MS));
  await order("Radia");
  await everySocketHas(4);
  await new Promise((resolve) => setTimeout(resolve, 500)); // room for a duplicate to show
  const after = await stats();
  assert.notEqual(after.instanceStartedAt, before.instanceStartedAt, "the object was evicted and constructed again");
  assert.equal(after.adoptedSockets, SOCKETS, "the woken object took every socket back");
  const wrong = received.map((ids, i) => [i, ids.join(",")]).filter(([, ids]) => ids !== "1,2,3,4");
  assert.deepEqual(wrong, [], "every socket got events 1–4 once each, in order (socket, event ids)");
});

// With this file's 120 s heartbeat nothing but a change's publish can bring it to a live stream
// within seconds (the hub's gap fill from the log runs at heartbeats). The integration tests run
// with a 1 s heartbeat, where that fill would hide a publish that never arrives.
test("an SSE subscriber gets each change from its publish, in order, without waiting for a heartbeat", { timeout: 30000 }, async (t) => {
  const tenant = `pub-${Date.now()}`;
  await call("/api/admin/tenants", ADMIN, { id: tenant, name: "Publish" });
  const { token } = await call(`/api/admin/tenants/${tenant}/tokens`, ADMIN, { userId: "florist-a", role: "florist" });
  const abort = new AbortController();
  t.after(() => abort.abort());
  const res = await fetch(`${BASE}/api/tenants/${tenant}/realtime/orders`, {
    headers: { authorization: `Bearer ${token}`, accept: "text/event-stream" },
    signal: abort.signal,
  });
  assert.equal(res.status, 200);
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = "";
  /** The next complete frame (up to a blank line), or a failure after `ms`. */
  const nextFrame = async (ms) => {
    const deadline = Date.now() + ms;
    while (!buffered.includes("\n\n")) {
      const left = deadline - Date.now();
      assert.ok(left > 0, `no frame within ${ms} ms`);
      const { value, done } = await Promise.race([
        reader.read(),
        new Promise((_, reject) => setTimeout(() => reject(new Error(`no frame within ${ms} ms`)), left)),
      ]);
      assert.ok(!done, "the stream ended");
      buffered += value;
    }
    const end = buffered.indexOf("\n\n");
    const frame = buffered.slice(0, end);
    buffered = buffered.slice(end + 2);
    return frame;
  };
  assert.match(await nextFrame(5000), /: connected/);
  const names = ["Ada", "Grace", "Hedy"];
  for (const name of names) {
    await call(`/api/tenants/${tenant}/orders`, token, { customerName: name, items: [{ title: "Tulips", quantity: 5 }] });
  }
  const got = [];
  for (let i = 0; i < names.length; i++) {
    const frame = await nextFrame(5000);
    const data = JSON.parse(frame.split("\n").find((l) => l.startsWith("data: ")).slice(6));
    got.push([frame.match(/^id: (\d+)$/m)?.[1], frame.match(/^event: (.+)$/m)?.[1], data.order.customerName]);
  }
  assert.deepEqual(got, [
    ["1", "order_created", "Ada"],
    ["2", "order_created", "Grace"],
    ["3", "order_created", "Hedy"],
  ]);
});
