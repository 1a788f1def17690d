import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  backoffDelay,
  RealtimeClient,
  type OrderEvent,
  type RealtimeClientOptions,
  type RealtimeMode,
} from "../src/realtimeClient.js";
import { FakeEventSource, FakePollServer, FakeWebSocket, order, orderEvent } from "./fakes.js";

let server: FakePollServer;
let clients: RealtimeClient[];

beforeEach(() => {
  vi.useFakeTimers();
  vi.setSystemTime(new Date("2026-11-24T10:00:00.000Z"));
  FakeEventSource.reset();
  FakeWebSocket.reset();
  server = new FakePollServer();
  clients = [];
});

afterEach(() => {
  for (const client of clients) client.close();
  vi.useRealTimers();
});

/**
 * A client that records what the app would observe. Its jitter source returns 1, so each
 * backoff is the top of its window (1 s, 2 s, 4 s, … capped), unless a test passes `random`.
 */
function start(options: Partial<RealtimeClientOptions> = {}) {
  const seen = {
    updates: [] as OrderEvent[],
    modes: [] as RealtimeMode[],
    resyncs: 0,
    errors: [] as number[],
    logs: [] as unknown[][],
  };
  const client = new RealtimeClient({
    tenant: "demo",
    token: "jwt-1",
    baseUrl: "https://board.example",
    EventSource: FakeEventSource,
    WebSocket: FakeWebSocket,
    fetch: server.fetch,
    random: () => 1,
    logger: { log: (...args: unknown[]) => seen.logs.push(args) },
    onUpdate: (event) => seen.updates.push(event),
    onResync: () => (seen.resyncs += 1),
    onError: (error) => seen.errors.push(error.status),
    onStateChange: (state) => {
      if (seen.modes.at(-1) !== state.mode) seen.modes.push(state.mode);
    },
    ...options,
  });
  clients.push(client);
  return { client, seen, ids: () => seen.updates.map((u) => u.id) };
}

const settle = () => vi.advanceTimersByTimeAsync(0);

describe("the SSE stream", () => {
  it("opens the tenant's stream with the token and reports Live only once it is open", () => {
    const { client } = start();
    expect(FakeEventSource.instances).toHaveLength(1);
    const url = new URL(FakeEventSource.latest.url);
    expect(url.pathname).toBe("/api/tenants/demo/realtime/orders");
    expect(url.searchParams.get("access_token")).toBe("jwt-1");
    expect(url.searchParams.has("lastEventId")).toBe(false);
    expect(client.isConnected).toBe(false);

    FakeEventSource.latest.open();
    expect(client.isConnected).toBe(true);
    expect(client.mode).toBe("sse");
  });

  it("asks the app to load its list when a stream without a cursor opens", () => {
    const { seen } = start();
    FakeEventSource.latest.open();
    expect(seen.resyncs).toBe(1);
  });

  it("delivers events once, in order, and counts them", () => {
    const { client, ids } = start();
    const stream = FakeEventSource.latest;
    stream.open();
    stream.sendEvent(orderEvent(1, "o1", 1));
    stream.sendEvent(orderEvent(2, "o1", 2));
    stream.sendEvent(orderEvent(2, "o1", 2));
    stream.sendEvent(orderEvent(3, "o2", 1));

    expect(ids()).toEqual(["1", "2", "3"]);
    expect(client.updateCount).toBe(3);
    expect(client.lastSeq).toBe("3");
  });

  it("compares sequence numbers as numbers, not text", () => {
    const { ids } = start({ lastSeq: "9" });
    const stream = FakeEventSource.latest;
    stream.open();
    stream.sendEvent(orderEvent(10, "o1", 2));
    stream.sendEvent(orderEvent(9, "o1", 1));
    expect(ids()).toEqual(["10"]);
  });

  it("reconnects with growing delays and resumes after the last seq", async () => {
    const { client, seen, ids } = start();
    FakeEventSource.latest.open();
    FakeEventSource.latest.sendEvent(orderEvent(1, "o1", 1));
    FakeEventSource.latest.sendEvent(orderEvent(2, "o1", 2));

    FakeEventSource.latest.fail();
    expect(client.isConnected).toBe(false);
    expect(client.mode).toBe("offline");
    expect(FakeEventSource.instances[0]!.closed).toBe(true);

    await vi.advanceTimersByTimeAsync(999);
    expect(FakeEventSource.instances).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(FakeEventSource.instances).toHaveLength(2);
    expect(FakeEventSource.latest.lastEventIdParam).toBe("2");

    FakeEventSource.latest.fail(); // second failure in a row: wait twice as long
    await vi.advanceTimersByTimeAsync(1999);
    expect(FakeEventSource.instances).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(1);
    expect(FakeEventSource.instances).toHaveLength(3);

    const resumed = FakeEventSource.latest;
    resumed.open();
    resumed.sendEvent(orderEvent(2, "o1", 2)); // replayed by an overlapping server: dropped
    resumed.sendEvent(orderEvent(3, "o1", 3));
    expect(ids()).toEqual(["1", "2", "3"]);
    expect(client.isConnected).toBe(true);
    expect(seen.resyncs).toBe(1); // only for the first, cursor-less stream
    expect(server.requests).toHaveLength(0); // two errors in a row are not enough to poll
  });

  it("handles resync by asking the app to refetch and resuming from the new cursor", async () => {
    const { client, seen } = start({ lastSeq: "5" });
    const stream = FakeEventSource.latest;
    expect(stream.lastEventIdParam).toBe("5");
    stream.open();
    expect(seen.resyncs).toBe(0);

    stream.send("resync", "40", { cursor: "40" });
    expect(seen.resyncs).toBe(1);
    expect(seen.updates).toHaveLength(0);
    expect(client.updateCount).toBe(0);

    stream.sendEvent(orderEvent(40, "o1", 3)); // already in the refetched list
    stream.sendEvent(orderEvent(41, "o1", 4));
    expect(seen.updates.map((u) => u.id)).toEqual(["41"]);

    stream.fail();
    await vi.advanceTimersByTimeAsync(1000);
    expect(FakeEventSource.latest.lastEventIdParam).toBe("41");
  });
});

