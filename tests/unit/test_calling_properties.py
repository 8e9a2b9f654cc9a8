"""Property tests of the calling-window logic against an independent, minute-by-minute reading.

The reference below reads each rule straight from its raw numbers with zoneinfo, knowing
nothing of plans or breakpoints; the domain must agree with it at every instant, and its
`next_eligible_at` must be the first minute the reference finds open.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import holidays
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.domain.calling import (
    CallingPolicy,
    CallState,
    CampaignCallingRules,
    PolicyRule,
    Recipient,
    RestrictedPeriod,
    TimezoneMode,
    WeeklyHours,
    eligibility,
    group_window,
)
from shared.domain.statuses import CampaignStatus

ZONES = [
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Phoenix",
    "America/Los_Angeles",
    "Pacific/Honolulu",
    "Asia/Kathmandu",
    "Australia/Lord_Howe",
    "Europe/London",
    "UTC",
]
#: Instants near the interesting dates: US DST both ways, Lord Howe's half-hour DST both ways,
#: month and year ends.
ANCHORS = [
    datetime(2026, 3, 8, 7, 0, tzinfo=UTC),
    datetime(2026, 11, 1, 6, 0, tzinfo=UTC),
    datetime(2026, 4, 4, 15, 0, tzinfo=UTC),
    datetime(2026, 10, 3, 15, 30, tzinfo=UTC),
    datetime(2026, 12, 31, 12, 0, tzinfo=UTC),
    datetime(2027, 1, 31, 12, 0, tzinfo=UTC),
]
#: How far the brute-force scan looks ahead, in minutes.
SCAN = 3 * 24 * 60
FAST = settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None
)


@dataclass(frozen=True)
class Case:
    zones: tuple[str, ...]
    mode: TimezoneMode
    campaign_zone: str
    start: int
    end: int
    days: frozenset[int]
    #: A second window on the same days (several windows a day).
    second: tuple[int, int] | None
    holidays: bool
    policy: tuple[int, int] | None
    period: tuple[date, date] | None
    #: The campaign's startAt and endAt, as minutes from `now`.
    schedule: tuple[int | None, int | None]
    now: datetime

    def rules(self) -> CampaignCallingRules:
        periods = (RestrictedPeriod("p", *self.period),) if self.period else ()
        windows = [(self.start, self.end), *([self.second] if self.second else [])]
        return CampaignCallingRules(
            timezone=self.campaign_zone,
            hours=WeeklyHours.per_day({day: windows for day in self.days}),
            mode=self.mode,
            restricted_periods=periods,
            holiday_calendars=("US",) if self.holidays else (),
            start_at=self.instant(self.schedule[0]),
            end_at=self.instant(self.schedule[1]),
        )

    def instant(self, minutes: int | None) -> datetime | None:
        return None if minutes is None else self.now + timedelta(minutes=minutes)

    def calling_policy(self) -> CallingPolicy | None:
        if self.policy is None:
            return None
        hours = WeeklyHours.single(*self.policy)
        return CallingPolicy(rules=(PolicyRule("p", frozenset({"US"}), frozenset(), hours),))

    def recipient(self) -> Recipient:
        return Recipient(self.zones, (), "US")


def in_window(start: int, end: int, minute: int) -> bool:
    if start < end:
        return start <= minute < end
    return minute >= start or minute < end


def reference_open(case: Case, at: datetime, *, with_policy: bool = True) -> bool:
    start_at, end_at = (case.instant(m) for m in case.schedule)
    if (start_at and at < start_at) or (end_at and at >= end_at):
        return False
    campaign_zones = case.zones if case.mode is TimezoneMode.RECIPIENT else (case.campaign_zone,)
    for zone in campaign_zones:
        local = at.astimezone(ZoneInfo(zone))
        minute = local.hour * 60 + local.minute
        windows = [(case.start, case.end), *([case.second] if case.second else [])]
        if local.isoweekday() not in case.days or not any(
            in_window(start, end, minute) for start, end in windows
        ):
            return False
        if case.holidays and local.date() in US_HOLIDAYS:
            return False
        if case.period and case.period[0] <= local.date() <= case.period[1]:
            return False
    if with_policy and case.policy:
        for zone in case.zones:
            local = at.astimezone(ZoneInfo(zone))
            if not in_window(*case.policy, local.hour * 60 + local.minute):
                return False
    return True


US_HOLIDAYS = holidays.country_holidays("US", years=range(2025, 2029))
minutes = st.integers(0, 95).map(lambda quarter: quarter * 15)


@st.composite
def cases(draw: st.DrawFn) -> Case:
    start = draw(minutes)
    end = draw(minutes.filter(lambda m: m != start) | st.just(1440))
    policy = draw(st.none() | st.tuples(st.integers(5, 10), st.integers(17, 23)))
    period = None
    if draw(st.booleans()):
        first = date(2026, 12, 29) + timedelta(days=draw(st.integers(0, 4)))
        period = (first, first + timedelta(days=draw(st.integers(0, 2))))
    anchor = draw(st.sampled_from(ANCHORS))
    start_at = draw(st.none() | st.integers(-600, 2 * 24 * 60))
    end_at = draw(st.none() | st.integers(60, 3 * 24 * 60))
    if start_at is not None and end_at is not None and end_at <= start_at:
        end_at = None
    return Case(
        zones=tuple(draw(st.lists(st.sampled_from(ZONES), min_size=1, max_size=3, unique=True))),
        mode=draw(st.sampled_from(TimezoneMode)),
        campaign_zone=draw(st.sampled_from(ZONES)),
        start=start,
        end=end,
        days=frozenset(draw(st.sets(st.integers(1, 7), min_size=1))),
        second=draw(st.none() | st.tuples(minutes, minutes).filter(lambda w: w[0] != w[1])),
        holidays=draw(st.booleans()),
        policy=(policy[0] * 60, policy[1] * 60) if policy else None,
        period=period,
        schedule=(start_at, end_at),
        now=anchor + timedelta(minutes=draw(st.integers(-36 * 60, 36 * 60))),
    )


def run(case: Case, at: datetime, *, policy: bool = True) -> tuple[bool, datetime | None]:
    result = eligibility(
        case.rules(),
        case.calling_policy() if policy else None,
        case.recipient(),
        CallState(),
        campaign_status=CampaignStatus.IN_PROGRESS,
        lines_busy=False,
        now=at,
    )
    return result.eligible, result.next_eligible_at


@FAST
@given(cases())
def test_eligible_exactly_when_every_zone_is_inside_every_window(case: Case) -> None:
    for step in range(0, 24 * 60, 97):
        at = case.now + timedelta(minutes=step)
        assert run(case, at)[0] == reference_open(case, at), at


@FAST
@given(cases())
def test_next_eligible_at_is_the_first_open_minute_of_a_brute_force_scan(case: Case) -> None:
    eligible, next_at = run(case, case.now)
    first = next(
        (
            case.now + timedelta(minutes=m)
            for m in range(SCAN)
            if reference_open(case, case.now + timedelta(minutes=m))
        ),
        None,
    )
    if first is None:
        assert next_at is None or next_at >= case.now + timedelta(minutes=SCAN)
    else:
        assert next_at == first
        assert run(case, next_at)[0]
    assert eligible == (next_at == case.now)


@FAST
@given(cases())
def test_the_policy_only_ever_narrows(case: Case) -> None:
    for step in range(0, 24 * 60, 113):
        at = case.now + timedelta(minutes=step)
        if run(case, at)[0]:
            assert run(case, at, policy=False)[0]


@FAST
@given(cases())
def test_group_window_agrees_with_the_reference_until_its_next_change(case: Case) -> None:
    window = group_window(case.rules(), case.calling_policy(), case.recipient(), case.now)
    assert window.open == reference_open(case, case.now)
    change = window.until if window.open else window.next_opening
    end = min(change, case.now + timedelta(days=2)) if change else case.now + timedelta(days=2)
    # Sampled: nothing changes before the announced instant, and it changes there.
    moment = case.now
    while moment < end:
        assert reference_open(case, moment) == window.open, moment
        moment += timedelta(minutes=41)
    if change and change < case.now + timedelta(days=2):
        assert reference_open(case, change) != window.open
