// The board's orders: list loads merged with live events, as a pure reducer.
//
// How a load and the live stream fit together (no gap, no stale overwrite):
// 1. Before the first list load the board reads the shop's cursor from the polling endpoint
//    (`GET …/orders/realtime-status?since=<far future>` answers `{cursor: head}` and no orders).
// 2. The realtime client starts from that cursor, so every change after it arrives as an event,
//    also the ones made while the list pages load.
// 3. Events are applied as they come, during the load too. When the list arrives, an order an
//    event touched during the load keeps the event's copy unless the list's is strictly newer
//    (higher version); an order deleted during the load stays deleted (a tombstone), so a page
//    read before the delete cannot bring it back.
// The server's list is ordered by the last change (`updated_at DESC`), so an order changed during
// the load can move between pages and be missed by the list: its event covers it (step 2).

import type { Note, Order, OrderEvent, OrderStatus } from "../src/index.js";

/** Statuses whose old orders are loaded on demand ("Show older"). */
export const ARCHIVE_STATUSES = ["delivered", "cancelled"] as const;
export type ArchiveStatus = (typeof ARCHIVE_STATUSES)[number];

export interface ArchivePaging {
  /** The list cursor of the next older page, or null when everything is loaded. */
  nextCursor: string | null;
  /** Whether the user asked to see orders older than the cutoff. */
  showOlder: boolean;
}

export interface OrdersState {
  orders: Record<string, Order>;
  /** Sequence number at which each order we know of was deleted. */
  tombstones: Record<string, string>;
  /** The list load in flight: its number, the cursor it started at, the orders events touched. */
  load: { id: number; since: string | null; touched: string[] } | null;
  /** True once one list load has finished. */
  loaded: boolean;
  archive: Record<ArchiveStatus, ArchivePaging>;
  /** Note threads of the orders someone opened (by order id), oldest first. */
  notes: Record<string, Note[]>;
}

export const INITIAL_ORDERS: OrdersState = {
  orders: {},
  tombstones: {},
  load: null,
  loaded: false,
  archive: {
    delivered: { nextCursor: null, showOlder: false },
    cancelled: { nextCursor: null, showOlder: false },
  },
  notes: {},
};

export type OrdersAction =
  | { type: "load_started"; id: number; since: string | null }
  | {
      type: "load_finished";
      id: number;
      orders: Order[];
      archive: Record<ArchiveStatus, string | null>;
    }
  | { type: "load_failed"; id: number }
  | { type: "event"; event: OrderEvent }
  /** The answer of our own write (PUT 200, or the current order of a 412/423). */
  | { type: "order_seen"; order: Order }
  /** Our write got 404: the order is gone. */
  | { type: "order_gone"; orderId: string }
  | { type: "older_loaded"; status: ArchiveStatus; orders: Order[]; nextCursor: string | null }
  | { type: "show_older"; status: ArchiveStatus; show: boolean }
  | { type: "notes_loaded"; orderId: string; notes: Note[] }
  | { type: "note_posted"; note: Note }
  | { type: "notes_closed"; orderId: string };

export function ordersReducer(state: OrdersState, action: OrdersAction): OrdersState {
  switch (action.type) {
    case "load_started":
      return { ...state, load: { id: action.id, since: action.since, touched: [] } };

    case "load_failed":
      return state.load?.id === action.id ? { ...state, load: null } : state;

    case "load_finished": {
      // A load that a newer one replaced is dropped.
      if (state.load?.id !== action.id) return state;
      const touched = new Set(state.load.touched);
      const orders: Record<string, Order> = {};
      for (const listed of action.orders) {
        if (state.tombstones[listed.id] !== undefined) continue;
        const current = state.orders[listed.id];
        orders[listed.id] =
          current && touched.has(listed.id) && current.version >= listed.version ? current : listed;
      }
      // Orders that events brought during the load and the list does not have (created after
      // the page that would have held them was read) stay.
      for (const id of touched) {
        const current = state.orders[id];
        if (current && !orders[id]) orders[id] = current;
      }
      // A tombstone is needed only against loads that started before its delete.
      const since = parseSeq(state.load.since);
      const tombstones: Record<string, string> = {};
      for (const [id, seq] of Object.entries(state.tombstones)) {
        if (since === null || (parseSeq(seq) ?? 0n) > since) tombstones[id] = seq;
      }
      return {
        ...state,
        orders,
        tombstones,
        load: null,
        loaded: true,
        archive: {
          delivered: { nextCursor: action.archive.delivered, showOlder: false },
          cancelled: { nextCursor: action.archive.cancelled, showOlder: false },
        },
      };
    }

    case "event":
      return applyEvent(state, action.event);

    case "order_seen": {
      const current = state.orders[action.order.id];
      if (state.tombstones[action.order.id] !== undefined) return state;
      if (current && current.version > action.order.version) return state;
      return touch({ ...state, orders: { ...state.orders, [action.order.id]: action.order } }, action.order.id);
    }

    case "order_gone": {
      if (!state.orders[action.orderId]) return state;
      const orders = { ...state.orders };
      delete orders[action.orderId];
      return touch({ ...state, orders }, action.orderId);
    }

    case "older_loaded": {
      const orders = { ...state.orders };
      for (const o of action.orders) {
        if (state.tombstones[o.id] !== undefined) continue;
        const current = orders[o.id];
        if (!current || current.version < o.version) orders[o.id] = o;
      }
      return {
        ...state,
        orders,
        archive: {
          ...state.archive,
          [action.status]: { nextCursor: action.nextCursor, showOlder: true },
        },
      };
    }

    case "show_older":
      return {
        ...state,
        archive: {
          ...state.archive,
          [action.status]: { ...state.archive[action.status], showOlder: action.show },
        },
      };

    case "notes_loaded": {
      // Notes that arrived live while the thread loaded are kept.
      const live = state.notes[action.orderId] ?? [];
      return {
        ...state,
        notes: { ...state.notes, [action.orderId]: mergeNotes(action.notes, live) },
      };
    }

    case "note_posted":
      return addNote(state, action.note, true);

    case "notes_closed": {
      if (!state.notes[action.orderId]) return state;
      const notes = { ...state.notes };
      delete notes[action.orderId];
      return { ...state, notes };
    }
  }
}

