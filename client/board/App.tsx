import { useCallback, useEffect, useMemo, useRef, useState, type FormEvent } from "react";
import type { Order, OrderEvent, OrderStatus } from "../src/index.js";
import { useRealtimeUpdates } from "../src/react.js";
import { ApiError, BoardApi, type OrderPatch } from "./api.js";
import { clearSession, isExpired, loadSession, parseToken, saveSession, type Session } from "./session.js";

const COLUMNS: { status: OrderStatus; label: string }[] = [
  { status: "new", label: "New" },
  { status: "in_progress", label: "In progress" },
  { status: "ready", label: "Ready" },
  { status: "out_for_delivery", label: "Out for delivery" },
  { status: "delivered", label: "Delivered" },
  { status: "cancelled", label: "Cancelled" },
];

const LABEL = Object.fromEntries(COLUMNS.map((c) => [c.status, c.label])) as Record<
  OrderStatus,
  string
>;

/** The Worker's status machine (docs/API.md), forward moves first. */
const MOVES: Record<OrderStatus, OrderStatus[]> = {
  new: ["in_progress", "cancelled"],
  in_progress: ["ready", "new", "cancelled"],
  ready: ["out_for_delivery", "delivered", "in_progress", "cancelled"],
  out_for_delivery: ["delivered", "ready"],
  delivered: [],
  cancelled: [],
};

const POLL_INTERVAL = 3000;
const TOAST_MS = 5000;

export function App() {
  const [session, setSession] = useState<Session | null>(() => loadSession());
  const [notice, setNotice] = useState<string | null>(null);

  const signOut = useCallback((reason: string | null) => {
    clearSession();
    setNotice(reason);
    setSession(null);
  }, []);

  if (!session) {
    return (
      <SignIn
        notice={notice}
        onSignIn={(s) => {
          saveSession(s);
          setNotice(null);
          setSession(s);
        }}
      />
    );
  }
  return <Board key={session.token} session={session} onSignOut={signOut} />;
}

function SignIn({ notice, onSignIn }: { notice: string | null; onSignIn: (s: Session) => void }) {
  const [text, setText] = useState("");
  const [error, setError] = useState<string | null>(null);

  const submit = (event: FormEvent) => {
    event.preventDefault();
    const session = parseToken(text);
    if (!session) setError("That is not a board token.");
    else if (isExpired(session)) setError("That token has expired; ask for a new one.");
    else onSignIn(session);
  };

  return (
    <main className="signin">
      <form onSubmit={submit} className="signin-form">
        <h1>Order board</h1>
        {notice && <p className="signin-notice">{notice}</p>}
        <label htmlFor="token">Paste your sign-in token</label>
        <textarea
          id="token"
          value={text}
          onChange={(e) => setText(e.target.value)}
          rows={4}
          spellCheck={false}
          autoComplete="off"
        />
        {error && <p className="signin-error" role="alert">{error}</p>}
        <button type="submit" className="primary">Sign in</button>
      </form>
    </main>
  );
}

interface Toast {
  id: number;
  text: string;
  kind: "info" | "warning" | "error";
}

