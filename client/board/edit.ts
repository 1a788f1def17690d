// One edit of an order and its conflict flow, as pure functions.
//
// An edit remembers the version it started from and the values it started with. Saving sends
// only the fields the user changed, with `If-Match: "<started from>"`. The server merges it when
// nobody touched those fields since; otherwise it answers 412 `edit_conflict` with, per field,
// yours / theirs / who / when, and writes nothing. The board then shows the conflict view:
// per field "keep mine" or "take theirs" (and for text, "keep both"), and the resolved change is
// sent again against the version the 412 returned, so a third writer meanwhile is caught too.

import type { Order, OrderStatus } from "../src/index.js";

export type EditField = "status" | "assignedTo" | "notes";
export const EDIT_FIELDS: readonly EditField[] = ["status", "assignedTo", "notes"];

export interface OrderPatch {
  status?: OrderStatus;
  assignedTo?: string | null;
  notes?: string;
}

type FieldValues = { status: OrderStatus; assignedTo: string | null; notes: string };

export interface Conflict {
  field: EditField;
  yours: unknown;
  theirs: unknown;
  changedBy: string | null;
  changedAt: string | null;
  version: number | null;
  choice: "mine" | "theirs" | "both" | null;
}

export interface EditState {
  orderId: string;
  orderNumber: string;
  /** The version the edit started from (sent as If-Match). */
  startedFrom: number;
  /** The values the edit started with. */
  base: FieldValues;
  /** The user's values (only those differing from `base` are sent). */
  draft: Partial<FieldValues>;
  phase: "editing" | "saving" | "conflict" | "saved";
  conflicts: Conflict[];
  /** The order as the server last described it (after a 412). */
  current: Order | null;
  error: string | null;
}

export function startEdit(order: Order, draft: Partial<FieldValues> = {}): EditState {
  return {
    orderId: order.id,
    orderNumber: order.orderNumber,
    startedFrom: order.version,
    base: { status: order.status, assignedTo: order.assignedTo, notes: order.notes },
    draft,
    phase: "editing",
    conflicts: [],
    current: null,
    error: null,
  };
}

export function setField<K extends EditField>(
  state: EditState,
  field: K,
  value: FieldValues[K],
): EditState {
  return { ...state, draft: { ...state.draft, [field]: value }, error: null };
}

/** The fields the user changed, as a PUT body. */
export function patchOf(state: EditState): OrderPatch {
  const patch: OrderPatch = {};
  for (const field of EDIT_FIELDS) {
    if (!(field in state.draft)) continue;
    const value = state.draft[field];
    if (value !== state.base[field]) (patch as Record<string, unknown>)[field] = value;
  }
  return patch;
}

export function isDirty(state: EditState): boolean {
  return Object.keys(patchOf(state)).length > 0;
}

/** The request to send now: the patch and the If-Match version. */
export function saveRequest(state: EditState): { patch: OrderPatch; ifMatch: number } {
  return { patch: patchOf(state), ifMatch: state.startedFrom };
}

export function saveStarted(state: EditState): EditState {
  return { ...state, phase: "saving", error: null };
}

/** The write landed: the edit now starts from the saved order. */
export function saveSucceeded(_state: EditState, order: Order): EditState {
  return { ...startEdit(order), phase: "saved" };
}

export function saveFailed(state: EditState, message: string): EditState {
  return { ...state, phase: state.conflicts.length > 0 ? "conflict" : "editing", error: message };
}

/** A 412 `edit_conflict`: show yours vs theirs. `body` is the error answer's JSON. */
export function conflictReceived(
  state: EditState,
  current: Order,
  conflicts: readonly Partial<Omit<Conflict, "choice">>[],
): EditState {
  const list: Conflict[] = [];
  for (const c of conflicts) {
    if (!c.field || !(EDIT_FIELDS as readonly string[]).includes(c.field)) continue;
    list.push({
      field: c.field,
      yours: c.yours ?? state.draft[c.field] ?? null,
      theirs: c.theirs ?? current[c.field] ?? null,
      changedBy: c.changedBy ?? null,
      changedAt: c.changedAt ?? null,
      version: c.version ?? null,
      choice: null,
    });
  }
  return { ...state, phase: "conflict", conflicts: list, current, error: null };
}

/** A 412 `version_mismatch` or a stale edit without details: every changed field conflicts. */
export function staleReceived(state: EditState, current: Order): EditState {
  const patch = patchOf(state);
  const conflicts = (Object.keys(patch) as EditField[])
    .filter((f) => current[f] !== state.base[f] && current[f] !== patch[f])
    .map((field) => ({
      field,
      yours: patch[field],
      theirs: current[field],
      changedBy: current.updatedBy,
      changedAt: current.updatedAt,
    }));
  if (conflicts.length === 0) return { ...rebase(state, current), phase: "editing" };
  return conflictReceived(state, current, conflicts);
}

export function choose(state: EditState, field: EditField, choice: Conflict["choice"]): EditState {
  return {
    ...state,
    conflicts: state.conflicts.map((c) => (c.field === field ? { ...c, choice } : c)),
  };
}

export function allChosen(state: EditState): boolean {
  return state.conflicts.length > 0 && state.conflicts.every((c) => c.choice !== null);
}

/**
 * Resolves the conflict view: the edit is rebased on the current order with the user's
 * choices. `request` is what to send (null when nothing of the user's is left to write).
 */
export function resolve(state: EditState): {
  state: EditState;
  request: { patch: OrderPatch; ifMatch: number } | null;
} {
  const current = state.current;
  if (!current || !allChosen(state)) return { state, request: null };
  const draft: Partial<FieldValues> = { ...state.draft };
  for (const c of state.conflicts) {
    if (c.choice === "theirs") delete draft[c.field];
    else if (c.choice === "both" && c.field === "notes") {
      draft.notes = bothTexts(String(c.theirs ?? ""), String(state.draft.notes ?? c.yours ?? ""));
    }
  }
  const next: EditState = { ...rebase({ ...state, draft }, current), phase: "editing" };
  const patch = patchOf(next);
  return {
    state: next,
    request: Object.keys(patch).length > 0 ? { patch, ifMatch: next.startedFrom } : null,
  };
}

/** Theirs, then mine, without repeating what is the same. */
export function bothTexts(theirs: string, mine: string): string {
  if (!theirs.trim()) return mine;
  if (!mine.trim() || theirs.includes(mine)) return theirs;
  if (mine.includes(theirs)) return mine;
  return `${theirs.trimEnd()}\n${mine}`;
}

/** The edit as if it had started from `current`, keeping the user's values. */
function rebase(state: EditState, current: Order): EditState {
  return {
    ...state,
    startedFrom: current.version,
    base: { status: current.status, assignedTo: current.assignedTo, notes: current.notes },
    conflicts: [],
    current: null,
  };
}

/** A field's value as the conflict view says it. */
export function describeValue(field: EditField, value: unknown, label: (s: OrderStatus) => string): string {
  if (field === "status") return label(value as OrderStatus);
  if (field === "assignedTo") return value ? String(value) : "nobody";
  return value ? String(value) : "(empty)";
}

export const FIELD_LABEL: Record<EditField, string> = {
  status: "Status",
  assignedTo: "Assigned to",
  notes: "Instructions",
};
