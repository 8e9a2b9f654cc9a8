// What the API returns, as the console reads it (camelCase JSON).

export type CampaignStatus = "PENDING" | "IN_PROGRESS" | "PAUSED" | "COMPLETED" | "FAILED" | "CANCELLED";

export const CAMPAIGN_STATUSES: CampaignStatus[] = [
  "PENDING",
  "IN_PROGRESS",
  "PAUSED",
  "COMPLETED",
  "FAILED",
  "CANCELLED",
];

export const CALL_STATUSES = [
  "PENDING",
  "SCHEDULED",
  "IN_PROGRESS",
  "COMPLETED",
  "FAILED",
  "PERMANENTLY_FAILED",
  "CANCELLED",
] as const;

/** The attempt endings a campaign may give its own retry rule (docs/retries.md). */
export const RETRY_OUTCOMES = ["BUSY", "NO_ANSWER", "FAILED", "REJECTED", "MACHINE", "NO_RESULT"] as const;

export type RetryOutcome = (typeof RETRY_OUTCOMES)[number];

/** One outcome's rule as given; a null or missing field follows the general one. */
export interface OutcomeRetry {
  retry?: boolean | null;
  maxRetries?: number | null;
  delayMs?: number | null;
  backoffMultiplier?: number | null;
}

export interface RetryConfig {
  maxRetries: number;
  syncInitialBackoffMs: number;
  syncBackoffMultiplier: number;
  callbackRetryDelayMs: number;
  callbackTimeoutMs: number;
  /** Only the outcomes given; an outcome left out follows the general fields. */
  outcomes?: Partial<Record<RetryOutcome, OutcomeRetry>>;
  /** Each retry time falls within ±this share of its delay; 0 when not set. */
  jitterRatio?: number;
}

export type TimezoneMode = "CAMPAIGN" | "RECIPIENT";

/** One daily calling window, local "HH:MM"; an end before the start crosses midnight. */
export interface Window {
  startTime: string;
  endTime: string;
}

export interface BusinessHours {
  startTime: string;
  endTime: string;
  timezone: string;
  allowedDays: string[] | string;
  crossesMidnight?: boolean;
  timezoneMode?: TimezoneMode;
  defaultTimeZone?: string | null;
  /** Per weekday; replaces startTime/endTime/allowedDays when given (a day not named is closed). */
  dailyHours?: Record<string, Window[]> | null;
}

/** A blackout: whole local dates (inclusive) or local date-times. */
export interface RestrictedPeriod {
  name: string;
  startDate?: string | null;
  endDate?: string | null;
  start?: string | null;
  end?: string | null;
}

/** A recipient's zone: one IANA name, the candidates when the number could be in several, or unknown. */
export type Zones = string | string[] | null;

export interface CampaignMetrics {
  totalCalls: number;
  pendingCalls: number;
  inProgressCalls: number;
  completedCalls: number;
  failedCalls: number;
  permanentlyFailedCalls: number;
  /** Of the cancelled calls, those ended because the number is on a do-not-call list. */
  suppressedCalls?: number;
  totalRetries: number;
}

/** At most maxAttempts dials of one number within periodHours, across every campaign. */
export interface FrequencyCap {
  maxAttempts: number;
  periodHours: number;
}

/** What a machine's answer does to the call (docs/answering-machines.md). */
export const ON_MACHINE = ["COMPLETE", "RETRY", "HANG_UP"] as const;

export type OnMachine = (typeof ON_MACHINE)[number];

/** A campaign's answeringMachine: ask the carrier to detect machines, and what follows. */
export interface AnsweringMachine {
  detect: boolean;
  onMachine: OnMachine;
}

export interface ContactPolicy {
  frequencyCaps: FrequencyCap[];
}

export interface Campaign {
  id: string;
  name: string;
  description: string | null;
  status: CampaignStatus;
  concurrencyLimit: number;
  priority: number;
  retryConfig: RetryConfig;
  businessHours: BusinessHours;
  callsPerSecond: number | null;
  holidayCalendars?: string[];
  restrictedPeriods?: RestrictedPeriod[];
  startAt?: string | null;
  endAt?: string | null;
  autoStart?: boolean;
  contactPolicy?: ContactPolicy | null;
  /** Missing from an older server: no detection. */
  answeringMachine?: AnsweringMachine | null;
  /** Running: when the calling rules next allow a number; null when not running. */
  nextDialAt?: string | null;
  metrics: CampaignMetrics;
  createdAt: string;
  updatedAt: string;
}

export interface Attempt {
  attemptNumber: number;
  startedAt: string;
  endedAt: string | null;
  externalCallId: string | null;
  providerStatus: string | null;
  outcome: string | null;
  reason: string | null;
  durationSeconds: number | null;
  answeredBy?: string | null;
}

export interface Call {
  id: string;
  campaignId: string | null;
  phoneNumber: string;
  status: string;
  retryCount: number;
  lastAttemptedAt: string | null;
  nextRetryAt: string | null;
  externalCallId: string | null;
  failureReason: string | null;
  callDurationSeconds: number | null;
  /** Who answered the latest attempt: human, machine, fax or unknown; null when not said. */
  answeredBy?: string | null;
  createdAt: string;
  updatedAt: string;
  attributes?: Record<string, string> | null;
  timezone?: Zones;
  timezoneSource?: string;
  attempts: Attempt[];
}

/** GET /api/v1/calls/{id}/eligibility: may the claim dial this number now, and if not why. */
export interface EligibilityReason {
  code: string;
  detail: string;
  /** FREQUENCY_CAP: the cap that holds the number and the starts of the attempts it counts. */
  details?: { maxAttempts?: number; periodHours?: number; countedAttempts?: string[] } | null;
}

