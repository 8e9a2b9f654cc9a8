import { type FormEvent, useState } from "react";

import { ApiError, post, request } from "../api";
import { Field } from "../components/Field";
import { FrequencyCapsEditor } from "../components/FrequencyCapsEditor";
import { pastedNumbers, timeZones } from "../format";
import { go, href } from "../router";
import type { Campaign, ImportResult } from "../types";
import { CallingHoursFieldset, ScheduleFieldset } from "./CallingRulesFieldsets";
import { RetryOutcomesFieldset } from "./RetryOutcomesFieldset";
import { AnsweringMachineFields } from "../components/AnsweringMachineFields";
import { campaignBody, DEFAULTS, type Form, type NumberKey, shownBesideAField, type TextKey } from "./campaignForm";

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

  const set = (key: TextKey) => (value: string) => setForm((f) => ({ ...f, [key]: value }));
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
          <div className="error" role="alert">
            <p>Please correct the fields marked below.</p>
            {/* An error the form has no field for is not lost: it is listed here. */}
            {error.fieldErrors.some((e) => !shownBesideAField(e.field)) && (
              <ul>
                {error.fieldErrors
                  .filter((e) => !shownBesideAField(e.field))
                  .map((e) => (
                    <li key={e.field + e.message}>{e.field || "body"}: {e.message}</li>
                  ))}
              </ul>
            )}
          </div>
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
        <RetryOutcomesFieldset form={form} setForm={setForm} error={error} />
        <CallingHoursFieldset form={form} setForm={setForm} error={error} zones={zones} />
        <ScheduleFieldset form={form} setForm={setForm} error={error} />
        <fieldset>
          <legend>Answering machines</legend>
          <AnsweringMachineFields
            value={{ detect: form.machineDetect, onMachine: form.onMachine }}
            onChange={({ detect, onMachine }) => setForm((f) => ({ ...f, machineDetect: detect, onMachine }))}
            fieldError={fieldError}
          />
        </fieldset>
        <fieldset>
          <legend>How often one number is called</legend>
          <FrequencyCapsEditor
            value={form.frequencyCaps}
            onChange={(frequencyCaps) => setForm((f) => ({ ...f, frequencyCaps }))}
            error={error}
          />
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
  const sum = (key: "totalReceived" | "totalImported" | "duplicatesSkipped" | "invalidSkipped" | "suppressed") =>
    results.reduce((total, r) => total + (r[key] ?? 0), 0);
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
          {sum("suppressed") > 0 && (
            <div><dt>On a do-not-call list (ended at once)</dt><dd data-testid="suppressed">{sum("suppressed")}</dd></div>
          )}
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
