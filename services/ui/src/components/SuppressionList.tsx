import { type FormEvent, useState } from "react";

import { ApiError } from "../api";
import { when } from "../format";
import { listEntries, removeEntry, SUPPRESSION_PAGE_SIZE } from "../suppressions";
import type { Suppression } from "../types";
import { usePolling } from "../usePolling";
import { ConfirmButton } from "./ConfirmButton";
import { Field } from "./Field";
import { type CampaignName, ScopeSelect, scopeText } from "./ScopeSelect";

/** A list changes only when someone adds or removes: a slow refresh, and one after each change. */
const PACE_MS = 10_000;

/** One do-not-call list, newest first: searched by number (any written form), paged, entries removable. */
export function SuppressionList({ campaigns, version }: { campaigns: CampaignName[]; version: number }) {
  const [campaignId, setCampaignId] = useState("");
  const [typed, setTyped] = useState("");
  const [number, setNumber] = useState("");
  const [page, setPage] = useState(0);
  const [actionError, setActionError] = useState<string>();
  const list = usePolling(() => listEntries(campaignId, number, page), PACE_MS, [campaignId, number, page, version]);
  const total = list.data?.total ?? 0;
  const pages = Math.max(1, Math.ceil(total / SUPPRESSION_PAGE_SIZE));

  function search(event: FormEvent) {
    event.preventDefault();
    setNumber(typed);
    setPage(0);
  }

  async function remove(entry: Suppression) {
    setActionError(undefined);
    try {
      await removeEntry(entry);
    } catch (exc) {
      const gone = exc instanceof ApiError && exc.status === 404;
      setActionError(gone ? `${entry.phoneNumber} was no longer on this list.` : exc instanceof ApiError ? exc.detail : String(exc));
    }
    await list.reload();
  }

  const searchError = list.error?.forField("phoneNumber");
  return (
    <section className="card" aria-labelledby="list-title">
      <h2 id="list-title">Listed numbers</h2>
      <form className="form-grid" onSubmit={search} role="search" aria-label="Search the do-not-call list">
        <ScopeSelect
          label="List"
          value={campaignId}
          onChange={(next) => {
            setCampaignId(next);
            setPage(0);
          }}
          campaigns={campaigns}
          hint="a campaign's list holds only its own entries; the global list applies to it too"
        />
        <div>
          <Field label="Number" hint="any written form; empty: every entry" error={searchError}>
            {(p) => <input {...p} type="search" value={typed} onChange={(e) => setTyped(e.target.value)} />}
          </Field>
          <button type="submit">Search</button>
        </div>
      </form>
      {list.error && !searchError && <p className="error" role="alert">{list.error.detail}</p>}
      {actionError && <p className="error" role="alert">{actionError}</p>}
      <div className="table-wrap">
        <table className="suppressions">
          <thead>
            <tr>
              <th scope="col">Number</th>
              <th scope="col">List</th>
              <th scope="col">Reason</th>
              <th scope="col">Expires</th>
              <th scope="col">Added</th>
              <th scope="col"><span className="visually-hidden">Actions</span></th>
            </tr>
          </thead>
          <tbody>
            {list.data && list.data.rows.length === 0 && (
              <tr>
                <td colSpan={6} className="muted">{number ? `${number} is not on this list.` : "This list is empty."}</td>
              </tr>
            )}
            {list.data?.rows.map((entry) => (
              <tr key={`${entry.phoneNumber}-${entry.campaignId ?? ""}`}>
                <td data-label="Number">{entry.phoneNumber}</td>
                <td data-label="List">{scopeText(entry.campaignId, campaigns)}</td>
                <td data-label="Reason"><ReasonText entry={entry} /></td>
                <td data-label="Expires">{entry.expiresAt ? when(entry.expiresAt) : "never"}</td>
                <td data-label="Added">{when(entry.createdAt)}</td>
                <td data-label="Actions">
                  <ConfirmButton
                    label="Remove"
                    question={`Allow calls to ${entry.phoneNumber} again?`}
                    onConfirm={() => void remove(entry)}
                  />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <nav className="pager" aria-label="Pages of listed numbers">
        <button type="button" disabled={page === 0} onClick={() => setPage(page - 1)}>Previous</button>
        <span>
          Page {page + 1} of {pages} ({total} {total === 1 ? "number" : "numbers"})
        </span>
        <button type="button" disabled={page + 1 >= pages} onClick={() => setPage(page + 1)}>Next</button>
      </nav>
    </section>
  );
}

function ReasonText({ entry }: { entry: Suppression }) {
  if (entry.reason === "OPT_OUT") {
    return (
      <>
        opted out during a call
        {entry.sourceCallId && <span className="muted small"> (call {entry.sourceCallId})</span>}
      </>
    );
  }
  return <>{entry.reason ?? <span className="muted">—</span>}</>;
}
