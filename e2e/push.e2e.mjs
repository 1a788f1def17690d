// End-to-end test of Web Push (issue 13) in headless Chromium against the real Worker:
//
//   Worker ──POST (aes128gcm, VAPID)──▶ this test's push service on 127.0.0.1
//          ──decrypt (the browser's keys)──▶ CDP ServiceWorker.deliverPushMessage
//          ──▶ /sw.js shows the notification ──▶ registration.getNotifications() in the page
//
// Chromium cannot reach a real push service here (nothing leaves the machine), so the test
// plays the browser's push service and its decryption, and hands the plaintext to the service
// worker the way Chromium's push stack would.
//
//   scripts/with-worker.sh node e2e/push.e2e.mjs      (sets BASE_URL, ADMIN_TOKEN, VAPID_PUBLIC_KEY)
import assert from "node:assert/strict";
import crypto from "node:crypto";
import http from "node:http";
import { after, before, test } from "node:test";
import { chromium } from "playwright-core";

const BASE_URL = (process.env.BASE_URL ?? "").replace(/\/$/, "");
const ADMIN_TOKEN = process.env.ADMIN_TOKEN ?? "";
const VAPID_PUBLIC_KEY = process.env.VAPID_PUBLIC_KEY ?? "";
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

if (!BASE_URL || !ADMIN_TOKEN) {
  console.error("BASE_URL and ADMIN_TOKEN must be set (scripts/with-worker.sh sets both).");
  process.exit(2);
}

const tenant = `e2e-push-${crypto.randomBytes(4).toString("hex")}`;
let browser;
let page;
let cdp;
let pushService;
const pushes = [];
const registrations = new Map();
const versions = new Map();
// What Chromium reported about the service worker, printed when a check fails.
const serviceWorkerLog = [];
const pageErrors = [];

