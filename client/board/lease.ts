// The edit lease of one open order, as a pure reducer.
//
// Opening an order for editing takes its lease (`POST …/lock`); the shell renews it every
// `RENEW_MS` while the editor is open and releases it on close. Someone else's live lease makes
// the editor wait ("florist-a is editing"): the user may write a draft, and Save waits until the
// lease is free, then the board takes it. A manager may take it over. The reducer only says
// what state the lease is in; the shell (useLease) does the calls and the timers.

import type { OrderEvent, OrderLock } from "../src/index.js";

/** Lease length asked for, and how often the holder renews it. */
export const LEASE_TTL_SECONDS = 60;
export const RENEW_MS = 20_000;

export interface LeaseState {
  orderId: string;
  me: string;
  /**
   * acquiring: asking for it; held: ours; blocked: someone else's (wait or take over);
   * lost: a manager took it over or broke it while we held it; released: closed.
   */
  phase: "acquiring" | "held" | "blocked" | "lost" | "released";
  lock: OrderLock | null;
  /** Who ended our lease (phase lost). */
  lostTo: string | null;
  error: string | null;
}

export type LeaseAction =
  | { type: "acquire" }
  | { type: "acquired"; lock: OrderLock }
  /** 423: someone else holds it. */
  | { type: "refused"; lock: OrderLock }
  | { type: "failed"; message: string }
  /** An event of this order (order_locked / order_unlocked, or a polled state). */
  | { type: "event"; event: OrderEvent }
  /** The holder we wait for let the lease run out (by our clock). */
  | { type: "expired" }
  | { type: "released" };

export function initialLease(orderId: string, me: string): LeaseState {
  return { orderId, me, phase: "acquiring", lock: null, lostTo: null, error: null };
}

export function leaseReducer(state: LeaseState, action: LeaseAction): LeaseState {
  if (state.phase === "released") return state;
  switch (action.type) {
    case "acquire":
      return { ...state, phase: "acquiring", error: null, lostTo: null };
    case "acquired":
      return { ...state, phase: "held", lock: action.lock, error: null, lostTo: null };
    case "refused":
      if (state.phase === "held") {
        return { ...state, phase: "lost", lock: action.lock, lostTo: action.lock.holder };
      }
      return { ...state, phase: "blocked", lock: action.lock, error: null };
    case "failed":
      return { ...state, error: action.message };
    case "expired":
      return state.phase === "blocked" ? { ...state, phase: "acquiring", lock: null } : state;
    case "released":
      return { ...state, phase: "released" };
    case "event":
      return onEvent(state, action.event);
  }
}

function onEvent(state: LeaseState, event: OrderEvent): LeaseState {
  if (event.orderId !== state.orderId) return state;
  const me = state.me;
  if (event.type === "order_locked" && event.lock) {
    const lock = event.lock;
    if (lock.holder === me) {
      return state.phase === "acquiring" || state.phase === "held"
        ? { ...state, phase: "held", lock }
        : state;
    }
    if (state.phase === "held") return { ...state, phase: "lost", lock, lostTo: lock.holder };
    return { ...state, phase: "blocked", lock };
  }
  if (event.type === "order_unlocked") {
    const was = event.previousHolder ?? null;
    if (was === me) {
      if (state.phase !== "held") return state;
      // A manager broke our lease: do not take it back behind their back.
      if (event.reason === "broken") {
        return { ...state, phase: "lost", lock: null, lostTo: event.updatedBy ?? null };
      }
      // Ran out (a renewal came too late): take it again.
      return { ...state, phase: "acquiring", lock: null };
    }
    // Someone else's lease ended: our turn.
    return state.phase === "blocked" ? { ...state, phase: "acquiring", lock: null } : state;
  }
  if (event.type === "order_deleted") return { ...state, phase: "lost", lock: null, lostTo: event.updatedBy };
  // A polled state (or any change) tells the lease as of now.
  if (event.synthetic && event.order) {
    const lock = event.order.lock ?? null;
    if (state.phase === "blocked" && !lock) return { ...state, phase: "acquiring", lock: null };
    if (state.phase === "blocked" && lock && lock.holder !== me) return { ...state, lock };
    if (state.phase === "held" && lock && lock.holder !== me) {
      return { ...state, phase: "lost", lock, lostTo: lock.holder };
    }
  }
  return state;
}

/** The user may save: the lease is ours. */
export function canSave(state: LeaseState): boolean {
  return state.phase === "held";
}

/** A manager may take over a lease someone else holds. */
export function canTakeOver(state: LeaseState, role: string): boolean {
  return role === "manager" && (state.phase === "blocked" || state.phase === "lost");
}

/** A live lease of someone other than `me` on an order (by the given clock). */
export function heldByOther(lock: OrderLock | null | undefined, me: string, now: number): OrderLock | null {
  if (!lock || lock.holder === me) return null;
  return Date.parse(lock.expiresAt) > now ? lock : null;
}

/** What the editor says about the lease. */
export function leaseMessage(state: LeaseState, orderNumber: string): string {
  switch (state.phase) {
    case "acquiring":
      return `Opening ${orderNumber} for editing…`;
    case "held":
      return `You are editing ${orderNumber}; others cannot change it until you close.`;
    case "blocked":
      return state.lock
        ? `${state.lock.holder} is editing ${orderNumber} (until ${clock(state.lock.expiresAt)}). ` +
            "You can write your change; Save works once they close it."
        : `Someone is editing ${orderNumber}.`;
    case "lost":
      return state.lostTo
        ? `${state.lostTo} took over ${orderNumber}. Your draft is kept; Save is off until you reopen it.`
        : `You no longer hold ${orderNumber}. Your draft is kept; Save is off until you reopen it.`;
    case "released":
      return "";
  }
}

export function clock(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}
