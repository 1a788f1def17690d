// The Worker routes the board calls (docs/API.md).
import type { Note, Order, OrderLock, OrderStatus } from "../src/index.js";
import type { OrderPatch } from "./edit.js";
import type { Session } from "./session.js";

export type { OrderPatch } from "./edit.js";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** The error answer's JSON (`order`, `conflicts`, `lock`, …). */
    readonly body: Record<string, unknown> | null = null,
  ) {
    super(message);
    this.name = "ApiError";
  }

  /** The current order, sent with a 412. */
  get order(): Order | null {
    return (this.body?.order as Order | undefined) ?? null;
  }

  /** The lease that blocked a 423. */
  get lock(): OrderLock | null {
    return (this.body?.lock as OrderLock | undefined) ?? null;
  }

  get conflicts(): Record<string, unknown>[] {
    const list = this.body?.conflicts;
    return Array.isArray(list) ? (list as Record<string, unknown>[]) : [];
  }
}

export interface ActivityEntry {
  seq: string;
  at: string;
  actor: string;
  source: string;
  action: string;
  orderId: string;
  changes: Record<string, { from: unknown; to: unknown }>;
}

export interface ListPage {
  orders: Order[];
  nextCursor: string | null;
}

/**
 * `since` for a poll that returns no change but the current head as `cursor`: a time after any
 * event (the polling route maps a time to the last event at or before it).
 */
export const HEAD_ONLY_SINCE = "9999-12-31T23:59:59Z";

export class BoardApi {
  constructor(
    private readonly session: Session,
    private readonly baseUrl = "",
  ) {}

  /** The shop's current change sequence number, read before a list load. */
  async realtimeCursor(): Promise<string> {
    const body = await this.request<{ cursor: string }>(
      "GET",
      `/orders/realtime-status?since=${encodeURIComponent(HEAD_ONLY_SINCE)}`,
    );
    return body.cursor;
  }

  /** One page of orders (newest change first, as the server lists them). */
  listPage(query: { status?: OrderStatus; cursor?: string | null; limit?: number }): Promise<ListPage> {
    const params = new URLSearchParams({ limit: String(query.limit ?? 200) });
    if (query.status) params.set("status", query.status);
    if (query.cursor) params.set("cursor", query.cursor);
    return this.request<ListPage>("GET", `/orders?${params}`);
  }

  /** Sends a change against the version the edit started from. */
  async updateOrder(id: string, patch: OrderPatch, ifMatch: number): Promise<{ order: Order; merged: boolean }> {
    return this.request<{ order: Order; merged: boolean }>(
      "PUT",
      `/orders/${encodeURIComponent(id)}`,
      patch,
      { "If-Match": `"${ifMatch}"` },
    );
  }

  lock(id: string, options: { ttlSeconds: number; force?: boolean }): Promise<OrderLock> {
    return this.request<OrderLock>("POST", `/orders/${encodeURIComponent(id)}/lock`, {
      ttlSeconds: options.ttlSeconds,
      ...(options.force ? { force: true } : {}),
    });
  }

  /** Releases our lease; `keepalive` lets it go out while the page unloads. */
  async unlock(id: string, keepalive = false): Promise<void> {
    await this.request<null>("DELETE", `/orders/${encodeURIComponent(id)}/lock`, undefined, {}, keepalive);
  }

  async notes(id: string): Promise<Note[]> {
    return (await this.request<{ notes: Note[] }>("GET", `/orders/${encodeURIComponent(id)}/notes`)).notes;
  }

  addNote(id: string, text: string): Promise<Note> {
    return this.request<Note>("POST", `/orders/${encodeURIComponent(id)}/notes`, { text });
  }

  activity(id: string, before: string | null): Promise<{ entries: ActivityEntry[]; nextBefore: string | null }> {
    const params = new URLSearchParams({ limit: "30" });
    if (before) params.set("before", before);
    return this.request("GET", `/orders/${encodeURIComponent(id)}/activity?${params}`);
  }

  private async request<T>(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
    keepalive = false,
  ): Promise<T> {
    const init: RequestInit = {
      method,
      keepalive,
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
      const answer = json && typeof json === "object" ? (json as Record<string, unknown>) : null;
      const error = answer?.error as { code?: string; message?: string } | undefined;
      throw new ApiError(
        response.status,
        error?.code ?? "http_error",
        error?.message ?? `HTTP ${response.status}`,
        answer,
      );
    }
    return json as T;
  }
}
