// Sending an edit and reading the answer: a 412 becomes the conflict view, a 423 a clear
// "someone is editing" message, a 404 a vanished order.
import type { Order, OrderLock } from "../src/index.js";
import { ApiError, type BoardApi } from "./api.js";
import {
  conflictReceived,
  saveRequest,
  staleReceived,
  type Conflict,
  type EditState,
  type OrderPatch,
} from "./edit.js";
import { clock } from "./lease.js";

export type WriteOutcome =
  | { kind: "saved"; order: Order; merged: boolean }
  | { kind: "conflict"; edit: EditState; order: Order }
  | { kind: "locked"; lock: OrderLock | null; message: string }
  | { kind: "gone"; message: string }
  | { kind: "unauthorized" }
  | { kind: "error"; message: string };

export async function submitEdit(
  api: BoardApi,
  edit: EditState,
  request: { patch: OrderPatch; ifMatch: number } = saveRequest(edit),
): Promise<WriteOutcome> {
  try {
    const { order, merged } = await api.updateOrder(edit.orderId, request.patch, request.ifMatch);
    return { kind: "saved", order, merged };
  } catch (error) {
    return classifyWriteError(edit, error);
  }
}

export function classifyWriteError(edit: EditState, error: unknown): WriteOutcome {
  if (!(error instanceof ApiError)) {
    return { kind: "error", message: error instanceof Error ? error.message : String(error) };
  }
  const number = edit.orderNumber;
  if (error.status === 401) return { kind: "unauthorized" };
  if (error.status === 412 && error.order) {
    const next =
      error.code === "edit_conflict" && error.conflicts.length > 0
        ? conflictReceived(edit, error.order, error.conflicts as Partial<Conflict>[])
        : staleReceived(edit, error.order);
    return { kind: "conflict", edit: next, order: error.order };
  }
  if (error.status === 423) return { kind: "locked", lock: error.lock, message: lockedMessage(number, error.lock) };
  if (error.status === 404) return { kind: "gone", message: `${number} no longer exists.` };
  if (error.status === 422 || error.status === 403) {
    return { kind: "error", message: `${number}: ${error.message}` };
  }
  return { kind: "error", message: `${number} was not saved: ${error.message}` };
}

export function lockedMessage(number: string, lock: OrderLock | null): string {
  return lock
    ? `${number} is being edited by ${lock.holder} (until ${clock(lock.expiresAt)}). ` +
        "Your change was not saved; try again when they are done."
    : `${number} is being edited by someone else. Your change was not saved.`;
}
