// A framework-free client for one tenant's order changes.
//
// It holds a stream (SSE, or a WebSocket when asked for) when it can and falls back to polling
// `/orders/realtime-status` when it cannot, while it keeps trying the stream in the background.
// Every path moves one cursor, `lastSeq` (the tenant's change sequence number), so an event seen
// by two paths is delivered once, in order. See client/README.md for the contract.

import {
  sseTransport,
  wsTransport,
  type EventSourceConstructor,
  type StreamTransportFactory,
  type StreamTransportName,
  type Transport,
  type TransportName,
  type TransportSink,
  type WebSocketConstructor,
} from "./transport.js";
import {
  EMPTY_PRESENCE,
  nextTypingExpiry,
  presenceReducer,
  type PresenceAction,
  type PresenceState,
} from "./presence.js";
import type { Order, OrderEvent } from "./types.js";

export type {
  Note,
  Order,
  OrderEvent,
  OrderEventType,
  OrderItem,
  OrderLock,
  OrderStatus,
} from "./types.js";
export type { PresenceState, PresenceUser, TypingEntry } from "./presence.js";
export type {
  EventSourceConstructor,
  EventSourceLike,
  TransportName,
  WebSocketConstructor,
  WebSocketLike,
} from "./transport.js";

/** `sse` or `ws` while that stream is open, `polling` while polls succeed, else `offline`. */
export type RealtimeMode = StreamTransportName | "polling" | "offline";

export interface RealtimeState {
  mode: RealtimeMode;
  /** True only while a stream is open. */
  isConnected: boolean;
  /** How many order events were delivered to `onUpdate`. */
  updateCount: number;
  /** The last sequence number delivered or skipped to, or null before the first one. */
  lastSeq: string | null;
}

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

/** Where the client's console messages go; `console` by default. */
export interface RealtimeLogger {
  log(message: string, ...details: unknown[]): void;
}

export interface RealtimeClientOptions {
  tenant: string;
  token: string;
  /** Origin of the Worker; "" (the default) means the page's own origin. */
  baseUrl?: string;
  /**
   * The transports to use: streams (`sse`, `ws`) in order of preference, and whether `polling`
   * may stand in while no stream is open. Default `["sse", "polling"]`.
   */
  transports?: readonly TransportName[];
  /** Milliseconds between polls while no stream is open. Default 3000. */
  pollInterval?: number;
  /**
   * Authenticate each live connection with a single-use ticket (`POST …/realtime/tickets`,
   * `?ticket=`) rather than `?access_token=<token>` in its URL. A server without tickets (404)
   * gets the token. Default false.
   */
  tickets?: boolean;
  /**
   * The server's heartbeat period in ms. A stream that sends nothing (no event, no heartbeat)
   * for 2.5 times this long is taken as dead. Default 30000; 0 turns the watchdog off.
   */
  heartbeatMs?: number;
  /**
   * Learn the server's heartbeat period from the heartbeats themselves: once two arrive, the
   * watchdog waits 2.5 × the middle of the last three gaps (at least 500 ms, at most
   * `heartbeatMs`). For a page that cannot know the server's `HEARTBEAT_SECONDS`. Default false.
   */
  learnHeartbeat?: boolean;
  /** A stream must stay open this long (ms) before its failures in a row are forgotten. Default 10000. */
  healthyAfterMs?: number;
  /** Resume after this sequence number (e.g. one saved earlier). Default: start now. */
  lastSeq?: string | null;
  /** Stream failures in a row before polling starts. Default 3. */
  maxStreamErrors?: number;
  /** Backoff base in ms: the n-th failure in a row waits random(0, min(max, base·2ⁿ⁻¹)). Default 1000. */
  reconnectDelay?: number;
  /** Backoff cap in ms. Default 10000. */
  maxReconnectDelay?: number;
  /** Called once per order event, in sequence order. */
  onUpdate?: (event: OrderEvent) => void;
  /** Called when the app's list may be stale and must be fetched again. */
  onResync?: () => void;
  onStateChange?: (state: RealtimeState) => void;
  /** Called when a poll fails (status 401/403 means the token is no longer good). */
  onError?: (error: RealtimeError) => void;
  /**
   * Called when who is online, viewing or typing changes: from the WebSocket's presence frames,
   * or from `GET /presence` polls (see `presencePollMs`) while no WebSocket is open.
   */
  onPresence?: (presence: PresenceState) => void;
  /**
   * While no WebSocket is open, read `GET /api/tenants/{t}/presence` every this many ms.
   * Default 0: off. A 404 (a server without presence) stops it for the client's lifetime.
   */
  presencePollMs?: number;
  /** Defaults to `globalThis.EventSource`; `null` disables `sse`. */
  EventSource?: EventSourceConstructor | null;
  /** Defaults to `globalThis.WebSocket`; `null` disables `ws`. */
  WebSocket?: WebSocketConstructor | null;
  /** Defaults to `globalThis.fetch`. */
  fetch?: typeof fetch;
  /** Clock, for the start time of the first poll. */
  now?: () => Date;
  /** The jitter source, a number in [0, 1]. Defaults to `Math.random`. */
  random?: () => number;
  /** Where the console messages go; `null` for none. Defaults to `console`. */
  logger?: RealtimeLogger | null;
}

