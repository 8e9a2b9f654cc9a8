"""`python -m bench.calling_rules`: the cost of the calling-window domain per call.

group_window is what the dispatcher evaluates per group of recipients sharing zones on every
pass; eligibility is what the api's "why not now" endpoint evaluates per call. Each figure is
the median over repeats of a batch's mean, measured with time.perf_counter.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from shared.domain.calling import (
    CallState,
    CampaignCallingRules,
    Recipient,
    TimezoneMode,
    WeeklyHours,
    eligibility,
    group_window,
    load_calling_policy,
)
from shared.domain.calling.checks import _WINDOWS, clear_caches
from shared.domain.statuses import CampaignStatus

POLICY = load_calling_policy(Path(__file__).parents[1] / "deploy" / "calling-policy.json")
RULES = CampaignCallingRules(
    timezone="America/Chicago",
    hours=WeeklyHours.single(9 * 60, 18 * 60, range(1, 6)),
    mode=TimezoneMode.RECIPIENT,
    holiday_calendars=("US",),
)
#: 09:00-10:00 in both Honolulu and Kathmandu never coincide: the search runs its full horizon.
NARROW = CampaignCallingRules(hours=WeeklyHours.single(540, 600), mode=TimezoneMode.RECIPIENT)
NY = Recipient(("America/New_York",), ("US-NY",), "US")
TWO_ZONES = Recipient(("America/Chicago", "America/Denver"), ("US-NE",), "US")
NEVER = Recipient(("Pacific/Honolulu", "Asia/Kathmandu"), (), "US")
TWENTY = [
    Recipient((zone,), (), "US")
    for zone in [
        "America/New_York",
        "America/Chicago",
        "America/Denver",
        "America/Phoenix",
        "America/Los_Angeles",
        "America/Anchorage",
        "Pacific/Honolulu",
        "America/Detroit",
        "America/Indiana/Indianapolis",
        "America/Boise",
        "America/Puerto_Rico",
        "America/Halifax",
        "America/Toronto",
        "America/Vancouver",
        "America/Winnipeg",
        "America/Edmonton",
        "America/Regina",
        "America/St_Johns",
        "Europe/London",
        "UTC",
    ]
]
NOON_NY = datetime(2026, 12, 2, 17, 0, tzinfo=UTC)
NIGHT_NY = datetime(2026, 12, 3, 4, 0, tzinfo=UTC)
CHRISTMAS = datetime(2026, 12, 25, 17, 0, tzinfo=UTC)


def per_call(action: Callable[[int], object], *, batch: int, repeats: int = 7) -> float:
    """Median over `repeats` of the mean seconds per call of `batch` calls of action(i)."""
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        for i in range(batch):
            action(i)
        samples.append((time.perf_counter() - started) / batch)
    return statistics.median(samples)


def _eligibility(
    recipient: Recipient, now: datetime, rules: CampaignCallingRules = RULES
) -> Callable[[int], object]:
    def run(i: int) -> object:
        return eligibility(
            rules,
            POLICY,
            recipient,
            CallState(),
            campaign_status=CampaignStatus.IN_PROGRESS,
            lines_busy=False,
            now=now + timedelta(seconds=i),
        )

    return run


def _cold_window(i: int) -> object:
    _WINDOWS.clear()
    return group_window(RULES, POLICY, NY, NIGHT_NY + timedelta(seconds=i))


def _cold_plan(i: int) -> object:
    clear_caches()
    return group_window(RULES, POLICY, NY, NIGHT_NY + timedelta(seconds=i))


def _never_cold(i: int) -> object:
    clear_caches()
    return _eligibility(NEVER, NOON_NY, NARROW)(i)


def _pass_over_twenty(i: int) -> object:
    now = NOON_NY + timedelta(seconds=i)
    return [group_window(RULES, POLICY, recipient, now) for recipient in TWENTY]


CASES: list[tuple[str, Callable[[int], object], int]] = [
    (
        "group_window, open, cached",
        lambda i: group_window(RULES, POLICY, NY, NOON_NY + timedelta(seconds=i)),
        5000,
    ),
    (
        "group_window, closed, cached",
        lambda i: group_window(RULES, POLICY, NY, NIGHT_NY + timedelta(seconds=i)),
        2000,
    ),
    ("group_window, window recomputed", _cold_window, 300),
    ("group_window, plan rebuilt", _cold_plan, 100),
    ("group_window x 20 zones (one pass)", _pass_over_twenty, 500),
    ("eligibility, open", _eligibility(NY, NOON_NY), 2000),
    ("eligibility, closed overnight", _eligibility(NY, NIGHT_NY), 300),
    ("eligibility, two zones, overnight", _eligibility(TWO_ZONES, NIGHT_NY), 300),
    ("eligibility, holiday", _eligibility(NY, CHRISTMAS), 300),
    ("eligibility, never (400-day scan)", _eligibility(NEVER, NOON_NY, NARROW), 20),
    ("eligibility, never, cold caches", _never_cold, 3),
]


def main() -> None:
    print("| case | per call |")
    print("| --- | ---: |")
    for name, action, batch in CASES:
        action(0)  # warm the caches a real process would have warm
        seconds = per_call(action, batch=batch)
        print(f"| {name} | {seconds * 1e6:,.1f} µs |")


if __name__ == "__main__":
    main()
