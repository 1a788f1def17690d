// The board's Web Push helper (client/board/push.ts) against a fake browser (permission,
// service worker container, push manager) and a fake server, and the service worker
// (public/sw.js) run against a fake ServiceWorkerGlobalScope.
import { readFileSync } from "node:fs";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  base64UrlToBytes,
  disablePush,
  enablePush,
  PushError,
  pushApi,
  type PushApi,
  type PushEvent,
  pushSupported,
} from "../board/push.js";

const KEY = "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4";
const OTHER_KEY = "BP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A8";

class FakeSubscription {
  unsubscribed = false;
  constructor(
    readonly endpoint: string,
    readonly key: Uint8Array,
  ) {}
  get options() {
    return { applicationServerKey: this.key.slice().buffer, userVisibleOnly: true };
  }
  toJSON() {
    return { endpoint: this.endpoint, expirationTime: null, keys: { p256dh: "p", auth: "a" } };
  }
  async unsubscribe() {
    this.unsubscribed = true;
    browser.subscription = null;
    return true;
  }
}

/** What the fake browser did and holds. */
const browser = {
  permission: "default" as NotificationPermission,
  answer: "granted" as NotificationPermission,
  asked: 0,
  registered: [] as string[],
  subscription: null as FakeSubscription | null,
  subscribeOptions: [] as PushSubscriptionOptionsInit[],
  subscribeFails: false,
};

function installBrowser() {
  const pushManager = {
    getSubscription: async () => browser.subscription,
    subscribe: async (options: PushSubscriptionOptionsInit) => {
      if (browser.subscribeFails) throw new Error("push service unreachable");
      browser.subscribeOptions.push(options);
      browser.subscription = new FakeSubscription(
        `https://push.example/send/${browser.subscribeOptions.length}`,
        new Uint8Array(options.applicationServerKey as Uint8Array),
      );
      return browser.subscription;
    },
  };
  const registration = { pushManager };
  vi.stubGlobal("window", { isSecureContext: true, PushManager: class {}, Notification: class {} });
  vi.stubGlobal("navigator", {
    serviceWorker: {
      register: async (url: string) => {
        browser.registered.push(url);
        return registration;
      },
      ready: Promise.resolve(registration),
      getRegistration: async () => (browser.registered.length ? registration : undefined),
    },
  });
  vi.stubGlobal("Notification", {
    get permission() {
      return browser.permission;
    },
    requestPermission: async () => {
      browser.asked += 1;
      browser.permission = browser.answer;
      return browser.answer;
    },
  });
}

function fakeApi(key = KEY) {
  const saved: { subscription: PushSubscriptionJSON; events: readonly PushEvent[] }[] = [];
  const deleted: string[] = [];
  const api: PushApi = {
    vapidPublicKey: async () => key,
    saveSubscription: async (subscription, events) => {
      saved.push({ subscription, events });
    },
    deleteSubscription: async (endpoint) => {
      deleted.push(endpoint);
    },
  };
  return { api, saved, deleted };
}

beforeEach(() => {
  Object.assign(browser, {
    permission: "default",
    answer: "granted",
    asked: 0,
    registered: [],
    subscription: null,
    subscribeOptions: [],
    subscribeFails: false,
  });
  installBrowser();
});

afterEach(() => {
  vi.unstubAllGlobals();
});

