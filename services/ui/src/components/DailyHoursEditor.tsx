import { useId } from "react";

import type { ApiError } from "../api";
import { DAYS } from "../format";
import type { Window } from "../types";

type Day = (typeof DAYS)[number];

function dayName(day: string): string {
  return day.charAt(0) + day.slice(1).toLowerCase();
}

/** Several windows a day, per weekday; a day without one is closed. Errors come from the API's paths. */
export function DailyHoursEditor({
  value,
  onChange,
  error,
  path = "businessHours.dailyHours",
}: {
  value: Record<Day, Window[]>;
  onChange: (next: Record<Day, Window[]>) => void;
  error: ApiError | null;
  path?: string;
}) {
  const id = useId();
  const setDay = (day: Day, windows: Window[]) => onChange({ ...value, [day]: windows });
  // Errors on the whole map or a day's name; a window's own errors are shown beside it.
  const general = (error?.under(path) ?? []).filter((e) => !/\[\d+\]/.test(e.field.slice(path.length)));
  return (
    <div className="daily-hours">
      {general.map((e) => (
        <p key={e.field + e.message} className="field-error" role="alert">{e.message}</p>
      ))}
      {DAYS.map((day) => (
        <fieldset key={day} className="day-hours">
          <legend>{dayName(day)}</legend>
          {value[day].length === 0 && <p className="muted small">Closed</p>}
          {value[day].map((w, i) => {
            const problems = error?.under(`${path}.${day}[${i}]`) ?? [];
            const errorId = `${id}-${day}-${i}-error`;
            const described = problems.length ? { "aria-describedby": errorId, "aria-invalid": true } : {};
            const set = (patch: Partial<Window>) =>
              setDay(day, value[day].map((old, j) => (j === i ? { ...old, ...patch } : old)));
            return (
              <div key={i} className={`window-row${problems.length ? " field-invalid" : ""}`}>
                <label className="inline">
                  From
                  <input
                    type="time"
                    aria-label={`${dayName(day)} window ${i + 1} from`}
                    value={w.startTime}
                    onChange={(e) => set({ startTime: e.target.value })}
                    {...described}
                  />
                </label>
                <label className="inline">
                  until
                  <input
                    type="time"
                    aria-label={`${dayName(day)} window ${i + 1} until`}
                    value={w.endTime}
                    onChange={(e) => set({ endTime: e.target.value })}
                    {...described}
                  />
                </label>
                <button
                  type="button"
                  aria-label={`Remove ${dayName(day)} window ${i + 1}`}
                  onClick={() => setDay(day, value[day].filter((_, j) => j !== i))}
                >
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
          <button
            type="button"
            className="link"
            onClick={() => setDay(day, [...value[day], { startTime: "09:00", endTime: "17:00" }])}
          >
            Add a {dayName(day)} window
          </button>
        </fieldset>
      ))}
    </div>
  );
}