async function api(method, path, token, body) {
  const response = await fetch(`${BASE_URL}${path}`, {
    method,
    headers: {
      Authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { "Content-Type": "application/json" }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path} → ${response.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

const mint = async (userId) =>
  (await api("POST", `/api/admin/tenants/${tenant}/tokens`, ADMIN_TOKEN, { userId, role: "florist" }))
    .token;

/** RFC 8291 decryption, as the browser does it with its subscription keys. */
function openPush(body, ua, auth) {
  const salt = body.subarray(0, 16);
  const keyid = body.subarray(21, 86);
  const record = body.subarray(86);
  const ikm = Buffer.from(
    crypto.hkdfSync(
      "sha256",
      ua.computeSecret(keyid),
      auth,
      Buffer.concat([Buffer.from("WebPush: info\0"), ua.getPublicKey(), keyid]),
      32,
    ),
  );
  const key = (info, n) => Buffer.from(crypto.hkdfSync("sha256", ikm, salt, Buffer.from(info), n));
  const decipher = crypto.createDecipheriv(
    "aes-128-gcm",
    key("Content-Encoding: aes128gcm\0", 16),
    key("Content-Encoding: nonce\0", 12),
  );
  decipher.setAuthTag(record.subarray(record.length - 16));
  const plain = Buffer.concat([decipher.update(record.subarray(0, record.length - 16)), decipher.final()]);
  let end = plain.length - 1;
  while (end >= 0 && plain[end] === 0) end--;
  assert.equal(plain[end], 2, "the last-record delimiter");
  return plain.subarray(0, end);
}

/** Waits until `probe()` returns something truthy, and returns it (or null after `timeout`). */
async function waitFor(probe, timeout) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const value = await probe();
    if (value || Date.now() > deadline) return value || null;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The notifications the page's service worker registration is showing now. */
const shownNotifications = () =>
  page.evaluate(async () => {
    const reg = await navigator.serviceWorker.ready;
    const list = await reg.getNotifications();
    return list.map((n) => ({ title: n.title, body: n.body, tag: n.tag, data: n.data }));
  });

/** The next push the Worker sent to our push service. */
async function nextPush(timeout = 10_000) {
  const deadline = Date.now() + timeout;
  while (Date.now() < deadline) {
    const push = pushes.shift();
    if (push) return push;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error("no push arrived");
}

before(async () => {
  const sw = await fetch(`${BASE_URL}/sw.js`);
  assert.equal(sw.status, 200, "the Worker serves /sw.js");
  assert.match(sw.headers.get("content-type") ?? "", /javascript/);

  pushService = http.createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      pushes.push({ path: req.url, headers: req.headers, body: Buffer.concat(chunks) });
      res.writeHead(201).end();
    });
  });
  await new Promise((resolve) => pushService.listen(0, "127.0.0.1", resolve));

  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  const context = await browser.newContext();
  await context.grantPermissions(["notifications"], { origin: BASE_URL });
  page = await context.newPage();
  page.on("pageerror", (error) => pageErrors.push(String(error)));
  cdp = await context.newCDPSession(page);
  cdp.on("ServiceWorker.workerRegistrationUpdated", ({ registrations: list }) => {
    for (const r of list) registrations.set(r.scopeURL, r);
  });
  cdp.on("ServiceWorker.workerVersionUpdated", ({ versions: list }) => {
    for (const v of list) {
      versions.set(v.versionId, v);
      serviceWorkerLog.push(`version ${v.versionId}: ${v.status}, ${v.runningStatus}`);
    }
  });
  cdp.on("ServiceWorker.workerErrorReported", ({ errorMessage: e }) => {
    serviceWorkerLog.push(`error: ${e.errorMessage} (${e.sourceURL}:${e.lineNumber})`);
  });
  await cdp.send("ServiceWorker.enable");
  // The board page with no token (its sign-in screen): no live connection, so pushes are sent.
  await page.goto(`${BASE_URL}/`);
});

after(async () => {
  await browser?.close();
  await new Promise((resolve) => (pushService ? pushService.close(resolve) : resolve()));
  assert.deepEqual(pageErrors, [], "the page threw no uncaught errors");
});

test("the board origin registers /sw.js with scope /", async () => {
  const scope = await page.evaluate(async () => {
    await navigator.serviceWorker.register("/sw.js");
    const registration = await navigator.serviceWorker.ready;
    return registration.scope;
  });
  assert.equal(scope, `${BASE_URL}/`);
  assert.equal(await page.evaluate(() => Notification.permission), "granted");
});

test("a push from the Worker is shown by the service worker", async () => {
  await api("POST", "/api/admin/tenants", ADMIN_TOKEN, { id: tenant, name: "E2E push shop" });
  const [tokenA, tokenB] = [await mint("florist-a"), await mint("florist-b")];

  // florist-a's browser: its keys, and an endpoint at our push service.
  const ua = crypto.createECDH("prime256v1");
  ua.generateKeys();
  const auth = crypto.randomBytes(16);
  const { port } = pushService.address();
  const saved = await api("POST", `/api/tenants/${tenant}/push/subscriptions`, tokenA, {
    endpoint: `http://127.0.0.1:${port}/push/florist-a`,
    expirationTime: null,
    keys: { p256dh: ua.getPublicKey().toString("base64url"), auth: auth.toString("base64url") },
  });
  assert.deepEqual(saved.events, ["order_created", "assigned_to_me"]);
  const { publicKey } = await api("GET", "/api/push/vapid-public-key", tokenA);
  if (VAPID_PUBLIC_KEY) assert.equal(publicKey, VAPID_PUBLIC_KEY);

  // florist-b enters an order; florist-a is not on the board.
  const order = await api("POST", `/api/tenants/${tenant}/orders`, tokenB, {
    orderNumber: "#2001",
    customerName: "Grace Hopper",
    items: [{ title: "Sunflowers", quantity: 5 }],
  });
  const push = await nextPush();
  assert.equal(push.path, "/push/florist-a");
  assert.equal(push.headers["content-encoding"], "aes128gcm");
  assert.equal(push.headers.urgency, "high");
  assert.equal(push.headers.ttl, "3600");
  assert.match(push.headers.authorization, new RegExp(`^vapid t=[\\w-]+\\.[\\w-]+\\.[\\w-]+, k=${publicKey}$`));
  const data = openPush(push.body, ua, auth).toString("utf8");
  const payload = JSON.parse(data);
  assert.equal(payload.title, "New order #2001");
  assert.equal(payload.url, `/?order=${order.id}`);

  // What Chromium's push stack does with a decrypted message: a push event in /sw.js, once
  // the registration's worker is activated (a push to a worker still installing can be lost).
  const registration = registrations.get(`${BASE_URL}/`);
  assert.ok(registration, "CDP reported the registration");
  const activated = await waitFor(
    () =>
      [...versions.values()].some(
        (v) => v.registrationId === registration.registrationId && v.status === "activated",
      ),
    15_000,
  );
  assert.ok(activated, `the service worker activated\n${serviceWorkerLog.join("\n")}`);
  await cdp.send("ServiceWorker.deliverPushMessage", {
    origin: BASE_URL,
    registrationId: registration.registrationId,
    data,
  });
  // Starting a stopped service worker on a loaded machine can take seconds: wait generously.
  const shown =
    (await waitFor(async () => {
      const list = await shownNotifications();
      return list.length ? list : null;
    }, 20_000)) ?? [];
  if (!shown.length) {
    // Tell a push handler that failed from a browser that cannot show notifications at all.
    const probe = await page.evaluate(async () => {
      const reg = await navigator.serviceWorker.ready;
      try {
        await reg.showNotification("probe", { tag: "probe" });
        return `showNotification from the page works (${(await reg.getNotifications()).length} shown)`;
      } catch (error) {
        return `showNotification from the page fails too: ${error}`;
      }
    });
    serviceWorkerLog.push(probe);
  }
  assert.deepEqual(shown, [
    {
      title: "New order #2001",
      body: "Grace Hopper · 5× Sunflowers",
      tag: `order-${order.id}`,
      data: { orderId: order.id, eventId: payload.eventId, url: `/?order=${order.id}` },
    },
  ], `the notification /sw.js showed\n${serviceWorkerLog.join("\n")}`);
});
