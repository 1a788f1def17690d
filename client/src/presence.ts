// Who is online in a shop, what they look at, and who is typing where: a pure reducer over the
// server's presence frames (WebSocket `presence`, `presence_diff`, `typing`; or the snapshot
// of `GET /api/tenants/{t}/presence` for clients without a socket). No timer lives here: the
// caller passes the time, and `expireTyping` drops what is too old.

export interface PresenceEditing {
  orderId: string;
  field: string;
}

export interface PresenceUser {
  userId: string;
  role: string;
  /** How many connections (tabs, devices) the user has open. */
  connections: number;
  /** Orders the user has open. */
  viewing: string[];
  /** Fields the user is editing. */
  editing: PresenceEditing[];
}

export interface TypingEntry {
  userId: string;
  orderId: string;
  field: string;
  /** When the last `typing` frame of this user, order and field arrived (ms). */
  at: number;
}

export interface PresenceState {
  /** Online users, sorted by id. */
  users: PresenceUser[];
  typing: TypingEntry[];
}

/** A `typing` frame stands for this long (the sender repeats it while typing). */
export const TYPING_TTL_MS = 4000;

export const EMPTY_PRESENCE: PresenceState = { users: [], typing: [] };

export type PresenceAction =
  | { type: "presence"; users: unknown }
  | { type: "presence_diff"; joins?: unknown; leaves?: unknown; updates?: unknown }
  | { type: "typing"; userId: unknown; orderId: unknown; field: unknown; at: number }
  | { type: "expire"; now: number }
  | { type: "reset" };

export function presenceReducer(state: PresenceState, action: PresenceAction): PresenceState {
  switch (action.type) {
    case "presence": {
      const users = readUsers(action.users);
      if (users === null) return state;
      return withUsers(state, sortUsers(users));
    }
    case "presence_diff": {
      const byId = new Map(state.users.map((u) => [u.userId, u]));
      for (const u of readUsers(action.joins) ?? []) byId.set(u.userId, u);
      for (const u of readUsers(action.updates) ?? []) byId.set(u.userId, u);
      for (const u of readLeaves(action.leaves)) byId.delete(u);
      return withUsers(state, sortUsers([...byId.values()]));
    }
    case "typing": {
      const { userId, orderId, field, at } = action;
      if (typeof userId !== "string" || typeof orderId !== "string" || typeof field !== "string") {
        return state;
      }
      const others = state.typing.filter(
        (t) => !(t.userId === userId && t.orderId === orderId && t.field === field),
      );
      return { ...state, typing: [...others, { userId, orderId, field, at }] };
    }
    case "expire": {
      const typing = state.typing.filter((t) => action.now - t.at < TYPING_TTL_MS);
      return typing.length === state.typing.length ? state : { ...state, typing };
    }
    case "reset":
      return state.users.length === 0 && state.typing.length === 0 ? state : EMPTY_PRESENCE;
  }
}

/** When the next typing entry runs out (ms), or null when nobody is typing. */
export function nextTypingExpiry(state: PresenceState): number | null {
  if (state.typing.length === 0) return null;
  return Math.min(...state.typing.map((t) => t.at)) + TYPING_TTL_MS;
}

/** The users who have `orderId` open, except `me`. */
export function viewersOf(state: PresenceState, orderId: string, me?: string): PresenceUser[] {
  return state.users.filter((u) => u.userId !== me && u.viewing.includes(orderId));
}

/**
 * Who is editing what on `orderId`, except `me`: the fresh `typing` frames and the fields the
 * presence says they edit, one entry per user and field.
 */
export function editorsOf(
  state: PresenceState,
  orderId: string,
  me?: string,
): { userId: string; field: string }[] {
  const seen = new Set<string>();
  const result: { userId: string; field: string }[] = [];
  const add = (userId: string, field: string) => {
    const key = `${userId}\u0000${field}`;
    if (userId === me || seen.has(key)) return;
    seen.add(key);
    result.push({ userId, field });
  };
  for (const t of state.typing) if (t.orderId === orderId) add(t.userId, t.field);
  for (const u of state.users) {
    for (const e of u.editing) if (e.orderId === orderId) add(u.userId, e.field);
  }
  return result;
}

function withUsers(state: PresenceState, users: PresenceUser[]): PresenceState {
  // A user who left stops typing too.
  const online = new Set(users.map((u) => u.userId));
  const typing = state.typing.filter((t) => online.has(t.userId));
  return { users, typing: typing.length === state.typing.length ? state.typing : typing };
}

function sortUsers(users: PresenceUser[]): PresenceUser[] {
  return users.sort((a, b) => (a.userId < b.userId ? -1 : a.userId > b.userId ? 1 : 0));
}

/** The users of a frame, each checked and normalised; null when it is not a list. */
function readUsers(value: unknown): PresenceUser[] | null {
  if (!Array.isArray(value)) return null;
  const users: PresenceUser[] = [];
  for (const raw of value) {
    if (!raw || typeof raw !== "object") continue;
    const u = raw as Record<string, unknown>;
    if (typeof u.userId !== "string") continue;
    users.push({
      userId: u.userId,
      role: typeof u.role === "string" ? u.role : "florist",
      connections: typeof u.connections === "number" ? u.connections : 1,
      viewing: Array.isArray(u.viewing)
        ? u.viewing.filter((v): v is string => typeof v === "string")
        : [],
      editing: Array.isArray(u.editing)
        ? u.editing.flatMap((e) => {
            const x = e as Record<string, unknown> | null;
            return x && typeof x.orderId === "string" && typeof x.field === "string"
              ? [{ orderId: x.orderId, field: x.field }]
              : [];
          })
        : [],
    });
  }
  return users;
}

/** `leaves` may list users or bare ids. */
function readLeaves(value: unknown): string[] {
  if (!Array.isArray(value)) return [];
  return value.flatMap((v) =>
    typeof v === "string"
      ? [v]
      : v && typeof v === "object" && typeof (v as { userId?: unknown }).userId === "string"
        ? [(v as { userId: string }).userId]
        : [],
  );
}
