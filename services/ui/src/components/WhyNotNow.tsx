import { useState } from "react";

import { ApiError, get } from "../api";
import { capText, instantIn, REASON_MEANINGS, JOIN, wallClock, when, zoneList } from "../format";
import type { Eligibility, EligibilityReason, Zones } from "../types";

/** "Why not now?": the server's answer for one call, fetched when asked (it is not free). */
export function WhyNotNow({ callId, zones }: { callId: string; zones?: Zones }) {
  const [answer, setAnswer] = useState<Eligibility | null>(null);
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);

  async function ask() {
    setBusy(true);
    setError(undefined);
    try {
      setAnswer(await get<Eligibility>(`/api/v1/calls/${callId}/eligibility`));
    } catch (exc) {
      setError(exc instanceof ApiError ? exc.detail : String(exc));
    } finally {
      setBusy(false);
    }
  }

  return (
    <div className="why">
      <button type="button" onClick={ask} disabled={busy} aria-controls={`why-${callId}`}>
        {answer ? "Check again" : "Why not now?"}
      </button>
      <div id={`why-${callId}`} aria-live="polite">
        {busy && <p className="muted">Checking…</p>}
        {error && <p className="error" role="alert">{error}</p>}
        {answer && !busy && <Answer answer={answer} zones={zones} />}
      </div>
    </div>
  );
}

function Answer({ answer, zones }: { answer: Eligibility; zones?: Zones }) {
  const local = zoneList(answer.localTime);
  const reasons = answer.reasons ?? [];
  return (
    <div className="why-answer">
      <p>
        <strong>{answer.eligible ? "Dialable now" : "Not dialled now"}</strong>
        {answer.eligible && " — the next free line takes it."}
      </p>
      {reasons.length > 0 && (
        <ul className="reasons" aria-label="Reasons">
          {reasons.map((r, i) => (
            <li key={`${r.code}-${i}`}>
              <code>{r.code}</code> {r.detail}
              {REASON_MEANINGS[r.code] && <span className="muted"> ({REASON_MEANINGS[r.code]})</span>}
              {r.code === "FREQUENCY_CAP" && <CapDetails reason={r} />}
            </li>
          ))}
        </ul>
      )}
      {local.length > 0 && <p>Local time now: {local.map(wallClock).join(JOIN)}</p>}
      {!answer.eligible && <NextEligible at={answer.nextEligibleAt} zones={answer.timezone ?? zones ?? null} />}
    </div>
  );
}

/** The cap that holds the number back, the attempts it counts, and when the oldest leaves the period. */
function CapDetails({ reason }: { reason: EligibilityReason }) {
  const details = reason.details;
  if (!details) return null;
  const counted = details.countedAttempts ?? [];
  // The answer's nextEligibleAt waits for every reason; this is the cap's own release (oldest first).
  const release =
    counted.length && details.periodHours
      ? new Date(new Date(counted[0]).getTime() + details.periodHours * 3_600_000).toISOString()
      : null;
  return (
    <div className="cap-details">
      <p>
        Cap: {capText(details)}, across every campaign.
        {release && ` The oldest attempt counted leaves the period at ${when(release)}.`}
      </p>
      {counted.length > 0 && (
        <>
          <p>Attempts counted ({counted.length}):</p>
          <ol className="caps" aria-label="Attempts counted against the cap">
            {counted.map((at, i) => (
              <li key={`${at}-${i}`}>{when(at)}</li>
            ))}
          </ol>
        </>
      )}
    </div>
  );
}

function NextEligible({ at, zones }: { at: string | null; zones: Zones }) {
  if (!at) {
    return (
      <p>
        Next eligible: <span className="muted">none predicted (it waits for an event, such as a start or a free line, or will not be dialled)</span>
      </p>
    );
  }
  const local = zoneList(zones)
    .map((zone) => {
      const text = instantIn(at, zone);
      return text ? `${text} in ${zone}` : null;
    })
    .filter(Boolean);
  return (
    <p>
      Next eligible: {local.length > 0 ? `${local.join(JOIN)} (your time: ${when(at)})` : when(at)}
    </p>
  );
}