describe("enablePush", () => {
  it("asks permission, registers /sw.js, subscribes with the server's key and stores it", async () => {
    const { api, saved } = fakeApi();
    const subscription = await enablePush(api, ["order_created", "note_on_my_order"]);
    expect(browser.asked).toBe(1);
    expect(browser.registered).toEqual(["/sw.js"]);
    expect(browser.subscribeOptions).toHaveLength(1);
    expect(browser.subscribeOptions[0]!.userVisibleOnly).toBe(true);
    expect([...(browser.subscribeOptions[0]!.applicationServerKey as Uint8Array)]).toEqual([
      ...base64UrlToBytes(KEY),
    ]);
    expect(saved).toEqual([
      {
        subscription: subscription.toJSON(),
        events: ["order_created", "note_on_my_order"],
      },
    ]);
  });

  it("defaults to new orders and assignments, and reuses the browser's subscription", async () => {
    const { api, saved } = fakeApi();
    await enablePush(api);
    browser.permission = "granted";
    await enablePush(api, ["status_of_my_order"]);
    expect(browser.asked).toBe(1);
    expect(browser.subscribeOptions).toHaveLength(1);
    expect(saved.map((s) => s.events)).toEqual([
      ["order_created", "assigned_to_me"],
      ["status_of_my_order"],
    ]);
    expect(saved[0]!.subscription.endpoint).toBe(saved[1]!.subscription.endpoint);
  });

  it("replaces a subscription made for another server key", async () => {
    await enablePush(fakeApi(OTHER_KEY).api);
    const old = browser.subscription!;
    const { api, saved } = fakeApi(KEY);
    await enablePush(api);
    expect(old.unsubscribed).toBe(true);
    expect(browser.subscribeOptions).toHaveLength(2);
    expect(saved[0]!.subscription.endpoint).not.toBe(old.endpoint);
  });

  it("stops when permission is refused, storing nothing", async () => {
    browser.answer = "denied";
    const { api, saved } = fakeApi();
    await expect(enablePush(api)).rejects.toMatchObject({ code: "denied" });
    expect(browser.subscribeOptions).toHaveLength(0);
    expect(saved).toHaveLength(0);
  });

  it("says so when the browser cannot, or its push service refuses", async () => {
    vi.stubGlobal("navigator", {});
    expect(pushSupported()).toBe(false);
    await expect(enablePush(fakeApi().api)).rejects.toMatchObject({ code: "unsupported" });
    installBrowser();
    expect(pushSupported()).toBe(true);
    browser.subscribeFails = true;
    const error = await enablePush(fakeApi().api).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PushError);
    expect(error).toMatchObject({ code: "subscribe_failed" });
  });
});

describe("disablePush", () => {
  it("forgets the subscription on the server and unsubscribes", async () => {
    const { api, deleted } = fakeApi();
    const subscription = await enablePush(api);
    expect(await disablePush(api)).toBe(true);
    expect(deleted).toEqual([subscription.endpoint]);
    expect(browser.subscription).toBeNull();
    expect(await disablePush(api)).toBe(false);
  });

  it("unsubscribes even when the server cannot be reached", async () => {
    const { api } = fakeApi();
    await enablePush(api);
    api.deleteSubscription = async () => {
      throw new PushError("server", "The server could not be reached.");
    };
    await expect(disablePush(api)).rejects.toMatchObject({ code: "server" });
    expect(browser.subscription).toBeNull();
  });
});

describe("pushApi", () => {
  const session = { token: "tok", tenant: "demo" };

  it("calls the documented routes with the token", async () => {
    const calls: { url: string; init: RequestInit }[] = [];
    const answers = [
      new Response(JSON.stringify({ publicKey: KEY }), { status: 200 }),
      new Response("{}", { status: 201 }),
      new Response(null, { status: 404 }),
    ];
    const api = pushApi(session, "https://board.example", async (url, init) => {
      calls.push({ url: String(url), init: init ?? {} });
      return answers.shift()!;
    });
    expect(await api.vapidPublicKey()).toBe(KEY);
    await api.saveSubscription(
      { endpoint: "https://push.example/x", keys: { p256dh: "p", auth: "a" } },
      ["assigned_to_me"],
    );
    await api.deleteSubscription("https://push.example/x?a=1&b=2");
    expect(calls.map((c) => `${c.init.method} ${c.url}`)).toEqual([
      "GET https://board.example/api/push/vapid-public-key",
      "POST https://board.example/api/tenants/demo/push/subscriptions",
      "DELETE https://board.example/api/tenants/demo/push/subscriptions?endpoint=https%3A%2F%2Fpush.example%2Fx%3Fa%3D1%26b%3D2",
    ]);
    expect(JSON.parse(String(calls[1]!.init.body))).toEqual({
      endpoint: "https://push.example/x",
      keys: { p256dh: "p", auth: "a" },
      events: ["assigned_to_me"],
    });
    expect((calls[1]!.init.headers as Record<string, string>).Authorization).toBe("Bearer tok");
  });

  it("turns the server's JSON error into a PushError", async () => {
    const api = pushApi(session, "", async () =>
      new Response(JSON.stringify({ error: { code: "too_many_subscriptions", message: "remove one" } }), {
        status: 409,
      }),
    );
    await expect(api.saveSubscription({ endpoint: "e" }, [])).rejects.toMatchObject({
      code: "server",
      message: "remove one",
    });
  });
});

