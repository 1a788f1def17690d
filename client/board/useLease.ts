// The shell of the lease reducer (lease.ts): takes the lease when the editor opens, renews it
// while it is open, takes it when the holder we wait for lets go, releases it on close.
import { useCallback, useEffect, useReducer, useRef } from "react";
import type { OrderEvent, OrderLock } from "../src/index.js";
import { ApiError, type BoardApi } from "./api.js";
import {
  initialLease,
  LEASE_TTL_SECONDS,
  leaseReducer,
  RENEW_MS,
  type LeaseState,
} from "./lease.js";

export function useLease(
  api: BoardApi,
  orderId: string,
  me: string,
  /** Subscribes to the board's events; returns the unsubscribe. */
  subscribe: (listener: (event: OrderEvent) => void) => () => void,
  onUnauthorized: () => void,
): { lease: LeaseState; takeOver: () => Promise<void>; retry: () => void } {
  const [lease, dispatch] = useReducer(leaseReducer, undefined, () => initialLease(orderId, me));
  const leaseRef = useRef(lease);
  leaseRef.current = lease;
  const unauthorized = useRef(onUnauthorized);
  unauthorized.current = onUnauthorized;

  const take = useCallback(
    async (force: boolean) => {
      try {
        const lock = await api.lock(orderId, { ttlSeconds: LEASE_TTL_SECONDS, force });
        dispatch({ type: "acquired", lock });
      } catch (error) {
        if (error instanceof ApiError && error.status === 423 && error.lock) {
          dispatch({ type: "refused", lock: error.lock });
        } else if (error instanceof ApiError && error.status === 401) {
          unauthorized.current();
        } else {
          dispatch({
            type: "failed",
            message: error instanceof Error ? error.message : String(error),
          });
        }
      }
    },
    [api, orderId],
  );

  // Take it whenever the reducer says so (on open, when the holder lets go, after a lapse).
  useEffect(() => {
    if (lease.phase === "acquiring") void take(false);
  }, [lease.phase, take]);

  // Renew while held.
  useEffect(() => {
    if (lease.phase !== "held") return;
    const timer = setInterval(() => void take(false), RENEW_MS);
    return () => clearInterval(timer);
  }, [lease.phase, take]);

  // Wait for the other holder's lease to run out by our clock too (its expiry event may lag).
  const blockedUntil = lease.phase === "blocked" ? lease.lock?.expiresAt : undefined;
  useEffect(() => {
    if (!blockedUntil) return;
    const delay = Math.max(0, Date.parse(blockedUntil) - Date.now()) + 500;
    const timer = setTimeout(() => dispatch({ type: "expired" }), delay);
    return () => clearTimeout(timer);
  }, [blockedUntil]);

  useEffect(() => subscribe((event) => dispatch({ type: "event", event })), [subscribe]);

  // Release on close (and when the page goes away).
  useEffect(() => {
    const release = (keepalive: boolean) => {
      if (leaseRef.current.phase === "held") {
        dispatch({ type: "released" });
        api.unlock(orderId, keepalive).catch(() => undefined);
      }
    };
    const onPageHide = () => release(true);
    window.addEventListener("pagehide", onPageHide);
    return () => {
      window.removeEventListener("pagehide", onPageHide);
      release(false);
    };
  }, [api, orderId]);

  const takeOver = useCallback(() => take(true), [take]);
  const retry = useCallback(() => dispatch({ type: "acquire" }), []);
  return { lease, takeOver, retry };
}

export type { OrderLock };
