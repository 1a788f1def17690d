import { useEffect, useRef, useState } from "react";
import {
  RealtimeClient,
  type EventSourceConstructor,
  type OrderEvent,
  type RealtimeError,
  type RealtimeMode,
} from "./realtimeClient.js";

export interface UseRealtimeUpdatesOptions {
  tenant: string;
  token: string;
  baseUrl?: string;
  /** When false, no connection is held. Default true. */
  enabled?: boolean;
  /** Milliseconds between polls while the stream cannot be held. Default 3000. */
  pollInterval?: number;
  onUpdate?: (event: OrderEvent) => void;
  /** The list may be stale: fetch it again. */
  onResync?: () => void;
  onError?: (error: RealtimeError) => void;
  /** Read once per connection; for tests. */
  EventSource?: EventSourceConstructor | null;
  /** Read once per connection; for tests. */
  fetch?: typeof fetch;
}

export interface UseRealtimeUpdatesResult {
  /** True only while the SSE stream is open. */
  isConnected: boolean;
  mode: RealtimeMode;
  /** How many order events arrived since this connection started. */
  updates: number;
  lastUpdate: OrderEvent | null;
  lastSeq: string | null;
}

const OFFLINE: Omit<UseRealtimeUpdatesResult, "lastUpdate"> = {
  isConnected: false,
  mode: "offline",
  updates: 0,
  lastSeq: null,
};

/**
 * Holds a `RealtimeClient` for the component's lifetime. It reconnects when the tenant, the
 * token, the base URL or the poll interval change, and closes on unmount or `enabled: false`.
 * Callbacks may change on every render without reconnecting.
 */
export function useRealtimeUpdates(options: UseRealtimeUpdatesOptions): UseRealtimeUpdatesResult {
  const { tenant, token, baseUrl = "", enabled = true, pollInterval = 3000 } = options;
  const latest = useRef(options);
  useEffect(() => {
    latest.current = options;
  });

  const [status, setStatus] = useState(OFFLINE);
  const [lastUpdate, setLastUpdate] = useState<OrderEvent | null>(null);

  useEffect(() => {
    if (!enabled || !tenant || !token) {
      setStatus(OFFLINE);
      return;
    }
    const client = new RealtimeClient({
      tenant,
      token,
      baseUrl,
      pollInterval,
      EventSource: latest.current.EventSource,
      fetch: latest.current.fetch,
      onUpdate: (event) => {
        setLastUpdate(event);
        latest.current.onUpdate?.(event);
      },
      onResync: () => latest.current.onResync?.(),
      onError: (error) => latest.current.onError?.(error),
      onStateChange: (state) =>
        setStatus({
          isConnected: state.isConnected,
          mode: state.mode,
          updates: state.updateCount,
          lastSeq: state.lastSeq,
        }),
    });
    setStatus({
      isConnected: client.isConnected,
      mode: client.mode,
      updates: client.updateCount,
      lastSeq: client.lastSeq,
    });
    return () => {
      client.close();
      setStatus(OFFLINE);
    };
  }, [tenant, token, baseUrl, enabled, pollInterval]);

  return { ...status, lastUpdate };
}
