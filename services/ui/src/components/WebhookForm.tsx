import { type FormEvent, useId, useState } from "react";

import { ApiError } from "../api";
import { EVENT_TYPES, type WebhookForm as Form } from "../webhooks";
import { Field } from "./Field";

/** The fields the form shows beside an input; any other error is listed at the top. */
function shownBesideAnInput(field: string): boolean {
  return /^(url|events(\[\d+\])?|description)$/.test(field);
}

/**
 * A webhook's URL, events and description, for adding and for editing. `onSubmit` sends it;
 * an ApiError it throws is shown (a 422 beside the fields it names), anything else it returns
 * ends the form's part (`clearOnSuccess` empties it for the next one).
 */
export function WebhookForm({
  title,
  initial,
  submitLabel,
  busyLabel,
  onSubmit,
  onCancel,
  clearOnSuccess = false,
  focusOnOpen = false,
}: {
  title: string;
  initial: Form;
  submitLabel: string;
  busyLabel: string;
  onSubmit: (form: Form) => Promise<void>;
  onCancel?: () => void;
  clearOnSuccess?: boolean;
  /** Opened by a button elsewhere on the page: the URL takes the focus. */
  focusOnOpen?: boolean;
}) {
  const [form, setForm] = useState<Form>(initial);
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  const titleId = useId();
  const eventsErrorId = useId();
  const set = <K extends keyof Form>(key: K, value: Form[K]) => setForm((f) => ({ ...f, [key]: value }));
  const eventsError = error?.under("events").map((e) => e.message).join("; ") || undefined;
  const unplaced = error?.fieldErrors.filter((e) => !shownBesideAnInput(e.field)) ?? [];

  function toggle(event: string, on: boolean) {
    setForm((f) => ({ ...f, events: on ? [...f.events, event] : f.events.filter((e) => e !== event) }));
  }

  async function submit(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await onSubmit(form);
      if (clearOnSuccess) setForm(initial);
    } catch (exc) {
      setError(exc instanceof ApiError ? exc : new ApiError(0, String(exc)));
    } finally {
      setBusy(false);
    }
  }

  return (
    <form onSubmit={submit} className="card form-grid" noValidate aria-labelledby={titleId}>
      <h2 id={titleId} className="wide">{title}</h2>
      {error && !error.fieldErrors.length && <p className="error" role="alert">{error.detail}</p>}
      {error && error.fieldErrors.length > 0 && (
        <div className="error wide" role="alert">
          <p>The webhook was refused: nothing was saved. Please correct the fields marked below.</p>
          {unplaced.length > 0 && (
            <ul>
              {unplaced.map((e) => (
                <li key={e.field + e.message}>{e.field || "body"}: {e.message}</li>
              ))}
            </ul>
          )}
        </div>
      )}
      <div>
        <Field label="URL" hint="http(s); events are POSTed here, signed" error={error?.forField("url")}>
          {(p) => (
            <input {...p} type="url" name="url" autoFocus={focusOnOpen} inputMode="url" placeholder="https://example.com/hooks/calls"
              value={form.url} onChange={(e) => set("url", e.target.value)} />
          )}
        </Field>
        <Field label="Description" hint="optional: what receives them" error={error?.forField("description")}>
          {(p) => (
            <input {...p} name="description" value={form.description} onChange={(e) => set("description", e.target.value)} />
          )}
        </Field>
      </div>
      <fieldset
        className={eventsError ? "field-invalid" : undefined}
        aria-invalid={Boolean(eventsError)}
        aria-describedby={eventsError ? eventsErrorId : undefined}
      >
        <legend>Events</legend>
        <label className="inline">
          <input type="checkbox" checked={form.allEvents} onChange={(e) => set("allEvents", e.target.checked)} />
          All events, including types added later
        </label>
        <div className="event-types">
          {EVENT_TYPES.map((type) => (
            <label key={type} className="inline">
              <input
                type="checkbox"
                disabled={form.allEvents}
                checked={form.allEvents || form.events.includes(type)}
                onChange={(e) => toggle(type, e.target.checked)}
              />
              <code>{type}</code>
            </label>
          ))}
        </div>
        {eventsError && (
          <p className="field-error" id={eventsErrorId} role="alert">
            {eventsError}
          </p>
        )}
      </fieldset>
      <div className="actions">
        <button type="submit" className="primary" disabled={busy}>
          {busy ? busyLabel : submitLabel}
        </button>
        {onCancel && (
          <button type="button" onClick={onCancel} disabled={busy}>
            Cancel
          </button>
        )}
      </div>
    </form>
  );
}
