// The drawer of one order: editing (with its lease, the instructions field and the conflict
// view), the note thread, and the activity history.
import { useCallback, useEffect, useRef, useState, type FormEvent } from "react";
import type { Note, Order, OrderEvent } from "../src/index.js";
import { ApiError, type ActivityEntry, type BoardApi } from "./api.js";
import { TYPING_EVERY_MS } from "./config.js";
import { ConflictView } from "./ConflictView.js";
import {
  choose,
  isDirty,
  resolve,
  saveFailed,
  saveStarted,
  saveSucceeded,
  setField,
  startEdit,
  type EditState,
} from "./edit.js";
import { canSave, canTakeOver, leaseMessage } from "./lease.js";
import { STATUS_LABEL } from "./notify.js";
import type { OrdersAction } from "./orders.js";
import { Avatar, Modal, timeOf } from "./ui.js";
import { useLease } from "./useLease.js";
import { lockedMessage, submitEdit } from "./write.js";

export interface DrawerContext {
  api: BoardApi;
  me: string;
  role: string;
  dispatch: (action: OrdersAction) => void;
  subscribe: (listener: (event: OrderEvent) => void) => () => void;
  typing: (orderId: string, field: string) => void;
  onUnauthorized: () => void;
  onNotice: (text: string, kind: "info" | "warning" | "error") => void;
}

/** Edit mode: takes the lease while open. */
export function EditDrawer({
  order,
  notes,
  editors,
  ctx,
  onClose,
}: {
  order: Order;
  notes: Note[] | undefined;
  editors: { userId: string; field: string }[];
  ctx: DrawerContext;
  onClose: () => void;
}) {
  const { api, me, role, dispatch } = ctx;
  const { lease, takeOver, retry } = useLease(api, order.id, me, ctx.subscribe, ctx.onUnauthorized);
  const [edit, setEdit] = useState<EditState>(() => startEdit(order));
  const [busy, setBusy] = useState(false);
  const lastTyping = useRef(0);
  const saveable = canSave(lease);

  const send = useCallback(
    async (state: EditState, request?: Parameters<typeof submitEdit>[2]) => {
      setBusy(true);
      setEdit(saveStarted(state));
      const outcome = await submitEdit(api, state, request);
      setBusy(false);
      switch (outcome.kind) {
        case "saved":
          dispatch({ type: "order_seen", order: outcome.order });
          setEdit(saveSucceeded(state, outcome.order));
          break;
        case "conflict":
          dispatch({ type: "order_seen", order: outcome.order });
          setEdit(outcome.edit);
          break;
        case "locked":
          setEdit(saveFailed(state, lockedMessage(state.orderNumber, outcome.lock)));
          retry();
          break;
        case "gone":
          dispatch({ type: "order_gone", orderId: state.orderId });
          ctx.onNotice(outcome.message, "warning");
          onClose();
          break;
        case "unauthorized":
          ctx.onUnauthorized();
          break;
        case "error":
          setEdit(saveFailed(state, outcome.message));
      }
    },
    [api, ctx, dispatch, onClose, retry],
  );

  const save = (event: FormEvent) => {
    event.preventDefault();
    if (saveable && isDirty(edit)) void send(edit);
  };

  const applyResolution = () => {
    const { state, request } = resolve(edit);
    if (request) void send(state, request);
    else setEdit({ ...state, phase: "saved" });
  };

  // While the user has changed nothing, the editor follows the order (a change by someone else
  // simply shows); once she typed, her edit keeps the version it started from.
  useEffect(() => {
    setEdit((current) =>
      current.startedFrom !== order.version &&
      !isDirty(current) &&
      (current.phase === "editing" || current.phase === "saved")
        ? { ...startEdit(order), phase: current.phase }
        : current,
    );
  }, [order]);

  const notesValue = edit.draft.notes ?? edit.base.notes;
  const changedMeanwhile = order.version > edit.startedFrom && order.notes !== edit.base.notes;

  return (
    <Modal
      title={
        <>
          Edit {order.orderNumber} <span className="sub">{order.customerName}</span>
        </>
      }
      onClose={onClose}
      className="drawer"
      testId="order-drawer"
    >
      <div className="drawer-body" data-order-id={order.id}>
        <p
          className={`lease ${lease.phase}`}
          data-testid="lease"
          data-phase={lease.phase}
          role="status"
        >
          {leaseMessage(lease, order.orderNumber)}
          {lease.error && <span className="error"> ({lease.error})</span>}
        </p>
        {canTakeOver(lease, role) && (
          <button type="button" className="warning-solid" data-testid="take-over" onClick={() => void takeOver()}>
            Take over from {lease.lock?.holder ?? "them"}
          </button>
        )}
        {lease.phase === "lost" && role !== "manager" && (
          <button type="button" onClick={retry}>
            Try to take it again
          </button>
        )}

        <dl className="facts">
          <dt>Status</dt>
          <dd>{STATUS_LABEL[order.status]}</dd>
          <dt>Assigned</dt>
          <dd>{order.assignedTo ?? "nobody"}</dd>
          {order.deliveryDate && (
            <>
              <dt>Delivery</dt>
              <dd>{order.deliveryDate}</dd>
            </>
          )}
          {order.shopifyNote && (
            <>
              <dt>Checkout note</dt>
              <dd>{order.shopifyNote}</dd>
            </>
          )}
        </dl>

        {edit.phase === "conflict" ? (
          <ConflictView
            edit={edit}
            busy={busy}
            onChoose={(field, choice) => setEdit((e) => choose(e, field, choice))}
            onApply={applyResolution}
            onDiscard={() => setEdit(startEdit(order))}
          />
        ) : (
          <form className="edit-form" onSubmit={save}>
            <label htmlFor={`notes-${order.id}`}>Instructions</label>
            <textarea
              id={`notes-${order.id}`}
              data-testid="notes-input"
              value={notesValue}
              rows={4}
              onChange={(e) => {
                setEdit((s) => setField(s, "notes", e.target.value));
                const now = Date.now();
                if (now - lastTyping.current > TYPING_EVERY_MS) {
                  lastTyping.current = now;
                  ctx.typing(order.id, "notes");
                }
              }}
            />
            {editors.length > 0 && (
              <p className="typing" role="status">
                {editors.map((e) => `${e.userId} is editing ${e.field === "notes" ? "instructions" : e.field}…`).join(" ")}
              </p>
            )}
            {changedMeanwhile && (
              <p className="hint" data-testid="changed-meanwhile">
                {order.updatedBy} changed the instructions since you opened this. Saving will show both
                versions.
              </p>
            )}
            {edit.error && (
              <p className="error" role="alert">
                {edit.error}
              </p>
            )}
            <div className="row">
              <button
                type="submit"
                className="primary"
                data-testid="save-notes"
                disabled={busy || !saveable || !isDirty(edit)}
              >
                {busy ? "Saving…" : "Save"}
              </button>
              {edit.phase === "saved" && !isDirty(edit) && (
                <span className="saved" role="status">
                  Saved
                </span>
              )}
            </div>
          </form>
        )}

        <NoteThread orderId={order.id} notes={notes} ctx={ctx} />

        <details className="history-section">
          <summary>History</summary>
          <HistoryList orderId={order.id} ctx={ctx} />
        </details>
      </div>
    </Modal>
  );
}

