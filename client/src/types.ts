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
}

export type OrderEventType = "order_created" | "order_updated" | "order_deleted";

export const ORDER_EVENT_TYPES: readonly OrderEventType[] = [
  "order_created",
  "order_updated",
  "order_deleted",
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
}
