import { describe, expect, it } from "vitest";
import type { OrderEvent } from "../src/index.js";
import {
  canSave,
  canTakeOver,
  heldByOther,
  initialLease,
  leaseMessage,
  leaseReducer,
  type LeaseAction,
  type LeaseState,
} from "../board/lease.js";
import { order, orderEvent } from "./fakes.js";

const lock = (holder: string, lockVersion = 1) => ({
  holder,
  expiresAt: "2030-01-01T10:00:00.000Z",
  lockVersion,
});
const run = (actions: LeaseAction[], state: LeaseState = initialLease("o1", "florist-b")) =>
  actions.reduce(leaseReducer, state);

const locked = (holder: string, previousHolder: string | null = null): OrderEvent => ({
  ...orderEvent(10, "o1", 3),
  type: "order_locked",
  updatedBy: holder,
  lock: lock(holder),
  previousHolder,
});
const unlocked = (previousHolder: string, reason: "released" | "expired" | "broken", by = previousHolder): OrderEvent => ({
  ...orderEvent(11, "o1", 3),
  type: "order_unlocked",
  updatedBy: by,
  previousHolder,
  reason,
});

describe("the edit lease", () => {
  it("is taken when the editor opens, and only then may the user save", () => {
    const opening = initialLease("o1", "florist-b");
    expect(opening.phase).toBe("acquiring");
    expect(canSave(opening)).toBe(false);
    const held = run([{ type: "acquired", lock: lock("florist-b") }]);
    expect(canSave(held)).toBe(true);
    expect(leaseMessage(held, "#1001")).toMatch(/^You are editing #1001/);
  });

  it("waits while someone else holds it (423), then takes it when they let go", () => {
    const blocked = run([{ type: "refused", lock: lock("florist-a") }]);
    expect(blocked.phase).toBe("blocked");
    expect(canSave(blocked)).toBe(false);
    expect(leaseMessage(blocked, "#1001")).toMatch(/^florist-a is editing #1001 \(until .+\)/);
    expect(run([{ type: "event", event: unlocked("florist-a", "released") }], blocked).phase).toBe("acquiring");
    expect(run([{ type: "event", event: unlocked("florist-a", "expired") }], blocked).phase).toBe("acquiring");
    // Also when the holder's lease runs out by our clock before its event arrives.
    expect(run([{ type: "expired" }], blocked).phase).toBe("acquiring");
  });

  it("a polled state without a lease frees a waiting editor too", () => {
    const blocked = run([{ type: "refused", lock: lock("florist-a") }]);
    const polled: OrderEvent = { ...orderEvent(12, "o1", 3), synthetic: true, order: order("o1", 3, { lock: null }) };
    expect(run([{ type: "event", event: polled }], blocked).phase).toBe("acquiring");
  });

  it("is lost when a manager takes it over, and the draft is not saved behind their back", () => {
    const held = run([{ type: "acquired", lock: lock("florist-b") }]);
    const lost = run([{ type: "event", event: locked("ana", "florist-b") }], held);
    expect(lost.phase).toBe("lost");
    expect(lost.lostTo).toBe("ana");
    expect(canSave(lost)).toBe(false);
    expect(leaseMessage(lost, "#1001")).toMatch(/^ana took over #1001\. Your draft is kept/);
    // A renewal answered 423 means the same.
    expect(run([{ type: "refused", lock: lock("ana") }], held).phase).toBe("lost");
  });

  it("is lost when a manager breaks it, but taken again when it only ran out", () => {
    const held = run([{ type: "acquired", lock: lock("florist-b") }]);
    expect(run([{ type: "event", event: unlocked("florist-b", "broken", "ana") }], held)).toMatchObject({
      phase: "lost",
      lostTo: "ana",
    });
    expect(run([{ type: "event", event: unlocked("florist-b", "expired") }], held).phase).toBe("acquiring");
  });

  it("ignores events of other orders and our own lock event", () => {
    const held = run([{ type: "acquired", lock: lock("florist-b") }]);
    expect(run([{ type: "event", event: { ...locked("florist-a"), orderId: "o2" } }], held)).toBe(held);
    expect(run([{ type: "event", event: locked("florist-b") }], held).phase).toBe("held");
  });

  it("lets only a manager take over", () => {
    const blocked = run([{ type: "refused", lock: lock("florist-a") }]);
    expect(canTakeOver(blocked, "manager")).toBe(true);
    expect(canTakeOver(blocked, "florist")).toBe(false);
    expect(canTakeOver(run([{ type: "acquired", lock: lock("florist-b") }]), "manager")).toBe(false);
  });

  it("does nothing more once released", () => {
    const released = run([{ type: "acquired", lock: lock("florist-b") }, { type: "released" }]);
    expect(run([{ type: "event", event: locked("florist-a") }], released)).toBe(released);
  });

  it("shows a badge only for someone else's live lease", () => {
    const now = Date.parse("2030-01-01T09:59:00.000Z");
    expect(heldByOther(lock("florist-a"), "florist-b", now)?.holder).toBe("florist-a");
    expect(heldByOther(lock("florist-b"), "florist-b", now)).toBeNull();
    expect(heldByOther(lock("florist-a"), "florist-b", now + 120_000)).toBeNull();
    expect(heldByOther(null, "florist-b", now)).toBeNull();
  });
});
