// The shell of the notification list (notify.ts): timers, the optional sound, and browser
// notifications while the tab is hidden (permission asked from a button, never on load).
import { useCallback, useReducer, useRef, useState } from "react";
import { NOTICE_MS } from "./config.js";
import { noticesReducer, type Notice } from "./notify.js";

const SOUND_KEY = "florist-board.sound";
const ALERTS_KEY = "florist-board.alerts";

function readFlag(key: string): boolean {
  try {
    return window.localStorage.getItem(key) === "on";
  } catch {
    return false;
  }
}

function writeFlag(key: string, on: boolean): void {
  try {
    window.localStorage.setItem(key, on ? "on" : "off");
  } catch {
    // Storage disabled: the setting lasts as long as the page.
  }
}

const canNotify = () => typeof Notification !== "undefined";

/** A short two-tone chime made on the spot (no sound file). */
function chime(context: AudioContext): void {
  const now = context.currentTime;
  for (const [i, freq] of [880, 1175].entries()) {
    const osc = context.createOscillator();
    const gain = context.createGain();
    osc.frequency.value = freq;
    gain.gain.setValueAtTime(0.0001, now + i * 0.12);
    gain.gain.exponentialRampToValueAtTime(0.15, now + i * 0.12 + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, now + i * 0.12 + 0.2);
    osc.connect(gain).connect(context.destination);
    osc.start(now + i * 0.12);
    osc.stop(now + i * 0.12 + 0.22);
  }
}

export type Notify = (
  text: string,
  kind?: Notice["kind"],
  by?: string | null,
  orderId?: string | null,
) => void;

export function useNotices() {
  const [notices, dispatch] = useReducer(noticesReducer, []);
  const [sound, setSound] = useState(() => readFlag(SOUND_KEY));
  const [alerts, setAlerts] = useState(
    () => readFlag(ALERTS_KEY) && canNotify() && Notification.permission === "granted",
  );
  const nextId = useRef(1);
  const audio = useRef<AudioContext | null>(null);
  const settings = useRef({ sound, alerts });
  settings.current = { sound, alerts };

  const notify: Notify = useCallback((text, kind = "info", by = null, orderId = null) => {
    const id = nextId.current++;
    dispatch({ type: "add", notice: { id, text, by, orderId, kind } });
    // Information goes by itself; warnings and errors stay until dismissed.
    if (kind === "info") window.setTimeout(() => dispatch({ type: "dismiss", id }), NOTICE_MS);
    if (kind === "info" && settings.current.sound && audio.current) {
      try {
        chime(audio.current);
      } catch {
        // No audio output: the notice is still shown.
      }
    }
    if (settings.current.alerts && document.hidden && canNotify() && Notification.permission === "granted") {
      try {
        new Notification("Order board", { body: by ? `${text} (${by})` : text, tag: orderId ?? undefined });
      } catch {
        // Some browsers only allow notifications from a service worker.
      }
    }
  }, []);

  const dismiss = useCallback((id: number) => dispatch({ type: "dismiss", id }), []);

  const toggleSound = useCallback(() => {
    const on = !settings.current.sound;
    // The audio context is made on the click: browsers allow sound only after a gesture.
    if (on && !audio.current && typeof AudioContext !== "undefined") audio.current = new AudioContext();
    void audio.current?.resume().catch(() => undefined);
    setSound(on);
    writeFlag(SOUND_KEY, on);
  }, []);

  const toggleAlerts = useCallback(async () => {
    if (settings.current.alerts) {
      setAlerts(false);
      writeFlag(ALERTS_KEY, false);
      return;
    }
    const permission =
      Notification.permission === "default" ? await Notification.requestPermission() : Notification.permission;
    if (permission === "granted") {
      setAlerts(true);
      writeFlag(ALERTS_KEY, true);
    } else notify("The browser does not allow notifications for this page.", "warning");
  }, [notify]);

  return { notices, notify, dismiss, sound, toggleSound, alerts, toggleAlerts, canAlert: canNotify() };
}
