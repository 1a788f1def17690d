// A framework-free client for one tenant's order changes.
//
// It holds the SSE stream (`/realtime/orders`) when it can and falls back to polling
// `/orders/realtime-status` when it cannot, while it keeps trying SSE in the background.
// Both paths move one cursor, `lastSeq` (the tenant's change sequence number), so an event
// seen by both paths is delivered once, in order. See client/README.md for the contract.

export type OrderStatus =
  | "new"
  | "in_progress"
  | "ready"
  | "out_for_delivery"
  | "delivered"
  | "cancelled";

export interface OrderItem {
  title: string;
  quantity: number;
}

export interface Order {
  id: string;
  orderNumber: string;
  source: "manual" | "shopify";
  shopifyOrderId: string | null;
  customerName: string;
  customerEmail: string | null;
  deliveryDate: string | null;
  items: OrderItem[];
  status: OrderStatus;
  assignedTo: string | null;
  notes: string;
  cardMessage: string | null;
  shopifyNote: string | null;
  version: number;
  createdAt: string;
  updatedAt: string;
  updatedBy: string;
}

export type OrderEventType = "order_created" | "order_updated" | "order_deleted";

export interface OrderEvent {
  /** The tenant's change sequence number, as a decimal string. */
  id: string;
  type: OrderEventType;
  tenantId: string;
  orderId: string;
  timestamp: string;
  updatedBy: string | null;
  changes: string[];
  order: Order | null;
  /** True when the event was made from a polling result rather than received from the stream. */
  synthetic?: boolean;
}

export type RealtimeMode = "sse" | "polling" | "offline";

export interface RealtimeState {
  mode: RealtimeMode;
  /** True only while the SSE stream is open. */
  isConnected: boolean;
  /** How many order events were delivered to `onUpdate`. */
  updateCount: number;
  /** The last sequence number delivered or skipped to, or null before the first one. */
  lastSeq: string | null;
}

/** The part of the browser's `EventSource` this client uses (a test can pass a fake). */
export interface EventSourceLike {
  onopen: ((event: Event) => unknown) | null;
  onerror: ((event: Event) => unknown) | null;
  addEventListener(type: string, listener: (event: MessageEvent) => void): void;
  close(): void;
}

export type EventSourceConstructor = new (url: string) => EventSourceLike;

// Compile-time check that the browser's own EventSource fits.
type BrowserEventSourceFits = typeof EventSource extends EventSourceConstructor ? true : never;
const browserEventSourceFits: BrowserEventSourceFits = true;
void browserEventSourceFits;

export class RealtimeError extends Error {
  constructor(
    message: string,
    /** HTTP status of the failed poll, or 0 for a network failure. */
    readonly status: number,
  ) {
    super(message);
    this.name = "RealtimeError";
  }
}

export interface RealtimeClientOptions {
  tenant: string;
  token: string;
  /** Origin of the Worker; "" (the default) means the page's own origin. */
  baseUrl?: string;
  /** Milliseconds between polls while the stream cannot be held. Default 3000. */
  pollInterval?: number;
  /** Resume after this sequence number (e.g. one saved earlier). Default: start now. */
  lastSeq?: string | null;
  /** Stream failures in a row before polling starts. Default 3. */
  maxStreamErrors?: number;
  /** First reconnect delay in ms; it doubles after each failure in a row. Default 1000. */
  reconnectDelay?: number;
  /** Upper bound of the reconnect delay in ms. Default 10000. */
  maxReconnectDelay?: number;
  /** Called once per order event, in sequence order. */
  onUpdate?: (event: OrderEvent) => void;
  /** Called when the app's list may be stale and must be fetched again. */
  onResync?: () => void;
  onStateChange?: (state: RealtimeState) => void;
  /** Called when a poll fails (status 401/403 means the token is no longer good). */
  onError?: (error: RealtimeError) => void;
  /** Defaults to `globalThis.EventSource`; `null` forces polling. */
  EventSource?: EventSourceConstructor | null;
  /** Defaults to `globalThis.fetch`. */
  fetch?: typeof fetch;
  /** Clock, for the start time of the first poll. */
  now?: () => Date;
}

type Defaulted = Pick<
  RealtimeClientOptions,
  "baseUrl" | "pollInterval" | "maxStreamErrors" | "reconnectDelay" | "maxReconnectDelay"
>;

const EVENT_TYPES: OrderEventType[] = ["order_created", "order_updated", "order_deleted"];

interface PollResult {
  cursor: string;
  orders: Order[];
  deletedOrderIds: string[];
  hasMore: boolean;
}

