// The few Worker routes the board calls (docs/API.md).
import type { Order, OrderStatus } from "../src/index.js";
import type { Session } from "./session.js";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** The current order, sent with a 412 `version_mismatch`. */
    readonly order: Order | null = null,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

export interface OrderPatch {
  status?: OrderStatus;
  assignedTo?: string | null;
  notes?: string;
}

export class BoardApi {
  constructor(
    private readonly session: Session,
    private readonly baseUrl = "",
  ) {}

  /** Every order of the tenant, following `nextCursor` (the board shows them all). */
  async listOrders(): Promise<Order[]> {
    const orders: Order[] = [];
    let cursor: string | null = null;
    for (let page = 0; page < 50; page += 1) {
      const query = new URLSearchParams({ limit: "200" });
      if (cursor) query.set("cursor", cursor);
      const body = await this.request<{ orders: Order[]; nextCursor: string | null }>(
        "GET",
        `/orders?${query}`,
      );
      orders.push(...body.orders);
      cursor = body.nextCursor;
      if (!cursor) break;
    }
    return orders;
  }

  /** Sends a change against the version the user saw; a 412 carries the current order. */
  async updateOrder(order: Order, patch: OrderPatch): Promise<Order> {
    const body = await this.request<{ order: Order }>(
      "PUT",
      `/orders/${encodeURIComponent(order.id)}`,
      patch,
      { "If-Match": `"${order.version}"` },
    );
    return body.order;
  }

  private async request<T>(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<T> {
    const init: RequestInit = {
      method,
      headers: {
        Authorization: `Bearer ${this.session.token}`,
        ...(body === undefined ? {} : { "Content-Type": "application/json" }),
        ...headers,
      },
    };
    if (body !== undefined) init.body = JSON.stringify(body);
    let response: Response;
    try {
      response = await fetch(
        `${this.baseUrl}/api/tenants/${encodeURIComponent(this.session.tenant)}${path}`,
        init,
      );
    } catch {
      throw new ApiError(0, "network", "The server could not be reached.");
    }
    const text = await response.text();
    let json: unknown = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      json = null;
    }
    if (!response.ok) {
      const error = (json as { error?: { code?: string; message?: string }; order?: Order } | null)
        ?.error;
      throw new ApiError(
        response.status,
        error?.code ?? "http_error",
        error?.message ?? `HTTP ${response.status}`,
        (json as { order?: Order } | null)?.order ?? null,
      );
    }
    return json as T;
  }
}
