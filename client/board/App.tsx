import {
  useCallback,
  useEffect,
  useLayoutEffect,
  useMemo,
  useReducer,
  useRef,
  useState,
  type FocusEvent,
} from "react";
import type { OrderEvent, OrderStatus } from "../src/index.js";
import { editorsOf, viewersOf } from "../src/index.js";
import { useRealtimeUpdates } from "../src/react.js";
import { BoardApi } from "./api.js";
import { ARCHIVE_DAYS, POLL_INTERVAL, PRESENCE_POLL_MS, TRANSPORTS, USE_TICKETS } from "./config.js";
import { ConflictView } from "./ConflictView.js";
import { choose, resolve, setField, startEdit, type EditState } from "./edit.js";
import { heldByOther } from "./lease.js";
import { loadBoard } from "./load.js";
import { Header } from "./Header.js";
import { describeEvent, STATUS_LABEL } from "./notify.js";
import { EditDrawer, HistoryDrawer, type DrawerContext } from "./OrderDrawer.js";
import { OrderCard, type CardIntent } from "./OrderCard.js";
import { columnOrders, INITIAL_ORDERS, isArchive, ordersReducer } from "./orders.js";
import { clearSession, loadSession, saveSession, type Session } from "./session.js";
import { SignIn } from "./SignIn.js";
import { ConfirmDialog, Modal, type ConfirmRequest } from "./ui.js";
import { useNotices } from "./useNotices.js";
import { submitEdit } from "./write.js";
import { disablePush, pushApi } from "./push.js";

const COLUMNS: { status: OrderStatus; label: string }[] = (
  ["new", "in_progress", "ready", "out_for_delivery", "delivered", "cancelled"] as const
).map((status) => ({ status, label: STATUS_LABEL[status] }));

const EXPIRED = "Your sign-in has expired. Paste a new token.";