export class RealtimeClient {
  private readonly opts: RealtimeClientOptions & Required<Defaulted>;
  private readonly EventSourceImpl: EventSourceConstructor | null;
  private readonly fetchImpl: typeof fetch;
  /** Polls before any cursor is known ask for the changes since this instant. */
  private readonly startedAt: string;

  private state: RealtimeState;
  private stream: EventSourceLike | null = null;
  private streamErrors = 0;
  private reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  private polling = false;
  private pollTimer: ReturnType<typeof setTimeout> | null = null;
  private pollAbort: AbortController | null = null;
  private closed = false;

  constructor(options: RealtimeClientOptions) {
    this.opts = {
      ...options,
      baseUrl: options.baseUrl ?? "",
      pollInterval: options.pollInterval ?? 3000,
      maxStreamErrors: options.maxStreamErrors ?? 3,
      reconnectDelay: options.reconnectDelay ?? 1000,
      maxReconnectDelay: options.maxReconnectDelay ?? 10000,
    };
    this.EventSourceImpl =
      options.EventSource !== undefined
        ? options.EventSource
        : ((globalThis as { EventSource?: EventSourceConstructor }).EventSource ?? null);
    this.fetchImpl = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.startedAt = (options.now?.() ?? new Date()).toISOString();
    this.state = {
      mode: "offline",
      isConnected: false,
      updateCount: 0,
      lastSeq: parseSeq(options.lastSeq) === null ? null : (options.lastSeq ?? null),
    };
    if (this.EventSourceImpl) {
      this.openStream();
    } else {
      this.startPolling();
    }
  }

  get isConnected(): boolean {
    return this.state.isConnected;
  }

  get mode(): RealtimeMode {
    return this.state.mode;
  }

  get updateCount(): number {
    return this.state.updateCount;
  }

  get lastSeq(): string | null {
    return this.state.lastSeq;
  }