// --- public/sw.js ---------------------------------------------------------------------------

type Handler = (event: Record<string, unknown>) => void;

function runServiceWorker(windows: { url: string; focus?: () => Promise<unknown> }[] = []) {
  const source = readFileSync(new URL("../../public/sw.js", import.meta.url), "utf8");
  const handlers = new Map<string, Handler>();
  const shown: { title: string; options: NotificationOptions }[] = [];
  const opened: string[] = [];
  const posted: unknown[] = [];
  const self = {
    location: { origin: "https://board.example" },
    addEventListener: (type: string, handler: Handler) => handlers.set(type, handler),
    skipWaiting: () => Promise.resolve(),
    registration: {
      showNotification: async (title: string, options: NotificationOptions) => {
        shown.push({ title, options });
      },
    },
    clients: {
      claim: () => Promise.resolve(),
      matchAll: async () =>
        windows.map((w) => ({ ...w, postMessage: (m: unknown) => posted.push(m) })),
      openWindow: async (url: string) => {
        opened.push(url);
        return null;
      },
    },
  };
  new Function("self", source)(self);
  /** Dispatches an event and waits for what it asked to wait for. */
  const dispatch = async (type: string, event: Record<string, unknown>) => {
    let pending: Promise<unknown> = Promise.resolve();
    handlers.get(type)?.({ ...event, waitUntil: (p: Promise<unknown>) => (pending = p) });
    await pending;
  };
  return { dispatch, shown, opened, posted, handlers };
}

const pushData = (value: unknown) => ({
  json: () => (typeof value === "string" ? JSON.parse(value) : value),
});

describe("the service worker", () => {
  it("shows the pushed notification, one per order", async () => {
    const sw = runServiceWorker();
    await sw.dispatch("push", {
      data: pushData({
        title: "Order #1001 is assigned to you",
        body: "Emma Clarke · 12× Pink roses",
        orderId: "o-1",
        eventId: "42",
        url: "/?order=o-1",
      }),
    });
    expect(sw.shown).toEqual([
      {
        title: "Order #1001 is assigned to you",
        options: {
          body: "Emma Clarke · 12× Pink roses",
          tag: "order-o-1",
          renotify: true,
          data: { orderId: "o-1", eventId: "42", url: "/?order=o-1" },
        },
      },
    ]);
  });

  it("shows something even for an unreadable push, and never links off the board", async () => {
    const sw = runServiceWorker();
    await sw.dispatch("push", { data: pushData("{not json") });
    await sw.dispatch("push", { data: null });
    await sw.dispatch("push", { data: pushData({ title: "x", url: "https://evil.example/" }) });
    await sw.dispatch("push", { data: pushData({ title: "y", url: "//evil.example/" }) });
    expect(sw.shown.map((s) => s.title)).toEqual(["Order board", "Order board", "x", "y"]);
    expect(sw.shown.map((s) => (s.options.data as { url: string }).url)).toEqual(["/", "/", "/", "/"]);
  });

  it("a click focuses an open board tab and tells it the order", async () => {
    let focused = 0;
    const sw = runServiceWorker([
      { url: "https://board.example/", focus: async () => (focused += 1) },
    ]);
    let closed = false;
    await sw.dispatch("notificationclick", {
      notification: { data: { orderId: "o-1", url: "/?order=o-1" }, close: () => (closed = true) },
    });
    expect(closed).toBe(true);
    expect(focused).toBe(1);
    expect(sw.posted).toEqual([
      { type: "open-order", orderId: "o-1", url: "https://board.example/?order=o-1" },
    ]);
    expect(sw.opened).toEqual([]);
  });

  it("a click with no board open opens /?order=<id>", async () => {
    const sw = runServiceWorker();
    await sw.dispatch("notificationclick", {
      notification: { data: { orderId: "o-1", url: "/?order=o-1" }, close: () => {} },
    });
    expect(sw.opened).toEqual(["https://board.example/?order=o-1"]);
  });
});
