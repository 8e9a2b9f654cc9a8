// The per-outcome retry rules as the console names and reads them (docs/retries.md).
import { durationMs } from "./format";
import type { OutcomeRetry, RetryConfig, RetryOutcome } from "./types";

export const OUTCOME_NAMES: Record<RetryOutcome, string> = {
  BUSY: "Busy",
  NO_ANSWER: "No answer",
  FAILED: "Failed",
  REJECTED: "Rejected",
  MACHINE: "Machine",
  NO_RESULT: "No result",
};

/** What ended the attempt, for the reader who does not know the key. */
export const OUTCOME_MEANINGS: Record<RetryOutcome, string> = {
  BUSY: "the line was busy",
  NO_ANSWER: "it rang out",
  FAILED: "the carrier reports a failure",
  REJECTED: "the carrier refused the number for good",
  MACHINE: "a machine answered (when machines are detected and retried)",
  NO_RESULT: "no result within the result timeout",
};

/** Whether an outcome is retried when its rule says nothing: all but REJECTED. */
export function retriedByDefault(outcome: RetryOutcome): boolean {
  return outcome !== "REJECTED";
}

/** One field of a rule as shown: the value set, or the general value it falls back to. */
export interface RuleCell {
  /** true when the rule leaves the field to the general one. */
  general: boolean;
  text: string;
}

const yesNo = (value: boolean) => (value ? "yes" : "no");

function cell<T>(value: T | null | undefined, show: (v: T) => string, fallback: string): RuleCell {
  return value === null || value === undefined ? { general: true, text: fallback } : { general: false, text: show(value) };
}

/** The four fields of an outcome's rule as the campaign page shows them. */
export function ruleCells(config: Partial<RetryConfig> | undefined, outcome: RetryOutcome) {
  const rule: OutcomeRetry = config?.outcomes?.[outcome] ?? {};
  const number = (v: number) => String(v);
  return {
    retry: cell(rule.retry, yesNo, yesNo(retriedByDefault(outcome))),
    maxRetries: cell(rule.maxRetries, number, config?.maxRetries === undefined ? "" : String(config.maxRetries)),
    delay: cell(rule.delayMs, durationMs, config?.callbackRetryDelayMs === undefined ? "" : durationMs(config.callbackRetryDelayMs)),
    // The fallback is a fixed delay (×1), not the carrier-error backoff multiplier.
    backoffMultiplier: cell(rule.backoffMultiplier, (v: number) => `×${v}`, "×1"),
  };
}