export interface Eligibility {
  eligible: boolean;
  reasons: EligibilityReason[];
  nextEligibleAt: string | null;
  timezone: Zones;
  /** Now in each zone, RFC 3339 to the minute with its offset. */
  localTime: string | string[] | null;
}

/** GET /api/v1/campaigns/{id}/inventory: the campaign's numbers by what holds them. */
export interface Inventory {
  dialableNow: number;
  waiting: Record<string, number>;
  final: Record<string, number>;
  nextOpeningAt: string | null;
}

/** GET /api/v1/campaigns/{id}/forecast; read defensively: any field may be missing. */
export interface Forecast {
  expectedFinishAt?: string | null;
  remainingNumbers?: number | null;
  expectedAttempts?: number | null;
  assumptions?: {
    lines?: number | null;
    callsPerSecond?: number | null;
    meanAttemptSeconds?: number | null;
    meanAttemptSecondsSource?: string | null;
    retryRate?: number | null;
    retryRateSource?: string | null;
    attemptsObserved?: number | null;
  } | null;
  zones?: {
    timezone?: Zones;
    remainingNumbers?: number | null;
    nextOpeningAt?: string | null;
    openHoursNext7Days?: number | null;
    expectedFinishAt?: string | null;
  }[] | null;
  caveats?: string[] | null;
}

export interface Minute {
  minute: string;
  dials: number;
  completed: number;
  failed: number;
}

export interface CampaignStats {
  campaignId: string;
  status: CampaignStatus;
  progressPercent: number;
  inProgressNow: number;
  concurrencyLimit: number;
  allowedLines: number;
  answerRate: number | null;
  averageTalkSeconds: number | null;
  dials: number;
  totalRetries: number;
  retriesScheduled: number;
  dialsPerMinute: Minute[];
  finishingPerMinute: number;
  estimatedFinishAt: string | null;
  insideBusinessHours: boolean;
  nextWindowOpensAt: string | null;
  calls: {
    total: number;
    pending: number;
    scheduled: number;
    inProgress: number;
    completed: number;
    failed: number;
    permanentlyFailed: number;
    cancelled: number;
  };
}

export interface GlobalMetrics {
  lineCapacity: number;
  linesInUse: number;
  lineUtilizationPercent: number;
  callsPerSecond: number;
  schedulingStrategy: string;
  maxCallsPerSecond: number | null;
  activeCampaigns: number;
  queueDepth: number;
  circuitBreaker: "closed" | "half-open" | "open" | "unknown";
  workers: {
    workerId: string;
    callsInFlight: number;
    leasesHeld: number;
    breakerState: string;
    lastSeenAt: string;
  }[];
  queues: { campaignId: string; queue: string; depth: number | null }[];
}

export interface ImportResult {
  totalReceived: number;
  totalImported: number;
  duplicatesSkipped: number;
  invalidSkipped: number;
  /** Imported and ended at once: on a do-not-call list. */
  suppressed?: number;
  status: string;
  invalidLines: { line: number; value: string; reason: string }[];
  invalidLinesTruncated: boolean;
}

export interface InvalidLine {
  line: number;
  value: string;
  reason: string;
}

/** One do-not-call entry: global (campaignId null) or a campaign's. */
export interface Suppression {
  phoneNumber: string;
  campaignId: string | null;
  /** OPT_OUT when the recipient asked during a call; else the text given, or null. */
  reason: string | null;
  sourceCallId: string | null;
  expiresAt: string | null;
  createdAt: string;
}

/** The answer to adding numbers to a do-not-call list (JSON or a file). */
export interface SuppressionReport {
  totalReceived: number;
  added: number;
  alreadyPresent: number;
  invalidSkipped: number;
  invalidLines: InvalidLine[];
}

/** Why the service disabled a webhook: GONE (410 answered), FAILING (nothing delivered for a whole retry period). */
export type WebhookDisabledReason = "GONE" | "FAILING";

/** A webhook as listed and read: never its secret. */
export interface Webhook {
  id: string;
  url: string;
  /** Event types, or ["*"] for every one. */
  events: string[];
  description: string | null;
  enabled: boolean;
  /** null when enabled, or when someone disabled it through the API. */
  disabledReason: WebhookDisabledReason | null;
  disabledAt: string | null;
  /** After a rotation, until when the previous secret still signs. */
  previousSecretUntil: string | null;
  createdAt: string;
  updatedAt: string;
}

/** The answer to creating a webhook: the only time its secret is shown. */
export interface WebhookWithSecret extends Webhook {
  secret: string;
}

/** The answer to a change: the new secret after `rotateSecret: true`, else null. */
export interface WebhookUpdated extends Webhook {
  secret: string | null;
}

export interface WebhookTest {
  eventId: string;
  deliveryId: string;
}

export type DeliveryStatus = "PENDING" | "DELIVERED" | "FAILED";

export interface DeliveryAttempt {
  attemptNumber: number;
  attemptedAt: string;
  /** null when no answer came (connection error, timeout). */
  statusCode: number | null;
  latencyMs: number;
  error: string | null;
  nextRetryAt: string | null;
}

/** One event's delivery to one webhook, with its attempts. */
export interface Delivery {
  id: string;
  /** The event's id, sent as webhook-id. */
  eventId: string;
  eventType: string;
  status: DeliveryStatus;
  attemptCount: number;
  nextAttemptAt: string | null;
  createdAt: string;
  finishedAt: string | null;
  attempts: DeliveryAttempt[];
}
