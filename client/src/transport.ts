// Stream transports: each turns one connection's frames into calls on a `TransportSink`.
//
// A transport holds no timer and no cursor. The `RealtimeClient` owns those (the heartbeat
// watchdog, the backoff, the one cursor shared with polling, exactly-once delivery), so adding a
// transport means writing one more `StreamTransportFactory` and naming it in `transports`.

import { ORDER_EVENT_TYPES, type OrderEvent } from "./types.js";

/** Transports the client can use, in the order of preference given by the `transports` option. */
export type TransportName = "sse" | "ws" | "polling";
export type StreamTransportName = Exclude<TransportName, "polling">;

/**
 * What a transport reports. Every call is also a sign of life for the heartbeat watchdog.
 * After `failed()` the transport is dead and must not call the sink again.
 */
export interface TransportSink {
  /** The server accepted the connection; `head` is its latest sequence number when it says so. */
  opened(head: string | null): void;
  /** An order event and its sequence number (not yet checked against the cursor). */
  event(seq: string, event: OrderEvent): void;
  /** The server cannot replay from our cursor: jump to `cursor` (when given) and refetch. */
  resync(cursor: string | null): void;
  /**
   * A frame with nothing to deliver (hello, …): the link is alive. `"heartbeat"` says it was
   * the server's periodic heartbeat (the client may learn the period from them).
   */
  alive(kind?: "heartbeat"): void;
  /** A `presence`, `presence_diff` or `typing` frame (WebSocket only); also a sign of life. */
  presence(frame: Record<string, unknown>): void;
  /** The connection failed or was closed by the other side. */
  failed(): void;
  /** The server says the token expired (`reauth`); it closes the connection next. */
  reauth(): void;
}

/** One connection attempt. `close()` is idempotent and stops every call to the sink. */
export interface Transport {
  close(): void;
  /**
   * Sends a client frame (`view`, `typing`) when the transport can talk back (WebSocket);
   * returns false when it cannot or the frame was not sent.
   */
  send?(frame: Record<string, unknown>): boolean;
}

export interface StreamTarget {
  baseUrl: string;
  tenant: string;
  token: string;
  /**
   * A single-use ticket from `POST …/realtime/tickets`, sent as `?ticket=` instead of the token
   * (a URL ends up in request logs); null: `?access_token=<token>`.
   */
  ticket?: string | null;
  /** Resume after this sequence number, or start at the server's head when null. */
  cursor: string | null;
}

/** The credential part of a live route's query string. */
function credential({ token, ticket }: StreamTarget): string {
  return ticket ? `?ticket=${encodeURIComponent(ticket)}` : `?access_token=${encodeURIComponent(token)}`;
}

/** Opens one connection. It may throw when the transport cannot even start (bad URL, …). */
export type StreamTransportFactory = (target: StreamTarget, sink: TransportSink) => Transport;

// --- SSE ----------------------------------------------------------------------------------

/** The part of the browser's `EventSource` this client uses (a test can pass a fake). */
export interface EventSourceLike {
  onopen: ((event: Event) => unknown) | null;
  onerror: ((event: Event) => unknown) | null;
  addEventListener(type: string, listener: (event: MessageEvent) => void): void;
  close(): void;
}

export type EventSourceConstructor = new (url: string) => EventSourceLike;

// Compile-time check that the browser's own EventSource fits (a type only: nothing is read).
type BrowserEventSourceFits = typeof EventSource extends EventSourceConstructor ? true : never;
const browserEventSourceFits: BrowserEventSourceFits = true;
void browserEventSourceFits;

/**
 * `GET /api/tenants/{t}/realtime/orders?access_token=…[&lastEventId=…]`: one named SSE event
 * per order event, `event: resync` with `{"cursor"}`, and `event: heartbeat` as a sign of life.
 * On any error the stream is closed here and reported: the browser would not retry after an
 * HTTP error, and the client decides when and how to try again.
 */
export function sseTransport(EventSourceImpl: EventSourceConstructor): StreamTransportFactory {
  return (target, sink) => {
    const { baseUrl, tenant, cursor } = target;
    let url = `${baseUrl}/api/tenants/${encodeURIComponent(tenant)}/realtime/orders` + credential(target);
    if (cursor !== null) url += `&lastEventId=${encodeURIComponent(cursor)}`;
    const source = new EventSourceImpl(url);
    let live = true;
    const close = () => {
      if (!live) return;
      live = false;
      source.onopen = null;
      source.onerror = null;
      source.close();
    };
    const listen = (type: string, handle: (message: MessageEvent) => void) =>
      source.addEventListener(type, (message) => {
        if (live) handle(message);
      });

    source.onopen = () => {
      if (live) sink.opened(null);
    };
    source.onerror = () => {
      if (!live) return;
      close();
      sink.failed();
    };
    for (const type of ORDER_EVENT_TYPES) {
      listen(type, (message) => {
        const event = parseJson(message.data) as OrderEvent | undefined;
        const seq = message.lastEventId || seqText(event?.id);
        if (event && typeof event === "object" && seq) sink.event(seq, { ...event, id: seq });
        else sink.alive(); // a frame this client cannot read is skipped, not fatal
      });
    }
    listen("resync", (message) => {
      const data = parseJson(message.data) as { cursor?: unknown } | undefined;
      sink.resync(seqText(data?.cursor) ?? (message.lastEventId || null));
    });
    listen("heartbeat", () => sink.alive("heartbeat"));
    listen("reauth", () => sink.reauth());
    listen("message", () => sink.alive()); // unnamed frames carry nothing for us, but prove life
    return { close };
  };
}

