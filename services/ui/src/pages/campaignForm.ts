// The new-campaign form's state and the request body it becomes.
import { type CapRow, capIsBlank } from "../components/FrequencyCapsEditor";
import type { PeriodRow } from "../components/RestrictedPeriodsEditor";
import { DAYS, localInputToRfc3339 } from "../format";
import { type OnMachine, RETRY_OUTCOMES, type RetryOutcome, type TimezoneMode, type Window } from "../types";

export type Day = (typeof DAYS)[number];

/** One outcome's row of the form; "" everywhere means the general retry fields apply. */
export interface OutcomeRow {
  retry: "" | "yes" | "no";
  maxRetries: string;
  /** In seconds here, sent as delayMs. */
  delaySeconds: string;
  backoffMultiplier: string;
}

export interface Form {
  name: string;
  description: string;
  concurrencyLimit: string;
  priority: string;
  callsPerSecond: string;
  maxRetries: string;
  syncInitialBackoffMs: string;
  syncBackoffMultiplier: string;
  callbackRetryDelayMs: string;
  callbackTimeoutMs: string;
  outcomes: Record<RetryOutcome, OutcomeRow>;
  /** 0 to 1; "" for not sent (no jitter). */
  jitterRatio: string;
  startTime: string;
  endTime: string;
  timezone: string;
  allowedDays: string[];
  crossesMidnight: boolean;
  timezoneMode: TimezoneMode;
  /** RECIPIENT mode: the zone assumed for numbers whose zone is unknown; "" for none. */
  defaultTimeZone: string;
  /** true: dailyHours replaces startTime/endTime/allowedDays. */
  perDay: boolean;
  dailyHours: Record<Day, Window[]>;
  /** Comma-separated codes of the `holidays` package ("US, US-CA"). */
  holidayCalendars: string;
  restrictedPeriods: PeriodRow[];
  /** datetime-local values, in the browser's zone; "" for none. */
  startAt: string;
  endAt: string;
  autoStart: boolean;
  /** contactPolicy.frequencyCaps; a row left blank is not sent. */
  frequencyCaps: CapRow[];
  /** answeringMachine.detect and .onMachine; sent only when either differs from the default. */
  machineDetect: boolean;
  onMachine: OnMachine;
  numbers: string;
}

/** The fields whose value is text, set from an input's value. */
export type TextKey = { [K in keyof Form]: Form[K] extends string ? K : never }[keyof Form];

export type NumberKey =
  | "concurrencyLimit"
  | "priority"
  | "callsPerSecond"
  | "maxRetries"
  | "syncInitialBackoffMs"
  | "syncBackoffMultiplier"
  | "callbackRetryDelayMs"
  | "callbackTimeoutMs";

function browserZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
}

function noDailyHours(): Record<Day, Window[]> {
  return Object.fromEntries(DAYS.map((day) => [day, []])) as unknown as Record<Day, Window[]>;
}

function noOutcomeRules(): Record<RetryOutcome, OutcomeRow> {
  return Object.fromEntries(
    RETRY_OUTCOMES.map((outcome) => [outcome, { retry: "", maxRetries: "", delaySeconds: "", backoffMultiplier: "" }]),
  ) as Record<RetryOutcome, OutcomeRow>;
}

export const DEFAULTS: Form = {
  name: "",
  description: "",
  concurrencyLimit: "10",
  priority: "5",
  callsPerSecond: "",
  maxRetries: "3",
  syncInitialBackoffMs: "1000",
  syncBackoffMultiplier: "2",
  callbackRetryDelayMs: "30000",
  callbackTimeoutMs: "120000",
  outcomes: noOutcomeRules(),
  jitterRatio: "",
  startTime: "09:00",
  endTime: "17:00",
  timezone: browserZone(),
  allowedDays: ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY"],
  crossesMidnight: false,
  timezoneMode: "CAMPAIGN",
  defaultTimeZone: "",
  perDay: false,
  dailyHours: noDailyHours(),
  holidayCalendars: "",
  restrictedPeriods: [],
  startAt: "",
  endAt: "",
  autoStart: false,
  frequencyCaps: [],
  machineDetect: false,
  onMachine: "COMPLETE",
  numbers: "",
};

/** The per-day editor's first state: the single window on each allowed day, to edit from. */
export function seedDailyHours(form: Form): Record<Day, Window[]> {
  const seeded = noDailyHours();
  for (const day of DAYS) {
    if (form.allowedDays.includes(day)) seeded[day] = [{ startTime: form.startTime, endTime: form.endTime }];
  }
  return seeded;
}

/** A number field as the API wants it: a number, or the text itself so the API explains. */
function num(value: string): number | string {
  const trimmed = value.trim();
  return trimmed !== "" && !Number.isNaN(Number(trimmed)) ? Number(trimmed) : trimmed;
}

/** Seconds typed as whole milliseconds, or the text itself so the API explains. */
function millis(secondsText: string): number | string {
  const value = num(secondsText);
  return typeof value === "number" ? Math.round(value * 1000) : value;
}

/** A row as the API's rule: only the fields filled in, so the others follow the general ones. */
function outcomeRule(row: OutcomeRow): Record<string, unknown> {
  return {
    ...(row.retry ? { retry: row.retry === "yes" } : {}),
    ...(row.maxRetries.trim() ? { maxRetries: num(row.maxRetries) } : {}),
    ...(row.delaySeconds.trim() ? { delayMs: millis(row.delaySeconds) } : {}),
    ...(row.backoffMultiplier.trim() ? { backoffMultiplier: num(row.backoffMultiplier) } : {}),
  };
}

