// @vitest-environment happy-dom
import { act, createElement, StrictMode, useState } from "react";
import { createRoot, type Root } from "react-dom/client";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { OrderEvent } from "../src/realtimeClient.js";
import {
  useRealtimeUpdates,
  type UseRealtimeUpdatesOptions,
  type UseRealtimeUpdatesResult,
} from "../src/useRealtimeUpdates.js";
import { FakeEventSource, FakePollServer, FakeWebSocket, orderEvent } from "./fakes.js";

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

let server: FakePollServer;
let root: Root;
let container: HTMLElement;
let result: UseRealtimeUpdatesResult;
let setProps: (props: Partial<UseRealtimeUpdatesOptions>) => void;

function Probe(initial: UseRealtimeUpdatesOptions) {
  const [props, set] = useState(initial);
  setProps = (patch) => set((old) => ({ ...old, ...patch }));
  result = useRealtimeUpdates(props);
  return createElement(
    "span",
    null,
    `${result.isConnected ? "Live" : "Offline"} ${result.updateCount}`,
  );
}

function probe(options: Partial<UseRealtimeUpdatesOptions>) {
  return createElement(Probe, {
    tenant: "demo",
    token: "jwt-1",
    EventSource: FakeEventSource,
    WebSocket: FakeWebSocket,
    fetch: server.fetch,
    random: () => 1,
    logger: null,
    ...options,
  });
}

function render(options: Partial<UseRealtimeUpdatesOptions> = {}) {
  act(() => root.render(probe(options)));
}

beforeEach(() => {
  vi.useFakeTimers();
  FakeEventSource.reset();
  FakeWebSocket.reset();
  server = new FakePollServer();
  container = document.createElement("div");
  root = createRoot(container);
});

afterEach(() => {
  act(() => root.unmount());
  vi.useRealTimers();
});

