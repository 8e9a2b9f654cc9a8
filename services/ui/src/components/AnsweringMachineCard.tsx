// The campaign's answering-machine setting: shown, and changed in place (PATCH) until it ends.
import { type FormEvent, useState } from "react";

import { ApiError, patch } from "../api";
import type { AnsweringMachine, Campaign } from "../types";
import { AnsweringMachineFields, ON_MACHINE_TEXT, type MachineSetting } from "./AnsweringMachineFields";

const NONE: AnsweringMachine = { detect: false, onMachine: "COMPLETE" };

interface Props {
  campaign: Campaign;
  /** Called after a change was saved, to read the campaign again. */
  onSaved: () => void | Promise<void>;
}

export function AnsweringMachineCard({ campaign, onSaved }: Props) {
  const current = campaign.answeringMachine ?? NONE;
  const [editing, setEditing] = useState<MachineSetting | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  const final = ["COMPLETED", "FAILED", "CANCELLED"].includes(campaign.status);

  async function save(event: FormEvent) {
    event.preventDefault();
    if (!editing) return;
    setBusy(true);
    setError(null);
    try {
      await patch(`/api/v1/campaigns/${campaign.id}`, { answeringMachine: editing });
      setEditing(null);
      await onSaved();
    } catch (exc) {
      setError(exc instanceof ApiError ? exc : new ApiError(0, String(exc)));
    } finally {
      setBusy(false);
    }
  }

  return (
    <div className="card">
      <h2>Answering machines</h2>
      {editing ? (
        <form onSubmit={save} aria-label="Answering machines">
          {error && !error.fieldErrors.length && <p className="error" role="alert">{error.detail}</p>}
          <AnsweringMachineFields value={editing} onChange={setEditing} fieldError={(path) => error?.forField(path)} />
          <div className="actions">
            <button type="submit" className="primary" disabled={busy}>{busy ? "Saving…" : "Save"}</button>
            <button type="button" onClick={() => { setEditing(null); setError(null); }}>Cancel</button>
          </div>
        </form>
      ) : (
        <>
          <p data-testid="answering-machine">
            {current.detect ? `Detected; when a machine answers: ${ON_MACHINE_TEXT[current.onMachine]}.` : "Not detected: a machine's answer is an answered call."}
          </p>
          {!final && (
            <button type="button" onClick={() => setEditing({ ...current })}>Change</button>
          )}
        </>
      )}
    </div>
  );
}
