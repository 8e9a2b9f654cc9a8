import { useRef } from "react";

import { ApiError, get } from "../api";
import { JOIN, percent, seconds, when, zoneList } from "../format";
import type { Forecast } from "../types";
import { usePolling } from "../usePolling";

/** A count or rate as text; anything the server left out (or sent in an unknown shape) is "—". */
function figure(value: unknown, digits = 0): string {
  return typeof value === "number" && Number.isFinite(value)
    ? value.toLocaleString(undefined, { maximumFractionDigits: digits })
    : "—";
}

function text(value: unknown): string | null {
  return typeof value === "string" && value ? value : null;
}

/** A rate the server gives as a fraction (0.25) as a percentage; any other number as is. */
function rate(value: unknown): string {
  if (typeof value !== "number" || !Number.isFinite(value)) return "—";
  return value >= 0 && value <= 1 ? percent(value, 1) : figure(value, 2);
}

/**
 * When the campaign is expected to finish, and what that rests on. Every field is read as
 * optional (the endpoint is young); a server without it (404) shows nothing at all.
 */
export function ForecastCard({ campaignId, pace }: { campaignId: string; pace: number }) {
  // After a 404 the server has no forecast: stop asking until the page is opened again.
  const missing = useRef(false);
  const forecast = usePolling(
    async () => {
      if (missing.current) return null;
      try {
        return await get<Forecast>(`/api/v1/campaigns/${campaignId}/forecast`);
      } catch (exc) {
        if (exc instanceof ApiError && exc.status === 404) {
          missing.current = true;
          return null;
        }
        throw exc;
      }
    },
    pace,
    [campaignId],
  );
  const f = forecast.data;
  if (!f || typeof f !== "object") {
    if (forecast.error && !missing.current) {
      return (
        <section className="card" aria-labelledby="forecast-title">
          <h2 id="forecast-title">Forecast</h2>
          <p className="error" role="alert">{forecast.error.detail}</p>
        </section>
      );
    }
    return null;
  }
  const a = f.assumptions && typeof f.assumptions === "object" ? f.assumptions : {};
  const zones = Array.isArray(f.zones) ? f.zones.filter((z) => z && typeof z === "object") : [];
  const caveats = Array.isArray(f.caveats) ? f.caveats.filter((c) => typeof c === "string") : [];
  const source = (value: unknown) => (text(value) ? ` (${text(value)})` : "");

  return (
    <section className="card" aria-labelledby="forecast-title">
      <h2 id="forecast-title">Forecast</h2>
      <dl className="stats" aria-label="Forecast">
        <div>
          <dt>Expected to finish</dt>
          <dd data-testid="forecast-finish">{text(f.expectedFinishAt) ? when(f.expectedFinishAt) : "not predicted"}</dd>
        </div>
        <div><dt>Numbers left</dt><dd>{figure(f.remainingNumbers)}</dd></div>
        <div><dt>Expected attempts</dt><dd>{figure(f.expectedAttempts)}</dd></div>
      </dl>

      <h3>Assumptions</h3>
      <dl className="stats" aria-label="Assumptions">
        <div><dt>Lines</dt><dd>{figure(a.lines)}</dd></div>
        <div><dt>Calls a second</dt><dd>{figure(a.callsPerSecond, 2)}</dd></div>
        <div>
          <dt>Mean attempt</dt>
          <dd>
            {typeof a.meanAttemptSeconds === "number" ? seconds(a.meanAttemptSeconds) : "—"}
            <span className="muted small">{source(a.meanAttemptSecondsSource)}</span>
          </dd>
        </div>
        <div>
          <dt>Retry rate</dt>
          <dd>
            {rate(a.retryRate)}
            <span className="muted small">{source(a.retryRateSource)}</span>
          </dd>
        </div>
        <div><dt>Attempts observed</dt><dd>{figure(a.attemptsObserved)}</dd></div>
      </dl>

      {zones.length > 0 && (
        <div className="table-wrap">
          <table className="zones">
            <caption>By time zone</caption>
            <thead>
              <tr>
                <th scope="col">Time zone</th>
                <th scope="col">Numbers left</th>
                <th scope="col">Next opening</th>
                <th scope="col">Open hours, next 7 days</th>
                <th scope="col">Expected to finish</th>
              </tr>
            </thead>
            <tbody>
              {zones.map((z, i) => {
                const names = zoneList(Array.isArray(z.timezone) || typeof z.timezone === "string" ? z.timezone : null);
                return (
                  <tr key={`${names.join(JOIN)}-${i}`}>
                    <th scope="row" data-label="Time zone">{names.length ? names.join(JOIN) : "unknown"}</th>
                    <td data-label="Numbers left">{figure(z.remainingNumbers)}</td>
                    <td data-label="Next opening">{when(text(z.nextOpeningAt))}</td>
                    <td data-label="Open hours, next 7 days">{figure(z.openHoursNext7Days, 1)}</td>
                    <td data-label="Expected to finish">{when(text(z.expectedFinishAt))}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}

      {caveats.length > 0 && (
        <>
          <h3>Caveats</h3>
          <ul className="caveats">
            {caveats.map((c, i) => (
              <li key={i}>{c}</li>
            ))}
          </ul>
        </>
      )}
    </section>
  );
}
