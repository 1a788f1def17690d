import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  EMPTY_PRESENCE,
  editorsOf,
  presenceReducer,
  TYPING_TTL_MS,
  viewersOf,
  type PresenceAction,
  type PresenceState,
} from "../src/presence.js";
import { RealtimeClient, type RealtimeClientOptions } from "../src/realtimeClient.js";
import { FakeEventSource, FakePollServer, FakeWebSocket } from "./fakes.js";

const user = (userId: string, viewing: string[] = [], editing: { orderId: string; field: string }[] = []) => ({
  userId,
  role: "florist",
  connections: 1,
  viewing,
  editing,
});
const run = (actions: PresenceAction[], state: PresenceState = EMPTY_PRESENCE) => actions.reduce(presenceReducer, state);

describe("the presence reducer", () => {
  it("takes a full presence frame, sorted by user", () => {
    const state = run([{ type: "presence", users: [user("florist-b"), user("ana", ["o1"])] }]);
    expect(state.users.map((u) => u.userId)).toEqual(["ana", "florist-b"]);
    expect(viewersOf(state, "o1").map((u) => u.userId)).toEqual(["ana"]);
    expect(viewersOf(state, "o1", "ana")).toEqual([]);
  });

  it("applies joins, updates and leaves (as users or bare ids)", () => {
    let state = run([{ type: "presence", users: [user("a"), user("b")] }]);
    state = presenceReducer(state, {
      type: "presence_diff",
      joins: [user("c")],
      updates: [user("a", ["o2"])],
      leaves: [user("b")],
    });
    expect(state.users.map((u) => `${u.userId}:${u.viewing.join()}`)).toEqual(["a:o2", "c:"]);
    state = presenceReducer(state, { type: "presence_diff", leaves: ["c"] });
    expect(state.users.map((u) => u.userId)).toEqual(["a"]);
  });

  it("keeps typing for a while, and drops it when it is old or the user left", () => {
    let state = run([
      { type: "presence", users: [user("ana"), user("bo")] },
      { type: "typing", userId: "ana", orderId: "o1", field: "notes", at: 1000 },
      { type: "typing", userId: "bo", orderId: "o1", field: "notes", at: 3000 },
      { type: "typing", userId: "ana", orderId: "o1", field: "notes", at: 2000 }, // refreshed, once
    ]);
    expect(state.typing).toHaveLength(2);
    expect(editorsOf(state, "o1")).toEqual([
      { userId: "bo", field: "notes" },
      { userId: "ana", field: "notes" },
    ]);
    state = presenceReducer(state, { type: "expire", now: 2000 + TYPING_TTL_MS });
    expect(state.typing.map((t) => t.userId)).toEqual(["bo"]);
    state = presenceReducer(state, { type: "presence_diff", leaves: ["bo"] });
    expect(state.typing).toEqual([]);
  });

  it("counts the fields presence says someone edits, once per user and field, never me", () => {
    const state = run([
      { type: "presence", users: [user("ana", ["o1"], [{ orderId: "o1", field: "notes" }]), user("me", [], [{ orderId: "o1", field: "notes" }])] },
      { type: "typing", userId: "ana", orderId: "o1", field: "notes", at: 1 },
    ]);
    expect(editorsOf(state, "o1", "me")).toEqual([{ userId: "ana", field: "notes" }]);
  });

  it("ignores malformed frames", () => {
    const state = run([{ type: "presence", users: [user("a")] }]);
    expect(presenceReducer(state, { type: "presence", users: "nope" })).toBe(state);
    expect(presenceReducer(state, { type: "typing", userId: 5, orderId: "o1", field: "notes", at: 1 })).toBe(state);
    expect(run([{ type: "presence", users: [{ nope: 1 }, user("b")] }]).users.map((u) => u.userId)).toEqual(["b"]);
  });
});

