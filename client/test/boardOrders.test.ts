import { describe, expect, it } from "vitest";
import type { OrderEvent } from "../src/index.js";
import {
  columnOrders,
  DAY_MS,
  INITIAL_ORDERS,
  ordersReducer,
  type OrdersAction,
  type OrdersState,
} from "../board/orders.js";
import { order, orderEvent } from "./fakes.js";

const run = (actions: OrdersAction[], state: OrdersState = INITIAL_ORDERS) => actions.reduce(ordersReducer, state);
const noArchive = { delivered: null, cancelled: null };

function deleted(seq: number, orderId: string): OrderEvent {
  return { ...orderEvent(seq, orderId, 1), type: "order_deleted", order: null };
}

describe("a list load merged with live events", () => {
  it("shows the list when nothing happened during the load", () => {
    const state = run([
      { type: "load_started", id: 1, since: "10" },
      { type: "load_finished", id: 1, orders: [order("o1", 3), order("o2", 1)], archive: noArchive },
    ]);
    expect(Object.keys(state.orders).sort()).toEqual(["o1", "o2"]);
    expect(state.loaded).toBe(true);
    expect(state.load).toBeNull();
  });

  it("keeps the event's copy of an order changed during the load over the list's older one", () => {
    const state = run([
      { type: "load_started", id: 1, since: "10" },
      { type: "event", event: { ...orderEvent(11, "o1", 4), order: order("o1", 4, { assignedTo: "florist-a" }) } },
      { type: "load_finished", id: 1, orders: [order("o1", 3)], archive: noArchive },
    ]);
    expect(state.orders.o1?.version).toBe(4);
    expect(state.orders.o1?.assignedTo).toBe("florist-a");
  });

  it("lets events win a tie (a lease or a note does not bump the version)", () => {
    const locked: OrderEvent = {
      ...orderEvent(11, "o1", 3),
      type: "order_locked",
      order: order("o1", 3, { lock: { holder: "florist-b", expiresAt: "2030-01-01T00:00:00Z", lockVersion: 1 } }),
    };
    const state = run([
      { type: "load_started", id: 1, since: "10" },
      { type: "event", event: locked },
      { type: "load_finished", id: 1, orders: [order("o1", 3)], archive: noArchive },
    ]);
    expect(state.orders.o1?.lock?.holder).toBe("florist-b");
  });

  it("takes the list's copy when it is newer than the event's", () => {
    const state = run([
      { type: "load_started", id: 1, since: "10" },
      { type: "event", event: orderEvent(11, "o1", 4) },
      { type: "load_finished", id: 1, orders: [order("o1", 5)], archive: noArchive },
    ]);
    expect(state.orders.o1?.version).toBe(5);
  });

  it("keeps an order deleted during the load deleted, though the list still had it", () => {
    const state = run([
      { type: "load_started", id: 1, since: "10" },
      { type: "event", event: deleted(11, "o1") },
      { type: "load_finished", id: 1, orders: [order("o1", 3), order("o2", 1)], archive: noArchive },
    ]);
    expect(state.orders.o1).toBeUndefined();
    expect(state.orders.o2).toBeDefined();
    // A later event of the deleted order does not bring it back either.
    const after = ordersReducer(state, { type: "event", event: orderEvent(12, "o1", 4) });
    expect(after.orders.o1).toBeUndefined();
  });

  it("shows an order created during the load that the list missed", () => {
    const state = run([
      { type: "load_started", id: 1, since: "10" },
      { type: "event", event: orderEvent(11, "o9", 1) },
      { type: "load_finished", id: 1, orders: [order("o1", 1)], archive: noArchive },
    ]);
    expect(Object.keys(state.orders).sort()).toEqual(["o1", "o9"]);
  });

  it("drops what a reload no longer lists when no event touched it (deleted while we missed it)", () => {
    const state = run([
      { type: "load_started", id: 1, since: "10" },
      { type: "load_finished", id: 1, orders: [order("o1", 1), order("o2", 1)], archive: noArchive },
      { type: "load_started", id: 2, since: "20" },
      { type: "load_finished", id: 2, orders: [order("o1", 2)], archive: noArchive },
    ]);
    expect(Object.keys(state.orders)).toEqual(["o1"]);
  });

  it("ignores a load that a newer one replaced", () => {
    const state = run([
      { type: "load_started", id: 1, since: "10" },
      { type: "load_started", id: 2, since: "10" },
      { type: "load_finished", id: 1, orders: [order("stale", 1)], archive: noArchive },
    ]);
    expect(state.orders).toEqual({});
    expect(state.load?.id).toBe(2);
  });

  it("forgets tombstones older than the cursor of the load that finished", () => {
    const state = run([
      { type: "event", event: deleted(5, "old") },
      { type: "load_started", id: 1, since: "10" },
      { type: "event", event: deleted(11, "new") },
      { type: "load_finished", id: 1, orders: [], archive: noArchive },
    ]);
    expect(Object.keys(state.tombstones)).toEqual(["new"]);
  });

  it("applies events in order by version outside a load, and our own write answers too", () => {
    let state = run([
      { type: "load_started", id: 1, since: "1" },
      { type: "load_finished", id: 1, orders: [order("o1", 2)], archive: noArchive },
    ]);
    state = ordersReducer(state, { type: "event", event: orderEvent(3, "o1", 1) });
    expect(state.orders.o1?.version).toBe(2);
    state = ordersReducer(state, { type: "order_seen", order: order("o1", 4) });
    state = ordersReducer(state, { type: "event", event: orderEvent(4, "o1", 3) });
    expect(state.orders.o1?.version).toBe(4);
    state = ordersReducer(state, { type: "order_gone", orderId: "o1" });
    expect(state.orders.o1).toBeUndefined();
  });
});

