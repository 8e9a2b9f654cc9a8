// The new-campaign form's calling rules: when numbers may be called, read in which zone.
import type { Dispatch, SetStateAction } from "react";

import type { ApiError } from "../api";
import { DailyHoursEditor } from "../components/DailyHoursEditor";
import { Field } from "../components/Field";
import { RestrictedPeriodsEditor } from "../components/RestrictedPeriodsEditor";
import { DAYS } from "../format";
import type { TimezoneMode } from "../types";
import { calendarCodes, type Form, seedDailyHours, type TextKey } from "./campaignForm";

interface Props {
  form: Form;
  setForm: Dispatch<SetStateAction<Form>>;
  error: ApiError | null;
}

function helpers({ setForm, error }: Props) {
  return {
    set: (key: TextKey) => (value: string) => setForm((f) => ({ ...f, [key]: value })),
    fieldError: (path: string) => error?.forField(path),
  };
}

/** The window: its zone mode and zone, one window on chosen days or several per day. */
export function CallingHoursFieldset(props: Props & { zones: string[] }) {
  const { form, setForm, error, zones } = props;
  const { set, fieldError } = helpers(props);
  return (
    <fieldset>
      <legend>Calling hours</legend>
      {fieldError("businessHours") && <p className="field-error" role="alert">{fieldError("businessHours")}</p>}
      <Field
        label="Read the hours in"
        error={fieldError("businessHours.timezoneMode")}
        hint={form.timezoneMode === "RECIPIENT" ? "each number's own local time (from its zone)" : "the campaign's time zone, for every number"}
      >
        {(p) => (
          <select {...p} value={form.timezoneMode} onChange={(e) => setForm((f) => ({ ...f, timezoneMode: e.target.value as TimezoneMode }))}>
            <option value="CAMPAIGN">The campaign's time zone</option>
            <option value="RECIPIENT">Each recipient's local time</option>
          </select>
        )}
      </Field>
      <Field label="Time zone" error={fieldError("businessHours.timezone")}>
        {(p) => (
          <select {...p} value={form.timezone} onChange={(e) => set("timezone")(e.target.value)}>
            {zones.map((zone) => (
              <option key={zone} value={zone}>{zone}</option>
            ))}
          </select>
        )}
      </Field>
      {form.timezoneMode === "RECIPIENT" && (
        <Field
          label="Zone for numbers whose zone is unknown"
          error={fieldError("businessHours.defaultTimeZone")}
          hint="none: such numbers are never dialled"
        >
          {(p) => (
            <select {...p} value={form.defaultTimeZone} onChange={(e) => set("defaultTimeZone")(e.target.value)}>
              <option value="">None</option>
              {zones.map((zone) => (
                <option key={zone} value={zone}>{zone}</option>
              ))}
            </select>
          )}
        </Field>
      )}
      <label className="day">
        <input
          type="checkbox"
          checked={form.perDay}
          onChange={(e) => {
            const perDay = e.target.checked;
            setForm((f) => ({
              ...f,
              perDay,
              // First time on: start from the single window, so only the differences need typing.
              dailyHours: perDay && Object.values(f.dailyHours).every((w) => !w.length) ? seedDailyHours(f) : f.dailyHours,
            }));
          }}
        />
        Different hours per day (several windows a day)
      </label>
      {form.perDay ? (
        <DailyHoursEditor
          value={form.dailyHours}
          onChange={(dailyHours) => setForm((f) => ({ ...f, dailyHours }))}
          error={error}
        />
      ) : (
        <>
          <Field label="From" error={fieldError("businessHours.startTime")}>
            {(p) => <input {...p} type="time" value={form.startTime} onChange={(e) => set("startTime")(e.target.value)} />}
          </Field>
          <Field label="Until" error={fieldError("businessHours.endTime")}>
            {(p) => <input {...p} type="time" value={form.endTime} onChange={(e) => set("endTime")(e.target.value)} />}
          </Field>
          <label className="day">
            <input
              type="checkbox"
              checked={form.crossesMidnight}
              onChange={(e) => setForm((f) => ({ ...f, crossesMidnight: e.target.checked }))}
            />
            The window runs past midnight (e.g. 22:00 to 02:00)
          </label>
          {fieldError("businessHours.crossesMidnight") && (
            <p className="field-error" role="alert">{fieldError("businessHours.crossesMidnight")}</p>
          )}
          <div className={`field${fieldError("businessHours.allowedDays") ? " field-invalid" : ""}`}>
            <span className="label">Days</span>
            <div className="days" role="group" aria-label="Days">
              {DAYS.map((day) => (
                <label key={day} className="day">
                  <input
                    type="checkbox"
                    checked={form.allowedDays.includes(day)}
                    onChange={(e) =>
                      setForm((f) => ({
                        ...f,
                        allowedDays: e.target.checked
                          ? DAYS.filter((d) => d === day || f.allowedDays.includes(d))
                          : f.allowedDays.filter((d) => d !== day),
                      }))
                    }
                  />
                  {day.slice(0, 3).toLowerCase()}
                </label>
              ))}
            </div>
            {fieldError("businessHours.allowedDays") && (
              <p className="field-error" role="alert">{fieldError("businessHours.allowedDays")}</p>
            )}
          </div>
        </>
      )}
    </fieldset>
  );
}

/** When the campaign may dial at all: start and end, holidays, restricted periods. */
export function ScheduleFieldset(props: Props) {
  const { form, setForm, error } = props;
  const { set, fieldError } = helpers(props);
  /** The calendar list's errors, each with the code it is about ("holidayCalendars[1]"). */
  const calendarErrors = () => {
    const codes = calendarCodes(form.holidayCalendars);
    const messages = (error?.under("holidayCalendars") ?? []).map((e) => {
      const index = /^holidayCalendars\[(\d+)\]/.exec(e.field)?.[1];
      const code = index === undefined ? undefined : codes[Number(index)];
      return code ? `${code}: ${e.message}` : e.message;
    });
    return messages.length ? messages.join("; ") : undefined;
  };
  return (
    <fieldset>
      <legend>Schedule and holidays</legend>
      <Field label="Start dialling at" error={fieldError("startAt")} hint="your local time; empty: as soon as started">
        {(p) => <input {...p} type="datetime-local" value={form.startAt} onChange={(e) => set("startAt")(e.target.value)} />}
      </Field>
      <Field label="Stop dialling at" error={fieldError("endAt")} hint="your local time; numbers not reached by then end cancelled">
        {(p) => <input {...p} type="datetime-local" value={form.endAt} onChange={(e) => set("endAt")(e.target.value)} />}
      </Field>
      <label className="day">
        <input
          type="checkbox"
          checked={form.autoStart}
          aria-invalid={Boolean(fieldError("autoStart"))}
          onChange={(e) => setForm((f) => ({ ...f, autoStart: e.target.checked }))}
        />
        Start by itself at the start time
      </label>
      {fieldError("autoStart") && <p className="field-error" role="alert">{fieldError("autoStart")}</p>}
      <Field
        label="Holiday calendars"
        error={calendarErrors()}
        hint="comma-separated codes: a country (US, GB) or a region (US-CA)"
      >
        {(p) => (
          <input {...p} name="holidayCalendars" value={form.holidayCalendars} onChange={(e) => set("holidayCalendars")(e.target.value)} />
        )}
      </Field>
      <RestrictedPeriodsEditor
        value={form.restrictedPeriods}
        onChange={(restrictedPeriods) => setForm((f) => ({ ...f, restrictedPeriods }))}
        error={error}
      />
    </fieldset>
  );
}