describe("the client's presence", () => {
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
    for (const c of clients) c.close();
    vi.useRealTimers();
  });

  function start(options: Partial<RealtimeClientOptions> = {}) {
    const seen: PresenceState[] = [];
    const client = new RealtimeClient({
      tenant: "demo",
      token: "jwt-1",
      baseUrl: "https://board.example",
      EventSource: FakeEventSource,
      WebSocket: FakeWebSocket,
      fetch: server.fetch,
      random: () => 1,
      logger: null,
      transports: ["ws", "sse", "polling"],
      onPresence: (p) => seen.push(p),
      ...options,
    });
    clients.push(client);
    return { client, seen };
  }

  it("exposes the WebSocket's presence and typing, and expires typing by itself", async () => {
    const { client, seen } = start();
    const ws = FakeWebSocket.latest;
    ws.open("1");
    ws.frame({ type: "presence", users: [user("ana", ["o1"])] });
    ws.frame({ type: "typing", userId: "ana", orderId: "o1", field: "notes" });
    expect(viewersOf(client.presence, "o1").map((u) => u.userId)).toEqual(["ana"]);
    expect(editorsOf(client.presence, "o1")).toEqual([{ userId: "ana", field: "notes" }]);
    await vi.advanceTimersByTimeAsync(TYPING_TTL_MS);
    expect(client.presence.typing).toEqual([]);
    expect(seen.at(-1)?.typing).toEqual([]);
  });

  it("sends view and typing over the WebSocket once it said hello, and view again after a reconnect", async () => {
    const { client } = start({ transports: ["ws", "polling"] });
    expect(client.view("o1")).toBe(false); // not connected yet: remembered
    const ws = FakeWebSocket.latest;
    ws.open("1");
    expect(ws.sent).toEqual([{ type: "view", orderId: "o1" }]);
    expect(client.typing("o1", "notes")).toBe(true);
    expect(client.view(null)).toBe(true);
    expect(ws.sent.slice(1)).toEqual([
      { type: "typing", orderId: "o1", field: "notes" },
      { type: "view", orderId: null },
    ]);

    client.view("o2");
    ws.drop();
    expect(client.typing("o2", "notes")).toBe(false); // no socket: nothing sent
    await vi.advanceTimersByTimeAsync(1000);
    FakeWebSocket.latest.open("1");
    expect(FakeWebSocket.latest.sent).toEqual([
      { type: "resume", after: "1" },
      { type: "view", orderId: "o2" },
    ]);
  });

  it("sends nothing over SSE and forgets a socket's presence when it drops", async () => {
    const { client } = start({ transports: ["ws", "sse", "polling"] });
    FakeWebSocket.latest.open("1");
    FakeWebSocket.latest.frame({ type: "presence", users: [user("ana")] });
    expect(client.presence.users).toHaveLength(1);
    FakeWebSocket.latest.drop();
    expect(client.presence.users).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1000);
    FakeEventSource.latest.open();
    expect(client.mode).toBe("sse");
    expect(client.view("o1")).toBe(false);
  });

  it("polls GET /presence while no WebSocket is open, and stops for good on a 404", async () => {
    const { client } = start({ transports: ["sse", "polling"], presencePollMs: 5000 });
    FakeEventSource.latest.open();
    expect(server.requests.map((r) => r.url.pathname)).toEqual(["/api/tenants/demo/presence"]);
    server.answer({ cursor: "0", users: [user("ana")] } as never);
    await vi.advanceTimersByTimeAsync(0);
    expect(client.presence.users.map((u) => u.userId)).toEqual(["ana"]);
    await vi.advanceTimersByTimeAsync(5000);
    expect(server.requests).toHaveLength(2);
    server.answer({ cursor: "0", status: 404 });
    await vi.advanceTimersByTimeAsync(20_000);
    expect(server.requests).toHaveLength(2);
  });
});

describe("moving between transports", () => {
  beforeEach(() => {
    vi.useFakeTimers();
    FakeEventSource.reset();
    FakeWebSocket.reset();
  });
  afterEach(() => vi.useRealTimers());

  it("hands over from a refused WebSocket to SSE at once, without backoff", async () => {
    const server = new FakePollServer();
    const client = new RealtimeClient({
      tenant: "demo",
      token: "t",
      baseUrl: "https://board.example",
      transports: ["ws", "sse", "polling"],
      EventSource: FakeEventSource,
      WebSocket: FakeWebSocket,
      fetch: server.fetch,
      random: () => 1,
      logger: null,
    });
    FakeWebSocket.latest.drop(); // e.g. 404: the socket closes before it opened
    await vi.advanceTimersByTimeAsync(0);
    expect(FakeEventSource.instances).toHaveLength(1);
    FakeEventSource.latest.open();
    expect(client.mode).toBe("sse");
    expect(server.requests).toHaveLength(0);
    client.close();
  });

  it("learns the server's heartbeat period: a silent stream is dead after 2.5 of them", async () => {
    const server = new FakePollServer();
    const client = new RealtimeClient({
      tenant: "demo",
      token: "t",
      baseUrl: "https://board.example",
      EventSource: FakeEventSource,
      fetch: server.fetch,
      random: () => 1,
      logger: null,
      learnHeartbeat: true,
    });
    const sse = FakeEventSource.latest;
    sse.open();
    for (let i = 0; i < 3; i += 1) {
      sse.heartbeat();
      await vi.advanceTimersByTimeAsync(2000);
    }
    sse.heartbeat();
    expect(client.heartbeatPeriod()).toBe(2000);
    await vi.advanceTimersByTimeAsync(4999);
    expect(sse.closed).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(sse.closed).toBe(true);
    expect(client.mode).toBe("polling");
    client.close();
  });
});
