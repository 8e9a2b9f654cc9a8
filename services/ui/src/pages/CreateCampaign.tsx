import { type FormEvent, useState } from "react";

import { ApiError, post, request } from "../api";
import { Field } from "../components/Field";
import { DAYS, timeZones } from "../format";
import { go, href } from "../router";
import type { Campaign, ImportResult } from "../types";

interface Form {
  name: string;
  description: string;
  concurrencyLimit: string;
  priority: string;
  callsPerSecond: string;
  maxRetries: string;
  syncInitialBackoffMs: string;
  syncBackoffMultiplier: string;
  callbackRetryDelayMs: string;
  callbackTimeoutMs: string;
  startTime: string;
  endTime: string;
  timezone: string;
  allowedDays: string[];
  crossesMidnight: boolean;
  numbers: string;
}

type NumberKey =
  | "concurrencyLimit"
  | "priority"
  | "callsPerSecond"
  | "maxRetries"
  | "syncInitialBackoffMs"
  | "syncBackoffMultiplier"
  | "callbackRetryDelayMs"
  | "callbackTimeoutMs";

function browserZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
}

export const DEFAULTS: Form = {
  name: "",
  description: "",
  concurrencyLimit: "10",
  priority: "5",
  callsPerSecond: "",
  maxRetries: "3",
  syncInitialBackoffMs: "1000",
  syncBackoffMultiplier: "2",
  callbackRetryDelayMs: "30000",
  callbackTimeoutMs: "120000",
  startTime: "09:00",
  endTime: "17:00",
  timezone: browserZone(),
  allowedDays: ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY"],
  crossesMidnight: false,
  numbers: "",
};

/** A number field as the API wants it: a number, or the text itself so the API explains. */
function num(value: string): number | string {
  const trimmed = value.trim();
  return trimmed !== "" && !Number.isNaN(Number(trimmed)) ? Number(trimmed) : trimmed;
}

export function campaignBody(form: Form): Record<string, unknown> {
  return {
    name: form.name,
    description: form.description || null,
    concurrencyLimit: num(form.concurrencyLimit),
    priority: num(form.priority),
    ...(form.callsPerSecond.trim() ? { callsPerSecond: num(form.callsPerSecond) } : {}),
    retryConfig: {
      maxRetries: num(form.maxRetries),
      syncInitialBackoffMs: num(form.syncInitialBackoffMs),
      syncBackoffMultiplier: num(form.syncBackoffMultiplier),
      callbackRetryDelayMs: num(form.callbackRetryDelayMs),
      callbackTimeoutMs: num(form.callbackTimeoutMs),
    },
    businessHours: {
      startTime: form.startTime,
      endTime: form.endTime,
      timezone: form.timezone,
      allowedDays: form.allowedDays,
      crossesMidnight: form.crossesMidnight,
    },
  };
}

function pastedNumbers(text: string): string[] {
  return text
    .split(/[\n,;]+/)
    .map((n) => n.trim())
    .filter(Boolean);
}

interface Imported {
  campaign: Campaign;
  /** null while the numbers are being added. */
  results: ImportResult[] | null;
}

