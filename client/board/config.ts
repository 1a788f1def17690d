// The board's settings, in one place.
import type { TransportName } from "../src/index.js";

/**
 * Streams in order of preference, and polling while none is open. The WebSocket brings presence
 * and lets the board send `view` / `typing`; a server without `/realtime/ws` costs one refused
 * handshake, after which the client hands over to SSE at once (no backoff).
 * To go back to SSE only: `["sse", "polling"]`.
 */
export const TRANSPORTS: readonly TransportName[] = ["ws", "sse", "polling"];

/**
 * Live connections authenticate with a single-use ticket (`POST …/realtime/tickets`) instead of
 * the token in the URL; a server without tickets gets `?access_token=`.
 */
export const USE_TICKETS = true;

/** While no WebSocket is open, read `GET /presence` this often (0: never). */
export const PRESENCE_POLL_MS = 15_000;

/** Milliseconds between polls while no stream is open. */
export const POLL_INTERVAL = 3000;

/** Delivered and cancelled orders whose last change is older than this are loaded on demand. */
export const ARCHIVE_DAYS = 3;

/** How long an information notice stays (warnings and errors stay until dismissed). */
export const NOTICE_MS = 8000;

/** A `typing` frame is sent at most this often while the user types. */
export const TYPING_EVERY_MS = 1500;
