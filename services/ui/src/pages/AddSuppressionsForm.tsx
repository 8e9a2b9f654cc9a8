import { type FormEvent, useState } from "react";

import { ApiError } from "../api";
import { Field } from "../components/Field";
import { type CampaignName, ScopeSelect } from "../components/ScopeSelect";
import { pastedNumbers } from "../format";
import {
  ADD_DEFAULTS,
  type AddForm,
  addNumbers,
  fileTooLarge,
  importFile,
  numberMessages,
  shownBesideAnInput,
} from "../suppressions";
import type { SuppressionReport } from "../types";

/** A failed request and which input sent it: the pasted list or the file. */
interface Failure {
  error: ApiError;
  kind: "paste" | "file";
}

/** Numbers onto a do-not-call list, pasted or as a file; the API checks and normalises them. */
export function AddSuppressionsForm({
  campaigns,
  onAdded,
}: {
  campaigns: CampaignName[];
  onAdded: (reports: SuppressionReport[]) => void;
}) {
  const [form, setForm] = useState<AddForm>(ADD_DEFAULTS);
  const [file, setFile] = useState<File | null>(null);
  const [failure, setFailure] = useState<Failure | null>(null);
  const [busy, setBusy] = useState(false);
  const set = <K extends keyof AddForm>(key: K) => (value: AddForm[K]) => setForm((f) => ({ ...f, [key]: value }));
  const error = failure?.error ?? null;
  const fieldError = (path: string) => error?.forField(path);
  const messages = (kind: "paste" | "file") =>
    failure?.kind === kind ? numberMessages(failure.error.fieldErrors, kind).join("; ") || undefined : undefined;
  const unplaced = error?.fieldErrors.filter((e) => !shownBesideAnInput(e.field)) ?? [];
  const nothing = !pastedNumbers(form.numbers).length && !file;

  async function submit(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setFailure(null);
    const reports: SuppressionReport[] = [];
    let kind: Failure["kind"] = "paste";
    try {
      if (pastedNumbers(form.numbers).length) reports.push(await addNumbers(form));
      kind = "file";
      if (file) reports.push(await importFile(form, file));
    } catch (exc) {
      setFailure({ error: exc instanceof ApiError ? exc : new ApiError(0, String(exc)), kind });
    } finally {
      setBusy(false);
    }
    // What was added before a failure is on the list: its answer is shown all the same.
    if (reports.length) onAdded(reports);
  }

  const tooLarge = fileTooLarge(error) ? error?.detail : undefined;
  return (
    <form onSubmit={submit} className="card form-grid" noValidate aria-labelledby="add-title">
      <h2 id="add-title" className="wide">Add numbers</h2>
      {error && !error.fieldErrors.length && !tooLarge && (
        <p className="error" role="alert">{error.detail}</p>
      )}
      {error && error.fieldErrors.length > 0 && (
        <div className="error" role="alert">
          <p>{failure?.kind === "file" ? "The file was refused" : "The pasted numbers were refused"}: nothing from it was added. Please correct the fields marked below.</p>
          {unplaced.length > 0 && (
            <ul>
              {unplaced.map((e) => (
                <li key={e.field + e.message}>{e.field || "body"}: {e.message}</li>
              ))}
            </ul>
          )}
        </div>
      )}
      <fieldset>
        <legend>Numbers</legend>
        <Field label="Paste numbers" hint="one a line, or separated by commas; any written form" error={messages("paste")}>
          {(p) => (
            <textarea {...p} name="phoneNumbers" rows={5} value={form.numbers} onChange={(e) => set("numbers")(e.target.value)} />
          )}
        </Field>
        <Field
          label="Or upload a CSV or text file"
          hint="a phone number column and an optional reason column, or one number a line"
          error={tooLarge ?? messages("file")}
        >
          {(p) => (
            <input {...p} type="file" name="file" accept=".csv,.txt,text/csv,text/plain"
              onChange={(e) => setFile(e.target.files?.[0] ?? null)} />
          )}
        </Field>
        <label className="inline">
          <input type="checkbox" checked={form.skipInvalid} onChange={(e) => set("skipInvalid")(e.target.checked)} />
          Skip numbers that are not phone numbers (listed below); unticked, one refuses them all
        </label>
      </fieldset>
      <fieldset>
        <legend>List</legend>
        <ScopeSelect
          label="Add to"
          value={form.campaignId}
          onChange={set("campaignId")}
          campaigns={campaigns}
          error={fieldError("campaignId")}
          hint="the global list bars the number from every campaign"
        />
        <Field label="Reason" hint="optional, e.g. CUSTOMER_REQUEST; a file's reason column wins" error={fieldError("reason")}>
          {(p) => <input {...p} name="reason" value={form.reason} onChange={(e) => set("reason")(e.target.value)} />}
        </Field>
        <Field label="Expires" hint="optional, your time; empty: never" error={fieldError("expiresAt")}>
          {(p) => (
            <input {...p} type="datetime-local" name="expiresAt" value={form.expiresAt} onChange={(e) => set("expiresAt")(e.target.value)} />
          )}
        </Field>
      </fieldset>
      <div className="actions">
        <button type="submit" className="primary" disabled={busy || nothing}>
          {busy ? "Adding…" : "Add to the list"}
        </button>
      </div>
    </form>
  );
}