describe("useRealtimeUpdates", () => {
  it("shows Live while the stream is open and counts the updates it passes to onUpdate", () => {
    const received: OrderEvent[] = [];
    render({ onUpdate: (event) => received.push(event) });
    expect(container.textContent).toBe("Offline 0");

    act(() => FakeEventSource.latest.open());
    expect(container.textContent).toBe("Live 0");
    expect(result.mode).toBe("sse");

    act(() => {
      FakeEventSource.latest.sendEvent(orderEvent(1, "o1", 1));
      FakeEventSource.latest.sendEvent(orderEvent(2, "o1", 2));
    });
    expect(container.textContent).toBe("Live 2");
    expect(received.map((e) => e.id)).toEqual(["1", "2"]);
    expect(result.updates.map((e) => e.id)).toEqual(["1", "2"]);
    expect(result.lastUpdate?.id).toBe("2");

    act(() => FakeEventSource.latest.fail());
    expect(container.textContent).toBe("Offline 2");
  });

  it("uses the latest onUpdate without reconnecting", () => {
    const first: string[] = [];
    const second: string[] = [];
    render({ onUpdate: (e) => first.push(e.id) });
    act(() => FakeEventSource.latest.open());
    act(() => setProps({ onUpdate: (e) => second.push(e.id) }));
    act(() => FakeEventSource.latest.sendEvent(orderEvent(1, "o1", 1)));
    expect(FakeEventSource.instances).toHaveLength(1);
    expect(first).toEqual([]);
    expect(second).toEqual(["1"]);
  });

  it("polls with the given pollInterval when EventSource is unavailable", async () => {
    render({ EventSource: null, pollInterval: 500 });
    expect(result.mode).toBe("polling");
    expect(result.isConnected).toBe(false);
    server.answer({ cursor: "3" });
    await act(() => vi.advanceTimersByTimeAsync(500));
    expect(server.requests).toHaveLength(2);
  });

  it("closes the connection when enabled becomes false, and opens a new one when true", () => {
    render();
    act(() => FakeEventSource.latest.open());
    act(() => setProps({ enabled: false }));
    expect(FakeEventSource.instances[0]!.closed).toBe(true);
    expect(container.textContent).toBe("Offline 0");
    expect(result.mode).toBe("offline");

    act(() => setProps({ enabled: true }));
    expect(FakeEventSource.instances).toHaveLength(2);
  });

  it("opens nothing when disabled from the start", async () => {
    render({ enabled: false });
    await act(() => vi.advanceTimersByTimeAsync(60_000));
    expect(FakeEventSource.instances).toHaveLength(0);
    expect(server.requests).toHaveLength(0);
  });

  it("closes the stream, the polling and the timers on unmount", async () => {
    const received: string[] = [];
    render({ onUpdate: (e) => received.push(e.id), pollInterval: 1000 });
    act(() => {
      FakeEventSource.latest.fail();
      FakeEventSource.latest.fail(); // the first retry has not run: same stream, ignored
    });
    act(() => root.unmount());
    await vi.advanceTimersByTimeAsync(60_000);
    expect(FakeEventSource.instances).toHaveLength(1);
    expect(FakeEventSource.instances[0]!.closed).toBe(true);
    expect(server.requests).toHaveLength(0);
    root = createRoot(container); // afterEach unmounts again
  });

  it("returns the updates newest last, keeping the last 100, and counts them all", () => {
    render();
    act(() => FakeEventSource.latest.open());
    act(() => {
      for (let seq = 1; seq <= 105; seq += 1) {
        FakeEventSource.latest.sendEvent(orderEvent(seq, `o${seq}`, 1));
      }
    });
    expect(result.isConnected).toBe(true);
    expect(result.updates).toHaveLength(100);
    expect(result.updates[0]!.id).toBe("6");
    expect(result.updates.at(-1)!.id).toBe("105");
    expect(result.updateCount).toBe(105);
    expect(container.textContent).toBe("Live 105");
  });

  it("keeps maxUpdates updates when asked", () => {
    render({ maxUpdates: 2 });
    act(() => {
      FakeEventSource.latest.open();
      for (const seq of [1, 2, 3]) FakeEventSource.latest.sendEvent(orderEvent(seq, "o1", seq));
    });
    expect(result.updates.map((e) => e.id)).toEqual(["2", "3"]);
  });

  it("holds one live connection under StrictMode's double mount", () => {
    const received: string[] = [];
    act(() => {
      root.render(
        createElement(StrictMode, null, probe({ onUpdate: (e) => received.push(e.id) })),
      );
    });
    // React mounts, unmounts and mounts again: the first client is closed before the second
    // opens, and leaves no timer (the one left is the live stream's watchdog).
    const live = FakeEventSource.instances.filter((stream) => !stream.closed);
    expect(live).toHaveLength(1);
    expect(vi.getTimerCount()).toBe(1);
    act(() => {
      for (const stream of FakeEventSource.instances) {
        stream.open();
        stream.sendEvent(orderEvent(1, "o1", 1));
      }
    });
    expect(received).toEqual(["1"]);
    expect(result.updates).toHaveLength(1);
    expect(container.textContent).toBe("Live 1");
  });

  it("connects only once tenant and token are both given", () => {
    render({ token: undefined });
    expect(FakeEventSource.instances).toHaveLength(0);
    act(() => setProps({ token: "jwt-1" }));
    expect(FakeEventSource.instances).toHaveLength(1);
  });

  it("leaves no timer behind when disabled, and connects again when enabled", async () => {
    render({ heartbeatMs: 1000 });
    act(() => FakeEventSource.latest.open());
    act(() => setProps({ enabled: false }));
    expect(vi.getTimerCount()).toBe(0);
    await act(() => vi.advanceTimersByTimeAsync(60_000));
    expect(FakeEventSource.instances).toHaveLength(1);
    act(() => setProps({ enabled: true }));
    expect(FakeEventSource.instances).toHaveLength(2);
    expect(FakeEventSource.instances.filter((s) => !s.closed)).toHaveLength(1);
  });

  it("does not reconnect for an inline transports list with the same content", () => {
    render({ transports: ["ws", "polling"] });
    act(() => setProps({ transports: ["ws", "polling"], pollInterval: 3000 }));
    expect(FakeWebSocket.instances).toHaveLength(1);
    act(() => setProps({ transports: ["sse", "polling"] }));
    expect(FakeWebSocket.latest.closed).toBe(true);
    expect(FakeEventSource.instances).toHaveLength(1);
  });

  it("writes the console messages of a connection, an update and a poll", async () => {
    const log = vi.spyOn(console, "log").mockImplementation(() => {});
    try {
      render({ logger: undefined, pollInterval: 1000 });
      act(() => FakeEventSource.latest.open());
      expect(log).toHaveBeenCalledWith("Real-time connection established");
      const event = orderEvent(1, "o1", 1);
      act(() => FakeEventSource.latest.sendEvent(event));
      expect(log).toHaveBeenCalledWith("Real-time update received:", event);
      act(() => setProps({ EventSource: null, token: "jwt-2" }));
      expect(log).toHaveBeenLastCalledWith("Polling for updates...");
    } finally {
      log.mockRestore();
    }
  });

  it("reconnects with the new token when it changes", () => {
    render();
    act(() => setProps({ token: "jwt-2" }));
    expect(FakeEventSource.instances).toHaveLength(2);
    expect(FakeEventSource.instances[0]!.closed).toBe(true);
    expect(new URL(FakeEventSource.latest.url, "http://x").searchParams.get("access_token")).toBe(
      "jwt-2",
    );
  });
});

describe("useRealtimeUpdates with presence", () => {
  it("resumes from lastSeq, exposes presence and sends view/typing over the WebSocket", () => {
    render({ transports: ["ws", "polling"], lastSeq: "41" });
    act(() => {
      result.view("o1"); // before the socket is up: remembered
    });
    const ws = FakeWebSocket.latest;
    act(() => ws.open("45"));
    expect(result.mode).toBe("ws");
    expect(ws.sent).toEqual([
      { type: "resume", after: "41" },
      { type: "view", orderId: "o1" },
    ]);
    act(() =>
      ws.frame({
        type: "presence",
        users: [{ userId: "ana", role: "manager", connections: 1, viewing: ["o1"], editing: [] }],
      }),
    );
    expect(result.presence.users.map((u) => u.userId)).toEqual(["ana"]);
    expect(result.typing("o1", "notes")).toBe(true);
    expect(ws.sent.at(-1)).toEqual({ type: "typing", orderId: "o1", field: "notes" });

    act(() => setProps({ enabled: false }));
    expect(result.presence.users).toEqual([]);
    expect(result.typing("o1", "notes")).toBe(false);
  });
});
