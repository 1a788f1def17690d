import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  RealtimeClient,
  type OrderEvent,
  type RealtimeClientOptions,
  type RealtimeMode,
} from "../src/realtimeClient.js";
import { FakeEventSource, FakePollServer, order, orderEvent } from "./fakes.js";

let server: FakePollServer;
let clients: RealtimeClient[];

beforeEach(() => {
  vi.useFakeTimers();
  vi.setSystemTime(new Date("2026-11-24T10:00:00.000Z"));
  FakeEventSource.reset();
  server = new FakePollServer();
  clients = [];
});

afterEach(() => {
  for (const client of clients) client.close();
  vi.useRealTimers();
});

/** A client that records what the app would observe. */
function start(options: Partial<RealtimeClientOptions> = {}) {
  const seen = {
    updates: [] as OrderEvent[],
    modes: [] as RealtimeMode[],
    resyncs: 0,
    errors: [] as number[],
  };
  const client = new RealtimeClient({
    tenant: "demo",
    token: "jwt-1",
    baseUrl: "https://board.example",
    EventSource: FakeEventSource,
    fetch: server.fetch,
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

describe("close()", () => {
  it("stops the stream, the polling and every timer, and delivers nothing afterwards", async () => {
    const { client, seen } = start({ maxStreamErrors: 1 });
    const first = FakeEventSource.latest;
    first.fail(); // now polling, with a reconnect pending
    expect(server.requests).toHaveLength(1);

    client.close();
    expect(client.mode).toBe("offline");
    expect(client.isConnected).toBe(false);
    server.answer({ cursor: "5", orders: [order("o1", 2)] });
    await vi.advanceTimersByTimeAsync(60_000);

    expect(FakeEventSource.instances).toHaveLength(1);
    expect(server.requests).toHaveLength(1);
    expect(seen.updates).toHaveLength(0);
    first.sendEvent(orderEvent(6, "o1", 3));
    expect(seen.updates).toHaveLength(0);
  });

  it("closes an open stream", () => {
    const { client } = start();
    FakeEventSource.latest.open();
    client.close();
    expect(FakeEventSource.latest.closed).toBe(true);
  });
});
