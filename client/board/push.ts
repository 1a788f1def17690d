// Web Push for the board (issue 13): "Notify me" turns on notifications for this browser, so a
// florist whose board is closed still hears about new orders and orders assigned to her.
// The Worker pushes only to users with no live connection (docs/API.md, "Push notifications");
// /sw.js (public/sw.js) shows the notification and brings the board back on a click.
//
// Call enablePush from a click handler: browsers only show the permission prompt for a user
// gesture. Nothing here runs on import.

/** The events a subscription can ask for (the Worker's `events`). */
export type PushEvent =
  | "order_created"
  | "assigned_to_me"
  | "note_on_my_order"
  | "status_of_my_order";

export const PUSH_EVENTS: readonly PushEvent[] = [
  "order_created",
  "assigned_to_me",
  "note_on_my_order",
  "status_of_my_order",
];

/** What the Worker stores when no events are named. */
export const DEFAULT_PUSH_EVENTS: readonly PushEvent[] = ["order_created", "assigned_to_me"];

/** Labels for a settings menu, in PUSH_EVENTS order. */
export const PUSH_EVENT_LABELS: Record<PushEvent, string> = {
  order_created: "New orders",
  assigned_to_me: "Orders assigned to me",
  note_on_my_order: "Notes on my orders",
  status_of_my_order: "Status changes of my orders",
};

export const SERVICE_WORKER_URL = "/sw.js";

export type PushErrorCode = "unsupported" | "denied" | "server" | "subscribe_failed";

export class PushError extends Error {
  constructor(
    readonly code: PushErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "PushError";
  }
}

/** The Worker routes the helper needs; {@link pushApi} makes one from the board's session. */
export interface PushApi {
  /** `GET /api/push/vapid-public-key` → base64url of the uncompressed P-256 key. */
  vapidPublicKey(): Promise<string>;
  /** `POST /api/tenants/{t}/push/subscriptions` (create or update). */
  saveSubscription(subscription: PushSubscriptionJSON, events: readonly PushEvent[]): Promise<void>;
  /** `DELETE /api/tenants/{t}/push/subscriptions?endpoint=` (a 404 counts as done). */
  deleteSubscription(endpoint: string): Promise<void>;
}

/** The routes over `fetch`, with the board's token. */
export function pushApi(
  session: { token: string; tenant: string },
  baseUrl = "",
  fetchImpl: typeof fetch = (input, init) => fetch(input, init),
): PushApi {
  const subscriptions = `${baseUrl}/api/tenants/${encodeURIComponent(session.tenant)}/push/subscriptions`;
  const call = async (method: string, url: string, body?: unknown): Promise<Response> => {
    let response: Response;
    try {
      response = await fetchImpl(url, {
        method,
        headers: {
          Authorization: `Bearer ${session.token}`,
          ...(body === undefined ? {} : { "Content-Type": "application/json" }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch {
      throw new PushError("server", "The server could not be reached.");
    }
    return response;
  };
  const failure = async (response: Response): Promise<PushError> => {
    let message = `HTTP ${response.status}`;
    try {
      const json = (await response.json()) as { error?: { message?: string } };
      message = json.error?.message ?? message;
    } catch {
      // Not JSON: keep the status.
    }
    return new PushError("server", message);
  };
  return {
    async vapidPublicKey() {
      const response = await call("GET", `${baseUrl}/api/push/vapid-public-key`);
      if (!response.ok) throw await failure(response);
      const { publicKey } = (await response.json()) as { publicKey?: unknown };
      if (typeof publicKey !== "string" || !publicKey) {
        throw new PushError("server", "The server sent no push key.");
      }
      return publicKey;
    },
    async saveSubscription(subscription, events) {
      const response = await call("POST", subscriptions, { ...subscription, events: [...events] });
      if (!response.ok) throw await failure(response);
    },
    async deleteSubscription(endpoint) {
      const response = await call(
        "DELETE",
        `${subscriptions}?endpoint=${encodeURIComponent(endpoint)}`,
      );
      if (!response.ok && response.status !== 404) throw await failure(response);
    },
  };
}

/** Can this browser receive pushes here? (Service workers need a secure context.) */
export function pushSupported(): boolean {
  return (
    typeof window !== "undefined" &&
    window.isSecureContext === true &&
    typeof navigator !== "undefined" &&
    "serviceWorker" in navigator &&
    "PushManager" in window &&
    "Notification" in window
  );
}

/** Is this browser subscribed (for the menu's checkbox state)? */
export async function currentPushSubscription(): Promise<PushSubscription | null> {
  if (!pushSupported()) return null;
  const registration = await navigator.serviceWorker.getRegistration("/");
  return (await registration?.pushManager.getSubscription()) ?? null;
}

/**
 * Turns notifications on for this browser, for `events` (call again to change them): asks
 * permission (only from a click), registers /sw.js, subscribes with the server's key and
 * stores the subscription on the server.
 */
export async function enablePush(
  api: PushApi,
  events: readonly PushEvent[] = DEFAULT_PUSH_EVENTS,
): Promise<PushSubscription> {
  if (!pushSupported()) {
    throw new PushError("unsupported", "This browser cannot show notifications from the board.");
  }
  const permission =
    Notification.permission === "granted" ? "granted" : await Notification.requestPermission();
  if (permission !== "granted") {
    throw new PushError("denied", "Notifications are blocked for this site in the browser.");
  }
  await navigator.serviceWorker.register(SERVICE_WORKER_URL, { scope: "/" });
  const registration = await navigator.serviceWorker.ready;
  const key = base64UrlToBytes(await api.vapidPublicKey());
  let subscription = await registration.pushManager.getSubscription();
  if (subscription && !sameKey(subscription.options.applicationServerKey, key)) {
    // The server's key changed: a subscription made for the old one can no longer be pushed to.
    await subscription.unsubscribe();
    subscription = null;
  }
  if (!subscription) {
    try {
      subscription = await registration.pushManager.subscribe({
        userVisibleOnly: true,
        applicationServerKey: key,
      });
    } catch (error) {
      throw new PushError(
        "subscribe_failed",
        `The browser's push service refused: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
  }
  await api.saveSubscription(subscription.toJSON(), events);
  return subscription;
}

/** Turns notifications off for this browser: forgets it on the server, then unsubscribes. */
export async function disablePush(api: PushApi): Promise<boolean> {
  const subscription = await currentPushSubscription();
  if (!subscription) return false;
  try {
    await api.deleteSubscription(subscription.endpoint);
  } finally {
    // Even if the server is unreachable: its next push then gets 410 and drops the row.
    await subscription.unsubscribe();
  }
  return true;
}

export function base64UrlToBytes(text: string): Uint8Array<ArrayBuffer> {
  const base64 = text.replace(/-/g, "+").replace(/_/g, "/").replace(/=+$/, "");
  const binary = atob(base64.padEnd(base64.length + ((4 - (base64.length % 4)) % 4), "="));
  const bytes = new Uint8Array(new ArrayBuffer(binary.length));
  for (let i = 0; i < binary.length; i += 1) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

function sameKey(current: ArrayBuffer | null, key: Uint8Array): boolean {
  if (!current) return false;
  const a = new Uint8Array(current);
  return a.length === key.length && a.every((byte, i) => byte === key[i]);
}
