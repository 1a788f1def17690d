// Small building blocks of the board: icons, avatars, the modal dialog, the confirmation.
import { useEffect, useId, useRef, type ReactNode } from "react";

export function WifiIcon({ on }: { on: boolean }) {
  return (
    <svg className="icon" viewBox="0 0 24 24" width="16" height="16" aria-hidden="true" focusable="false">
      <g fill="none" stroke="currentColor" strokeWidth="2.2" strokeLinecap="round" strokeLinejoin="round">
        <path d="M5 12.5a10 10 0 0 1 14 0" />
        <path d="M8.5 16a5 5 0 0 1 7 0" />
        <path d="M2 8.8a15 15 0 0 1 20 0" />
        <circle cx="12" cy="19.5" r="0.6" fill="currentColor" />
        {!on && <path d="M3 3l18 18" />}
      </g>
    </svg>
  );
}

export function LockIcon() {
  return (
    <svg className="icon" viewBox="0 0 24 24" width="14" height="14" aria-hidden="true" focusable="false">
      <g fill="none" stroke="currentColor" strokeWidth="2.2" strokeLinecap="round">
        <rect x="5" y="11" width="14" height="10" rx="2" />
        <path d="M8 11V7a4 4 0 0 1 8 0v4" />
      </g>
    </svg>
  );
}

/** Initials of a user id: "florist-a" → "FA", "ana" → "AN". */
export function initials(userId: string): string {
  const parts = userId.split(/[^\p{L}\p{N}]+/u).filter(Boolean);
  if (parts.length >= 2) return (parts[0]![0]! + parts[parts.length - 1]![0]!).toUpperCase();
  return (parts[0] ?? userId).slice(0, 2).toUpperCase();
}

/** Dark backgrounds that all carry white text at ≥ 4.5:1. */
const AVATAR_COLOURS = ["#1f5f8b", "#7a3e9d", "#2f6f4f", "#9a3412", "#4a5568", "#8a2846", "#1e6b6b"];

export function avatarColour(userId: string): string {
  let hash = 0;
  for (const ch of userId) hash = (hash * 31 + ch.codePointAt(0)!) >>> 0;
  return AVATAR_COLOURS[hash % AVATAR_COLOURS.length]!;
}

export function Avatar({ userId, role, small }: { userId: string; role?: string; small?: boolean }) {
  const label = role === "manager" ? `${userId} (manager)` : userId;
  return (
    <span
      className={`avatar${small ? " small" : ""}`}
      style={{ background: avatarColour(userId) }}
      title={label}
      role="img"
      aria-label={label}
    >
      {initials(userId)}
    </span>
  );
}

/** A modal `<dialog>`: focus is trapped inside, Escape closes it, focus returns on close. */
export function Modal({
  title,
  onClose,
  className,
  children,
  testId,
}: {
  title: ReactNode;
  onClose: () => void;
  className?: string;
  children: ReactNode;
  testId?: string;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  useEffect(() => {
    const dialog = ref.current;
    const opener = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    if (dialog && !dialog.open && typeof dialog.showModal === "function") dialog.showModal();
    return () => {
      if (dialog?.open) dialog.close();
      // The opener may have been re-rendered elsewhere; the board's focus keeper handles that.
      if (opener?.isConnected) opener.focus();
    };
  }, []);
  return (
    <dialog
      ref={ref}
      className={className}
      aria-labelledby={titleId}
      data-testid={testId}
      onCancel={(event) => {
        event.preventDefault();
        onClose();
      }}
    >
      <div className="dialog-head">
        <h2 id={titleId}>{title}</h2>
        <button type="button" className="icon-button" aria-label="Close" onClick={onClose}>
          ×
        </button>
      </div>
      {children}
    </dialog>
  );
}

export interface ConfirmRequest {
  title: string;
  body: string;
  confirmLabel: string;
  danger?: boolean;
  onConfirm: () => void;
}

export function ConfirmDialog({ request, onClose }: { request: ConfirmRequest; onClose: () => void }) {
  return (
    <Modal title={request.title} onClose={onClose} className="confirm" testId="confirm">
      <p>{request.body}</p>
      <div className="row end">
        <button type="button" onClick={onClose} data-testid="confirm-no">
          Keep as is
        </button>
        <button
          type="button"
          className={request.danger ? "danger-solid" : "primary"}
          data-testid="confirm-yes"
          onClick={() => {
            onClose();
            request.onConfirm();
          }}
        >
          {request.confirmLabel}
        </button>
      </div>
    </Modal>
  );
}

export function timeOf(iso: string | null | undefined): string {
  if (!iso) return "";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const today = new Date().toDateString() === d.toDateString();
  return today
    ? d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" })
    : d.toLocaleString([], { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
}