describe("the note thread in the board state", () => {
  const note = (id: string, orderId = "o1") => ({
    id,
    orderId,
    text: `note ${id}`,
    author: "florist-a",
    createdAt: "2026-11-24T10:00:00.000Z",
  });
  const noteEvent = (seq: number, id: string): OrderEvent => ({
    ...orderEvent(seq, "o1", 2),
    type: "note_added",
    note: note(id),
  });

  it("appends live notes to an open thread once, and keeps those that came while it loaded", () => {
    let state = run([{ type: "load_started", id: 1, since: "1" }]);
    state = ordersReducer(state, { type: "note_posted", note: note("n2") }); // our own, answer first
    state = ordersReducer(state, { type: "event", event: noteEvent(5, "n2") }); // then its event
    state = ordersReducer(state, { type: "event", event: noteEvent(6, "n3") });
    state = ordersReducer(state, { type: "notes_loaded", orderId: "o1", notes: [note("n1"), note("n2")] });
    expect(state.notes.o1?.map((n) => n.id)).toEqual(["n1", "n2", "n3"]);
  });

  it("keeps no thread of an order nobody opened, and forgets a closed one", () => {
    let state = ordersReducer(INITIAL_ORDERS, { type: "event", event: noteEvent(5, "n1") });
    expect(state.notes.o1).toBeUndefined();
    state = ordersReducer(state, { type: "notes_loaded", orderId: "o1", notes: [note("n1")] });
    state = ordersReducer(state, { type: "notes_closed", orderId: "o1" });
    expect(state.notes.o1).toBeUndefined();
  });
});

describe("the columns", () => {
  const now = Date.parse("2026-11-24T12:00:00.000Z");
  const daysAgo = (d: number) => new Date(now - d * DAY_MS).toISOString();

  it("sort by delivery date, then creation, then id, whatever changes", () => {
    const state = run([
      { type: "load_started", id: 1, since: null },
      {
        type: "load_finished",
        id: 1,
        orders: [
          order("o3", 1, { deliveryDate: "2026-11-26" }),
          order("o2", 1, { deliveryDate: "2026-11-25", createdAt: "2026-11-24T11:00:00.000Z" }),
          order("o1", 1, { deliveryDate: "2026-11-25", createdAt: "2026-11-24T09:00:00.000Z" }),
          order("o4", 1, { deliveryDate: null }),
        ],
        archive: noArchive,
      },
    ]);
    const { orders } = columnOrders(state, "new", { now, archiveDays: 3 });
    expect(orders.map((o) => o.id)).toEqual(["o1", "o2", "o3", "o4"]);
  });

  it("hide delivered orders older than the cutoff until the user asks for them", () => {
    let state = run([
      { type: "load_started", id: 1, since: null },
      {
        type: "load_finished",
        id: 1,
        orders: [
          order("recent", 5, { status: "delivered", updatedAt: daysAgo(1) }),
          order("old", 5, { status: "delivered", updatedAt: daysAgo(10) }),
        ],
        archive: { delivered: "cursor-2", cancelled: null },
      },
    ]);
    let column = columnOrders(state, "delivered", { now, archiveDays: 3 });
    expect(column.orders.map((o) => o.id)).toEqual(["recent"]);
    expect(column.hiddenOlder).toBe(1);

    state = ordersReducer(state, {
      type: "older_loaded",
      status: "delivered",
      orders: [order("older", 5, { status: "delivered", updatedAt: daysAgo(20) })],
      nextCursor: null,
    });
    column = columnOrders(state, "delivered", { now, archiveDays: 3 });
    expect(column.orders.map((o) => o.id).sort()).toEqual(["old", "older", "recent"]);
    expect(state.archive.delivered).toEqual({ nextCursor: null, showOlder: true });
  });

  it("show only mine when asked", () => {
    const state = run([
      { type: "load_started", id: 1, since: null },
      {
        type: "load_finished",
        id: 1,
        orders: [order("o1", 1, { assignedTo: "florist-a" }), order("o2", 1, { assignedTo: "florist-b" })],
        archive: noArchive,
      },
    ]);
    const { orders } = columnOrders(state, "new", { now, archiveDays: 3, onlyMine: "florist-a" });
    expect(orders.map((o) => o.id)).toEqual(["o1"]);
  });
});