// --- WebSocket ----------------------------------------------------------------------------

/** The part of the browser's `WebSocket` this client uses (a test can pass a fake). */
export interface WebSocketLike {
  onopen: ((event: Event) => unknown) | null;
  onmessage: ((event: MessageEvent) => unknown) | null;
  onerror: ((event: Event) => unknown) | null;
  onclose: ((event: CloseEvent) => unknown) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

export type WebSocketConstructor = new (url: string) => WebSocketLike;

type BrowserWebSocketFits = typeof WebSocket extends WebSocketConstructor ? true : never;
const browserWebSocketFits: BrowserWebSocketFits = true;
void browserWebSocketFits;

/**
 * `GET /api/tenants/{t}/realtime/ws?access_token=…` with JSON frames. Server → client:
 * `hello {connectionId, head}` (the connection is up), `event {event}`, `resync {cursor}`,
 * `heartbeat`, `presence`/`presence_diff`/`typing` (handed to `sink.presence`), `reauth` (the
 * token expired; a close follows) and `error` (a bad client frame; the socket stays open). Client → server: `resume {after}` as soon as the socket opens, when a
 * cursor is known; `view` and `typing` through `send` once the server said hello.
 */
export function wsTransport(WebSocketImpl: WebSocketConstructor): StreamTransportFactory {
  return (target, sink) => {
    const { baseUrl, tenant, cursor } = target;
    const socket = new WebSocketImpl(
      webSocketUrl(`${baseUrl}/api/tenants/${encodeURIComponent(tenant)}/realtime/ws` + credential(target)),
    );
    let live = true;
    let greeted = false;
    const close = () => {
      if (!live) return;
      live = false;
      socket.onopen = null;
      socket.onmessage = null;
      socket.onerror = null;
      socket.onclose = null;
      socket.close(1000);
    };
    const fail = () => {
      if (!live) return;
      close();
      sink.failed();
    };

    socket.onopen = () => {
      if (!live) return;
      if (cursor !== null) {
        try {
          socket.send(JSON.stringify({ type: "resume", after: cursor }));
        } catch {
          fail();
          return;
        }
      }
      sink.alive();
    };
    socket.onerror = fail;
    socket.onclose = fail;
    socket.onmessage = (message) => {
      if (!live) return;
      const frame = parseJson(message.data) as Record<string, unknown> | undefined;
      switch (frame && typeof frame === "object" ? frame.type : undefined) {
        case "hello":
          greeted = true;
          sink.opened(seqText(frame!.head));
          break;
        case "presence":
        case "presence_diff":
        case "typing":
          sink.presence(frame!);
          break;
        case "event": {
          const event = frame!.event as OrderEvent | undefined;
          const seq = seqText(event?.id);
          if (event && typeof event === "object" && seq) sink.event(seq, { ...event, id: seq });
          else sink.alive();
          break;
        }
        case "resync":
          sink.resync(seqText(frame!.cursor));
          break;
        case "reauth":
          sink.reauth();
          break;
        case "error":
          // A frame of ours the server could not use; the socket stays open.
          sink.alive();
          break;
        case "heartbeat":
          sink.alive("heartbeat");
          break;
        default: // a frame we cannot read
          sink.alive();
      }
    };
    const send = (data: Record<string, unknown>): boolean => {
      if (!live || !greeted) return false;
      try {
        socket.send(JSON.stringify(data));
        return true;
      } catch {
        return false;
      }
    };
    return { close, send };
  };
}

/** `http(s)://…` → `ws(s)://…`; a relative URL is resolved against the page's address. */
function webSocketUrl(httpUrl: string): string {
  const page = (globalThis as { location?: { href?: string } }).location?.href;
  const url = new URL(httpUrl, page); // throws without a page for a relative URL: no transport
  if (url.protocol === "https:") url.protocol = "wss:";
  else if (url.protocol === "http:") url.protocol = "ws:";
  return url.toString();
}

// --- shared -------------------------------------------------------------------------------

function parseJson(data: unknown): unknown {
  try {
    return JSON.parse(String(data));
  } catch {
    return undefined;
  }
}

/** A sequence number sent as a string or a whole number, as text; otherwise null. */
function seqText(value: unknown): string | null {
  if (typeof value === "string" && value !== "") return value;
  if (typeof value === "number" && Number.isSafeInteger(value) && value >= 0) return String(value);
  return null;
}