function applyEvent(state: OrdersState, event: OrderEvent): OrdersState {
  const id = event.orderId;
  if (event.type === "order_deleted") {
    const orders = { ...state.orders };
    delete orders[id];
    return touch({ ...state, orders, tombstones: { ...state.tombstones, [id]: event.id } }, id);
  }
  let next = state;
  const incoming = event.order;
  if (incoming && state.tombstones[id] === undefined) {
    const current = state.orders[id];
    // Events come in sequence order: the same version is a newer state too (a lock or a note
    // does not bump the version).
    if (!current || incoming.version >= current.version) {
      next = { ...state, orders: { ...state.orders, [id]: incoming } };
    }
  }
  if (event.type === "note_added" && event.note) next = addNote(next, event.note, false);
  return touch(next, id);
}

/** Appends a note to a thread that is open (loaded or loading), once. */
function addNote(state: OrdersState, note: Note, open: boolean): OrdersState {
  const thread = state.notes[note.orderId];
  if (!thread && !open) return state;
  if (thread?.some((n) => n.id === note.id)) return state;
  return { ...state, notes: { ...state.notes, [note.orderId]: [...(thread ?? []), note] } };
}

function mergeNotes(loaded: Note[], live: Note[]): Note[] {
  const ids = new Set(loaded.map((n) => n.id));
  return [...loaded, ...live.filter((n) => !ids.has(n.id))];
}

/** Marks an order as changed during the load in flight, if any. */
function touch(state: OrdersState, id: string): OrdersState {
  if (!state.load || state.load.touched.includes(id)) return state;
  return { ...state, load: { ...state.load, touched: [...state.load.touched, id] } };
}

function parseSeq(seq: string | null | undefined): bigint | null {
  return typeof seq === "string" && /^\d+$/.test(seq) ? BigInt(seq) : null;
}

// --- what the board shows -----------------------------------------------------------------

export const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * The orders of one column in board order: by delivery date, then creation, then id (stable
 * whatever changes). Delivered and cancelled orders whose last change is older than
 * `archiveDays` are left out unless the user asked for older ones.
 */
export function columnOrders(
  state: OrdersState,
  status: OrderStatus,
  options: { now: number; archiveDays: number; onlyMine?: string | null },
): { orders: Order[]; hiddenOlder: number } {
  const cutoff = new Date(options.now - options.archiveDays * DAY_MS).toISOString();
  const archive = isArchive(status) ? state.archive[status] : null;
  let hiddenOlder = 0;
  const orders: Order[] = [];
  for (const order of Object.values(state.orders)) {
    if (order.status !== status) continue;
    if (options.onlyMine && order.assignedTo !== options.onlyMine) continue;
    if (archive && !archive.showOlder && order.updatedAt < cutoff) {
      hiddenOlder += 1;
      continue;
    }
    orders.push(order);
  }
  orders.sort(boardOrder);
  return { orders, hiddenOlder };
}

export function isArchive(status: OrderStatus): status is ArchiveStatus {
  return (ARCHIVE_STATUSES as readonly string[]).includes(status);
}

export function boardOrder(a: Order, b: Order): number {
  const da = a.deliveryDate ?? "9999";
  const db = b.deliveryDate ?? "9999";
  if (da !== db) return da < db ? -1 : 1;
  if (a.createdAt !== b.createdAt) return a.createdAt < b.createdAt ? -1 : 1;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}