/** `retryConfig.outcomes`: the outcomes with at least one field filled in. */
export function outcomeRules(form: Form): Record<string, Record<string, unknown>> {
  return Object.fromEntries(
    RETRY_OUTCOMES.map((outcome) => [outcome, outcomeRule(form.outcomes[outcome])] as const).filter(
      ([, rule]) => Object.keys(rule).length > 0,
    ),
  );
}

/** "US, us-ca,," -> ["US", "us-ca"]: the server says which code it does not know. */
export function calendarCodes(text: string): string[] {
  return text
    .split(/[,;\s]+/)
    .map((code) => code.trim())
    .filter(Boolean);
}

/** A datetime-local value as RFC 3339, or the text itself so the API explains. */
function instant(value: string): string {
  return localInputToRfc3339(value) ?? value;
}

function businessHours(form: Form): Record<string, unknown> {
  const window = form.perDay
    ? {
        // A day without windows is left out: the API reads a day it does not name as closed.
        dailyHours: Object.fromEntries(DAYS.filter((day) => form.dailyHours[day].length).map((day) => [day, form.dailyHours[day]])),
      }
    : {
        startTime: form.startTime,
        endTime: form.endTime,
        allowedDays: form.allowedDays,
        crossesMidnight: form.crossesMidnight,
      };
  return {
    ...window,
    timezone: form.timezone,
    timezoneMode: form.timezoneMode,
    ...(form.timezoneMode === "RECIPIENT" && form.defaultTimeZone ? { defaultTimeZone: form.defaultTimeZone } : {}),
  };
}

/** `contactPolicy.frequencyCaps`: the rows with anything typed, in the order shown (the API names a row by its index). */
export function frequencyCaps(form: Form): { maxAttempts: number | string; periodHours: number | string }[] {
  return form.frequencyCaps
    .filter((row) => !capIsBlank(row))
    .map((row) => ({ maxAttempts: num(row.maxAttempts), periodHours: num(row.periodHours) }));
}

export function campaignBody(form: Form): Record<string, unknown> {
  const calendars = calendarCodes(form.holidayCalendars);
  // A row left entirely blank is an unused "Add" click, not a period.
  const outcomes = outcomeRules(form);
  const caps = frequencyCaps(form);
  const periods = form.restrictedPeriods
    .filter((p) => p.name.trim() || p.startDate || p.endDate)
    .map((p) => ({ name: p.name.trim(), startDate: p.startDate || null, endDate: p.endDate || null }));
  return {
    name: form.name,
    description: form.description || null,
    concurrencyLimit: num(form.concurrencyLimit),
    priority: num(form.priority),
    ...(form.callsPerSecond.trim() ? { callsPerSecond: num(form.callsPerSecond) } : {}),
    retryConfig: {
      maxRetries: num(form.maxRetries),
      syncInitialBackoffMs: num(form.syncInitialBackoffMs),
      syncBackoffMultiplier: num(form.syncBackoffMultiplier),
      callbackRetryDelayMs: num(form.callbackRetryDelayMs),
      callbackTimeoutMs: num(form.callbackTimeoutMs),
      // Left out when empty: the seed's way (every outcome but REJECTED retried, no jitter).
      ...(Object.keys(outcomes).length ? { outcomes } : {}),
      ...(form.jitterRatio.trim() ? { jitterRatio: num(form.jitterRatio) } : {}),
    },
    businessHours: businessHours(form),
    ...(calendars.length ? { holidayCalendars: calendars } : {}),
    ...(periods.length ? { restrictedPeriods: periods } : {}),
    ...(form.startAt.trim() ? { startAt: instant(form.startAt) } : {}),
    ...(form.endAt.trim() ? { endAt: instant(form.endAt) } : {}),
    ...(form.autoStart ? { autoStart: true } : {}),
    ...(caps.length ? { contactPolicy: { frequencyCaps: caps } } : {}),
    // Left out at the defaults (no detection, COMPLETE), as a request from before it.
    ...(form.machineDetect || form.onMachine !== "COMPLETE"
      ? { answeringMachine: { detect: form.machineDetect, onMachine: form.onMachine } }
      : {}),
  };
}

/** Paths of the fields the form shows its errors beside; any other error is listed at the top. */
const SHOWN = [
  /^name$/,
  /^description$/,
  /^concurrencyLimit$/,
  /^priority$/,
  /^callsPerSecond$/,
  /^retryConfig\.(maxRetries|syncInitialBackoffMs|syncBackoffMultiplier|callbackRetryDelayMs|callbackTimeoutMs|jitterRatio)$/,
  /^retryConfig\.outcomes(\.(BUSY|NO_ANSWER|FAILED|REJECTED|MACHINE|NO_RESULT)(\.(retry|maxRetries|delayMs|backoffMultiplier))?)?$/,
  /^answeringMachine(\.(detect|onMachine))?$/,
  /^businessHours(\.(startTime|endTime|timezone|crossesMidnight|allowedDays|timezoneMode|defaultTimeZone))?$/,
  /^businessHours\.dailyHours([.[].*)?$/,
  /^holidayCalendars([.[].*)?$/,
  /^restrictedPeriods([.[].*)?$/,
  /^(startAt|endAt|autoStart)$/,
  /^contactPolicy(\.frequencyCaps(\[\d+\](\.(maxAttempts|periodHours))?)?)?$/,
];

export function shownBesideAField(field: string): boolean {
  return SHOWN.some((pattern) => pattern.test(field));
}