describe("the polling fallback", () => {
  it("starts after three stream errors in a row and polls every pollInterval", async () => {
    const { client, seen, ids } = start({ pollInterval: 3000 });
    FakeEventSource.latest.open();
    FakeEventSource.latest.sendEvent(orderEvent(7, "o1", 2));

    FakeEventSource.latest.fail();
    await vi.advanceTimersByTimeAsync(1000);
    FakeEventSource.latest.fail();
    await vi.advanceTimersByTimeAsync(2000);
    expect(server.requests).toHaveLength(0);
    FakeEventSource.latest.fail();

    expect(client.mode).toBe("polling");
    expect(client.isConnected).toBe(false);
    expect(server.requests).toHaveLength(1);
    const first = server.requests[0]!;
    expect(first.url.pathname).toBe("/api/tenants/demo/orders/realtime-status");
    expect(first.url.searchParams.get("since")).toBe("7");
    expect(first.authorization).toBe("Bearer jwt-1");

    server.answer({ cursor: "9", orders: [order("o1", 4), order("o2", 1)], deletedOrderIds: ["o3"] });
    await settle();
    expect(seen.updates.slice(1).map((u) => [u.type, u.orderId])).toEqual([
      ["order_updated", "o1"],
      ["order_created", "o2"],
      ["order_deleted", "o3"],
    ]);
    expect(ids()).toEqual(["7", "9", "9", "9"]);
    expect(client.updateCount).toBe(4);

    await vi.advanceTimersByTimeAsync(2999);
    expect(server.requests).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(server.sinceValues).toEqual(["7", "9"]);
    expect(seen.modes).toEqual(["sse", "offline", "polling"]);
  });

  it("follows hasMore at once", async () => {
    const { ids } = start({ EventSource: null, lastSeq: "1" });
    server.answer({ cursor: "200", orders: [order("o1", 2)], hasMore: true });
    server.answer({ cursor: "250", orders: [order("o2", 2)], hasMore: false });
    await settle();
    await settle();
    expect(server.sinceValues).toEqual(["1", "200"]);
    expect(ids()).toEqual(["200", "250"]);
  });

  it("goes back to the stream when it opens again, resuming from the poll's cursor", async () => {
    const { client, seen, ids } = start({ maxStreamErrors: 1 });
    FakeEventSource.latest.fail();
    expect(client.mode).toBe("polling");
    server.answer({ cursor: "12", orders: [order("o1", 3)] });
    await settle();

    await vi.advanceTimersByTimeAsync(1000); // background reconnect
    const stream = FakeEventSource.latest;
    expect(FakeEventSource.instances).toHaveLength(2);
    expect(stream.lastEventIdParam).toBe("12");
    stream.open();
    expect(client.mode).toBe("sse");
    expect(client.isConnected).toBe(true);

    const pollsBefore = server.requests.length;
    await vi.advanceTimersByTimeAsync(10_000);
    expect(server.requests).toHaveLength(pollsBefore); // polling stopped

    stream.sendEvent(orderEvent(12, "o1", 3)); // seen by both paths
    stream.sendEvent(orderEvent(13, "o1", 4));
    expect(ids()).toEqual(["12", "13"]);
    expect(seen.modes).toEqual(["polling", "sse"]);
  });

  it("keeps trying the stream in the background with a capped delay", async () => {
    start({ maxStreamErrors: 1, maxReconnectDelay: 4000 });
    for (let i = 0; i < 5; i += 1) {
      FakeEventSource.latest.fail();
      await vi.advanceTimersByTimeAsync(4000);
    }
    expect(FakeEventSource.instances).toHaveLength(6);
  });

  it("drops a poll answer that raced with the stream and asks again from the new cursor", async () => {
    const { ids } = start({ maxStreamErrors: 1, lastSeq: "3" });
    FakeEventSource.latest.fail(); // poll since=3 goes out and waits

    await vi.advanceTimersByTimeAsync(1000);
    const stream = FakeEventSource.latest;
    stream.sendEvent(orderEvent(4, "o1", 2)); // delivered before the stream even reports open
    server.answer({ cursor: "4", orders: [order("o1", 2)] }); // the same change, by polling
    await settle();
    expect(ids()).toEqual(["4"]);
    expect(server.sinceValues).toEqual(["3", "4"]);
  });

  it("polls at once when EventSource is unavailable, starting from the client's start time", async () => {
    const { client, ids } = start({ EventSource: null });
    expect(FakeEventSource.instances).toHaveLength(0);
    expect(client.mode).toBe("polling");
    expect(server.sinceValues).toEqual(["2026-11-24T10:00:00.000Z"]);
    server.answer({ cursor: "30", orders: [order("o1", 2)] });
    await settle();
    await vi.advanceTimersByTimeAsync(3000);
    expect(server.sinceValues).toEqual(["2026-11-24T10:00:00.000Z", "30"]);
    expect(ids()).toEqual(["30"]);
  });

  it("reports a failed poll as offline and recovers on the next good one", async () => {
    const { client, seen } = start({ EventSource: null, lastSeq: "1" });
    server.answer({ cursor: "1", status: 503 });
    await settle();
    expect(client.mode).toBe("offline");
    expect(seen.errors).toEqual([503]);
    server.answer({ cursor: "2", orders: [order("o1", 2)] });
    await vi.advanceTimersByTimeAsync(3000);
    expect(client.mode).toBe("polling");
    expect(client.updateCount).toBe(1);
  });
});

