// The new-campaign form's per-outcome retry rules and the retries' jitter.
import { type Dispatch, type ReactNode, type SetStateAction, useId } from "react";

import type { ApiError } from "../api";
import { Field } from "../components/Field";
import { OUTCOME_MEANINGS, OUTCOME_NAMES, retriedByDefault } from "../retryRules";
import { RETRY_OUTCOMES, type RetryOutcome } from "../types";
import type { Form, OutcomeRow } from "./campaignForm";

interface Props {
  form: Form;
  setForm: Dispatch<SetStateAction<Form>>;
  error: ApiError | null;
}

/** The general wait in seconds, shown greyed in an empty delay input. */
function generalSeconds(ms: string): string {
  const value = Number(ms.trim());
  return ms.trim() && !Number.isNaN(value) ? String(value / 1000) : "";
}

/** One input of a row, with the API's message for it linked for screen readers. */
function RuleInput({
  message,
  children,
}: {
  message: string | undefined;
  children: (props: { "aria-invalid": boolean; "aria-describedby"?: string }) => ReactNode;
}) {
  const id = useId();
  return (
    <div className={message ? "field-invalid" : undefined}>
      {children({ "aria-invalid": Boolean(message), "aria-describedby": message ? id : undefined })}
      {message && (
        <p className="field-error" id={id} role="alert">
          {message}
        </p>
      )}
    </div>
  );
}

export function RetryOutcomesFieldset({ form, setForm, error }: Props) {
  const fieldError = (path: string) => error?.forField(path);
  const setRow = (outcome: RetryOutcome, patch: Partial<OutcomeRow>) =>
    setForm((f) => ({ ...f, outcomes: { ...f.outcomes, [outcome]: { ...f.outcomes[outcome], ...patch } } }));
  const generalDelay = generalSeconds(form.callbackRetryDelayMs);

  return (
    <fieldset className="wide">
      <legend>Retries per outcome</legend>
      <p className="hint">
        Empty: the general retry fields apply (the greyed value); a rejected number is not retried unless set to yes.
        Max retries counts every earlier retry of the call, whatever its outcome; each later retry waits the
        multiplier times longer.
      </p>
      {fieldError("retryConfig.outcomes") && (
        <p className="field-error" role="alert">{fieldError("retryConfig.outcomes")}</p>
      )}
      <div className="table-wrap">
        <table className="outcome-rules">
          <thead>
            <tr>
              <th scope="col">Outcome</th>
              <th scope="col">Retry</th>
              <th scope="col">Max retries</th>
              <th scope="col">Delay (s)</th>
              <th scope="col">Backoff multiplier</th>
            </tr>
          </thead>
          <tbody>
            {RETRY_OUTCOMES.map((outcome) => {
              const row = form.outcomes[outcome];
              const name = OUTCOME_NAMES[outcome];
              const path = `retryConfig.outcomes.${outcome}`;
              const delayError = fieldError(`${path}.delayMs`);
              return (
                <tr key={outcome}>
                  <th scope="row">
                    {name}
                    <span className="hint"> {OUTCOME_MEANINGS[outcome]}</span>
                    {fieldError(path) && <p className="field-error" role="alert">{fieldError(path)}</p>}
                  </th>
                  <td data-label="Retry">
                    <RuleInput message={fieldError(`${path}.retry`)}>
                      {(p) => (
                        <select
                          {...p}
                          aria-label={`${name}: retry`}
                          value={row.retry}
                          onChange={(e) => setRow(outcome, { retry: e.target.value as OutcomeRow["retry"] })}
                        >
                          <option value="">general ({retriedByDefault(outcome) ? "yes" : "no"})</option>
                          <option value="yes">yes</option>
                          <option value="no">no</option>
                        </select>
                      )}
                    </RuleInput>
                  </td>
                  <td data-label="Max retries">
                    <RuleInput message={fieldError(`${path}.maxRetries`)}>
                      {(p) => (
                        <input
                          {...p}
                          aria-label={`${name}: max retries`}
                          inputMode="numeric"
                          placeholder={form.maxRetries}
                          value={row.maxRetries}
                          onChange={(e) => setRow(outcome, { maxRetries: e.target.value })}
                        />
                      )}
                    </RuleInput>
                  </td>
                  <td data-label="Delay (s)">
                    {/* The API counts milliseconds; its message says so, the input is in seconds. */}
                    <RuleInput message={delayError && `${delayError} (delayMs, in milliseconds)`}>
                      {(p) => (
                        <input
                          {...p}
                          aria-label={`${name}: delay in seconds`}
                          inputMode="decimal"
                          placeholder={generalDelay}
                          value={row.delaySeconds}
                          onChange={(e) => setRow(outcome, { delaySeconds: e.target.value })}
                        />
                      )}
                    </RuleInput>
                  </td>
                  <td data-label="Backoff multiplier">
                    <RuleInput message={fieldError(`${path}.backoffMultiplier`)}>
                      {(p) => (
                        <input
                          {...p}
                          aria-label={`${name}: backoff multiplier`}
                          inputMode="decimal"
                          placeholder="1"
                          value={row.backoffMultiplier}
                          onChange={(e) => setRow(outcome, { backoffMultiplier: e.target.value })}
                        />
                      )}
                    </RuleInput>
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
      <Field
        label="Jitter ratio"
        error={fieldError("retryConfig.jitterRatio")}
        hint="0 to 1: each retry falls within ± this share of its delay (0.2 on 60 s: 48 to 72 s); empty: none"
      >
        {(p) => (
          <input
            {...p}
            name="jitterRatio"
            inputMode="decimal"
            value={form.jitterRatio}
            onChange={(e) => setForm((f) => ({ ...f, jitterRatio: e.target.value }))}
          />
        )}
      </Field>
    </fieldset>
  );
}