function Board({
  session,
  onSignOut,
}: {
  session: Session;
  onSignOut: (reason: string | null) => void;
}) {
  const api = useMemo(() => new BoardApi(session), [session]);
  const [orders, setOrders] = useState<Map<string, Order>>(new Map());
  const [loading, setLoading] = useState(true);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [onlyMine, setOnlyMine] = useState(false);
  const [toasts, setToasts] = useState<Toast[]>([]);
  const [flashed, setFlashed] = useState<Set<string>>(new Set());
  const nextToastId = useRef(1);
  const ordersRef = useRef(orders);
  ordersRef.current = orders;

  const toast = useCallback((text: string, kind: Toast["kind"] = "info") => {
    const id = nextToastId.current++;
    setToasts((list) => [...list.slice(-3), { id, text, kind }]);
    window.setTimeout(() => setToasts((list) => list.filter((t) => t.id !== id)), TOAST_MS);
  }, []);

  const flash = useCallback((orderId: string) => {
    setFlashed((set) => new Set(set).add(orderId));
    window.setTimeout(
      () =>
        setFlashed((set) => {
          const next = new Set(set);
          next.delete(orderId);
          return next;
        }),
      2000,
    );
  }, []);

  /** Keeps whichever copy of each order is newer: list loads and events may cross. */
  const upsert = useCallback((order: Order) => {
    setOrders((map) => {
      const current = map.get(order.id);
      if (current && current.version > order.version) return map;
      return new Map(map).set(order.id, order);
    });
  }, []);

  const handleApiError = useCallback(
    (error: unknown) => {
      if (error instanceof ApiError && error.status === 401) {
        onSignOut("Your sign-in has expired. Paste a new token.");
        return true;
      }
      return false;
    },
    [onSignOut],
  );

  const loadList = useCallback(async () => {
    try {
      const list = await api.listOrders();
      setOrders((map) => {
        const next = new Map<string, Order>();
        for (const order of list) {
          const current = map.get(order.id);
          next.set(order.id, current && current.version > order.version ? current : order);
        }
        return next;
      });
      setLoadError(null);
    } catch (error) {
      if (!handleApiError(error)) {
        setLoadError(error instanceof Error ? error.message : String(error));
      }
    } finally {
      setLoading(false);
    }
  }, [api, handleApiError]);

  useEffect(() => {
    void loadList();
  }, [loadList]);

  const onUpdate = useCallback(
    (event: OrderEvent) => {
      const known = ordersRef.current.get(event.orderId);
      if (event.type === "order_deleted") {
        setOrders((map) => {
          const next = new Map(map);
          next.delete(event.orderId);
          return next;
        });
      } else if (event.order) {
        upsert(event.order);
        flash(event.orderId);
      }
      const by = event.updatedBy ?? event.order?.updatedBy ?? null;
      if (by && by !== session.userId) {
        const number = event.order?.orderNumber ?? known?.orderNumber;
        const verb =
          event.type === "order_created"
            ? "was created"
            : event.type === "order_deleted"
              ? "was deleted"
              : "was updated";
        toast(`${number ? `Order ${number}` : "An order"} ${verb} by ${by}`);
      }
    },
    [flash, session.userId, toast, upsert],
  );

  const live = useRealtimeUpdates({
    tenant: session.tenant,
    token: session.token,
    pollInterval: POLL_INTERVAL,
    onUpdate,
    onResync: () => void loadList(),
    onError: (error) => {
      if (error.status === 401) onSignOut("Your sign-in has expired. Paste a new token.");
    },
  });

  const change = useCallback(
    async (order: Order, patch: OrderPatch): Promise<boolean> => {
      try {
        upsert(await api.updateOrder(order, patch));
        return true;
      } catch (error) {
        if (handleApiError(error)) return false;
        if (error instanceof ApiError && error.status === 412 && error.order) {
          upsert(error.order);
          toast(
            `Order ${error.order.orderNumber} was changed by ${error.order.updatedBy}, reloaded. ` +
              "Check it and try again.",
            "warning",
          );
        } else if (error instanceof ApiError && error.status === 404) {
          setOrders((map) => {
            const next = new Map(map);
            next.delete(order.id);
            return next;
          });
          toast(`Order ${order.orderNumber} no longer exists.`, "warning");
        } else {
          toast(
            `Order ${order.orderNumber}: ${error instanceof Error ? error.message : String(error)}`,
            "error",
          );
        }
        return false;
      }
    },
    [api, handleApiError, toast, upsert],
  );

  const visible = [...orders.values()].filter(
    (o) => !onlyMine || o.assignedTo === session.userId,
  );

  return (
    <div className="app">
      <header className="topbar">
        <div className="brand">
          <h1>Order board</h1>
          <span className="shop">{session.tenant}</span>
        </div>
        <div className="status">
          <span
            className={`indicator ${live.isConnected ? "live" : "offline"}`}
            data-testid="connection"
            data-mode={live.mode}
            title={
              live.isConnected
                ? "Changes arrive as they happen"
                : live.mode === "polling"
                  ? `Live stream unavailable: checking every ${POLL_INTERVAL / 1000} s`
                  : "Not connected: reconnecting"
            }
          >
            {live.isConnected ? "Live" : "Offline"}
          </span>
          {!live.isConnected && live.mode === "polling" && (
            <span className="mode" data-testid="mode">
              polling
            </span>
          )}
          <span className="counter" data-testid="update-count">
            {live.updateCount} {live.updateCount === 1 ? "update" : "updates"}
          </span>
        </div>
        <div className="tools">
          <label className="only-mine">
            <input
              type="checkbox"
              checked={onlyMine}
              onChange={(e) => setOnlyMine(e.target.checked)}
            />
            Only mine
          </label>
          <button type="button" onClick={() => void loadList()} data-testid="refresh">
            Refresh
          </button>
          <span className="user" title={session.role}>
            {session.userId}
          </span>
          <button type="button" onClick={() => onSignOut(null)}>
            Sign out
          </button>
        </div>
      </header>

      <div className="toasts" aria-live="polite" data-testid="notifications">
        {toasts.map((t) => (
          <div key={t.id} className={`toast ${t.kind}`} role={t.kind === "info" ? "status" : "alert"}>
            {t.text}
          </div>
        ))}
      </div>

      {loadError && (
        <p className="load-error" role="alert">
          Could not load the orders: {loadError}{" "}
          <button type="button" onClick={() => void loadList()}>
            Try again
          </button>
        </p>
      )}

      <nav className="jump" aria-label="Columns">
        {COLUMNS.map(({ status, label }) => (
          <a key={status} href={`#col-${status}`}>
            {label} <span className="count">{visible.filter((o) => o.status === status).length}</span>
          </a>
        ))}
      </nav>

      <main className="board">
        {COLUMNS.map(({ status, label }) => {
          const column = visible.filter((o) => o.status === status).sort(byDelivery);
          return (
            <section
              key={status}
              id={`col-${status}`}
              className="column"
              data-testid={`column-${status}`}
            >
              <h2>
                {label} <span className="count">{column.length}</span>
              </h2>
              {column.map((order) => (
                <OrderCard
                  key={order.id}
                  order={order}
                  me={session.userId}
                  flashed={flashed.has(order.id)}
                  onChange={change}
                />
              ))}
              {column.length === 0 && (
                <p className="empty">{loading ? "Loading…" : "No orders"}</p>
              )}
            </section>
          );
        })}
      </main>
    </div>
  );
}