export const DEFAULT_TRANSPORTS: readonly TransportName[] = ["sse", "polling"];

/**
 * Full jitter ("Exponential Backoff And Jitter", AWS Architecture Blog): the delay before the
 * next try after `failures` failures in a row is random(0, min(cap, base · 2^(failures − 1))).
 */
export function backoffDelay(
  failures: number,
  base: number,
  cap: number,
  random: () => number,
): number {
  const ceiling = Math.min(cap, base * 2 ** Math.max(0, failures - 1));
  const r = Math.min(1, Math.max(0, random()));
  return Math.round(r * ceiling);
}

interface PollResult {
  cursor: string;
  /** The server cannot answer from `since` (pruned or never issued): reload, go on from `cursor`. */
  resync?: boolean;
  orders?: Order[];
  deletedOrderIds?: string[];
  hasMore?: boolean;
}

interface StreamOption {
  name: StreamTransportName;
  open: StreamTransportFactory;
}

export class RealtimeClient {
  private readonly opts: RealtimeClientOptions &
    Required<
      Pick<
        RealtimeClientOptions,
        | "baseUrl"
        | "pollInterval"
        | "heartbeatMs"
        | "healthyAfterMs"
        | "maxStreamErrors"
        | "reconnectDelay"
        | "maxReconnectDelay"
        | "random"
      >
    >;
  private readonly fetchImpl: typeof fetch;
  private readonly logger: RealtimeLogger | null;
  /** The stream transports that can run here, in order of preference. */
  private readonly streams: StreamOption[];
  private readonly canPoll: boolean;
  /** Polls before any cursor is known ask for the changes since this instant. */
  private readonly startedAt: string;

  private state: RealtimeState;
  private closed = false;

  // The stream. `attempt` numbers connection attempts: a sink call from an older one is ignored.
  private stream: Transport | null = null;
  private attempt = 0;
  private streamIndex = 0;
  private streamErrors = 0;
  private reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  private watchdogTimer: ReturnType<typeof setTimeout> | null = null;
  private healthyTimer: ReturnType<typeof setTimeout> | null = null;
  /** Whether the current attempt has opened; hand-overs made since the last open or failure. */
  private opened = false;
  private handoffs = 0;
  private lastBeatAt: number | null = null;
  private beatGaps: number[] = [];

  // Presence.
  private presenceState: PresenceState = EMPTY_PRESENCE;
  private viewing: string | null = null;
  private typingTimer: ReturnType<typeof setTimeout> | null = null;
  private presencePollTimer: ReturnType<typeof setTimeout> | null = null;
  private presenceAbort: AbortController | null = null;
  private presenceSupported = true;
  /** Whether live connections authenticate with a ticket (see the `tickets` option). */
  private ticketsWanted: boolean;
  private ticketAbort: AbortController | null = null;

  // Polling.
  private polling = false;
  private pollTimer: ReturnType<typeof setTimeout> | null = null;
  private pollAbort: AbortController | null = null;

