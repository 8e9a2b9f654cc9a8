import { useId } from "react";

import type { ApiError } from "../api";

export interface PeriodRow {
  name: string;
  startDate: string;
  endDate: string;
}

/** Blackout dates: a name and a first and last local date (inclusive), as many rows as needed. */
export function RestrictedPeriodsEditor({
  value,
  onChange,
  error,
}: {
  value: PeriodRow[];
  onChange: (next: PeriodRow[]) => void;
  error: ApiError | null;
}) {
  const id = useId();
  const general = (error?.fieldErrors ?? []).filter((e) => e.field === "restrictedPeriods");
  const set = (i: number, patch: Partial<PeriodRow>) =>
    onChange(value.map((old, j) => (j === i ? { ...old, ...patch } : old)));
  return (
    <div className="field">
      <span className="label" id={`${id}-label`}>Restricted periods</span>
      <p className="hint">No calls on these dates (first and last day included), read where the window is read.</p>
      {general.map((e) => (
        <p key={e.message} className="field-error" role="alert">{e.message}</p>
      ))}
      {value.length > 0 && (
        <div role="group" aria-labelledby={`${id}-label`}>
          {value.map((row, i) => {
            const problems = error?.under(`restrictedPeriods[${i}]`) ?? [];
            const errorId = `${id}-${i}-error`;
            const described = problems.length ? { "aria-describedby": errorId, "aria-invalid": true } : {};
            return (
              <div key={i} className={`period-row${problems.length ? " field-invalid" : ""}`}>
                <label className="inline">
                  Name
                  <input aria-label={`Period ${i + 1} name`} value={row.name} onChange={(e) => set(i, { name: e.target.value })} {...described} />
                </label>
                <label className="inline">
                  from
                  <input type="date" aria-label={`Period ${i + 1} first day`} value={row.startDate} onChange={(e) => set(i, { startDate: e.target.value })} {...described} />
                </label>
                <label className="inline">
                  to
                  <input type="date" aria-label={`Period ${i + 1} last day`} value={row.endDate} onChange={(e) => set(i, { endDate: e.target.value })} {...described} />
                </label>
                <button type="button" aria-label={`Remove period ${i + 1}`} onClick={() => onChange(value.filter((_, j) => j !== i))}>
                  Remove
                </button>
                {problems.length > 0 && (
                  <p className="field-error" id={errorId} role="alert">
                    {problems.map((e) => e.message).join("; ")}
                  </p>
                )}
              </div>
            );
          })}
        </div>
      )}
      <div>
        <button type="button" onClick={() => onChange([...value, { name: "", startDate: "", endDate: "" }])}>
          Add a restricted period
        </button>
      </div>
    </div>
  );
}
