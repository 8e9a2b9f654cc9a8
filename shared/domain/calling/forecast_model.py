"""What the forecast reads (a campaign's facts, its numbers per zone group, its recent
attempts) and what it answers, in the API's shape."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from shared.domain.calling.rules import CampaignCallingRules, Recipient
from shared.domain.statuses import AttemptOutcome, CallStatus, CampaignStatus

LIVE = frozenset({CallStatus.SCHEDULED, CallStatus.IN_PROGRESS})


class Source(StrEnum):
    OBSERVED = "OBSERVED"
    DEFAULT = "DEFAULT"


@dataclass(frozen=True)
class AttemptTally:
    """Ended attempts of one outcome among the recent ones (outcome None: timed out)."""

    outcome: AttemptOutcome | None
    count: int
    #: Summed from each attempt's start until its line was given back.
    total_seconds: float


@dataclass(frozen=True)
class GroupBacklog:
    """The numbers of one zone group that are not final yet."""

    recipient: Recipient
    #: (status, dials made so far) -> calls
    calls: Mapping[tuple[CallStatus, int], int]
    #: Of those, numbers whose own notBefore is ahead, and numbers with an expiresAt.
    not_yet_valid: int = 0
    expiring: int = 0
    #: The latest due time of a retry not due yet.
    latest_retry_at: datetime | None = None

    @property
    def remaining(self) -> int:
        return sum(self.calls.values())

    @property
    def live(self) -> int:
        return sum(n for (status, _), n in self.calls.items() if status in LIVE)


@dataclass(frozen=True)
class CampaignFacts:
    """What the forecast needs of the campaign and the operator's settings."""

    status: CampaignStatus
    rules: CampaignCallingRules
    max_retries: int
    retry_delay: timedelta
    concurrency_limit: int
    #: The share the dispatcher gives it now (0 outside its hours or when not running).
    allowed_lines: int
    #: The carrier's lines across all campaigns (VCS_MAX_CONCURRENT_CALLS).
    max_concurrent_calls: int
    calls_per_second: float | None = None
    #: VCS_MAX_CALLS_PER_SECOND, across all campaigns.
    max_calls_per_second: float | None = None
    auto_start: bool = False
    finished_at: datetime | None = None


@dataclass(frozen=True)
class Assumptions:
    lines: int
    lines_source: str
    calls_per_second: float | None
    attempts_per_second: float
    mean_attempt_seconds: float
    mean_attempt_seconds_source: Source
    retry_rate: float
    retry_rate_source: Source
    attempts_observed: int
    max_retries: int
    retry_delay_seconds: float
    horizon_days: int

    def as_json(self) -> dict[str, Any]:
        return {
            "lines": self.lines,
            "linesSource": self.lines_source,
            "callsPerSecond": self.calls_per_second,
            "attemptsPerSecond": round(self.attempts_per_second, 4),
            "meanAttemptSeconds": round(self.mean_attempt_seconds, 2),
            "meanAttemptSecondsSource": self.mean_attempt_seconds_source.value,
            "retryRate": round(self.retry_rate, 4),
            "retryRateSource": self.retry_rate_source.value,
            "attemptsObserved": self.attempts_observed,
            "maxRetries": self.max_retries,
            "retryDelaySeconds": self.retry_delay_seconds,
            "horizonDays": self.horizon_days,
        }


@dataclass(frozen=True)
class ZoneForecast:
    timezone: str | tuple[str, ...] | None
    regions: tuple[str, ...]
    country: str | None
    remaining_numbers: int
    expected_attempts: float
    open_now: bool
    next_opening_at: datetime | None
    open_hours_next_7_days: float
    expected_finish_at: datetime | None

    def as_json(self) -> dict[str, Any]:
        zone = self.timezone
        return {
            "timezone": list(zone) if isinstance(zone, tuple) else zone,
            "regions": list(self.regions),
            "country": self.country,
            "remainingNumbers": self.remaining_numbers,
            "expectedAttempts": round(self.expected_attempts, 1),
            "openNow": self.open_now,
            "nextOpeningAt": instant(self.next_opening_at),
            "openHoursNext7Days": round(self.open_hours_next_7_days, 2),
            "expectedFinishAt": instant(self.expected_finish_at),
        }


@dataclass(frozen=True)
class Forecast:
    status: CampaignStatus
    generated_at: datetime
    expected_finish_at: datetime | None
    #: Were a paused (or not started) campaign to run from now: when it would finish.
    expected_finish_if_running_now_at: datetime | None
    remaining_numbers: int
    expected_attempts: float
    assumptions: Assumptions
    zones: list[ZoneForecast] = field(default_factory=list)
    caveats: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        """The API's shape: camelCase, RFC 3339 instants."""
        return {
            "status": self.status.value,
            "generatedAt": instant(self.generated_at),
            "expectedFinishAt": instant(self.expected_finish_at),
            "expectedFinishIfRunningNowAt": instant(self.expected_finish_if_running_now_at),
            "remainingNumbers": self.remaining_numbers,
            "expectedAttempts": round(self.expected_attempts, 1),
            "assumptions": self.assumptions.as_json(),
            "zones": [zone.as_json() for zone in self.zones],
            "caveats": self.caveats,
        }


def instant(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat().replace("+00:00", "Z")