export function App() {
  const [session, setSession] = useState<Session | null>(() => loadSession());
  const [notice, setNotice] = useState<string | null>(null);

  const signOut = useCallback((reason: string | null) => {
    // A shared device stops getting this user's pushes.
    const current = loadSession();
    if (current) void disablePush(pushApi(current)).catch(() => {});
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

type Drawer = { orderId: string; mode: "edit" | "history" } | null;

function Board({ session, onSignOut }: { session: Session; onSignOut: (reason: string | null) => void }) {
  const me = session.userId;
  const api = useMemo(() => new BoardApi(session), [session]);
  const [state, dispatch] = useReducer(ordersReducer, INITIAL_ORDERS);
  const stateRef = useRef(state);
  stateRef.current = state;
  const [loadError, setLoadError] = useState<string | null>(null);
  const [onlyMine, setOnlyMine] = useState(false);
  const [flashed, setFlashed] = useState<ReadonlySet<string>>(new Set());
  const [busy, setBusy] = useState<ReadonlySet<string>>(new Set());
  const [drawer, setDrawer] = useState<Drawer>(null);
  // Open the order a push notification was about (`/?order=`, or a message from the service
  // worker when the board was already open); history, so opening it takes no edit lock.
  useEffect(() => {
    const open = (id: unknown) => {
      if (typeof id === "string" && id) setDrawer({ orderId: id, mode: "history" });
    };
    open(new URLSearchParams(location.search).get("order"));
    const onMessage = (e: MessageEvent) => {
      if (e.data?.type === "open-order") open(e.data.orderId);
    };
    navigator.serviceWorker?.addEventListener("message", onMessage);
    return () => navigator.serviceWorker?.removeEventListener("message", onMessage);
  }, []);
  const [confirm, setConfirm] = useState<ConfirmRequest | null>(null);
  const [conflict, setConflict] = useState<EditState | null>(null);
  const [conflictBusy, setConflictBusy] = useState(false);
  const [now, setNow] = useState(() => Date.now());
  /** The realtime cursor read before the first load: undefined until known, null if unreadable. */
  const [cursor, setCursor] = useState<string | null | undefined>(undefined);
  const loadNumber = useRef(0);
  const listeners = useRef(new Set<(event: OrderEvent) => void>());
  const liveSeq = useRef<string | null>(null);
  const noticesApi = useNotices();
  const { notify } = noticesApi;

  const signOutExpired = useCallback(() => onSignOut(EXPIRED), [onSignOut]);

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

  // --- loading -----------------------------------------------------------------------------
  const load = useCallback(
    async (since: string | null) => {
      const id = ++loadNumber.current;
      dispatch({ type: "load_started", id, since });
      try {
        const { orders, archive } = await loadBoard(api, Date.now(), ARCHIVE_DAYS);
        dispatch({ type: "load_finished", id, orders, archive });
        setLoadError(null);
      } catch (error) {
        dispatch({ type: "load_failed", id });
        if (error instanceof Error && "status" in error && error.status === 401) signOutExpired();
        else setLoadError(error instanceof Error ? error.message : String(error));
      }
    },
    [api, signOutExpired],
  );

  // The cursor first, then the list: every change after the cursor comes as an event.
  useEffect(() => {
    let cancelled = false;
    api.realtimeCursor().then(
      (c) => {
        if (cancelled) return;
        setCursor(c);
        void load(c);
      },
      (error) => {
        if (cancelled) return;
        if (error instanceof Error && "status" in error && error.status === 401) return signOutExpired();
        // Without a cursor the client starts at the head and asks for a reload when it opens.
        setCursor(null);
        void load(null);
      },
    );
    return () => {
      cancelled = true;
    };
  }, [api, load, signOutExpired]);

  // The archive cutoff and lease badges depend on the clock.
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 15_000);
    return () => clearInterval(timer);
  }, []);

  // --- live updates ------------------------------------------------------------------------
  const onUpdate = useCallback(
    (event: OrderEvent) => {
      const before = stateRef.current.orders[event.orderId];
      dispatch({ type: "event", event });
      for (const listener of listeners.current) listener(event);
      if (event.order && event.type !== "order_locked" && event.type !== "order_unlocked") flash(event.orderId);
      const said = describeEvent(event, before, me);
      if (said) notify(said.text, said.kind, said.by, event.orderId);
    },
    [flash, me, notify],
  );

  const live = useRealtimeUpdates({
    tenant: session.tenant,
    token: session.token,
    enabled: cursor !== undefined,
    lastSeq: cursor ?? null,
    pollInterval: POLL_INTERVAL,
    transports: TRANSPORTS,
    tickets: USE_TICKETS,
    learnHeartbeat: true,
    presencePollMs: PRESENCE_POLL_MS,
    onUpdate,
    onResync: () => void load(liveSeq.current),
    onError: (error) => {
      if (error.status === 401) signOutExpired();
    },
  });
  liveSeq.current = live.lastSeq;

  const subscribe = useCallback((listener: (event: OrderEvent) => void) => {
    listeners.current.add(listener);
    return () => void listeners.current.delete(listener);
  }, []);

  // Tell the others which order is open.
  const { view, typing } = live;
  useEffect(() => {
    view(drawer?.orderId ?? null);
  }, [drawer, view]);

  // --- writes from the cards ---------------------------------------------------------------
  const setBusyFor = (orderId: string, on: boolean) =>
    setBusy((set) => {
      const next = new Set(set);
      if (on) next.add(orderId);
      else next.delete(orderId);
      return next;
    });

  const send = useCallback(
    async (edit: EditState, request?: Parameters<typeof submitEdit>[2]): Promise<void> => {
      setBusyFor(edit.orderId, true);
      const outcome = await submitEdit(api, edit, request);
      setBusyFor(edit.orderId, false);
      switch (outcome.kind) {
        case "saved":
          dispatch({ type: "order_seen", order: outcome.order });
          setConflict(null);
          return;
        case "conflict":
          dispatch({ type: "order_seen", order: outcome.order });
          if (outcome.edit.phase === "conflict") setConflict(outcome.edit);
          else return send(outcome.edit); // what changed meanwhile does not touch this change
          return;
        case "locked":
          setConflict(null);
          notify(outcome.message, "warning", null, edit.orderId);
          return;
        case "gone":
          setConflict(null);
          dispatch({ type: "order_gone", orderId: edit.orderId });
          notify(outcome.message, "warning");
          return;
        case "unauthorized":
          signOutExpired();
          return;
        case "error":
          notify(outcome.message, "error", null, edit.orderId);
      }
    },
    [api, notify, signOutExpired],
  );

  const onIntent = useCallback(
    (intent: CardIntent) => {
      const { order } = intent;
      switch (intent.type) {
        case "move": {
          const go = () => void send(setField(startEdit(order), "status", intent.to));
          if (intent.to === "cancelled") {
            setConfirm({
              title: `Cancel ${order.orderNumber}?`,
              body: `${order.customerName}'s order will be cancelled. A cancelled order cannot be reopened.`,
              confirmLabel: "Cancel the order",
              danger: true,
              onConfirm: go,
            });
          } else go();
          return;
        }
        case "assign": {
          const go = () => void send(setField(startEdit(order), "assignedTo", intent.to));
          if (intent.to === me && order.assignedTo && order.assignedTo !== me) {
            setConfirm({
              title: `Take ${order.orderNumber} from ${order.assignedTo}?`,
              body: `${order.orderNumber} is assigned to ${order.assignedTo}. It will be assigned to you instead.`,
              confirmLabel: "Assign to me",
              onConfirm: go,
            });
          } else go();
          return;
        }
        case "open":
          setDrawer({ orderId: order.id, mode: "edit" });
          return;
        case "history":
          setDrawer({ orderId: order.id, mode: "history" });
      }
    },
    [me, send],
  );

  const applyResolution = async () => {
    if (!conflict) return;
    const { state: next, request } = resolve(conflict);
    if (!request) {
      setConflict(null);
      return;
    }
    setConflictBusy(true);
    await send(next, request);
    setConflictBusy(false);
  };

  // --- keyboard focus survives a card moving to another column -----------------------------
  // React re-creates a card that changes column, and the focus would fall back to the page.
  // The board remembers which control of which card had it and puts it back: on the same
  // control when it can take focus, else on the card (and on the control once it is enabled).
  const focusWanted = useRef<{ orderId: string; key: string } | null>(null);
  const restoring = useRef(false);
  const onFocusIn = (event: FocusEvent) => {
    if (restoring.current) return;
    const target = event.target as HTMLElement;
    const card = target.closest<HTMLElement>("[data-order-id]");
    const key = target.closest<HTMLElement>("[data-focus-key]")?.dataset.focusKey;
    focusWanted.current = card?.dataset.orderId && key ? { orderId: card.dataset.orderId, key } : null;
  };
  useLayoutEffect(() => {
    const wanted = focusWanted.current;
    if (!wanted || document.querySelector("dialog[open]")) return;
    const card = document.querySelector<HTMLElement>(`main [data-order-id="${CSS.escape(wanted.orderId)}"]`);
    if (!card) return;
    const active = document.activeElement;
    const lost = !active || active === document.body;
    const onFallback = active === card && wanted.key !== "card";
    if (!lost && !onFallback) return;
    const control = card.querySelector<HTMLElement>(`[data-focus-key="${wanted.key}"]:not(:disabled)`);
    const target = control ?? (lost ? card : null);
    if (!target) return;
    restoring.current = true;
    target.focus();
    restoring.current = false;
  });

  // --- drawers -----------------------------------------------------------------------------
  const ctx: DrawerContext = useMemo(
    () => ({
      api,
      me,
      role: session.role,
      dispatch,
      subscribe,
      typing: (orderId, field) => void typing(orderId, field),
      onUnauthorized: signOutExpired,
      onNotice: (text, kind) => notify(text, kind),
    }),
    [api, me, notify, session.role, signOutExpired, subscribe, typing],
  );
  const closeDrawer = useCallback(() => setDrawer(null), []);
  const drawerOrder = drawer ? state.orders[drawer.orderId] : undefined;

  // --- render ------------------------------------------------------------------------------
  const presence = live.presence;
  const loading = !state.loaded;
  const columns = COLUMNS.map(({ status, label }) => ({
    status,
    label,
    ...columnOrders(state, status, { now, archiveDays: ARCHIVE_DAYS, onlyMine: onlyMine ? me : null }),
  }));

  const loadOlder = async (status: "delivered" | "cancelled") => {
    const paging = state.archive[status];
    if (!paging.nextCursor) {
      dispatch({ type: "show_older", status, show: true });
      return;
    }
    try {
      const page = await api.listPage({ status, cursor: paging.nextCursor, limit: 50 });
      dispatch({ type: "older_loaded", status, orders: page.orders, nextCursor: page.nextCursor });
    } catch (error) {
      notify(`Could not load older orders: ${error instanceof Error ? error.message : String(error)}`, "error");
    }
  };

  return (
    <div className="app">
      <Header
        session={session}
        live={live}
        onlyMine={onlyMine}
        onOnlyMine={setOnlyMine}
        onRefresh={() => void load(liveSeq.current)}
        onSignOut={() => onSignOut(null)}
        notices={noticesApi}
      />

      {loadError && (
        <p className="load-error" role="alert">
          Could not load the orders: {loadError}{" "}
          <button type="button" onClick={() => void load(liveSeq.current)}>
            Try again
          </button>
        </p>
      )}

      <nav className="jump" aria-label="Columns">
        {columns.map(({ status, label, orders }) => (
          <a key={status} href={`#col-${status}`}>
            {label} <span className="count">{orders.length}</span>
          </a>
        ))}
      </nav>

      <main className="board" onFocus={onFocusIn}>
        {columns.map(({ status, label, orders, hiddenOlder }) => (
          <section
            key={status}
            id={`col-${status}`}
            className="column"
            data-testid={`column-${status}`}
            aria-labelledby={`col-title-${status}`}
          >
            <h2 id={`col-title-${status}`}>
              {label} <span className="count">{orders.length}</span>
            </h2>
            {orders.map((order) => {
              const lock = heldByOther(order.lock, me, now);
              return (
                <OrderCard
                  key={order.id}
                  order={order}
                  me={me}
                  role={session.role}
                  flashed={flashed.has(order.id)}
                  busy={busy.has(order.id)}
                  lockedBy={lock}
                  viewers={viewersOf(presence, order.id, me)}
                  editors={editorsOf(presence, order.id, me)}
                  onIntent={onIntent}
                />
              );
            })}
            {orders.length === 0 && <p className="empty">{loading ? "Loading…" : "No orders"}</p>}
            {isArchive(status) &&
              (hiddenOlder > 0 || state.archive[status].nextCursor) &&
              !state.archive[status].showOlder && (
                <button type="button" className="link older" onClick={() => void loadOlder(status)}>
                  Show older than {ARCHIVE_DAYS} days
                </button>
              )}
            {isArchive(status) && state.archive[status].showOlder && state.archive[status].nextCursor && (
              <button type="button" className="link older" onClick={() => void loadOlder(status)}>
                Load more
              </button>
            )}
          </section>
        ))}
      </main>

      {drawer && drawerOrder && drawer.mode === "edit" && (
        <EditDrawer
          key={drawer.orderId}
          order={drawerOrder}
          notes={state.notes[drawer.orderId]}
          editors={editorsOf(presence, drawer.orderId, me)}
          ctx={ctx}
          onClose={closeDrawer}
        />
      )}
      {drawer && drawerOrder && drawer.mode === "history" && (
        <HistoryDrawer key={drawer.orderId} order={drawerOrder} ctx={ctx} onClose={closeDrawer} />
      )}
      {conflict && (
        <Modal title="Your change meets someone else's" onClose={() => setConflict(null)} className="conflict-dialog">
          <ConflictView
            edit={conflict}
            busy={conflictBusy}
            onChoose={(field, choice) => setConflict((c) => (c ? choose(c, field, choice) : c))}
            onApply={() => void applyResolution()}
            onDiscard={() => setConflict(null)}
          />
        </Modal>
      )}
      {confirm && <ConfirmDialog request={confirm} onClose={() => setConfirm(null)} />}
    </div>
  );
}
