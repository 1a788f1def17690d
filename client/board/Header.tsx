// The header: the connection (WiFi icon, Live / Offline, the update counter), who is online,
// the tools, and the notifications (bottom right on a desk, in the header's flow on a phone).
import { useEffect, useMemo, useState } from "react";
import type { PresenceState, RealtimeMode } from "../src/index.js";
import { POLL_INTERVAL } from "./config.js";
import type { Session } from "./session.js";
import { Avatar, WifiIcon } from "./ui.js";
import type { useNotices } from "./useNotices.js";
import {
  DEFAULT_PUSH_EVENTS,
  PUSH_EVENTS,
  PUSH_EVENT_LABELS,
  currentPushSubscription,
  disablePush,
  enablePush,
  pushApi,
  pushSupported,
  type PushEvent,
} from "./push.js";

export function Header({
  session,
  live,
  onlyMine,
  onOnlyMine,
  onRefresh,
  onSignOut,
  notices: { notices, notify, dismiss, sound, toggleSound, alerts, toggleAlerts, canAlert },
}: {
  session: Session;
  live: { isConnected: boolean; mode: RealtimeMode; updateCount: number; presence: PresenceState };
  onlyMine: boolean;
  onOnlyMine: (on: boolean) => void;
  onRefresh: () => void;
  onSignOut: () => void;
  notices: ReturnType<typeof useNotices>;
}) {
  const [menuOpen, setMenuOpen] = useState(false);
  const online = live.presence.users;
  // Browser push ("Notify me"): permission is asked from the button's click only.
  const push = useMemo(() => pushApi(session), [session]);
  const [pushOn, setPushOn] = useState(false);
  const [pushEvents, setPushEvents] = useState<PushEvent[]>([...DEFAULT_PUSH_EVENTS]);
  useEffect(() => {
    void currentPushSubscription().then((s) => setPushOn(s !== null));
  }, []);
  return (
    <header className={`topbar${menuOpen ? " menu-open" : ""}`}>
      <div className="brand">
        <h1>Order board</h1>
        <span className="shop">{session.tenant}</span>
      </div>
      <div className="status">
        <span
          className={`indicator ${live.isConnected ? "live" : "offline"}`}
          data-testid="connection"
          data-mode={live.mode}
          role="status"
          title={
            live.isConnected
              ? "Changes arrive as they happen"
              : live.mode === "polling"
                ? `Live stream unavailable: checking every ${POLL_INTERVAL / 1000} s`
                : "Not connected: reconnecting"
          }
        >
          <WifiIcon on={live.isConnected} />
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
      <button
        type="button"
        className="menu-toggle"
        aria-expanded={menuOpen}
        aria-controls="board-tools"
        onClick={() => setMenuOpen((open) => !open)}
      >
        Menu
      </button>
      {online.length > 0 && (
        <div className="online" data-testid="online" aria-label={`Online: ${online.map((u) => u.userId).join(", ")}`}>
          <span className="online-label" aria-hidden="true">Online</span>
          {online.slice(0, 8).map((u) => (
            <Avatar key={u.userId} userId={u.userId} role={u.role} />
          ))}
          {online.length > 8 && <span className="more">+{online.length - 8}</span>}
        </div>
      )}
      <div className="tools" id="board-tools">
        <label className="only-mine">
          <input type="checkbox" checked={onlyMine} onChange={(e) => onOnlyMine(e.target.checked)} />
          Only mine
        </label>
        <button type="button" onClick={onRefresh} data-testid="refresh">
          Refresh
        </button>
        <button type="button" aria-pressed={sound} onClick={toggleSound} data-testid="sound">
          Sound {sound ? "on" : "off"}
        </button>
        {canAlert && (
          <button type="button" aria-pressed={alerts} onClick={() => void toggleAlerts()} data-testid="alerts">
            Alerts {alerts ? "on" : "off"}
          </button>
        )}
        {pushSupported() && (
          <details className="notify-me-wrap">
          <summary>Notify me{pushOn ? " (on)" : ""}</summary>
          <fieldset className="notify-me" data-testid="notify-me">
            <legend>Notify me when the board is closed</legend>
            {PUSH_EVENTS.map((e) => (
              <label key={e}>
                <input
                  type="checkbox"
                  checked={pushEvents.includes(e)}
                  onChange={(ev) =>
                    setPushEvents((l) => (ev.target.checked ? [...l, e] : l.filter((x) => x !== e)))
                  }
                />
                {PUSH_EVENT_LABELS[e]}
              </label>
            ))}
            <button
              type="button"
              disabled={!pushEvents.length}
              onClick={() =>
                void enablePush(push, pushEvents).then(
                  () => setPushOn(true),
                  (err: Error) => notify(err.message, "error"),
                )
              }
            >
              {pushOn ? "Save" : "Notify me"}
            </button>
            {pushOn && (
              <button type="button" onClick={() => void disablePush(push).then(() => setPushOn(false))}>
                Turn off
              </button>
            )}
          </fieldset>
          </details>
        )}
        <span className="user" title={session.role}>
          {session.userId}
          {session.role === "manager" && <span className="role"> (manager)</span>}
        </span>
        <button type="button" onClick={onSignOut}>
          Sign out
        </button>
      </div>
      <div className="notices" aria-live="polite" aria-relevant="additions" data-testid="notifications">
        {notices.map((n) => (
          <div key={n.id} className={`notice ${n.kind}`} data-testid="notice">
            <span className="notice-text">
              {n.text}
              {n.by && <span className="by"> · {n.by}</span>}
            </span>
            <button
              type="button"
              className="icon-button"
              aria-label={`Dismiss: ${n.text}`}
              onClick={() => dismiss(n.id)}
            >
              ×
            </button>
          </div>
        ))}
      </div>
    </header>
  );
}
