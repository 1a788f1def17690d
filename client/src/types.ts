// The data the Worker sends: orders and the events that change them (docs/API.md).

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
  /** The live edit lease, or null. (Absent from servers older than the collaboration API.) */
  lock?: OrderLock | null;
}

/** An edit lease on an order (docs/API.md, "Edit locks"). */
export interface OrderLock {
  holder: string;
  expiresAt: string;
  lockVersion: number;
  acquiredAt?: string;
}

/** One note of an order's append-only thread. */
export interface Note {
  id: string;
  orderId: string;
  text: string;
  author: string;
  createdAt: string;
}

export type OrderEventType =
  | "order_created"
  | "order_updated"
  | "order_deleted"
  | "order_locked"
  | "order_unlocked"
  | "note_added";

export const ORDER_EVENT_TYPES: readonly OrderEventType[] = [
  "order_created",
  "order_updated",
  "order_deleted",
  "order_locked",
  "order_unlocked",
  "note_added",
];

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
  /** True when the event was made from a polling result rather than received from a stream. */
  synthetic?: boolean;
  /** `order_locked`: the lease now held. */
  lock?: OrderLock;
  /** `order_locked`: whose lease a manager took over (else null); `order_unlocked`: whose ended. */
  previousHolder?: string | null;
  /** `order_unlocked`: why the lease ended. */
  reason?: "released" | "expired" | "broken";
  /** `note_added`: the new note. */
  note?: Note;
}
