// Test doubles: an EventSource and a WebSocket the test opens, feeds and breaks by hand, and a
// fetch that answers `realtime-status` polls from a script of results.
import type { EventSourceLike, WebSocketLike } from "../src/transport.js";
import type { Order, OrderEvent } from "../src/types.js";

type Listener = (event: MessageEvent) => void;

export class FakeEventSource implements EventSourceLike {
  static instances: FakeEventSource[] = [];

  static reset(): void {
    FakeEventSource.instances = [];
  }

  /** The stream the client created last. */
  static get latest(): FakeEventSource {
    const last = FakeEventSource.instances.at(-1);
    if (!last) throw new Error("no EventSource was created");
    return last;
  }

  onopen: ((event: Event) => unknown) | null = null;
  onerror: ((event: Event) => unknown) | null = null;
  closed = false;
  private readonly listeners = new Map<string, Listener[]>();

  constructor(readonly url: string) {
    FakeEventSource.instances.push(this);
  }

  get lastEventIdParam(): string | null {
    return new URL(this.url, "http://x").searchParams.get("lastEventId");
  }

  addEventListener(type: string, listener: Listener): void {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), listener]);
  }

  close(): void {
    this.closed = true;
  }

  // --- driven by the test ---
  open(): void {
    this.onopen?.(new Event("open"));
  }

  fail(): void {
    this.onerror?.(new Event("error"));
  }

  send(type: string, id: string, data: unknown): void {
    const message = new MessageEvent(type, { data: JSON.stringify(data), lastEventId: id });
    for (const listener of this.listeners.get(type) ?? []) listener(message);
  }

  sendEvent(event: OrderEvent): void {
    this.send(event.type, event.id, event);
  }

  /** The server's `event: heartbeat` (no id). */
  heartbeat(): void {
    this.send("heartbeat", "", { ts: Date.now() });
  }
}

export class FakeWebSocket implements WebSocketLike {
  static instances: FakeWebSocket[] = [];

  static reset(): void {
    FakeWebSocket.instances = [];
  }

  static get latest(): FakeWebSocket {
    const last = FakeWebSocket.instances.at(-1);
    if (!last) throw new Error("no WebSocket was created");
    return last;
  }

  onopen: ((event: Event) => unknown) | null = null;
  onmessage: ((event: MessageEvent) => unknown) | null = null;
  onerror: ((event: Event) => unknown) | null = null;
  onclose: ((event: CloseEvent) => unknown) | null = null;
  closed = false;
  /** The frames the client sent, parsed. */
  readonly sent: unknown[] = [];

  constructor(readonly url: string) {
    FakeWebSocket.instances.push(this);
  }

  send(data: string): void {
    this.sent.push(JSON.parse(data));
  }

  close(): void {
    this.closed = true;
  }

  // --- driven by the test ---
  /** The socket opens, then the server says hello. */
  open(head: string | null = null): void {
    this.onopen?.(new Event("open"));
    this.frame({ type: "hello", connectionId: "c1", head });
  }

  frame(data: unknown): void {
    this.onmessage?.(new MessageEvent("message", { data: JSON.stringify(data) }));
  }

  sendEvent(event: OrderEvent): void {
    this.frame({ type: "event", event });
  }

  /** The server (or the network) closes the socket. */
  drop(): void {
    this.onclose?.(new Event("close") as CloseEvent);
  }
}

export function order(id: string, version: number, patch: Partial<Order> = {}): Order {
  return {
    id,
    orderNumber: `#${1000 + Number(id.replace(/\D/g, "") || 0)}`,
    source: "manual",
    shopifyOrderId: null,
    customerName: "Ada",
    customerEmail: null,
    deliveryDate: null,
    items: [{ title: "Pink roses", quantity: 12 }],
    status: "new",
    assignedTo: null,
    notes: "",
    cardMessage: null,
    shopifyNote: null,
    version,
    createdAt: "2026-11-24T10:00:00.000Z",
    updatedAt: "2026-11-24T10:00:00.000Z",
    updatedBy: "florist-456",
    ...patch,
  };
}

export function orderEvent(seq: number, orderId: string, version: number): OrderEvent {
  return {
    id: String(seq),
    type: version === 1 ? "order_created" : "order_updated",
    tenantId: "demo",
    orderId,
    timestamp: "2026-11-24T10:00:00.000Z",
    updatedBy: "florist-456",
    changes: ["status"],
    order: order(orderId, version),
  };
}

export interface PollAnswer {
  cursor: string;
  orders?: Order[];
  deletedOrderIds?: string[];
  hasMore?: boolean;
  status?: number;
}

/** A fetch whose answers the test queues; unanswered polls stay pending until `answer`. */
export class FakePollServer {
  readonly requests: { url: URL; authorization: string | null }[] = [];
  private readonly queued: PollAnswer[] = [];
  private readonly pending: ((answer: PollAnswer) => void)[] = [];

  readonly fetch = (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const url = new URL(String(input), "http://x");
    const headers = new Headers(init?.headers);
    this.requests.push({ url, authorization: headers.get("Authorization") });
    return new Promise((resolve, reject) => {
      const respond = (answer: PollAnswer) => {
        const { status = 200, ...body } = answer;
        resolve(
          new Response(
            JSON.stringify({ orders: [], deletedOrderIds: [], hasMore: false, ...body }),
            { status, headers: { "Content-Type": "application/json" } },
          ),
        );
      };
      init?.signal?.addEventListener("abort", () =>
        reject(new DOMException("aborted", "AbortError")),
      );
      const next = this.queued.shift();
      if (next) respond(next);
      else this.pending.push(respond);
    });
  };

  /** Answers the oldest pending poll, or the next one to arrive. */
  answer(answer: PollAnswer): void {
    const respond = this.pending.shift();
    if (respond) respond(answer);
    else this.queued.push(answer);
  }

  get sinceValues(): (string | null)[] {
    return this.requests.map((r) => r.url.searchParams.get("since"));
  }
}
