// What the board tells the user about others' changes: short texts that say what changed
// ("#1002 assigned to florist-a", "#1003 → In progress", "new note on #1005"), kept in a
// small list the user can dismiss. Pure functions; the shell adds timers, sound and browser
// notifications.

import type { Order, OrderEvent, OrderStatus } from "../src/index.js";

export const STATUS_LABEL: Record<OrderStatus, string> = {
  new: "New",
  in_progress: "In progress",
  ready: "Ready",
  out_for_delivery: "Out for delivery",
  delivered: "Delivered",
  cancelled: "Cancelled",
};

export interface Notice {
  id: number;
  text: string;
  /** Who did it (shown beside the text), when known. */
  by: string | null;
  orderId: string | null;
  kind: "info" | "warning" | "error";
}

/** How many notifications are shown at once (the oldest go first). */
export const MAX_NOTICES = 4;

export type NoticesAction =
  | { type: "add"; notice: Notice }
  | { type: "dismiss"; id: number }
  | { type: "clear" };

export function noticesReducer(list: Notice[], action: NoticesAction): Notice[] {
  switch (action.type) {
    case "add":
      return [...list, action.notice].slice(-MAX_NOTICES);
    case "dismiss":
      return list.some((n) => n.id === action.id) ? list.filter((n) => n.id !== action.id) : list;
    case "clear":
      return list.length === 0 ? list : [];
  }
}

/**
 * The text for another user's change, or null when there is nothing to tell (the user's own
 * change, a lease taken or released, a change that changed nothing visible). `before` is the
 * order as the board had it before the event (used for events from polling, which do not say
 * which fields changed).
 */
export function describeEvent(
  event: OrderEvent,
  before: Order | undefined,
  me: string,
): { text: string; by: string | null; kind: Notice["kind"] } | null {
  const by = event.updatedBy ?? event.order?.updatedBy ?? null;
  const number = event.order?.orderNumber ?? before?.orderNumber ?? "An order";
  const order = event.order;

  switch (event.type) {
    case "order_created":
      if (by === me) return null;
      return { text: `new order ${number}`, by, kind: "info" };
    case "order_deleted":
      if (by === me) return null;
      return { text: `${number} was deleted`, by, kind: "warning" };
    case "note_added": {
      const author = event.note?.author ?? by;
      if (author === me) return null;
      return { text: `new note on ${number}`, by: author, kind: "info" };
    }
    case "order_locked":
      // Only a takeover of our own lease is news; others' leases show as badges.
      if (event.previousHolder === me && event.lock?.holder !== me) {
        return { text: `${event.lock?.holder ?? by} took over ${number}`, by: null, kind: "warning" };
      }
      return null;
    case "order_unlocked":
      if (event.reason === "broken" && event.previousHolder === me && by !== me) {
        return { text: `your edit lock on ${number} was released by ${by}`, by: null, kind: "warning" };
      }
      return null;
    case "order_updated": {
      if (!order) return null;
      if (by === me && !event.synthetic) return null;
      // A polled change does not name its fields: compare with what the board had.
      const fields =
        event.changes.length > 0
          ? event.changes
          : before
            ? (["status", "assignedTo", "notes"] as const).filter((f) => before[f] !== order[f])
            : [];
      if (by === me) return null;
      const parts: string[] = [];
      for (const field of fields) {
        if (field === "status") parts.push(`→ ${STATUS_LABEL[order.status] ?? order.status}`);
        else if (field === "assignedTo") {
          parts.push(order.assignedTo ? `assigned to ${order.assignedTo}` : "unassigned");
        } else if (field === "notes") parts.push("instructions changed");
      }
      if (parts.length === 0) return null;
      return { text: `${number} ${parts.join(", ")}`, by, kind: "info" };
    }
  }
}
