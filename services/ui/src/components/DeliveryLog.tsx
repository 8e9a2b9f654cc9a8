import { useEffect, useRef, useState } from "react";

import { ApiError } from "../api";
import { durationMs, when } from "../format";
import type { Delivery, DeliveryAttempt, Webhook } from "../types";
import { usePolling } from "../usePolling";
import { DELIVERY_PAGE_SIZE, DELIVERY_STATUSES, listDeliveries, retryDelivery } from "../webhooks";
import { StatusBadge } from "./StatusBadge";
import { StatusFilter } from "./StatusFilter";

/** Deliveries move on their own (retries every few seconds at first): a quicker refresh than the list. */
const PACE_MS = 5000;

/** One webhook's delivery log, newest first, filtered by status and paged; each delivery retryable. */
export function DeliveryLog({ webhook, onClose }: { webhook: Webhook; onClose: () => void }) {
  const [status, setStatus] = useState("");
  const [page, setPage] = useState(0);
  const [busy, setBusy] = useState<string>();
  const [notice, setNotice] = useState<string>();
  const [actionError, setActionError] = useState<string>();
  const heading = useRef<HTMLHeadingElement>(null);
  // Opened by a row's button far above: the log takes the focus, so it is read and seen.
  useEffect(() => heading.current?.focus(), []);
  const log = usePolling(() => listDeliveries(webhook.id, status, page), PACE_MS, [webhook.id, status, page]);
  const total = log.data?.total ?? 0;
  const pages = Math.max(1, Math.ceil(total / DELIVERY_PAGE_SIZE));

  async function retry(delivery: Delivery) {
    setBusy(delivery.id);
    setNotice(undefined);
    setActionError(undefined);
    try {
      await retryDelivery(webhook.id, delivery.id);
      setNotice(`Delivery of ${delivery.eventType} (${delivery.eventId}) is due again now.`);
    } catch (exc) {
      setActionError(exc instanceof ApiError ? exc.detail : String(exc));
    } finally {
      setBusy(undefined);
    }
    await log.reload();
  }

  return (
    <section className="card" aria-labelledby="deliveries-title">
      <div className="page-head">
        <h2 id="deliveries-title" ref={heading} tabIndex={-1}>Deliveries to {webhook.url}</h2>
        <button type="button" onClick={onClose}>Close the log</button>
      </div>
      <p className="muted small">Newest first; kept for the retention period. A failure is retried with backoff for the retry period.</p>
      <StatusFilter
        statuses={DELIVERY_STATUSES}
        value={status}
        onChange={(next) => {
          setStatus(next);
          setPage(0);
        }}
        label="Filter deliveries by status"
      />
      {log.error && <p className="error" role="alert">{log.error.detail}</p>}
      {actionError && <p className="error" role="alert">{actionError}</p>}
      <p role="status" className="small">{notice}</p>
      {!log.data && !log.error && <p className="muted">Loading…</p>}
      {log.data && log.data.rows.length === 0 && (
        <p className="muted">{status ? "No delivery with this status." : "Nothing was sent to this webhook yet."}</p>
      )}
      {log.data && log.data.rows.length > 0 && (
        <div className="table-wrap">
          <table className="deliveries">
            <thead>
              <tr>
                <th scope="col">Event</th>
                <th scope="col">Status</th>
                <th scope="col">Created</th>
                <th scope="col">Attempts</th>
                <th scope="col"><span className="visually-hidden">Actions</span></th>
              </tr>
            </thead>
            <tbody>
              {log.data.rows.map((d) => (
                <tr key={d.id}>
                  <td data-label="Event">
                    <code>{d.eventType}</code>
                    <span className="muted small block">{d.eventId}</span>
                  </td>
                  <td data-label="Status">
                    <StatusBadge status={d.status} />
                    {d.status === "PENDING" && d.nextAttemptAt && (
                      <span className="muted small block">next {when(d.nextAttemptAt)}</span>
                    )}
                    {d.finishedAt && <span className="muted small block">ended {when(d.finishedAt)}</span>}
                  </td>
                  <td data-label="Created">{when(d.createdAt)}</td>
                  <td data-label="Attempts">
                    {d.attempts.length === 0 ? (
                      <span className="muted">not tried yet</span>
                    ) : (
                      <ol className="attempts" aria-label={`Attempts of ${d.eventType} ${d.eventId}`}>
                        {d.attempts.map((a) => (
                          <li key={a.attemptNumber}>
                            <AttemptText attempt={a} />
                          </li>
                        ))}
                      </ol>
                    )}
                  </td>
                  <td data-label="Actions">
                    <button type="button" disabled={busy === d.id} onClick={() => void retry(d)}
                      aria-label={`Retry now: ${d.eventType} ${d.eventId}`}>
                      Retry now
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <nav className="pager" aria-label="Pages of deliveries">
        <button type="button" disabled={page === 0} onClick={() => setPage(page - 1)}>Previous</button>
        <span>
          Page {page + 1} of {pages} ({total} {total === 1 ? "delivery" : "deliveries"})
        </span>
        <button type="button" disabled={page + 1 >= pages} onClick={() => setPage(page + 1)}>Next</button>
      </nav>
    </section>
  );
}

/** "12/3/2026, 06:01:02: 500 in 120 ms — server error; next retry 06:01:07". */
function AttemptText({ attempt }: { attempt: DeliveryAttempt }) {
  return (
    <>
      {when(attempt.attemptedAt)}: {attempt.statusCode ?? "no answer"} in {durationMs(attempt.latencyMs)}
      {attempt.error && <> — {attempt.error}</>}
      {attempt.nextRetryAt && <>; next retry {when(attempt.nextRetryAt)}</>}
    </>
  );
}
