import { describe, expect, it } from "vitest";
import { ApiError } from "../board/api.js";
import {
  allChosen,
  bothTexts,
  choose,
  conflictReceived,
  isDirty,
  patchOf,
  resolve,
  saveRequest,
  saveSucceeded,
  setField,
  startEdit,
} from "../board/edit.js";
import { classifyWriteError } from "../board/write.js";
import { order } from "./fakes.js";

const theirs = order("o1", 7, { notes: "Ring the bell twice", updatedBy: "florist-a" });
const conflictBody = (fields: Record<string, unknown>[]) => ({
  error: { code: "edit_conflict", message: "changed meanwhile" },
  order: theirs,
  conflicts: fields,
});

describe("an edit", () => {
  it("sends only the changed fields, against the version it started from", () => {
    let edit = startEdit(order("o1", 5, { notes: "old" }));
    edit = setField(edit, "notes", "new");
    edit = setField(edit, "status", "new"); // unchanged: not sent
    expect(saveRequest(edit)).toEqual({ patch: { notes: "new" }, ifMatch: 5 });
    expect(isDirty(edit)).toBe(true);
    expect(isDirty(setField(edit, "notes", "old"))).toBe(false);
  });

  it("starts again from the saved order after a save", () => {
    const saved = saveSucceeded(startEdit(order("o1", 5)), order("o1", 6, { notes: "x" }));
    expect(saved.startedFrom).toBe(6);
    expect(saved.phase).toBe("saved");
    expect(patchOf(saved)).toEqual({});
  });
});

describe("the conflict flow", () => {
  const mine = setField(startEdit(order("o1", 5, { notes: "" })), "notes", "Deliver after 5pm");
  const conflicts = [
    {
      field: "notes",
      yours: "Deliver after 5pm",
      theirs: "Ring the bell twice",
      changedBy: "florist-a",
      changedAt: "2026-11-24T10:05:00.000Z",
      version: 7,
    },
  ];

  it("turns a 412 edit_conflict into yours vs theirs per field, who and when", () => {
    const outcome = classifyWriteError(mine, new ApiError(412, "edit_conflict", "…", conflictBody(conflicts)));
    expect(outcome.kind).toBe("conflict");
    if (outcome.kind !== "conflict") return;
    expect(outcome.edit.phase).toBe("conflict");
    expect(outcome.edit.conflicts).toEqual([{ ...conflicts[0], choice: null }]);
    expect(outcome.edit.current?.version).toBe(7);
    expect(allChosen(outcome.edit)).toBe(false);
  });

  it("keep mine: sends my value again, against the version the 412 returned", () => {
    const edit = choose(conflictReceived(mine, theirs, conflicts as never), "notes", "mine");
    const { state, request } = resolve(edit);
    expect(request).toEqual({ patch: { notes: "Deliver after 5pm" }, ifMatch: 7 });
    expect(state.phase).toBe("editing");
  });

  it("take theirs: nothing is left to send", () => {
    const edit = choose(conflictReceived(mine, theirs, conflicts as never), "notes", "theirs");
    const { state, request } = resolve(edit);
    expect(request).toBeNull();
    expect(state.startedFrom).toBe(7);
    expect(patchOf(state)).toEqual({});
  });

  it("keep both: their text, then mine (nothing lost)", () => {
    const edit = choose(conflictReceived(mine, theirs, conflicts as never), "notes", "both");
    expect(resolve(edit).request).toEqual({
      patch: { notes: "Ring the bell twice\nDeliver after 5pm" },
      ifMatch: 7,
    });
    expect(bothTexts("a", "a")).toBe("a");
    expect(bothTexts("", "b")).toBe("b");
  });

  it("keeps the fields that did not conflict in the request sent again", () => {
    let edit = setField(mine, "status", "in_progress");
    edit = choose(conflictReceived(edit, theirs, conflicts as never), "notes", "theirs");
    expect(resolve(edit).request).toEqual({ patch: { status: "in_progress" }, ifMatch: 7 });
  });

  it("without details (412 version_mismatch) every field changed by both conflicts", () => {
    const outcome = classifyWriteError(
      mine,
      new ApiError(412, "version_mismatch", "…", { order: theirs }),
    );
    expect(outcome.kind === "conflict" && outcome.edit.conflicts.map((c) => c.field)).toEqual(["notes"]);
  });

  it("a stale edit whose fields nobody touched is simply rebased", () => {
    const assign = setField(startEdit(order("o1", 5)), "assignedTo", "florist-b");
    const outcome = classifyWriteError(assign, new ApiError(412, "version_mismatch", "…", { order: theirs }));
    expect(outcome.kind === "conflict" && outcome.edit.phase).toBe("editing");
    expect(outcome.kind === "conflict" && saveRequest(outcome.edit)).toEqual({
      patch: { assignedTo: "florist-b" },
      ifMatch: 7,
    });
  });

  it("explains a 423 with the holder, and a 404 as a vanished order", () => {
    const lock = { holder: "florist-a", expiresAt: "2026-11-24T10:06:00.000Z", lockVersion: 2 };
    const locked = classifyWriteError(mine, new ApiError(423, "locked", "…", { lock }));
    expect(locked.kind).toBe("locked");
    expect(locked.kind === "locked" && locked.message).toMatch(/#1001 is being edited by florist-a \(until .+\)\. Your change was not saved/);
    expect(classifyWriteError(mine, new ApiError(404, "not_found", "…")).kind).toBe("gone");
    expect(classifyWriteError(mine, new ApiError(401, "unauthorized", "…")).kind).toBe("unauthorized");
  });
});
