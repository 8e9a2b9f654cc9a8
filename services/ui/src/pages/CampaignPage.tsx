import { Fragment, useEffect, useState } from "react";

import { ApiError, download, get, post, request } from "../api";
import { AnsweringMachineCard } from "../components/AnsweringMachineCard";
import { CallDetail } from "../components/CallDetail";
import { LocalTime, ZoneName } from "../components/CallZone";
import { ConfirmButton } from "../components/ConfirmButton";
import { DialsChart } from "../components/DialsChart";
import { ForecastCard } from "../components/ForecastCard";
import { InventoryCard } from "../components/InventoryCard";
import { ProgressBar } from "../components/ProgressBar";
import { RetryRulesCard } from "../components/RetryRulesCard";
import { StatusBadge } from "../components/StatusBadge";
import { StatusFilter } from "../components/StatusFilter";
import { answeredByText, capText, percent, seconds, when } from "../format";
import type { Call, Campaign, CampaignStats, FrequencyCap } from "../types";
import { CALL_STATUSES } from "../types";
import { useLiveEvents } from "../liveEvents";
import { usePolling } from "../usePolling";

const PAGE_SIZE = 25;

const FINAL = new Set(["COMPLETED", "FAILED", "CANCELLED"]);
/** While the campaign can change: reload on its live events, and every 2 s while the event
 * stream is down (every 15 s beside it, for what no event tells: the dial rate). Once it
 * has ended, rarely. */
const LIVE_PACE_MS = 2000;
const STREAMED_PACE_MS = 15_000;
const ENDED_PACE_MS = 30_000;

export function CampaignPage({ id }: { id: string }) {
  const [ended, setEnded] = useState(false);
  const live = useLiveEvents(id);
  const pace = ended ? ENDED_PACE_MS : live.connected ? STREAMED_PACE_MS : LIVE_PACE_MS;
  const campaign = usePolling(() => get<Campaign>(`/api/v1/campaigns/${id}`), pace, [id, live.version]);
  const stats = usePolling(
    () => get<CampaignStats>(`/api/v1/campaigns/${id}/stats?minutes=30`),
    pace,
    [id, live.version],
  );
  const status = campaign.data?.status;
  useEffect(() => setEnded(status !== undefined && FINAL.has(status)), [status]);
  const [actionError, setActionError] = useState<string>();

  async function act(verb: "start" | "pause" | "resume" | "cancel") {
    setActionError(undefined);
    try {
      await post(`/api/v1/campaigns/${id}/${verb}`);
    } catch (exc) {
      setActionError(exc instanceof ApiError ? exc.detail : String(exc));
    }
    await Promise.all([campaign.reload(), stats.reload()]);
  }

  if (campaign.error && !campaign.data) {
    return <p className="error" role="alert">{campaign.error.detail}</p>;
  }
  const c = campaign.data;
  if (!c) return <p className="muted">Loading…</p>;
  const s = stats.data;
  const final = FINAL.has(c.status);

  return (
    <section aria-labelledby="campaign-title">
      <div className="page-head">
        <h1 id="campaign-title">{c.name}</h1>
        <StatusBadge status={c.status} />
      </div>
      {c.description && <p className="muted">{c.description}</p>}
      <div className="actions" role="toolbar" aria-label="Campaign actions">
        {c.status === "PENDING" && (
          <button type="button" className="primary" onClick={() => act("start")}>Start</button>
        )}
        {c.status === "IN_PROGRESS" && (
          <button type="button" onClick={() => act("pause")}>Pause</button>
        )}
        {c.status === "PAUSED" && (
          <button type="button" className="primary" onClick={() => act("resume")}>Resume</button>
        )}
        {!final && (
          <ConfirmButton label="Cancel" question="Cancel this campaign for good?" onConfirm={() => act("cancel")} />
        )}
        <button
          type="button"
          onClick={() =>
            download(`/api/v1/campaigns/${id}/calls/export`, `${c.name.replace(/[^\w-]+/g, "_")}-calls.csv`).catch(
              (exc) => setActionError(exc instanceof ApiError ? exc.detail : String(exc)),
            )
          }
        >
          Export CSV
        </button>
      </div>
      {actionError && <p className="error" role="alert">{actionError}</p>}

      <div className="card">
        <ProgressBar value={(s?.progressPercent ?? 0) / 100} label="Campaign progress" />
        <dl className="stats" aria-label="Live statistics">
          <div><dt>Numbers</dt><dd data-testid="total">{c.metrics.totalCalls}</dd></div>
          <div><dt>Completed</dt><dd data-testid="completed">{c.metrics.completedCalls}</dd></div>
          <div><dt>Failed for good</dt><dd>{c.metrics.permanentlyFailedCalls}</dd></div>
          <div><dt>Waiting for retry</dt><dd>{c.metrics.failedCalls}</dd></div>
          <div>
            <dt>In progress / lines / limit</dt>
            <dd>{c.metrics.inProgressCalls} / {s?.allowedLines ?? "—"} / {c.concurrencyLimit}</dd>
          </div>
          <div><dt>Answer rate</dt><dd>{percent(s?.answerRate)}</dd></div>
          <div><dt>Average talk</dt><dd>{seconds(s?.averageTalkSeconds)}</dd></div>
          <div><dt>Retries</dt><dd>{c.metrics.totalRetries}</dd></div>
          <div><dt>Not called: do-not-call</dt><dd data-testid="suppressed-calls">{c.metrics.suppressedCalls ?? "—"}</dd></div>
          <div><dt>Calling hours</dt><dd>{s ? (s.insideBusinessHours ? "inside" : `outside (opens ${when(s.nextWindowOpensAt)})`) : "—"}</dd></div>
          <div><dt>Expected to finish</dt><dd>{when(s?.estimatedFinishAt)}</dd></div>
          <div>
            <dt>Hours read in</dt>
            <dd>{c.businessHours?.timezoneMode === "RECIPIENT" ? "each recipient's time" : (c.businessHours?.timezone ?? "—")}</dd>
          </div>
          {c.startAt && <div><dt>{c.autoStart ? "Starts by itself at" : "Dials from"}</dt><dd>{when(c.startAt)}</dd></div>}
          {c.endAt && <div><dt>Dials until</dt><dd>{when(c.endAt)}</dd></div>}
          <div>
            <dt>Frequency caps (own)</dt>
            <dd data-testid="frequency-caps"><CapsText caps={c.contactPolicy?.frequencyCaps} /></dd>
          </div>
          {c.holidayCalendars && c.holidayCalendars.length > 0 && (
            <div><dt>Holiday calendars</dt><dd>{c.holidayCalendars.join(", ")}</dd></div>
          )}
        </dl>
      </div>

      <InventoryCard campaignId={id} nextDialAt={c.nextDialAt} pace={pace} />
      <ForecastCard campaignId={id} pace={pace * 5} />
      <RetryRulesCard retryConfig={c.retryConfig} />
      <AnsweringMachineCard campaign={c} onSaved={campaign.reload} />

      <div className="card">
        <h2>Dials and results a minute</h2>
        <DialsChart minutes={s?.dialsPerMinute ?? []} />
      </div>

      <CallsTable campaignId={id} pace={pace + 1000} />
    </section>
  );
}

