"""When a webhook delivery that failed is tried next: exponential backoff with jitter, within
the retry period. Pure, so that the schedule is tested without a clock or a network."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

#: A delay is drawn within ±this share of its nominal value, so that the deliveries that
#: failed together (an endpoint's outage) do not all come back at one instant.
JITTER = 0.25


@dataclass(frozen=True)
class RetrySchedule:
    base: timedelta
    maximum: timedelta
    period: timedelta

    def delay(self, attempt_no: int, draw: float) -> timedelta:
        """The wait after failed attempt `attempt_no` (1-based); `draw` in [-1, 1]."""
        nominal: timedelta = min(self.base * 2 ** (attempt_no - 1), self.maximum)
        return nominal * (1 + JITTER * draw)

    def next_try(
        self, attempt_no: int, failed_at: datetime, since: datetime, draw: float
    ) -> datetime | None:
        """When to try again after attempt `attempt_no` failed at `failed_at`, or None when
        that would fall past the period that started at `since` (the delivery is given up)."""
        at = failed_at + self.delay(attempt_no, draw)
        return at if at < since + self.period else None


def delivered(status_code: int) -> bool:
    """A 2xx is a delivery; a redirect is not followed, so it is a failure like any other."""
    return 200 <= status_code < 300


#: The endpoint says it is gone for good: disable it at once.
GONE = 410