function byDelivery(a: Order, b: Order): number {
  const da = a.deliveryDate ?? "9999";
  const db = b.deliveryDate ?? "9999";
  return da !== db ? da.localeCompare(db) : a.createdAt.localeCompare(b.createdAt);
}

function OrderCard({
  order,
  me,
  flashed,
  onChange,
}: {
  order: Order;
  me: string;
  flashed: boolean;
  onChange: (order: Order, patch: OrderPatch) => Promise<boolean>;
}) {
  const [busy, setBusy] = useState(false);
  const [editing, setEditing] = useState(false);
  const [notes, setNotes] = useState(order.notes);
  const [forward, ...otherMoves] = MOVES[order.status];

  const run = async (patch: OrderPatch) => {
    setBusy(true);
    const ok = await onChange(order, patch);
    setBusy(false);
    return ok;
  };

  const saveNotes = async (event: FormEvent) => {
    event.preventDefault();
    if (await run({ notes })) setEditing(false);
  };

  return (
    <article
      className={`card${flashed ? " flash" : ""}${order.assignedTo === me ? " mine" : ""}`}
      data-testid="order"
      data-order-id={order.id}
      data-order-number={order.orderNumber}
      data-status={order.status}
      data-version={order.version}
      aria-busy={busy}
    >
      <header className="card-head">
        <strong className="number">{order.orderNumber}</strong>
        {order.deliveryDate && <span className="date">{order.deliveryDate}</span>}
      </header>
      <p className="customer">{order.customerName}</p>
      <ul className="items">
        {order.items.map((item, i) => (
          <li key={i}>
            {item.quantity} × {item.title}
          </li>
        ))}
      </ul>
      {order.cardMessage && <p className="card-message">“{order.cardMessage}”</p>}
      <p className="assignee">
        {order.assignedTo === null
          ? "Unassigned"
          : order.assignedTo === me
            ? "Assigned to me"
            : `Assigned to ${order.assignedTo}`}
      </p>

      {editing ? (
        <form className="notes-form" onSubmit={saveNotes}>
          <textarea
            value={notes}
            onChange={(e) => setNotes(e.target.value)}
            rows={3}
            aria-label={`Notes for ${order.orderNumber}`}
          />
          <div className="row">
            <button type="submit" className="primary" disabled={busy}>
              Save notes
            </button>
            <button type="button" onClick={() => setEditing(false)} disabled={busy}>
              Cancel
            </button>
          </div>
        </form>
      ) : (
        order.notes && <p className="notes">{order.notes}</p>
      )}

      {forward && (
        <div className="actions">
          <button
            type="button"
            className="primary"
            data-testid={`move-${forward}`}
            disabled={busy}
            onClick={() => void run({ status: forward })}
          >
            → {LABEL[forward]}
          </button>
          {otherMoves.length > 0 && (
            <select
              aria-label={`Move ${order.orderNumber} to`}
              data-testid="move-other"
              disabled={busy}
              value=""
              onChange={(e) => void run({ status: e.target.value as OrderStatus })}
            >
              <option value="" disabled>
                Move to…
              </option>
              {otherMoves.map((to) => (
                <option key={to} value={to}>
                  {to === "cancelled" ? "Cancel order" : LABEL[to]}
                </option>
              ))}
            </select>
          )}
        </div>
      )}
      <div className="links">
        {order.assignedTo === me ? (
          <button type="button" className="link" disabled={busy} onClick={() => void run({ assignedTo: null })}>
            Unassign
          </button>
        ) : (
          <button
            type="button"
            className="link"
            data-testid="assign-me"
            disabled={busy}
            onClick={() => void run({ assignedTo: me })}
          >
            Assign to me
          </button>
        )}
        {!editing && (
          <button
            type="button"
            className="link"
            data-testid="edit-notes"
            disabled={busy}
            onClick={() => {
              setNotes(order.notes);
              setEditing(true);
            }}
          >
            {order.notes ? "Edit notes" : "Add notes"}
          </button>
        )}
      </div>
      <p className="meta">
        Last change by {order.updatedBy}
      </p>
    </article>
  );
}