/** The campaign's own caps, one a line; the calling policy's apply as well. */
function CapsText({ caps }: { caps: FrequencyCap[] | undefined }) {
  if (!caps?.length) return <span className="small">none (the calling policy's apply)</span>;
  return (
    <ul className="caps small">
      {caps.map((cap) => (
        <li key={`${cap.maxAttempts}/${cap.periodHours}`}>{capText(cap)}</li>
      ))}
    </ul>
  );
}

function CallsTable({ campaignId, pace }: { campaignId: string; pace: number }) {
  const [status, setStatus] = useState("");
  const [page, setPage] = useState(0);
  const [open, setOpen] = useState<string | null>(null);
  const calls = usePolling(
    async () => {
      const query = `page=${page}&size=${PAGE_SIZE}${status ? `&status=${status}` : ""}`;
      const answer = await request<Call[]>("GET", `/api/v1/campaigns/${campaignId}/calls?${query}`);
      return { rows: answer.body, total: Number(answer.headers.get("X-Total-Count") ?? answer.body.length) };
    },
    pace,
    [campaignId, status, page],
  );
  // One instant for the whole table, taken when the rows arrive (they refresh every few seconds).
  const now = new Date();
  const total = calls.data?.total ?? 0;
  const pages = Math.max(1, Math.ceil(total / PAGE_SIZE));

  return (
    <div className="card">
      <div className="page-head">
        <h2>Calls</h2>
        <StatusFilter
          statuses={CALL_STATUSES}
          value={status}
          label="Filter calls by status"
          onChange={(next) => {
            setStatus(next);
            setPage(0);
          }}
        />
      </div>
      {calls.error && <p className="error" role="alert">{calls.error.detail}</p>}
      <div className="table-wrap">
        <table className="calls">
          <thead>
            <tr>
              <th scope="col">Number</th>
              <th scope="col">Status</th>
              <th scope="col">Time zone</th>
              <th scope="col">Local time</th>
              <th scope="col">Attempts</th>
              <th scope="col">Duration</th>
              <th scope="col">Failure reason</th>
              <th scope="col">Answered by</th>
              <th scope="col">Last attempt</th>
            </tr>
          </thead>
          <tbody>
            {calls.data?.rows.map((call) => (
              <Fragment key={call.id}>
                <tr>
                  <td data-label="Number">
                    <button
                      type="button"
                      className="link"
                      aria-expanded={open === call.id}
                      onClick={() => setOpen(open === call.id ? null : call.id)}
                    >
                      {call.phoneNumber}
                    </button>
                  </td>
                  <td data-label="Status"><StatusBadge status={call.status} /></td>
                  <td data-label="Time zone"><ZoneName zones={call.timezone} /></td>
                  <td data-label="Local time"><LocalTime zones={call.timezone} now={now} /></td>
                  <td data-label="Attempts">{call.attempts.length}</td>
                  <td data-label="Duration">{seconds(call.callDurationSeconds)}</td>
                  <td data-label="Failure reason">{call.failureReason ?? "—"}</td>
                  <td data-label="Answered by">{call.answeredBy ? answeredByText(call.answeredBy) : "—"}</td>
                  <td data-label="Last attempt">{when(call.lastAttemptedAt)}</td>
                </tr>
                {open === call.id && (
                  <tr className="attempts-row">
                    <td colSpan={9}>
                      <CallDetail call={call} />
                    </td>
                  </tr>
                )}
              </Fragment>
            ))}
          </tbody>
        </table>
      </div>
      <nav className="pager" aria-label="Pages of calls">
        <button type="button" disabled={page === 0} onClick={() => setPage(page - 1)}>Previous</button>
        <span>
          Page {page + 1} of {pages} ({total} calls)
        </span>
        <button type="button" disabled={page + 1 >= pages} onClick={() => setPage(page + 1)}>Next</button>
      </nav>
    </div>
  );
}
