import { get } from "../api";
import { ProgressBar } from "../components/ProgressBar";
import { href } from "../router";
import type { Campaign, GlobalMetrics } from "../types";
import { usePolling } from "../usePolling";

async function load() {
  const [metrics, running] = await Promise.all([
    get<GlobalMetrics>("/api/v1/metrics"),
    get<Campaign[]>("/api/v1/campaigns?page=0&size=100&status=IN_PROGRESS"),
  ]);
  return { metrics, running };
}

export function managementConsoleUrl(): string {
  return `${window.location.protocol}//${window.location.hostname}:15672/`;
}

export function Overview() {
  const { data, error } = usePolling(load, 2000, []);
  if (error && !data) return <p className="error" role="alert">{error.detail}</p>;
  if (!data) return <p className="muted">Loading…</p>;
  const { metrics, running } = data;
  const depth = new Map(metrics.queues.map((q) => [q.campaignId, q.depth]));
  return (
    <section aria-labelledby="overview-title">
      <h1 id="overview-title">Overview</h1>
      <div className="card">
        <h2>Lines</h2>
        <ProgressBar value={metrics.lineCapacity ? metrics.linesInUse / metrics.lineCapacity : 0} label="Lines in use" />
        <dl className="stats">
          <div><dt>Lines in use</dt><dd data-testid="lines">{metrics.linesInUse} / {metrics.lineCapacity}</dd></div>
          <div><dt>Calls a minute</dt><dd>{Math.round(metrics.callsPerSecond * 60)}</dd></div>
          <div><dt>Running campaigns</dt><dd>{metrics.activeCampaigns}</dd></div>
          <div><dt>Jobs queued</dt><dd>{metrics.queueDepth}</dd></div>
          <div><dt>Sharing</dt><dd>{metrics.schedulingStrategy.replaceAll("_", " ")}</dd></div>
          <div>
            <dt>Carrier breaker</dt>
            <dd className={`breaker breaker-${metrics.circuitBreaker}`}>{metrics.circuitBreaker}</dd>
          </div>
        </dl>
        <p>
          <a href={managementConsoleUrl()} target="_blank" rel="noreferrer">RabbitMQ management console</a>
        </p>
      </div>
      <div className="card">
        <h2>Share of the lines</h2>
        {!running.length && <p className="muted">No campaign is running.</p>}
        {running.length > 0 && (
          <div className="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Campaign</th>
                  <th scope="col">Lines used</th>
                  <th scope="col">Share</th>
                  <th scope="col">Queue depth</th>
                </tr>
              </thead>
              <tbody>
                {running.map((c) => (
                  <tr key={c.id}>
                    <td data-label="Campaign"><a href={href({ page: "campaign", id: c.id })}>{c.name}</a></td>
                    <td data-label="Lines used">{c.metrics.inProgressCalls}</td>
                    <td data-label="Share">
                      <ProgressBar
                        value={metrics.lineCapacity ? c.metrics.inProgressCalls / metrics.lineCapacity : 0}
                        label={`Share of ${c.name}`}
                      />
                    </td>
                    <td data-label="Queue depth">{depth.get(c.id) ?? "—"}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </div>
      <div className="card">
        <h2>Workers</h2>
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Worker</th>
                <th scope="col">Calls</th>
                <th scope="col">Lines leased</th>
                <th scope="col">Breaker</th>
              </tr>
            </thead>
            <tbody>
              {metrics.workers.map((w) => (
                <tr key={w.workerId}>
                  <td data-label="Worker">{w.workerId}</td>
                  <td data-label="Calls">{w.callsInFlight}</td>
                  <td data-label="Lines leased">{w.leasesHeld}</td>
                  <td data-label="Breaker">{w.breakerState}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </div>
    </section>
  );
}
