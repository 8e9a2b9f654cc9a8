import { useRef, useState } from "react";

import { get } from "../api";
import { ProgressBar } from "../components/ProgressBar";
import { StatusBadge } from "../components/StatusBadge";
import { StatusFilter } from "../components/StatusFilter";
import { percent, progressOf } from "../format";
import { href } from "../router";
import type { Campaign, CampaignStats } from "../types";
import { CAMPAIGN_STATUSES } from "../types";
import { useLiveEvents } from "../liveEvents";
import { usePolling } from "../usePolling";

const LIVE = new Set(["IN_PROGRESS", "PAUSED", "PENDING"]);

interface Row {
  campaign: Campaign;
  stats: CampaignStats | null;
}

/** Answer rate and calling hours come from each campaign's stats: read on every refresh while
 * the campaign can change, once after it has ended (`ended` keeps those). */
async function loadRows(status: string, ended: Map<string, CampaignStats>): Promise<Row[]> {
  const query = status ? `&status=${status}` : "";
  const campaigns = await get<Campaign[]>(`/api/v1/campaigns?page=0&size=100${query}`);
  const stats = await Promise.all(
    campaigns.map(async (c) => {
      const kept = ended.get(c.id);
      if (kept) return kept;
      if (!LIVE.has(c.status) && !c.metrics.totalCalls) return null;
      const read = await get<CampaignStats>(`/api/v1/campaigns/${c.id}/stats?minutes=5`).catch(() => null);
      if (read && !LIVE.has(read.status)) ended.set(c.id, read);
      return read;
    }),
  );
  return campaigns.map((campaign, i) => ({ campaign, stats: stats[i] }));
}

export function CampaignList() {
  const [status, setStatus] = useState("");
  const ended = useRef(new Map<string, CampaignStats>());
  // Reloaded on live events (at most once a second), every 2 s while the stream is down.
  const live = useLiveEvents(undefined, 1000);
  const { data, error } = usePolling(
    () => loadRows(status, ended.current),
    live.connected ? 15_000 : 2000,
    [status, live.version],
  );

  return (
    <section aria-labelledby="campaigns-title">
      <div className="page-head">
        <h1 id="campaigns-title">Campaigns</h1>
        <a className="button primary" href={href({ page: "new" })}>
          New campaign
        </a>
      </div>
      <StatusFilter statuses={CAMPAIGN_STATUSES} value={status} onChange={setStatus} label="Filter by status" />
      {error && <p className="error" role="alert">{error.detail}</p>}
      {data && !data.length && <p className="muted">No campaigns{status ? " with this status" : ""} yet.</p>}
      {data && data.length > 0 && (
        <div className="table-wrap">
          <table className="campaigns">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Status</th>
                <th scope="col">Progress</th>
                <th scope="col">In progress / limit</th>
                <th scope="col">Answer rate</th>
                <th scope="col">Calling hours</th>
              </tr>
            </thead>
            <tbody>
              {data.map(({ campaign, stats }) => (
                <tr key={campaign.id}>
                  <td data-label="Name">
                    <a href={href({ page: "campaign", id: campaign.id })}>{campaign.name}</a>
                  </td>
                  <td data-label="Status">
                    <StatusBadge status={campaign.status} />
                  </td>
                  <td data-label="Progress">
                    <ProgressBar value={progressOf(campaign.metrics)} label={`Progress of ${campaign.name}`} />
                    <span className="muted small">
                      {campaign.metrics.completedCalls + campaign.metrics.permanentlyFailedCalls} /{" "}
                      {campaign.metrics.totalCalls}
                    </span>
                  </td>
                  <td data-label="In progress / limit">
                    {campaign.metrics.inProgressCalls} / {campaign.concurrencyLimit}
                  </td>
                  <td data-label="Answer rate">{percent(stats?.answerRate)}</td>
                  <td data-label="Calling hours">
                    {stats ? (stats.insideBusinessHours ? "inside" : "outside") : "—"}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