  constructor(options: RealtimeClientOptions) {
    this.opts = {
      ...options,
      baseUrl: options.baseUrl ?? "",
      pollInterval: options.pollInterval ?? 3000,
      heartbeatMs: options.heartbeatMs ?? 30_000,
      healthyAfterMs: options.healthyAfterMs ?? 10_000,
      maxStreamErrors: options.maxStreamErrors ?? 3,
      reconnectDelay: options.reconnectDelay ?? 1000,
      maxReconnectDelay: options.maxReconnectDelay ?? 10_000,
      random: options.random ?? Math.random,
    };
    // Globals are read here, never at import time, so the module loads during SSR.
    this.fetchImpl = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.logger = options.logger === undefined ? console : options.logger;
    const transports = options.transports ?? DEFAULT_TRANSPORTS;
    this.streams = streamOptions(transports, options);
    this.canPoll = transports.includes("polling");
    this.ticketsWanted = options.tickets === true;
    this.startedAt = (options.now?.() ?? new Date()).toISOString();
    this.state = {
      mode: "offline",
      isConnected: false,
      updateCount: 0,
      lastSeq: parseSeq(options.lastSeq) === null ? null : (options.lastSeq ?? null),
    };
    if (this.streams.length > 0) this.openStream();
    else this.startPolling();
    if ((options.presencePollMs ?? 0) > 0) void this.pollPresence();
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

  /** Who is online and what they view or type (empty while nothing tells). */
  get presence(): PresenceState {
    return this.presenceState;
  }

  /**
   * Tells the server which order this user has open (`null`: none). Remembered and told again
   * on every new WebSocket; returns true when it was sent now (only over a WebSocket).
   */
  view(orderId: string | null): boolean {
    this.viewing = orderId;
    return this.sendFrame({ type: "view", orderId });
  }

  /** Tells the others this user is typing in `field` of `orderId` (WebSocket only). */
  typing(orderId: string, field: string): boolean {
    return this.sendFrame({ type: "typing", orderId, field });
  }

  /** Stops the stream, the polling and every timer; no callback runs afterwards. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.dropStream();
    this.stopPolling();
    clear(this.reconnectTimer);
    this.reconnectTimer = null;
    clear(this.typingTimer);
    this.typingTimer = null;
    clear(this.presencePollTimer);
    this.presencePollTimer = null;
    this.presenceAbort?.abort();
    this.presenceAbort = null;
    this.ticketAbort?.abort();
    this.ticketAbort = null;
    this.state = { ...this.state, mode: "offline", isConnected: false };
  }

  // --- stream ---------------------------------------------------------------------------

  private openStream(): void {
    const stream = this.streams[this.streamIndex];
    if (this.closed || !stream) return;
    const attempt = ++this.attempt;
    const current = () => attempt === this.attempt && !this.closed;
    const sink: TransportSink = {
      opened: (head) => {
        if (current()) this.onStreamOpen(stream.name, head);
      },
      event: (seq, event) => {
        if (!current()) return;
        this.armWatchdog();
        if (this.isAfterCursor(seq)) this.deliver([event], seq);
      },
      resync: (cursor) => {
        if (current()) this.onResyncFrame(cursor);
      },
      alive: (kind) => {
        if (!current()) return;
        if (kind === "heartbeat") this.noteHeartbeat();
        this.armWatchdog();
      },
      presence: (frame) => {
        if (!current()) return;
        this.armWatchdog();
        this.applyPresence({ ...frame, at: this.nowMs() } as PresenceAction);
      },
      failed: () => {
        if (current()) this.onStreamFailure(false);
      },
      reauth: () => {
        if (current()) this.opts.onError?.(new RealtimeError("the sign-in token expired", 401));
      },
    };

    this.opened = false;
    this.lastBeatAt = null;
    this.armWatchdog(); // a connection that never opens is dead too
    if (!this.ticketsWanted) {
      this.startTransport(stream, sink, null, current);
      return;
    }
    void this.fetchTicket().then((ticket) => {
      if (current()) this.startTransport(stream, sink, ticket, current);
    });
  }

  /**
   * A single-use ticket for the next live connection (`POST …/realtime/tickets`), or null to
   * use `?access_token=` (a server without tickets answers 404: not asked again).
   */
  private async fetchTicket(): Promise<string | null> {
    this.ticketAbort?.abort();
    const abort = new AbortController();
    this.ticketAbort = abort;
    try {
      const { baseUrl, tenant, token } = this.opts;
      const response = await this.fetchImpl(
        `${baseUrl}/api/tenants/${encodeURIComponent(tenant)}/realtime/tickets`,
        { method: "POST", headers: { Authorization: `Bearer ${token}` }, signal: abort.signal },
      );
      if (response.status === 404 || response.status === 405) this.ticketsWanted = false;
      if (response.status === 401 && !this.closed) {
        this.opts.onError?.(new RealtimeError("the sign-in token is no longer valid", 401));
      }
      if (!response.ok) return null;
      const body = (await response.json()) as { ticket?: unknown };
      return typeof body.ticket === "string" && body.ticket ? body.ticket : null;
    } catch {
      return null;
    } finally {
      if (this.ticketAbort === abort) this.ticketAbort = null;
    }
  }

  private startTransport(
    stream: StreamOption,
    sink: TransportSink,
    ticket: string | null,
    current: () => boolean,
  ): void {
    let transport: Transport;
    try {
      transport = stream.open(
        {
          baseUrl: this.opts.baseUrl,
          tenant: this.opts.tenant,
          token: this.opts.token,
          ticket,
          cursor: this.state.lastSeq,
        },
        sink,
      );
    } catch {
      // This transport cannot even start here: poll at once while the next one is tried.
      if (current()) this.onStreamFailure(true);
      return;
    }
    if (current()) this.stream = transport;
    else transport.close();
  }

  private onStreamOpen(name: StreamTransportName, head: string | null): void {
    this.opened = true;
    this.handoffs = 0;
    this.armWatchdog();
    this.stopPolling();
    // Failures in a row are forgotten only once this stream has stayed up for a while, so a
    // stream that opens and dies at once still ends in polling.
    clear(this.healthyTimer);
    this.healthyTimer = setTimeout(() => {
      this.healthyTimer = null;
      this.streamErrors = 0;
    }, this.opts.healthyAfterMs);

    const hadCursor = this.state.lastSeq !== null;
    this.setState({
      mode: name,
      isConnected: true,
      ...(!hadCursor && parseSeq(head) !== null ? { lastSeq: head } : {}),
    });
    this.logger?.log("Real-time connection established");
    if (name === "ws" && this.viewing !== null) this.sendFrame({ type: "view", orderId: this.viewing });
    // Without a cursor the server starts the stream at its head: whatever changed before that
    // is only in a fresh list, so the app loads one now.
    if (!hadCursor) this.opts.onResync?.();
  }

  /**
   * The stream failed (`now` false) or is taken as dead or unusable (`now` true: the watchdog
   * fired, or the transport could not start). Polling starts at once when `now`, otherwise after
   * `maxStreamErrors` failures in a row; the next stream attempt waits a jittered backoff.
   */
  private onStreamFailure(now: boolean): void {
    // What a socket said about presence is stale once it is gone (polls may tell again).
    if (this.state.mode === "ws") this.applyPresence({ type: "reset" });
    // A stream refused before it opened (e.g. a server without /realtime/ws answers 404) hands
    // over to the next transport in the list at once, once per transport: the backoff is for
    // when every transport failed, so a missing transport costs no visible delay.
    if (!now && !this.opened && this.handoffs < this.streams.length - 1) {
      this.handoffs += 1;
      this.dropStream();
      this.streamIndex = (this.streamIndex + 1) % this.streams.length;
      if (this.state.isConnected) this.setState({ isConnected: false, mode: "offline" });
      clear(this.reconnectTimer);
      this.reconnectTimer = setTimeout(() => {
        this.reconnectTimer = null;
        this.openStream();
      }, 0);
      return;
    }
    this.handoffs = 0;
    this.dropStream();
    this.streamErrors += 1;
    this.streamIndex = (this.streamIndex + 1) % this.streams.length;
    const fallBack =
      this.canPoll && (now || this.polling || this.streamErrors >= this.opts.maxStreamErrors);
    this.setState({ isConnected: false, mode: fallBack ? "polling" : "offline" });
    if (fallBack) this.startPolling();
    this.scheduleReconnect();
  }

  private dropStream(): void {
    this.attempt += 1; // whatever the old transport still reports is ignored
    const stream = this.stream;
    this.stream = null;
    stream?.close();
    clear(this.watchdogTimer);
    this.watchdogTimer = null;
    clear(this.healthyTimer);
    this.healthyTimer = null;
  }

  private armWatchdog(): void {
    clear(this.watchdogTimer);
    this.watchdogTimer = null;
    const { heartbeatMs } = this.opts;
    if (!(heartbeatMs > 0) || this.closed) return;
    this.watchdogTimer = setTimeout(() => {
      this.watchdogTimer = null;
      this.onStreamFailure(true);
    }, this.heartbeatPeriod() * 2.5);
  }

  /**
   * The heartbeat period the watchdog assumes: learned from the server (the middle of the last
   * three gaps, so one late beat does not stretch it), or `heartbeatMs`.
   */
  heartbeatPeriod(): number {
    const { heartbeatMs } = this.opts;
    if (!this.opts.learnHeartbeat || this.beatGaps.length === 0) return heartbeatMs;
    const sorted = [...this.beatGaps].sort((a, b) => a - b);
    const middle = sorted[Math.floor(sorted.length / 2)]!;
    return Math.min(heartbeatMs, Math.max(500, middle));
  }

  private noteHeartbeat(): void {
    if (!this.opts.learnHeartbeat) return;
    const now = this.nowMs();
    if (this.lastBeatAt !== null && now > this.lastBeatAt) {
      this.beatGaps = [...this.beatGaps, now - this.lastBeatAt].slice(-3);
    }
    this.lastBeatAt = now;
  }

  private scheduleReconnect(): void {
    if (this.closed || this.reconnectTimer !== null) return;
    const { reconnectDelay, maxReconnectDelay, random } = this.opts;
    const delay = backoffDelay(this.streamErrors, reconnectDelay, maxReconnectDelay, random);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.openStream();
    }, delay);
  }

  private onResyncFrame(cursor: string | null): void {
    this.armWatchdog();
    if (parseSeq(cursor) !== null) this.setState({ lastSeq: cursor });
    this.opts.onResync?.();
  }

  // --- polling --------------------------------------------------------------------------

  private startPolling(): void {
    if (this.closed || this.polling || !this.canPoll) return;
    this.polling = true;
    this.setState({ mode: "polling" });
    void this.poll();
  }

  private stopPolling(): void {
    this.polling = false;
    clear(this.pollTimer);
    this.pollTimer = null;
    this.pollAbort?.abort();
    this.pollAbort = null;
  }

  private async poll(): Promise<void> {
    this.pollTimer = null;
    if (!this.polling || this.closed) return;
    this.logger?.log("Polling for updates...");
    const since = this.state.lastSeq ?? this.startedAt;
    const abort = new AbortController();
    this.pollAbort = abort;

    let result: PollResult | null = null;
    let failure: RealtimeError | null = null;
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
      result = (await response.json()) as PollResult;
    } catch (error) {
      failure = error instanceof RealtimeError ? error : new RealtimeError(String(error), 0);
    }
    // Polling stopped (a stream opened) or the client closed while this poll was out.
    if (this.pollAbort !== abort || abort.signal.aborted) return;
    this.pollAbort = null;

    // The stream may have moved the cursor while this poll was out: then the answer may
    // overlap what was delivered, so it is dropped and the next poll asks from the new cursor.
    const raced = result !== null && since !== (this.state.lastSeq ?? this.startedAt);
    const again = raced || (result !== null && result.hasMore === true);
    // The next poll is scheduled before any callback runs, so a throwing callback cannot stop
    // polling (and a callback that calls close() clears it).
    this.pollTimer = setTimeout(() => void this.poll(), again ? 0 : this.opts.pollInterval);

    if (failure) {
      if (!this.state.isConnected) this.setState({ mode: "offline" });
      this.opts.onError?.(failure);
    } else if (result) {
      if (!this.state.isConnected) this.setState({ mode: "polling" });
      if (raced) return;
      if (result.resync) {
        if (parseSeq(result.cursor) !== null) this.setState({ lastSeq: result.cursor });
        this.opts.onResync?.();
      } else this.applyPoll(result);
    }
  }

  private applyPoll(result: PollResult): void {
    const cursor = result.cursor;
    if (!this.isAfterCursor(cursor)) return;
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

  // --- presence -------------------------------------------------------------------------

  private nowMs(): number {
    return (this.opts.now?.() ?? new Date()).getTime();
  }

  private onWebSocket(): boolean {
    return this.state.mode === "ws";
  }

  private sendFrame(frame: Record<string, unknown>): boolean {
    if (this.closed || this.state.mode !== "ws" || !this.stream?.send) return false;
    return this.stream.send(frame);
  }

  private applyPresence(action: PresenceAction): void {
    if (this.closed) return;
    const next = presenceReducer(this.presenceState, action);
    this.scheduleTypingExpiry(next);
    if (next === this.presenceState) return;
    this.presenceState = next;
    this.opts.onPresence?.(next);
  }

  private scheduleTypingExpiry(state: PresenceState): void {
    clear(this.typingTimer);
    this.typingTimer = null;
    const at = nextTypingExpiry(state);
    if (at === null || this.closed) return;
    this.typingTimer = setTimeout(
      () => {
        this.typingTimer = null;
        this.applyPresence({ type: "expire", now: this.nowMs() });
      },
      Math.max(0, at - this.nowMs()),
    );
  }

  /** `GET /presence` while no WebSocket tells; stops for good on a 404. */
  private async pollPresence(): Promise<void> {
    this.presencePollTimer = null;
    if (this.closed || !this.presenceSupported) return;
    if (this.state.mode !== "ws") {
      const abort = new AbortController();
      this.presenceAbort = abort;
      try {
        const { baseUrl, tenant, token } = this.opts;
        const response = await this.fetchImpl(
          `${baseUrl}/api/tenants/${encodeURIComponent(tenant)}/presence`,
          { headers: { Authorization: `Bearer ${token}` }, signal: abort.signal },
        );
        if (response.status === 404) this.presenceSupported = false;
        else if (response.ok && !this.onWebSocket()) {
          const body = (await response.json()) as { users?: unknown };
          if (!abort.signal.aborted) this.applyPresence({ type: "presence", users: body.users });
        }
      } catch {
        // A failed presence poll changes nothing; the next one tries again.
      }
      if (abort.signal.aborted || this.closed) return;
      this.presenceAbort = null;
    }
    if (this.presenceSupported && !this.closed) {
      this.presencePollTimer = setTimeout(() => void this.pollPresence(), this.opts.presencePollMs);
    }
  }

  // --- shared ---------------------------------------------------------------------------

  /** True when `seq` is a sequence number after the cursor: the exactly-once, in-order check. */
  private isAfterCursor(seq: string | null | undefined): seq is string {
    const last = parseSeq(this.state.lastSeq);
    const next = parseSeq(seq);
    return next !== null && (last === null || next > last);
  }

  private deliver(events: OrderEvent[], seq: string): void {
    this.setState({ lastSeq: seq, updateCount: this.state.updateCount + events.length });
    for (const event of events) {
      if (this.closed) return;
      this.logger?.log("Real-time update received:", event);
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

/** The stream transports named in `transports` that can run here, in the order given. */
function streamOptions(
  transports: readonly TransportName[],
  options: RealtimeClientOptions,
): StreamOption[] {
  const result: StreamOption[] = [];
  for (const name of new Set(transports)) {
    if (name === "sse") {
      const impl =
        options.EventSource !== undefined
          ? options.EventSource
          : (globalThis as { EventSource?: EventSourceConstructor }).EventSource;
      if (impl) result.push({ name, open: sseTransport(impl) });
    } else if (name === "ws") {
      const impl =
        options.WebSocket !== undefined
          ? options.WebSocket
          : (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
      if (impl) result.push({ name, open: wsTransport(impl) });
    }
  }
  return result;
}

function clear(timer: ReturnType<typeof setTimeout> | null): void {
  if (timer !== null) clearTimeout(timer);
}

/** A sequence number as a bigint, or null when the text is not one. */
function parseSeq(seq: string | null | undefined): bigint | null {
  return typeof seq === "string" && /^\d+$/.test(seq) ? BigInt(seq) : null;
}
