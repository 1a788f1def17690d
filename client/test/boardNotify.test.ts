import { describe, expect, it } from "vitest";
import type { OrderEvent } from "../src/index.js";
import { describeEvent, MAX_NOTICES, noticesReducer, type Notice } from "../board/notify.js";
import { order, orderEvent } from "./fakes.js";

const me = "florist-b";
const updated = (changes: string[], patch: Parameters<typeof order>[2], by = "florist-a"): OrderEvent => ({
  ...orderEvent(5, "o2", 3),
  updatedBy: by,
  changes,
  order: order("o2", 3, { updatedBy: by, ...patch }),
});

describe("what a notification says", () => {
  it("names the order and what changed", () => {
    expect(describeEvent(updated(["assignedTo"], { assignedTo: "florist-a" }), undefined, me)?.text).toBe(
      "#1002 assigned to florist-a",
    );
    expect(describeEvent(updated(["status"], { status: "in_progress" }), undefined, me)?.text).toBe(
      "#1002 → In progress",
    );
    expect(describeEvent(updated(["assignedTo"], { assignedTo: null }), undefined, me)?.text).toBe("#1002 unassigned");
    expect(describeEvent(updated(["status", "notes"], { status: "ready" }), undefined, me)?.text).toBe(
      "#1002 → Ready, instructions changed",
    );
    const note: OrderEvent = {
      ...orderEvent(6, "o5", 2),
      type: "note_added",
      updatedBy: "florist-a",
      note: { id: "n1", orderId: "o5", text: "hi", author: "florist-a", createdAt: "" },
    };
    expect(describeEvent(note, undefined, me)).toEqual({ text: "new note on #1005", by: "florist-a", kind: "info" });
  });

  it("says nothing about the user's own changes or about leases", () => {
    expect(describeEvent(updated(["status"], { status: "ready" }, me), undefined, me)).toBeNull();
    const lockEvent: OrderEvent = { ...orderEvent(7, "o2", 3), type: "order_locked", lock: { holder: "florist-a", expiresAt: "", lockVersion: 1 }, previousHolder: null };
    expect(describeEvent(lockEvent, undefined, me)).toBeNull();
  });

  it("warns when a manager takes over the user's lease", () => {
    const takeover: OrderEvent = {
      ...orderEvent(7, "o2", 3),
      type: "order_locked",
      updatedBy: "ana",
      lock: { holder: "ana", expiresAt: "", lockVersion: 2 },
      previousHolder: me,
    };
    expect(describeEvent(takeover, undefined, me)).toMatchObject({ text: "ana took over #1002", kind: "warning" });
  });

  it("works out what a polled change changed from the board's previous copy", () => {
    const polled: OrderEvent = { ...updated([], { status: "in_progress", assignedTo: "florist-a" }), synthetic: true };
    const before = order("o2", 2, { status: "new", assignedTo: "florist-a" });
    expect(describeEvent(polled, before, me)?.text).toBe("#1002 → In progress");
  });
});

describe("the notification list", () => {
  const notice = (id: number): Notice => ({ id, text: `n${id}`, by: null, orderId: null, kind: "info" });

  it("keeps the latest few, and each can be dismissed", () => {
    let list: Notice[] = [];
    for (let i = 1; i <= MAX_NOTICES + 2; i += 1) list = noticesReducer(list, { type: "add", notice: notice(i) });
    expect(list.map((n) => n.id)).toEqual([3, 4, 5, 6]);
    list = noticesReducer(list, { type: "dismiss", id: 4 });
    expect(list.map((n) => n.id)).toEqual([3, 5, 6]);
    expect(noticesReducer(list, { type: "dismiss", id: 99 })).toBe(list);
  });
});
