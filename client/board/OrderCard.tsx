// One order on the board. It renders the order and says what the user wants (intents); the
// board decides what happens.
import { memo } from "react";
import type { Order, OrderStatus, PresenceUser } from "../src/index.js";
import { STATUS_LABEL } from "./notify.js";
import { Avatar, LockIcon } from "./ui.js";
import { clock } from "./lease.js";

/** The Worker's status machine (docs/API.md), forward moves first. */
export const MOVES: Record<OrderStatus, OrderStatus[]> = {
  new: ["in_progress", "cancelled"],
  in_progress: ["ready", "new", "cancelled"],
  ready: ["out_for_delivery", "delivered", "in_progress", "cancelled"],
  out_for_delivery: ["delivered", "ready"],
  delivered: [],
  cancelled: [],
};

export type CardIntent =
  | { type: "move"; order: Order; to: OrderStatus }
  | { type: "assign"; order: Order; to: string | null }
  | { type: "open"; order: Order }
  | { type: "history"; order: Order };

const FIELD_WORD: Record<string, string> = {
  notes: "instructions",
  status: "the status",
  assignedTo: "the assignment",
  note: "a note",
};

function editingLine(editors: { userId: string; field: string }[]): string | null {
  if (editors.length === 0) return null;
  const first = editors[0]!;
  const word = FIELD_WORD[first.field] ?? first.field;
  const more = editors.length > 1 ? ` (+${editors.length - 1})` : "";
  return `${first.userId} is editing ${word}…${more}`;
}

export const OrderCard = memo(function OrderCard({
  order,
  me,
  role,
  flashed,
  busy,
  lockedBy,
  viewers,
  editors,
  onIntent,
}: {
  order: Order;
  me: string;
  /** Only a manager may cancel an order (the Worker answers a florist 403). */
  role: string;
  flashed: boolean;
  busy: boolean;
  /** Someone else's live lease, or null. */
  lockedBy: { holder: string; expiresAt: string } | null;
  viewers: PresenceUser[];
  editors: { userId: string; field: string }[];
  onIntent: (intent: CardIntent) => void;
}) {
  const moves = MOVES[order.status].filter((to) => to !== "cancelled" || role === "manager");
  const [forward, ...otherMoves] = moves;
  const typing = editingLine(editors);
  const mine = order.lock?.holder === me;
  const blocked = lockedBy !== null;
  const assignee =
    order.assignedTo === null
      ? "Unassigned"
      : order.assignedTo === me
        ? "Assigned to me"
        : `Assigned to ${order.assignedTo}`;
  const blockedTitle = blocked ? `${lockedBy.holder} is editing this order` : undefined;

  return (
    <article
      className={`card${flashed ? " flash" : ""}${order.assignedTo === me ? " mine" : ""}`}
      data-testid="order"
      data-order-id={order.id}
      data-order-number={order.orderNumber}
      data-status={order.status}
      data-version={order.version}
      aria-busy={busy}
      aria-labelledby={`title-${order.id}`}
      tabIndex={-1}
      data-focus-key="card"
    >
      <header className="card-head">
        <h3 className="number" id={`title-${order.id}`}>
          {order.orderNumber}
          <span className="visually-hidden">, {order.customerName}</span>
        </h3>
        {order.deliveryDate && <span className="date">{order.deliveryDate}</span>}
      </header>
      {(blocked || mine || viewers.length > 0) && (
        <div className="card-presence">
          {blocked && (
            <span className="lock-badge" data-testid="lock-badge" title={`until ${clock(lockedBy.expiresAt)}`}>
              <LockIcon /> {lockedBy.holder} is editing
            </span>
          )}
          {mine && !blocked && (
            <span className="lock-badge own" data-testid="lock-badge">
              <LockIcon /> you are editing
            </span>
          )}
          {viewers.length > 0 && (
            <span className="viewers" data-testid="viewers" aria-label={`Open by ${viewers.map((v) => v.userId).join(", ")}`}>
              {viewers.slice(0, 4).map((v) => (
                <Avatar key={v.userId} userId={v.userId} role={v.role} small />
              ))}
            </span>
          )}
        </div>
      )}
      <p className="customer">{order.customerName}</p>
      <ul className="items">
        {order.items.map((item, i) => (
          <li key={i}>
            {item.quantity} × {item.title}
          </li>
        ))}
      </ul>
      {order.cardMessage && <p className="card-message">Card: “{order.cardMessage}”</p>}
      {order.shopifyNote && (
        <p className="shopify-note" data-testid="shopify-note">
          <span className="label">Checkout note:</span> {order.shopifyNote}
        </p>
      )}
      <p className="assignee" data-testid="assignee">
        {assignee}
      </p>
      {order.notes && <p className="notes">{order.notes}</p>}
      {typing && (
        <p className="typing" data-testid="typing">
          {typing}
        </p>
      )}

      {forward && (
        <div className="actions">
          <button
            type="button"
            className="primary"
            data-testid={`move-${forward}`}
            data-focus-key="forward"
            disabled={busy || blocked}
            title={blockedTitle}
            onClick={() => onIntent({ type: "move", order, to: forward })}
          >
            → {STATUS_LABEL[forward]}
          </button>
          {otherMoves.length > 0 && (
            <select
              aria-label={`Move ${order.orderNumber} to`}
              data-testid="move-other"
              data-focus-key="move-other"
              disabled={busy || blocked}
              value=""
              onChange={(e) => onIntent({ type: "move", order, to: e.target.value as OrderStatus })}
            >
              <option value="" disabled>
                Move to…
              </option>
              {otherMoves.map((to) => (
                <option key={to} value={to}>
                  {to === "cancelled" ? "Cancel order…" : STATUS_LABEL[to]}
                </option>
              ))}
            </select>
          )}
        </div>
      )}
      <div className="links">
        {order.assignedTo === me ? (
          <button
            type="button"
            className="link"
            data-focus-key="assign"
            disabled={busy || blocked}
            onClick={() => onIntent({ type: "assign", order, to: null })}
          >
            Unassign
          </button>
        ) : (
          <button
            type="button"
            className="link"
            data-testid="assign-me"
            data-focus-key="assign"
            disabled={busy || blocked}
            onClick={() => onIntent({ type: "assign", order, to: me })}
          >
            {order.assignedTo ? "Assign to me…" : "Assign to me"}
          </button>
        )}
        <button
          type="button"
          className="link"
          data-testid="open-order"
          data-focus-key="open"
          onClick={() => onIntent({ type: "open", order })}
          aria-label={`Edit ${order.orderNumber}: instructions and notes`}
        >
          Edit &amp; notes
        </button>
        <button
          type="button"
          className="link"
          data-testid="open-history"
          data-focus-key="history"
          onClick={() => onIntent({ type: "history", order })}
          aria-label={`History of ${order.orderNumber}`}
        >
          History
        </button>
      </div>
      <p className="meta">Last change by {order.updatedBy}</p>
    </article>
  );
});
