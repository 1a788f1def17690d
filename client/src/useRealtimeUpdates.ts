import { useCallback, useEffect, useRef, useState } from "react";
import { EMPTY_PRESENCE, type PresenceState } from "./presence.js";
import {
  RealtimeClient,
  type EventSourceConstructor,
  type OrderEvent,
  type RealtimeError,
  type RealtimeLogger,
  type RealtimeMode,
  type TransportName,
  type WebSocketConstructor,
} from "./realtimeClient.js";

export interface UseRealtimeUpdatesOptions {
  /** No connection is held until both `tenant` and `token` are given. */
  tenant?: string;
  token?: string;
  baseUrl?: string;
  /** When false, no connection is held. Default true. */
  enabled?: boolean;
  /** Milliseconds between polls while no stream is open. Default 3000. */
  pollInterval?: number;
  /** See `RealtimeClientOptions`. Default `["sse", "polling"]`. */
  transports?: readonly TransportName[];
  /** The server's heartbeat period; silence for 2.5× this means a dead stream. Default 30000. */
  heartbeatMs?: number;
  /** Learn the heartbeat period from the server's heartbeats (see `RealtimeClientOptions`). */
  learnHeartbeat?: boolean;
  /** Live connections use single-use tickets (see `RealtimeClientOptions`). Default false. */
  tickets?: boolean;
  /** How long a stream must stay open before its failures are forgotten. Default 10000. */
  healthyAfterMs?: number;
  /** How many of the latest updates `updates` keeps (at least 1). Default 100. */
  maxUpdates?: number;
  /**
   * Resume after this sequence number (e.g. the cursor taken before loading the list). Read
   * when a connection opens; changing it alone does not reconnect.
   */
  lastSeq?: string | null;
  /** See `RealtimeClientOptions.presencePollMs`. Default 0 (off). */
  presencePollMs?: number;
  onUpdate?: (event: OrderEvent) => void;
  /** The list may be stale: fetch it again. */
  onResync?: () => void;
  onError?: (error: RealtimeError) => void;
  onPresence?: (presence: PresenceState) => void;
  /** Read once per connection; for tests. */
  EventSource?: EventSourceConstructor | null;
  /** Read once per connection; for tests. */
  WebSocket?: WebSocketConstructor | null;
  /** Read once per connection; for tests. */
  fetch?: typeof fetch;
  /** Read once per connection; for tests. */
  random?: () => number;
  /** Read once per connection; `null` silences the console messages. */
  logger?: RealtimeLogger | null;
}

export interface UseRealtimeUpdatesResult {
  /** True only while a stream is open. */
  isConnected: boolean;
  /** The latest order events of this connection (at most `maxUpdates`), newest last. */
  updates: OrderEvent[];
  /** How many order events arrived on this connection (not bounded). */
  updateCount: number;
  mode: RealtimeMode;
  lastUpdate: OrderEvent | null;
  lastSeq: string | null;
  /** Who is online, viewing and typing (empty without a WebSocket or presence polling). */
  presence: PresenceState;
  /** Tells the others which order this user has open (sent over a WebSocket only). */
  view: (orderId: string | null) => boolean;
  /** Tells the others this user types in `field` of `orderId` (sent over a WebSocket only). */
  typing: (orderId: string, field: string) => boolean;
}

interface Status {
  isConnected: boolean;
  mode: RealtimeMode;
  updateCount: number;
  lastSeq: string | null;
}

const OFFLINE: Status = { isConnected: false, mode: "offline", updateCount: 0, lastSeq: null };
const NO_UPDATES: OrderEvent[] = [];

/**
 * Holds a `RealtimeClient` while the component is mounted and `enabled` is true. It reconnects
 * when the tenant, the token, the base URL, the poll interval, the transports or the heartbeat
 * settings change. Callbacks are read through a ref: a new function on every render is called
 * and does not reconnect.
 */
export function useRealtimeUpdates(options: UseRealtimeUpdatesOptions): UseRealtimeUpdatesResult {
  const {
    tenant = "",
    token = "",
    baseUrl = "",
    enabled = true,
    pollInterval = 3000,
    heartbeatMs,
    healthyAfterMs,
    presencePollMs,
    learnHeartbeat = false,
    tickets = false,
  } = options;
  // A list given inline is a new array on every render; the connection depends on its content.
  // The list itself is read through the ref when connecting.
  const transportsKey = options.transports?.join(",");

  const latest = useRef(options);
  useEffect(() => {
    latest.current = options;
  });

  const [status, setStatus] = useState(OFFLINE);
  const [updates, setUpdates] = useState(NO_UPDATES);
  const [presence, setPresence] = useState(EMPTY_PRESENCE);
  const clientRef = useRef<RealtimeClient | null>(null);
  const viewing = useRef<string | null>(null);

  useEffect(() => {
    if (!enabled || !tenant || !token) return;
    const { transports, EventSource, WebSocket, fetch, random, logger, lastSeq } = latest.current;
    const client = new RealtimeClient({
      tenant,
      token,
      baseUrl,
      pollInterval,
      transports,
      heartbeatMs,
      healthyAfterMs,
      presencePollMs,
      learnHeartbeat,
      tickets,
      lastSeq,
      EventSource,
      WebSocket,
      fetch,
      random,
      logger,
      onUpdate: (event) => {
        const max = Math.max(1, latest.current.maxUpdates ?? 100);
        setUpdates((list) => keepLatest([...list, event], max));
        latest.current.onUpdate?.(event);
      },
      onResync: () => latest.current.onResync?.(),
      onError: (error) => latest.current.onError?.(error),
      onPresence: (next) => {
        setPresence(next);
        latest.current.onPresence?.(next);
      },
      onStateChange: ({ isConnected, mode, updateCount, lastSeq }) =>
        setStatus({ isConnected, mode, updateCount, lastSeq }),
    });
    clientRef.current = client;
    if (viewing.current !== null) client.view(viewing.current);
    setStatus({
      isConnected: client.isConnected,
      mode: client.mode,
      updateCount: client.updateCount,
      lastSeq: client.lastSeq,
    });
    return () => {
      client.close();
      if (clientRef.current === client) clientRef.current = null;
      setStatus(OFFLINE);
      setUpdates(NO_UPDATES);
      setPresence(EMPTY_PRESENCE);
    };
  }, [
    tenant,
    token,
    baseUrl,
    enabled,
    pollInterval,
    transportsKey,
    heartbeatMs,
    healthyAfterMs,
    presencePollMs,
    learnHeartbeat,
    tickets,
  ]);

  const view = useCallback((orderId: string | null) => {
    viewing.current = orderId;
    return clientRef.current?.view(orderId) ?? false;
  }, []);
  const typing = useCallback(
    (orderId: string, field: string) => clientRef.current?.typing(orderId, field) ?? false,
    [],
  );

  return {
    ...status,
    updates,
    lastUpdate: updates[updates.length - 1] ?? null,
    presence,
    view,
    typing,
  };
}

function keepLatest<T>(list: T[], max: number): T[] {
  return list.length > max ? list.slice(list.length - max) : list;
}
