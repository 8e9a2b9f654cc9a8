import { useId } from "react";

import type { ApiError } from "../api";

/** One cap as typed; sent as numbers (or the text itself, so the API names the field). */
export interface CapRow {
  maxAttempts: string;
  periodHours: string;
}

/** A row with nothing typed is an unused "Add" click: not sent, so the API's indexes skip it. */
export function capIsBlank(row: CapRow): boolean {
  return !row.maxAttempts.trim() && !row.periodHours.trim();
}

/** Frequency caps: at most N dials of one number within H hours, across every campaign; as many rows as needed. */
export function FrequencyCapsEditor({
  value,
  onChange,
  error,
}: {
  value: CapRow[];
  onChange: (next: CapRow[]) => void;
  error: ApiError | null;
}) {
  const id = useId();
  const path = "contactPolicy.frequencyCaps";
  const general = (error?.fieldErrors ?? []).filter((e) => e.field === path || e.field === "contactPolicy");
  const set = (i: number, patch: Partial<CapRow>) =>
    onChange(value.map((old, j) => (j === i ? { ...old, ...patch } : old)));
  return (
    <div className="field">
      <span className="label" id={`${id}-label`}>Frequency caps</span>
      <p className="hint">
        At most this many dials of one number within the period, counting every campaign and single call; on top of
        the calling policy's caps, so only stricter. Dials: 1 or more; period: 1 to 744 hours (31 days).
      </p>
      {general.map((e) => (
        <p key={e.message} className="field-error" role="alert">{e.message}</p>
      ))}
      {value.length > 0 && (
        <div role="group" aria-labelledby={`${id}-label`}>
          {value.map((row, i) => {
            const sent = value.slice(0, i).filter((r) => !capIsBlank(r)).length;
            const rowPath = capIsBlank(row) ? null : `${path}[${sent}]`;
            const problem = (field: keyof CapRow) => (rowPath ? error?.forField(`${rowPath}.${field}`) : undefined);
            // An error about the row as a whole (a missing field, say) describes both inputs.
            const whole = rowPath ? error?.forField(rowPath) : undefined;
            const errorId = (field?: keyof CapRow) => `${id}-${i}${field ? `-${field}` : ""}-error`;
            const input = (field: keyof CapRow, label: string, name: string) => {
              const describedBy = problem(field) ? errorId(field) : whole ? errorId() : undefined;
              return (
                <label className="inline">
                  {label}
                  <input
                    inputMode="numeric"
                    aria-label={`Cap ${i + 1}: ${name}`}
                    value={row[field]}
                    onChange={(e) => set(i, { [field]: e.target.value })}
                    aria-invalid={Boolean(describedBy)}
                    aria-describedby={describedBy}
                  />
                </label>
              );
            };
            const invalid = Boolean(whole || problem("maxAttempts") || problem("periodHours"));
            return (
              <div key={i} className={`cap-row${invalid ? " field-invalid" : ""}`}>
                {input("maxAttempts", "at most", "most dials")}
                {input("periodHours", "dials in", "period in hours")}
                <span>hours</span>
                <button type="button" aria-label={`Remove cap ${i + 1}`} onClick={() => onChange(value.filter((_, j) => j !== i))}>
                  Remove
                </button>
                {(["maxAttempts", "periodHours"] as const).map(
                  (field) =>
                    problem(field) && (
                      <p key={field} className="field-error" id={errorId(field)} role="alert">{problem(field)}</p>
                    ),
                )}
                {whole && <p className="field-error" id={errorId()} role="alert">{whole}</p>}
              </div>
            );
          })}
        </div>
      )}
      <div>
        <button type="button" onClick={() => onChange([...value, { maxAttempts: "", periodHours: "" }])}>
          Add a cap
        </button>
      </div>
    </div>
  );
}
