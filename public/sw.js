// The board's service worker: shows Web Push notifications (issue 13) and brings the board to
// the order when one is clicked. Registered by client/board/push.ts as /sw.js (scope "/").
//
// A push's data is the Worker's JSON {"title","body","orderId","eventId","url"} (docs/API.md,
// "Push notifications"). Every push shows a notification: browsers require it for pushes sent
// with userVisibleOnly, and may revoke the permission of a site whose pushes show nothing.
/* eslint-env serviceworker */
"use strict";

const FALLBACK_TITLE = "Order board";

self.addEventListener("install", () => {
  self.skipWaiting();
});

self.addEventListener("activate", (event) => {
  event.waitUntil(self.clients.claim());
});

/** The notification a push asks for; anything unreadable still shows a generic one. */
function notificationOf(data) {
  let payload = null;
  try {
    payload = data ? data.json() : null;
  } catch {
    payload = null;
  }
  const text = (value, fallback) => (typeof value === "string" && value ? value : fallback);
  const orderId = text(payload && payload.orderId, "");
  const url = text(payload && payload.url, "/");
  return {
    title: text(payload && payload.title, FALLBACK_TITLE),
    options: {
      body: text(payload && payload.body, ""),
      // One notification per order: a newer push about it replaces the older one.
      tag: orderId ? `order-${orderId}` : "order-board",
      renotify: Boolean(orderId),
      data: {
        orderId,
        eventId: text(payload && payload.eventId, ""),
        url: url.startsWith("/") && !url.startsWith("//") ? url : "/",
      },
    },
  };
}

self.addEventListener("push", (event) => {
  const { title, options } = notificationOf(event.data);
  event.waitUntil(self.registration.showNotification(title, options));
});

/** Focuses an open board tab (telling it which order) or opens the board at the order. */
async function openBoard(data) {
  const target = new URL(data && data.url ? data.url : "/", self.location.origin);
  const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
  const board = windows.find((client) => new URL(client.url).origin === self.location.origin);
  if (board) {
    board.postMessage({ type: "open-order", orderId: (data && data.orderId) || null, url: target.href });
    if ("focus" in board) return board.focus();
    return board;
  }
  return self.clients.openWindow(target.href);
}

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  event.waitUntil(openBoard(event.notification.data));
});
