import { durationMs } from "../format";
import { OUTCOME_MEANINGS, OUTCOME_NAMES, type RuleCell, ruleCells } from "../retryRules";
import { RETRY_OUTCOMES, type RetryConfig } from "../types";

/** A field the rule sets, or "general" with the value it falls back to. */
function Cell({ cell, label }: { cell: RuleCell; label: string }) {
  return (
    <td data-label={label}>
      {cell.general ? (
        <span className="general">general{cell.text && ` (${cell.text})`}</span>
      ) : (
        <strong>{cell.text}</strong>
      )}
    </td>
  );
}

/** The campaign's retries: the general fields, each outcome's rule, the jitter. */
export function RetryRulesCard({ retryConfig }: { retryConfig: Partial<RetryConfig> | undefined }) {
  const jitter = retryConfig?.jitterRatio;
  return (
    <div className="card">
      <h2>Retries</h2>
      <dl className="inline-facts" aria-label="General retry fields">
        <div><dt>Retries after the first call</dt><dd>{retryConfig?.maxRetries ?? "—"}</dd></div>
        <div><dt>Wait before a retry</dt><dd>{durationMs(retryConfig?.callbackRetryDelayMs)}</dd></div>
        <div>
          <dt>Jitter</dt>
          <dd data-testid="jitter">{jitter ? `± ${Math.round(jitter * 1000) / 10}% of each delay` : "none"}</dd>
        </div>
      </dl>
      <p className="hint">Bold: set for this campaign; general: follows the fields above.</p>
      <div className="table-wrap">
        <table className="retry-rules">
          <caption>Retries per outcome</caption>
          <thead>
            <tr>
              <th scope="col">Outcome</th>
              <th scope="col">Retried</th>
              <th scope="col">Max retries</th>
              <th scope="col">First delay</th>
              <th scope="col">Backoff multiplier</th>
            </tr>
          </thead>
          <tbody>
            {RETRY_OUTCOMES.map((outcome) => {
              const cells = ruleCells(retryConfig, outcome);
              return (
                <tr key={outcome}>
                  <th scope="row">
                    {OUTCOME_NAMES[outcome]} <span className="hint">{OUTCOME_MEANINGS[outcome]}</span>
                  </th>
                  <Cell cell={cells.retry} label="Retried" />
                  <Cell cell={cells.maxRetries} label="Max retries" />
                  <Cell cell={cells.delay} label="First delay" />
                  <Cell cell={cells.backoffMultiplier} label="Backoff multiplier" />
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
    </div>
  );
}