/** History mode: the activity log only, no lease. */
export function HistoryDrawer({ order, ctx, onClose }: { order: Order; ctx: DrawerContext; onClose: () => void }) {
  return (
    <Modal
      title={<>History of {order.orderNumber}</>}
      onClose={onClose}
      className="drawer"
      testId="history-drawer"
    >
      <div className="drawer-body">
        <HistoryList orderId={order.id} ctx={ctx} />
      </div>
    </Modal>
  );
}

function NoteThread({ orderId, notes, ctx }: { orderId: string; notes: Note[] | undefined; ctx: DrawerContext }) {
  const { api, dispatch } = ctx;
  const [text, setText] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    let live = true;
    api.notes(orderId).then(
      (list) => live && dispatch({ type: "notes_loaded", orderId, notes: list }),
      (e) => live && setError(e instanceof Error ? e.message : String(e)),
    );
    // A poll does not carry the note, only that the order changed: read the thread again.
    const unsubscribe = ctx.subscribe((event) => {
      if (event.orderId === orderId && event.synthetic) {
        api.notes(orderId).then((list) => live && dispatch({ type: "notes_loaded", orderId, notes: list }), () => undefined);
      }
    });
    return () => {
      live = false;
      unsubscribe();
      dispatch({ type: "notes_closed", orderId });
    };
  }, [api, ctx, dispatch, orderId]);

  const add = async (event: FormEvent) => {
    event.preventDefault();
    if (!text.trim()) return;
    setBusy(true);
    setError(null);
    try {
      const note = await api.addNote(orderId, text);
      dispatch({ type: "note_posted", note });
      setText("");
    } catch (e) {
      if (e instanceof ApiError && e.status === 423) setError(lockedMessage("This order", e.lock));
      else if (e instanceof ApiError && e.status === 401) ctx.onUnauthorized();
      else setError(e instanceof Error ? e.message : String(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="thread" aria-labelledby={`thread-${orderId}`}>
      <h3 id={`thread-${orderId}`}>Notes</h3>
      {notes === undefined ? (
        <p className="hint">Loading notes…</p>
      ) : notes.length === 0 ? (
        <p className="hint">No notes yet.</p>
      ) : (
        <ol className="notes-list" data-testid="note-thread" aria-live="polite">
          {notes.map((n) => (
            <li key={n.id} className={n.author === ctx.me ? "own" : undefined}>
              <Avatar userId={n.author} small />
              <div>
                <span className="note-meta">
                  {n.author === ctx.me ? "You" : n.author} · {timeOf(n.createdAt)}
                </span>
                <p>{n.text}</p>
              </div>
            </li>
          ))}
        </ol>
      )}
      <form className="note-form" onSubmit={add}>
        <label htmlFor={`note-${orderId}`} className="visually-hidden">
          New note
        </label>
        <input
          id={`note-${orderId}`}
          data-testid="note-input"
          value={text}
          maxLength={2000}
          placeholder="Add a note for the team"
          onChange={(e) => setText(e.target.value)}
        />
        <button type="submit" disabled={busy || !text.trim()} data-testid="add-note">
          Add note
        </button>
      </form>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
    </section>
  );
}

const ACTION_TEXT: Record<string, string> = {
  created: "created the order",
  updated: "changed",
  deleted: "deleted the order",
  locked: "started editing",
  lock_taken_over: "took over editing",
  unlocked: "finished editing",
  lock_broken: "released the edit lock",
  lock_expired: "edit lock ran out",
  note_added: "added a note",
};

function describeChange(field: string, change: { from: unknown; to: unknown }): string {
  const show = (v: unknown) =>
    v === null || v === undefined || v === ""
      ? "—"
      : field === "status"
        ? (STATUS_LABEL[v as keyof typeof STATUS_LABEL] ?? String(v))
        : String(v);
  if (field === "note") return `“${show(change.to)}”`;
  if (field === "lock") return "";
  const label = field === "assignedTo" ? "assignee" : field === "notes" ? "instructions" : field;
  return `${label}: ${show(change.from)} → ${show(change.to)}`;
}

function HistoryList({ orderId, ctx }: { orderId: string; ctx: DrawerContext }) {
  const { api } = ctx;
  const [entries, setEntries] = useState<ActivityEntry[] | null>(null);
  const [next, setNext] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);

  const loadFirst = useCallback(() => {
    api.activity(orderId, null).then(
      (page) => {
        setEntries(page.entries);
        setNext(page.nextBefore);
        setError(null);
      },
      (e) => setError(e instanceof Error ? e.message : String(e)),
    );
  }, [api, orderId]);

  useEffect(() => {
    loadFirst();
    let timer: ReturnType<typeof setTimeout> | null = null;
    const unsubscribe = ctx.subscribe((event) => {
      if (event.orderId !== orderId) return;
      if (timer) clearTimeout(timer);
      timer = setTimeout(loadFirst, 300);
    });
    return () => {
      if (timer) clearTimeout(timer);
      unsubscribe();
    };
  }, [ctx, loadFirst, orderId]);

  const more = () => {
    if (!next) return;
    api.activity(orderId, next).then(
      (page) => {
        setEntries((list) => [...(list ?? []), ...page.entries]);
        setNext(page.nextBefore);
      },
      (e) => setError(e instanceof Error ? e.message : String(e)),
    );
  };

  if (error) return <p className="error" role="alert">{error}</p>;
  if (!entries) return <p className="hint">Loading history…</p>;
  return (
    <>
      <ol className="history" data-testid="history">
        {entries.map((entry) => (
          <li key={entry.seq}>
            <span className="when">{timeOf(entry.at)}</span>{" "}
            <strong>{entry.actor}</strong> {ACTION_TEXT[entry.action] ?? entry.action}
            {entry.action === "updated" || entry.action === "note_added"
              ? " " +
                Object.entries(entry.changes ?? {})
                  .map(([field, change]) => describeChange(field, change))
                  .filter(Boolean)
                  .join("; ")
              : ""}
            {entry.source !== "board" && <span className="source"> ({entry.source})</span>}
          </li>
        ))}
      </ol>
      {next && (
        <button type="button" onClick={more}>
          Older entries
        </button>
      )}
    </>
  );
}
