// The signed-in user: a JWT pasted by hand or passed as `?token=`, kept in localStorage.
// The page only reads the payload (tenant, sub, role, exp); the Worker verifies the signature.

export interface Session {
  token: string;
  tenant: string;
  userId: string;
  role: string;
  /** Unix seconds, or null when the token has no `exp`. */
  expiresAt: number | null;
}

const STORAGE_KEY = "florist-board.token";

/** Reads the payload of a JWT, or returns null when the text is not a usable board token. */
export function parseToken(token: string): Session | null {
  const part = token.trim().split(".")[1];
  if (!part) return null;
  try {
    const base64 = part.replace(/-/g, "+").replace(/_/g, "/");
    const json = new TextDecoder().decode(
      Uint8Array.from(atob(base64.padEnd(base64.length + ((4 - (base64.length % 4)) % 4), "=")), (c) =>
        c.charCodeAt(0),
      ),
    );
    const claims = JSON.parse(json) as Record<string, unknown>;
    const { tenant, sub, role, exp } = claims;
    if (typeof tenant !== "string" || typeof sub !== "string") return null;
    return {
      token: token.trim(),
      tenant,
      userId: sub,
      role: typeof role === "string" ? role : "florist",
      expiresAt: typeof exp === "number" ? exp : null,
    };
  } catch {
    return null;
  }
}

export function isExpired(session: Session, now = Date.now()): boolean {
  return session.expiresAt !== null && session.expiresAt * 1000 <= now;
}

/**
 * The session to start with: `?token=` wins (and is then removed from the address bar so it
 * does not stay in the history), else the stored token.
 */
export function loadSession(): Session | null {
  const url = new URL(window.location.href);
  const fromUrl = url.searchParams.get("token");
  if (fromUrl) {
    url.searchParams.delete("token");
    window.history.replaceState(null, "", url.pathname + url.search + url.hash);
    const session = parseToken(fromUrl);
    if (session && !isExpired(session)) {
      saveSession(session);
      return session;
    }
  }
  const stored = readStorage();
  const session = stored ? parseToken(stored) : null;
  return session && !isExpired(session) ? session : null;
}

export function saveSession(session: Session): void {
  try {
    window.localStorage.setItem(STORAGE_KEY, session.token);
  } catch {
    // Private mode or storage disabled: the session lasts as long as the page.
  }
}

export function clearSession(): void {
  try {
    window.localStorage.removeItem(STORAGE_KEY);
  } catch {
    // See saveSession.
  }
}

function readStorage(): string | null {
  try {
    return window.localStorage.getItem(STORAGE_KEY);
  } catch {
    return null;
  }
}