describe("the heartbeat watchdog", () => {
  it("takes a stream silent for 2.5 heartbeats as dead: closes it, polls at once, reconnects", async () => {
    const { client, seen } = start({ heartbeatMs: 1000, lastSeq: "5" });
    const stream = FakeEventSource.latest;
    stream.open();
    await vi.advanceTimersByTimeAsync(2000);
    stream.heartbeat(); // a sign of life: the next 2.5 s start now
    await vi.advanceTimersByTimeAsync(2499);
    expect(stream.closed).toBe(false);
    expect(client.isConnected).toBe(true);
    expect(server.requests).toHaveLength(0);

    await vi.advanceTimersByTimeAsync(1);
    expect(stream.closed).toBe(true);
    expect(client.isConnected).toBe(false);
    expect(client.mode).toBe("polling");
    expect(server.sinceValues).toEqual(["5"]); // at once, though maxStreamErrors is 3

    await vi.advanceTimersByTimeAsync(1000); // the reconnect, first backoff window
    expect(FakeEventSource.instances).toHaveLength(2);
    expect(FakeEventSource.latest.lastEventIdParam).toBe("5");
    FakeEventSource.latest.open();
    expect(client.mode).toBe("sse");
    expect(seen.modes).toEqual(["sse", "polling", "sse"]);
  });

  it("counts every event as a sign of life", async () => {
    const { ids } = start({ heartbeatMs: 1000 });
    FakeEventSource.latest.open();
    for (let seq = 1; seq <= 10; seq += 1) {
      await vi.advanceTimersByTimeAsync(2000);
      FakeEventSource.latest.sendEvent(orderEvent(seq, "o1", seq));
    }
    expect(FakeEventSource.instances).toHaveLength(1);
    expect(FakeEventSource.latest.closed).toBe(false);
    expect(server.requests).toHaveLength(0);
    expect(ids()).toHaveLength(10);
  });

  it("takes a stream that never opens as dead too", async () => {
    const { client } = start({ heartbeatMs: 1000 });
    await vi.advanceTimersByTimeAsync(2500);
    expect(FakeEventSource.latest.closed).toBe(true);
    expect(client.mode).toBe("polling");
    expect(server.requests).toHaveLength(1);
  });

  it("is off with heartbeatMs: 0", async () => {
    start({ heartbeatMs: 0 });
    FakeEventSource.latest.open();
    await vi.advanceTimersByTimeAsync(3_600_000);
    expect(FakeEventSource.latest.closed).toBe(false);
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe("failures in a row", () => {
  it("are kept when a stream opens and dies before it was healthy, so polling still starts", async () => {
    const { client } = start(); // healthyAfterMs 10 s, maxStreamErrors 3
    for (const backoff of [1000, 2000]) {
      FakeEventSource.latest.open();
      await vi.advanceTimersByTimeAsync(5000);
      FakeEventSource.latest.fail();
      expect(server.requests).toHaveLength(0);
      const streams = FakeEventSource.instances.length;
      await vi.advanceTimersByTimeAsync(backoff - 1); // the window keeps growing
      expect(FakeEventSource.instances).toHaveLength(streams);
      await vi.advanceTimersByTimeAsync(1);
      expect(FakeEventSource.instances).toHaveLength(streams + 1);
    }
    FakeEventSource.latest.open();
    await vi.advanceTimersByTimeAsync(5000);
    FakeEventSource.latest.fail();
    expect(client.mode).toBe("polling");
    expect(server.requests).toHaveLength(1);
  });

  it.each([
    { openFor: 9_999, mode: "polling", polls: 1, backoff: 4000 },
    { openFor: 10_000, mode: "offline", polls: 0, backoff: 1000 },
  ])(
    "are forgotten only after healthyAfterMs open (open $openFor ms → $mode)",
    async ({ openFor, mode, polls, backoff }) => {
      const { client } = start({ healthyAfterMs: 10_000 });
      FakeEventSource.latest.fail();
      await vi.advanceTimersByTimeAsync(1000);
      FakeEventSource.latest.fail();
      await vi.advanceTimersByTimeAsync(2000);
      FakeEventSource.latest.open();
      await vi.advanceTimersByTimeAsync(openFor);
      FakeEventSource.latest.fail();
      expect(client.mode).toBe(mode);
      expect(server.requests).toHaveLength(polls);
      await vi.advanceTimersByTimeAsync(backoff - 1);
      expect(FakeEventSource.instances).toHaveLength(3);
      await vi.advanceTimersByTimeAsync(1);
      expect(FakeEventSource.instances).toHaveLength(4);
    },
  );
});

describe("backoff with full jitter", () => {
  it("draws each delay from [0, min(cap, base·2^(n−1))]", () => {
    for (let n = 1; n <= 12; n += 1) {
      const ceiling = Math.min(10_000, 1000 * 2 ** (n - 1));
      expect(backoffDelay(n, 1000, 10_000, () => 0)).toBe(0);
      expect(backoffDelay(n, 1000, 10_000, () => 0.5)).toBe(ceiling / 2);
      expect(backoffDelay(n, 1000, 10_000, () => 1)).toBe(ceiling);
      expect(backoffDelay(n, 1000, 10_000, () => 7)).toBe(ceiling); // clamped to the window
      expect(backoffDelay(n, 1000, 10_000, () => -1)).toBe(0);
    }
  });

  it("waits the delay the injected random function picks, for every reconnect", async () => {
    const draws = [0.25, 0.5, 0.75, 0];
    const random = vi.fn(() => draws.shift()!);
    start({ random, maxStreamErrors: 10 });
    // 0.25 × 1 s, 0.5 × 2 s, 0.75 × 4 s, 0 × 8 s
    for (const [attempt, delay] of [250, 1000, 3000, 0].entries()) {
      FakeEventSource.latest.fail();
      if (delay > 0) {
        await vi.advanceTimersByTimeAsync(delay - 1);
        expect(FakeEventSource.instances).toHaveLength(attempt + 1);
      }
      await vi.advanceTimersByTimeAsync(delay > 0 ? 1 : 0);
      expect(FakeEventSource.instances).toHaveLength(attempt + 2);
    }
    expect(random).toHaveBeenCalledTimes(4);
  });
});

describe("one cursor across transports", () => {
  it("delivers each event once and in order, whichever transport brings it", async () => {
    const { client, seen, ids } = start({
      transports: ["ws", "sse", "polling"],
      maxStreamErrors: 1,
    });
    expect(FakeEventSource.instances).toHaveLength(0);
    const ws = FakeWebSocket.latest;
    ws.open("2"); // no cursor yet: start at the head the server names
    expect(client.lastSeq).toBe("2");
    ws.sendEvent(orderEvent(2, "o1", 2)); // already in the list the app reloads: dropped
    ws.sendEvent(orderEvent(3, "o1", 3));
    ws.sendEvent(orderEvent(4, "o2", 1));

    ws.drop(); // next stream: SSE; meanwhile, polling
    expect(client.mode).toBe("polling");
    expect(server.sinceValues).toEqual(["4"]);
    server.answer({ cursor: "6", orders: [order("o1", 5)] }); // covers 5 and 6
    await settle();

    await vi.advanceTimersByTimeAsync(1000);
    const sse = FakeEventSource.latest;
    expect(sse.lastEventIdParam).toBe("6");
    sse.open();
    sse.sendEvent(orderEvent(5, "o1", 4)); // before the cursor: dropped
    sse.sendEvent(orderEvent(6, "o1", 5)); // seen by polling: dropped
    sse.sendEvent(orderEvent(7, "o2", 2));

    sse.fail(); // next stream: WebSocket again
    expect(server.sinceValues).toEqual(["4", "7"]);
    await vi.advanceTimersByTimeAsync(2000);
    const ws2 = FakeWebSocket.latest;
    expect(ws2).not.toBe(ws);
    ws2.open("9");
    expect(ws2.sent).toEqual([{ type: "resume", after: "7" }]);
    ws2.sendEvent(orderEvent(7, "o2", 2));
    ws2.sendEvent(orderEvent(8, "o3", 1));

    expect(ids()).toEqual(["3", "4", "6", "7", "8"]);
    expect(seen.updates.map((u) => u.synthetic === true)).toEqual([false, false, true, false, false]);
    expect(client.updateCount).toBe(5);
    expect(seen.resyncs).toBe(1); // only for the first, cursor-less connection
  });
});

describe("the WebSocket transport", () => {
  it("is used only when `transports` names it", () => {
    start();
    expect(FakeWebSocket.instances).toHaveLength(0);
    expect(FakeEventSource.instances).toHaveLength(1);
  });

  it("connects to /realtime/ws over wss and is connected once the server says hello", () => {
    const { client, seen } = start({ transports: ["ws", "polling"] });
    const ws = FakeWebSocket.latest;
    expect(ws.url).toBe("wss://board.example/api/tenants/demo/realtime/ws?access_token=jwt-1");
    ws.onopen?.(new Event("open"));
    expect(client.isConnected).toBe(false);
    expect(ws.sent).toEqual([]); // no cursor: nothing to resume
    ws.frame({ type: "hello", connectionId: "c1", head: "41" });
    expect(client.isConnected).toBe(true);
    expect(client.mode).toBe("ws");
    expect(seen.resyncs).toBe(1);
    expect(seen.logs).toContainEqual(["Real-time connection established"]);
  });

  it("sends resume with the cursor as soon as the socket opens", () => {
    const { seen } = start({ transports: ["ws"], lastSeq: "5" });
    FakeWebSocket.latest.open("9");
    expect(FakeWebSocket.latest.sent).toEqual([{ type: "resume", after: "5" }]);
    expect(seen.resyncs).toBe(0);
  });

  it("applies a resync frame, keeps the socket on an error frame, and retries after a close", async () => {
    const { client, seen, ids } = start({ transports: ["ws"], lastSeq: "5" });
    const ws = FakeWebSocket.latest;
    ws.open("5");
    ws.frame({ type: "resync", cursor: "90" });
    expect(client.lastSeq).toBe("90");
    expect(seen.resyncs).toBe(1);
    ws.sendEvent(orderEvent(91, "o1", 2));
    expect(ids()).toEqual(["91"]);

    // The server could not use a frame of ours: the socket stays open (docs/API.md).
    ws.frame({ type: "error", code: "invalid_message", message: "…" });
    expect(ws.closed).toBe(false);
    expect(client.isConnected).toBe(true);

    ws.drop();
    expect(ws.closed).toBe(true);
    expect(client.isConnected).toBe(false);
    expect(client.mode).toBe("offline"); // polling is not among the transports
    await vi.advanceTimersByTimeAsync(1000);
    expect(FakeWebSocket.instances).toHaveLength(2);
    FakeWebSocket.latest.open("91");
    expect(FakeWebSocket.latest.sent).toEqual([{ type: "resume", after: "91" }]);
    expect(server.requests).toHaveLength(0);
  });

  it("counts heartbeat, presence and typing frames as signs of life", async () => {
    start({ transports: ["ws", "polling"], heartbeatMs: 1000 });
    FakeWebSocket.latest.open("1");
    for (const type of ["heartbeat", "presence", "presence_diff", "typing", "heartbeat"]) {
      await vi.advanceTimersByTimeAsync(2000);
      FakeWebSocket.latest.frame({ type });
    }
    expect(FakeWebSocket.latest.closed).toBe(false);
    await vi.advanceTimersByTimeAsync(2500);
    expect(FakeWebSocket.latest.closed).toBe(true);
    expect(server.requests).toHaveLength(1);
  });

  it("falls back to polling at once when a socket cannot even be made", () => {
    // No page and a relative base URL: there is no ws:// address to open.
    const { client } = start({ transports: ["ws", "polling"], baseUrl: "" });
    expect(FakeWebSocket.instances).toHaveLength(0);
    expect(client.mode).toBe("polling");
    expect(server.requests).toHaveLength(1);
  });
});

describe("console messages", () => {
  it("logs the connection, each update and each poll", async () => {
    const { seen } = start({ maxStreamErrors: 1 });
    FakeEventSource.latest.open();
    const event = orderEvent(1, "o1", 1);
    FakeEventSource.latest.sendEvent(event);
    FakeEventSource.latest.fail();
    server.answer({ cursor: "1" });
    await vi.advanceTimersByTimeAsync(500);
    expect(seen.logs).toEqual([
      ["Real-time connection established"],
      ["Real-time update received:", event],
      ["Polling for updates..."],
    ]);
    await vi.advanceTimersByTimeAsync(500); // the stream is tried again and opens
    FakeEventSource.latest.open();
    expect(seen.logs.at(-1)).toEqual(["Real-time connection established"]);
  });

  it("go to console.log by default and nowhere with logger: null", () => {
    const log = vi.spyOn(console, "log").mockImplementation(() => {});
    try {
      start({ logger: undefined, EventSource: null });
      expect(log).toHaveBeenCalledWith("Polling for updates...");
      log.mockClear();
      start({ logger: null, EventSource: null });
      expect(log).not.toHaveBeenCalled();
    } finally {
      log.mockRestore();
    }
  });
});

describe("close()", () => {
  it("stops the stream, the polling and every timer, and delivers nothing afterwards", async () => {
    const { client, seen } = start({ maxStreamErrors: 1 });
    const first = FakeEventSource.latest;
    first.fail(); // now polling, with a reconnect pending
    expect(server.requests).toHaveLength(1);

    client.close();
    expect(client.mode).toBe("offline");
    expect(client.isConnected).toBe(false);
    expect(vi.getTimerCount()).toBe(0);
    server.answer({ cursor: "5", orders: [order("o1", 2)] });
    await vi.advanceTimersByTimeAsync(60_000);

    expect(FakeEventSource.instances).toHaveLength(1);
    expect(server.requests).toHaveLength(1);
    expect(seen.updates).toHaveLength(0);
    first.sendEvent(orderEvent(6, "o1", 3));
    expect(seen.updates).toHaveLength(0);
  });

  it.each<[string, Partial<RealtimeClientOptions>, () => Promise<unknown> | void]>([
    ["connecting", {}, () => {}],
    ["open (watchdog and healthy timers)", {}, () => FakeEventSource.latest.open()],
    ["open on a WebSocket", { transports: ["ws"] }, () => FakeWebSocket.latest.open("1")],
    ["waiting to reconnect, poll in flight", {}, () => FakeEventSource.latest.fail()],
    [
      "between two polls",
      {},
      async () => {
        FakeEventSource.latest.fail();
        server.answer({ cursor: "2" });
        await settle();
      },
    ],
    [
      "polling only, between two polls",
      { EventSource: null },
      () => {
        server.answer({ cursor: "3" });
        return settle();
      },
    ],
  ])("leaves no timer behind when closed while %s", async (_, options, reach) => {
    const { client } = start({ maxStreamErrors: 1, ...options });
    await reach();
    expect(vi.getTimerCount()).toBeGreaterThan(0);
    client.close();
    expect(vi.getTimerCount()).toBe(0);
  });

  it("closes an open stream", () => {
    const { client } = start();
    FakeEventSource.latest.open();
    client.close();
    expect(FakeEventSource.latest.closed).toBe(true);
  });
});

describe("the collaboration server's additions", () => {
  it("authenticates live connections with a single-use ticket when asked", async () => {
    start({ transports: ["ws", "sse", "polling"], tickets: true });
    expect(FakeWebSocket.instances).toHaveLength(0); // waits for the ticket
    expect(server.requests.map((r) => [r.url.pathname, r.authorization])).toEqual([
      ["/api/tenants/demo/realtime/tickets", "Bearer jwt-1"],
    ]);
    server.answer({ cursor: "0", ticket: "t-1" } as never);
    await settle();
    const url = new URL(FakeWebSocket.latest.url);
    expect(url.searchParams.get("ticket")).toBe("t-1");
    expect(url.searchParams.has("access_token")).toBe(false);
  });

  it("uses the token when the server has no tickets, and asks no more", async () => {
    start({ tickets: true });
    server.answer({ cursor: "0", status: 404 });
    await settle();
    expect(new URL(FakeEventSource.latest.url).searchParams.get("access_token")).toBe("jwt-1");
    FakeEventSource.latest.fail();
    await vi.advanceTimersByTimeAsync(1000);
    expect(FakeEventSource.instances).toHaveLength(2);
    expect(server.requests).toHaveLength(1);
  });

  it("reports an expired token the server announces with reauth", () => {
    const { seen } = start();
    FakeEventSource.latest.open();
    FakeEventSource.latest.send("reauth", "", { type: "reauth" });
    expect(seen.errors).toEqual([401]);
  });

  it("reloads when a poll answers resync, and polls on from its cursor", async () => {
    const { seen, ids } = start({ EventSource: null, lastSeq: "3" });
    server.answer({ cursor: "40", resync: true } as never);
    await settle();
    expect(seen.resyncs).toBe(1);
    expect(ids()).toEqual([]);
    await vi.advanceTimersByTimeAsync(3000);
    expect(server.sinceValues).toEqual(["3", "40"]);
  });
});