export function CreateCampaign() {
  const [form, setForm] = useState<Form>(DEFAULTS);
  const [file, setFile] = useState<File | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  const [imported, setImported] = useState<Imported | null>(null);

  const set = (key: keyof Form) => (value: string) => setForm((f) => ({ ...f, [key]: value }));
  const fieldError = (path: string) => error?.forField(path);
  const numberField = (
    label: string,
    key: NumberKey,
    path: string,
    hint: string | undefined,
    mode: "numeric" | "decimal",
  ) => (
    <Field label={label} error={fieldError(path)} hint={hint}>
      {(p) => <input {...p} name={key} inputMode={mode} value={form[key]} onChange={(e) => set(key)(e.target.value)} />}
    </Field>
  );

  async function addNumbers(campaign: Campaign): Promise<ImportResult[]> {
    const results: ImportResult[] = [];
    const pasted = pastedNumbers(form.numbers);
    if (pasted.length) {
      results.push(
        await post<ImportResult>(`/api/v1/campaigns/${campaign.id}/import/batch`, {
          phoneNumbers: pasted,
        }),
      );
    }
    if (file) {
      const data = new FormData();
      data.append("file", file);
      results.push(
        (await request<ImportResult>("POST", `/api/v1/campaigns/${campaign.id}/import`, { form: data }))
          .body,
      );
    }
    return results;
  }

  async function submit(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const campaign = await post<Campaign>("/api/v1/campaigns", campaignBody(form));
      // The campaign exists from here on: an import that fails is shown on its page.
      setImported({ campaign, results: null });
      setImported({ campaign, results: await addNumbers(campaign) });
    } catch (exc) {
      setError(exc instanceof ApiError ? exc : new ApiError(0, String(exc)));
    } finally {
      setBusy(false);
    }
  }

  if (imported) {
    return <Preview imported={imported} error={error} />;
  }

  const zones = timeZones();
  return (
    <section aria-labelledby="new-title">
      <h1 id="new-title">New campaign</h1>
      <form onSubmit={submit} className="card form-grid" noValidate>
        {error && !error.fieldErrors.length && (
          <p className="error" role="alert">
            {error.detail}
          </p>
        )}
        {error && error.fieldErrors.length > 0 && (
          <p className="error" role="alert">
            Please correct the fields marked below.
          </p>
        )}
        <fieldset>
          <legend>Campaign</legend>
          <Field label="Name" error={fieldError("name")}>
            {(p) => <input {...p} name="name" value={form.name} onChange={(e) => set("name")(e.target.value)} />}
          </Field>
          <Field label="Description" error={fieldError("description")}>
            {(p) => (
              <textarea {...p} rows={2} value={form.description} onChange={(e) => set("description")(e.target.value)} />
            )}
          </Field>
          {numberField("Concurrent calls", "concurrencyLimit", "concurrencyLimit", "1 to 1000", "numeric")}
          {numberField("Priority", "priority", "priority", "1 (low) to 10 (high)", "numeric")}
          {numberField("Calls a second", "callsPerSecond", "callsPerSecond", "empty: as fast as lines allow", "decimal")}
        </fieldset>
        <fieldset>
          <legend>Retries</legend>
          {numberField("Retries after the first call", "maxRetries", "retryConfig.maxRetries", undefined, "numeric")}
          {numberField("Wait before a retry (ms)", "callbackRetryDelayMs", "retryConfig.callbackRetryDelayMs", undefined, "numeric")}
          {numberField("Result timeout (ms)", "callbackTimeoutMs", "retryConfig.callbackTimeoutMs", undefined, "numeric")}
          {numberField("Carrier error backoff (ms)", "syncInitialBackoffMs", "retryConfig.syncInitialBackoffMs", undefined, "numeric")}
          {numberField("Backoff multiplier", "syncBackoffMultiplier", "retryConfig.syncBackoffMultiplier", undefined, "decimal")}
        </fieldset>
        <fieldset>
          <legend>Calling hours</legend>
          <Field label="From" error={fieldError("businessHours.startTime")}>
            {(p) => <input {...p} type="time" value={form.startTime} onChange={(e) => set("startTime")(e.target.value)} />}
          </Field>
          <Field label="Until" error={fieldError("businessHours.endTime")}>
            {(p) => <input {...p} type="time" value={form.endTime} onChange={(e) => set("endTime")(e.target.value)} />}
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
        </fieldset>
        <fieldset>
          <legend>Numbers</legend>
          <Field label="Paste numbers" hint="one a line, or separated by commas">
            {(p) => (
              <textarea {...p} name="numbers" rows={5} value={form.numbers} onChange={(e) => set("numbers")(e.target.value)} />
            )}
          </Field>
          <Field label="Or upload a CSV or text file" hint="one number a line; a CSV may have a header and more columns">
            {(p) => (
              <input {...p} type="file" name="file" accept=".csv,.txt,text/csv,text/plain"
                onChange={(e) => setFile(e.target.files?.[0] ?? null)} />
            )}
          </Field>
        </fieldset>
        <div className="actions">
          <button type="submit" className="primary" disabled={busy}>
            {busy ? "Creating…" : "Create and check numbers"}
          </button>
          <a className="button" href={href({ page: "campaigns" })}>Cancel</a>
        </div>
      </form>
    </section>
  );
}

function Preview({ imported, error }: { imported: Imported; error: ApiError | null }) {
  const { campaign } = imported;
  const results = imported.results ?? [];
  const [starting, setStarting] = useState(false);
  const [startError, setStartError] = useState<string>();
  const sum = (key: "totalReceived" | "totalImported" | "duplicatesSkipped" | "invalidSkipped") =>
    results.reduce((total, r) => total + r[key], 0);
  const invalid = results.flatMap((r) => r.invalidLines ?? []);

  async function start() {
    setStarting(true);
    try {
      await post(`/api/v1/campaigns/${campaign.id}/start`);
      go({ page: "campaign", id: campaign.id });
    } catch (exc) {
      setStartError(exc instanceof ApiError ? exc.detail : String(exc));
      setStarting(false);
    }
  }

  return (
    <section aria-labelledby="preview-title">
      <h1 id="preview-title">{campaign.name}: numbers checked</h1>
      <div className="card">
        {error && <p className="error" role="alert">{error.detail}</p>}
        {imported.results === null && !error && <p aria-live="polite">Checking the numbers…</p>}
        {imported.results !== null && (
        <dl className="stats" aria-label="Import summary">
          <div><dt>Received</dt><dd data-testid="received">{sum("totalReceived")}</dd></div>
          <div><dt>Accepted</dt><dd data-testid="accepted">{sum("totalImported")}</dd></div>
          <div><dt>Duplicates</dt><dd data-testid="duplicates">{sum("duplicatesSkipped")}</dd></div>
          <div><dt>Invalid</dt><dd data-testid="invalid">{sum("invalidSkipped")}</dd></div>
        </dl>
        )}
        {invalid.length > 0 && (
          <details>
            <summary>Invalid lines ({invalid.length})</summary>
            <ul className="invalid-lines">
              {invalid.slice(0, 200).map((line) => (
                <li key={`${line.line}-${line.value}`}>
                  line {line.line}: <code>{line.value}</code> — {line.reason}
                </li>
              ))}
            </ul>
          </details>
        )}
        {startError && <p className="error" role="alert">{startError}</p>}
        <div className="actions">
          <button type="button" className="primary" onClick={start} disabled={starting || sum("totalImported") === 0}>
            Start campaign
          </button>
          <a className="button" href={href({ page: "campaign", id: campaign.id })}>
            Open without starting
          </a>
        </div>
      </div>
    </section>
  );
}
