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

export interface RetryConfig {
  maxRetries: number;
  syncInitialBackoffMs: number;
  syncBackoffMultiplier: number;
  callbackRetryDelayMs: number;
  callbackTimeoutMs: number;
}

export interface BusinessHours {
  startTime: string;
  endTime: string;
  timezone: string;
  allowedDays: string[] | string;
}

export interface CampaignMetrics {
  totalCalls: number;
  pendingCalls: number;
  inProgressCalls: number;
  completedCalls: number;
  failedCalls: number;
  permanentlyFailedCalls: number;
  totalRetries: number;
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
  createdAt: string;
  updatedAt: string;
  attempts: Attempt[];
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
  status: string;
  invalidLines: { line: number; value: string; reason: string }[];
  invalidLinesTruncated: boolean;
}
