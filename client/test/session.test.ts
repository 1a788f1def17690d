import { describe, expect, it } from "vitest";
import { isExpired, parseToken } from "../board/session.js";

const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
const jwt = (claims: unknown) => `${b64url({ alg: "HS256", typ: "JWT" })}.${b64url(claims)}.c2ln`;

describe("the board's token reader", () => {
  it("reads tenant, user and role from the payload, base64url and unpadded", () => {
    const token = jwt({ sub: "florist-ü?>", tenant: "demo", role: "florist", exp: 2_000_000_000 });
    expect(parseToken(`  ${token}\n`)).toEqual({
      token,
      tenant: "demo",
      userId: "florist-ü?>",
      role: "florist",
      expiresAt: 2_000_000_000,
    });
  });

  it("refuses text that is not a board token", () => {
    expect(parseToken("")).toBeNull();
    expect(parseToken("not a token")).toBeNull();
    expect(parseToken("a.!!!.c")).toBeNull();
    expect(parseToken(jwt({ sub: "x" }))).toBeNull(); // no tenant
  });

  it("tells an expired token", () => {
    const session = parseToken(jwt({ sub: "a", tenant: "t", exp: 100 }))!;
    expect(isExpired(session, 99_000)).toBe(false);
    expect(isExpired(session, 100_000)).toBe(true);
  });
});