  /** Stops the stream, the polling and every timer; no callback runs afterwards. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.closeStream();
    this.stopPolling();
    if (this.reconnectTimer !== null) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    this.state = { ...this.state, mode: "offline", isConnected: false };
  }

  // --- stream ---------------------------------------------------------------------------

  private openStream(): void {
    const EventSourceImpl = this.EventSourceImpl;
    if (this.closed || !EventSourceImpl) return;
    const { baseUrl, tenant, token } = this.opts;
    let url =
      `${baseUrl}/api/tenants/${encodeURIComponent(tenant)}/realtime/orders` +
      `?access_token=${encodeURIComponent(token)}`;
    if (this.state.lastSeq !== null) url += `&lastEventId=${this.state.lastSeq}`;

    let stream: EventSourceLike;
    try {
      stream = new EventSourceImpl(url);
    } catch {
      this.startPolling(); // e.g. a baseUrl EventSource refuses: the stream will not work
      return;
    }
    this.stream = stream;
    stream.onopen = () => {
      if (this.stream !== stream) return;
      this.streamErrors = 0;
      this.stopPolling();
      const hadCursor = this.state.lastSeq !== null;
      this.setState({ mode: "sse", isConnected: true });
      // Without a cursor the server starts the stream at its head: whatever changed before
      // that is only in a fresh list, so the app loads one now.
      if (!hadCursor) this.opts.onResync?.();
    };
    stream.onerror = () => {
      if (this.stream !== stream) return;
      // The browser would reconnect by itself, but not after an HTTP error, and never to
      // polling; this client closes the stream and decides itself.
      this.closeStream();
      this.streamErrors += 1;
      const fallBack = this.polling || this.streamErrors >= this.opts.maxStreamErrors;
      this.setState({ isConnected: false, mode: fallBack ? "polling" : "offline" });
      if (fallBack) this.startPolling();
      this.scheduleReconnect();
    };
    for (const type of EVENT_TYPES) {
      stream.addEventListener(type, (message) => {
        if (this.stream === stream) this.onStreamEvent(message);
      });
    }
    stream.addEventListener("resync", (message) => {
      if (this.stream === stream) this.onResyncEvent(message);
    });
  }

  private closeStream(): void {
    if (!this.stream) return;
    const stream = this.stream;
    this.stream = null;
    stream.onopen = null;
    stream.onerror = null;
    stream.close();
  }

  private scheduleReconnect(): void {
    if (this.closed || this.reconnectTimer !== null) return;
    const { reconnectDelay, maxReconnectDelay } = this.opts;
    const delay = Math.min(maxReconnectDelay, reconnectDelay * 2 ** (this.streamErrors - 1));
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.openStream();
    }, delay);
  }

  private onStreamEvent(message: MessageEvent): void {
    let event: OrderEvent;
    try {
      event = JSON.parse(String(message.data)) as OrderEvent;
    } catch {
      return; // A frame this client cannot read is skipped, not fatal.
    }
    const seq = message.lastEventId || event.id;
    if (parseSeq(seq) === null || !this.isAfterCursor(seq)) return;
    this.deliver([{ ...event, id: seq }], seq);
  }

  private onResyncEvent(message: MessageEvent): void {
    let cursor: string | undefined;
    try {
      cursor = (JSON.parse(String(message.data)) as { cursor?: string }).cursor;
    } catch {
      cursor = undefined;
    }
    cursor = cursor ?? message.lastEventId;
    if (parseSeq(cursor) !== null) this.setState({ lastSeq: cursor });
    this.opts.onResync?.();
  }

  // --- polling --------------------------------------------------------------------------

  private startPolling(): void {
    if (this.closed || this.polling) return;
    this.polling = true;
    this.setState({ mode: "polling" });
    void this.poll();
  }

  private stopPolling(): void {
    this.polling = false;
    if (this.pollTimer !== null) clearTimeout(this.pollTimer);
    this.pollTimer = null;
    this.pollAbort?.abort();
    this.pollAbort = null;
  }

  private async poll(): Promise<void> {
    if (!this.polling) return;
    const since = this.state.lastSeq ?? this.startedAt;
    const abort = new AbortController();
    this.pollAbort = abort;
    let again = false;
    try {
      const { baseUrl, tenant, token } = this.opts;
      const response = await this.fetchImpl(
        `${baseUrl}/api/tenants/${encodeURIComponent(tenant)}/orders/realtime-status` +
          `?since=${encodeURIComponent(since)}`,
        { headers: { Authorization: `Bearer ${token}` }, signal: abort.signal },
      );
      if (!response.ok) {
        throw new RealtimeError(`polling failed with HTTP ${response.status}`, response.status);
      }
      const result = (await response.json()) as PollResult;
      if (abort.signal.aborted) return;
      if (since !== (this.state.lastSeq ?? this.startedAt)) {
        // The stream moved the cursor while this poll was out: its answer may overlap what
        // was delivered, so it is dropped and the next poll asks from the new cursor.
        again = true;
      } else {
        this.applyPoll(result);
        again = result.hasMore;
      }
      if (!this.state.isConnected) this.setState({ mode: "polling" });
    } catch (error) {
      if (abort.signal.aborted) return;
      if (!this.state.isConnected) this.setState({ mode: "offline" });
      this.opts.onError?.(
        error instanceof RealtimeError ? error : new RealtimeError(String(error), 0),
      );
    } finally {
      if (this.pollAbort === abort) {
        this.pollAbort = null;
        if (this.polling) {
          this.pollTimer = setTimeout(() => void this.poll(), again ? 0 : this.opts.pollInterval);
        }
      }
    }
  }

  private applyPoll(result: PollResult): void {
    const cursor = result.cursor;
    if (parseSeq(cursor) === null || !this.isAfterCursor(cursor)) return;
    const events: OrderEvent[] = [];
    for (const order of result.orders ?? []) {
      events.push({
        id: cursor,
        type: order.version <= 1 ? "order_created" : "order_updated",
        tenantId: this.opts.tenant,
        orderId: order.id,
        timestamp: order.updatedAt,
        updatedBy: order.updatedBy ?? null,
        changes: [],
        order,
        synthetic: true,
      });
    }
    for (const orderId of result.deletedOrderIds ?? []) {
      events.push({
        id: cursor,
        type: "order_deleted",
        tenantId: this.opts.tenant,
        orderId,
        timestamp: new Date().toISOString(),
        updatedBy: null,
        changes: [],
        order: null,
        synthetic: true,
      });
    }
    this.deliver(events, cursor);
  }

  // --- shared ---------------------------------------------------------------------------

  private isAfterCursor(seq: string): boolean {
    const last = parseSeq(this.state.lastSeq);
    const next = parseSeq(seq);
    return next !== null && (last === null || next > last);
  }

  private deliver(events: OrderEvent[], seq: string): void {
    this.setState({ lastSeq: seq, updateCount: this.state.updateCount + events.length });
    for (const event of events) {
      if (this.closed) return;
      this.opts.onUpdate?.(event);
    }
  }

  private setState(patch: Partial<RealtimeState>): void {
    if (this.closed) return;
    const next = { ...this.state, ...patch };
    const changed = (Object.keys(next) as (keyof RealtimeState)[]).some(
      (key) => next[key] !== this.state[key],
    );
    this.state = next;
    if (changed) this.opts.onStateChange?.(next);
  }
}

/** A sequence number as a bigint, or null when the text is not one. */
function parseSeq(seq: string | null | undefined): bigint | null {
  return typeof seq === "string" && /^\d+$/.test(seq) ? BigInt(seq) : null;
}
