// Yours vs theirs, per field, with who changed it and when; the user picks per field.
import { allChosen, describeValue, FIELD_LABEL, type EditField, type EditState } from "./edit.js";
import { STATUS_LABEL } from "./notify.js";
import { timeOf } from "./ui.js";

const show = (field: EditField, value: unknown) => describeValue(field, value, (s) => STATUS_LABEL[s] ?? s);

export function ConflictView({
  edit,
  busy,
  onChoose,
  onApply,
  onDiscard,
}: {
  edit: EditState;
  busy: boolean;
  onChoose: (field: EditField, choice: "mine" | "theirs" | "both") => void;
  onApply: () => void;
  onDiscard: () => void;
}) {
  return (
    <section className="conflict" data-testid="conflict-view" aria-labelledby="conflict-title">
      <h3 id="conflict-title">
        {edit.orderNumber} was changed while you were editing
      </h3>
      <p className="hint">Nothing was saved yet. For each field, choose which version to keep.</p>
      {edit.conflicts.map((c) => (
        <fieldset key={c.field} className="conflict-field" data-field={c.field}>
          <legend>{FIELD_LABEL[c.field]}</legend>
          <div className="versions">
            <div className="version mine">
              <span className="who">Yours</span>
              <p className="value" data-testid="yours">{show(c.field, c.yours)}</p>
            </div>
            <div className="version theirs">
              <span className="who">
                {c.changedBy ?? "someone"}
                {c.changedAt ? `, ${timeOf(c.changedAt)}` : ""}
              </span>
              <p className="value" data-testid="theirs">{show(c.field, c.theirs)}</p>
            </div>
          </div>
          <div className="row choices" role="radiogroup" aria-label={`${FIELD_LABEL[c.field]}: which to keep`}>
            <label>
              <input
                type="radio"
                name={`choice-${c.field}`}
                checked={c.choice === "mine"}
                onChange={() => onChoose(c.field, "mine")}
                data-testid="keep-mine"
              />
              Keep mine
            </label>
            <label>
              <input
                type="radio"
                name={`choice-${c.field}`}
                checked={c.choice === "theirs"}
                onChange={() => onChoose(c.field, "theirs")}
                data-testid="take-theirs"
              />
              Take theirs
            </label>
            {c.field === "notes" && (
              <label>
                <input
                  type="radio"
                  name={`choice-${c.field}`}
                  checked={c.choice === "both"}
                  onChange={() => onChoose(c.field, "both")}
                  data-testid="keep-both"
                />
                Keep both
              </label>
            )}
          </div>
        </fieldset>
      ))}
      {edit.error && (
        <p className="error" role="alert">
          {edit.error}
        </p>
      )}
      <div className="row end">
        <button type="button" onClick={onDiscard} disabled={busy}>
          Discard my change
        </button>
        <button
          type="button"
          className="primary"
          onClick={onApply}
          disabled={busy || !allChosen(edit)}
          data-testid="apply-resolution"
        >
          Apply
        </button>
      </div>
    </section>
  );
}
