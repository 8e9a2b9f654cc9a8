"""The campaign forecast's pure logic: expected attempts, the observations, the open stretches
it steps through, the fluid drain over them, and the answer with its assumptions and caveats."""

from __future__ import annotations

import math
import random
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.domain.calling import CampaignCallingRules, Recipient, TimezoneMode, WeeklyHours
from shared.domain.calling.forecast import (
    DEFAULT_ATTEMPT_SECONDS,
    DEFAULT_RETRY_RATE,
    FORECAST_HORIZON,
    expected_attempts,
    forecast,
    observe,
)
from shared.domain.calling.forecast_model import (
    AttemptTally,
    CampaignFacts,
    GroupBacklog,
    Source,
)
from shared.domain.calling.plan import build_plan
from shared.domain.calling.progress import drain
from shared.domain.calling.search import next_close, next_open, open_intervals
from shared.domain.statuses import AttemptOutcome, CallStatus, CampaignStatus
from tests.unit.test_calling_properties import Case, cases, reference_open

FAST = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None
)
NOW = datetime(2026, 12, 2, 5, 0, tzinfo=UTC)  # a Wednesday; 23:00 on Tuesday in Chicago
HOUR = timedelta(hours=1)


# Expected attempts


def test_a_new_number_takes_one_dial_and_its_expected_retries() -> None:
    assert expected_attempts(CallStatus.PENDING, 0, 2, 0.5) == pytest.approx(1.75)
    assert expected_attempts(CallStatus.PENDING, 0, 0, 0.9) == 1.0
    assert expected_attempts(CallStatus.PENDING, 0, 3, 0.0) == 1.0


def test_a_waiting_retry_has_its_next_dial_ahead_and_a_live_call_only_its_retries() -> None:
    assert expected_attempts(CallStatus.FAILED, 2, 2, 0.5) == 1.0
    assert expected_attempts(CallStatus.FAILED, 1, 2, 0.5) == pytest.approx(1.5)
    assert expected_attempts(CallStatus.IN_PROGRESS, 1, 2, 0.5) == pytest.approx(0.75)
    assert expected_attempts(CallStatus.SCHEDULED, 3, 2, 0.5) == 0.0
    assert expected_attempts(CallStatus.COMPLETED, 0, 2, 0.5) == 0.0


@FAST
@given(st.integers(0, 6), st.floats(0, 1), st.integers(0, 6))
def test_expected_attempts_follow_the_retry_recursion(
    max_retries: int, rate: float, dials: int
) -> None:
    """E(left) = 1 + rate * E(left - 1): a dial, then with probability `rate` what is left."""
    left = max(max_retries + 1 - dials, 1)
    pending = expected_attempts(CallStatus.FAILED, max_retries + 1 - left, max_retries, rate)
    shorter = expected_attempts(CallStatus.FAILED, max_retries + 2 - left, max_retries, rate)
    assert pending == pytest.approx(1 + rate * shorter if left > 1 else 1.0)
    assert 1.0 <= pending <= left
    live = expected_attempts(CallStatus.IN_PROGRESS, dials, max_retries, rate)
    assert live == pytest.approx(
        rate * expected_attempts(CallStatus.FAILED, dials, max_retries, rate)
        if dials <= max_retries
        else 0.0
    )


def test_expected_attempts_agree_with_a_simulation() -> None:
    chance = random.Random(7)
    rate, max_retries, runs = 0.4, 3, 20_000
    total = 0
    for _ in range(runs):
        dials = 1
        while dials <= max_retries and chance.random() < rate:
            dials += 1
        total += dials
    assert total / runs == pytest.approx(
        expected_attempts(CallStatus.PENDING, 0, max_retries, rate), rel=0.02
    )


# Observations


def test_not_placed_and_cancelled_attempts_are_left_out_and_timeouts_are_retried() -> None:
    tallies = [
        AttemptTally(AttemptOutcome.COMPLETED, 6, 6 * 40.0),
        AttemptTally(AttemptOutcome.NO_ANSWER, 2, 2 * 30.0),
        AttemptTally(None, 2, 2 * 120.0),
        AttemptTally(AttemptOutcome.NOT_PLACED, 50, 0.5),
        AttemptTally(AttemptOutcome.CANCELLED, 5, 5.0),
        AttemptTally(AttemptOutcome.REJECTED, 0, 0.0),
    ]
    attempts, seconds, rate = observe(tallies)
    assert attempts == 10
    assert seconds == pytest.approx((240 + 60 + 240) / 10)
    assert rate == pytest.approx(0.4)
    assert observe([]) == (0, None, None)


# Open stretches


@FAST
@given(cases())
def test_open_intervals_are_the_chain_of_next_open_and_next_close(case: Case) -> None:
    plan = build_plan(case.rules(), case.calling_policy(), case.recipient())
    limit = case.now + timedelta(days=3)
    chain = []
    moment: datetime | None = case.now
    while moment is not None and moment < limit:
        opened = next_open(plan, moment, limit)
        if opened is None:
            break
        closed = next_close(plan, opened, limit) or limit
        chain.append((opened, closed))
        moment = closed
    assert list(open_intervals(plan, case.now, limit)) == chain


@FAST
@given(cases())
def test_open_intervals_agree_with_the_minute_by_minute_reference(case: Case) -> None:
    plan = build_plan(case.rules(), case.calling_policy(), case.recipient())
    start = case.now.replace(second=0, microsecond=0)
    limit = start + timedelta(days=2)
    stretches = list(open_intervals(plan, start, limit))
    for minute in range(0, 2 * 24 * 60, 7):
        at = start + timedelta(minutes=minute)
        inside = any(low <= at < high for low, high in stretches)
        assert inside == reference_open(case, at), at


@FAST
@given(cases(), st.floats(0.01, 1.0))
def test_one_group_finishes_when_a_minute_by_minute_scan_runs_out_of_work(
    case: Case, fraction: float
) -> None:
    """At one attempt a minute, work of n attempts ends with the n-th open minute that the
    independent reference finds: windows, DST, holidays, periods, schedule and policy."""
    start = case.now.replace(second=0, microsecond=0)
    days = 2
    open_minutes = [
        m for m in range(days * 1440) if reference_open(case, start + timedelta(minutes=m))
    ]
    plan = build_plan(case.rules(), case.calling_policy(), case.recipient())
    work = max(1, round(len(open_minutes) * fraction))
    [result] = drain(
        [(float(work), open_intervals(plan, start, start + timedelta(days=days)))], 1 / 60, start
    )
    if work > len(open_minutes):
        assert result.done_at is None
        return
    expected = start + timedelta(minutes=open_minutes[work - 1] + 1)
    assert result.done_at is not None
    assert abs(result.done_at - expected) < timedelta(seconds=1)


# The drain


def stretch(start_hours: float, end_hours: float) -> tuple[datetime, datetime]:
    return (NOW + start_hours * HOUR, NOW + end_hours * HOUR)


def test_an_open_lane_drains_at_the_rate() -> None:
    [result] = drain([(3600.0, [stretch(0, 100)])], 1.0, NOW)
    assert result.done_at == NOW + HOUR and result.work_left == 0


def test_a_closed_lane_waits_for_its_opening_and_carries_work_across_closings() -> None:
    # 1.5 h of work, open 2-3 h and 5-6 h from now: done half-way through the second stretch.
    [result] = drain([(5400.0, [stretch(2, 3), stretch(5, 6)])], 1.0, NOW)
    assert result.done_at == NOW + 5.5 * HOUR


def test_lanes_open_together_share_by_their_work_and_finish_together() -> None:
    results = drain([(1000.0, [stretch(0, 10)]), (3000.0, [stretch(0, 10)])], 2.0, NOW)
    assert [r.done_at for r in results] == [NOW + timedelta(seconds=2000)] * 2


def test_a_lane_alone_gets_the_whole_rate() -> None:
    # Lane b opens after 1000 s: until then a spends the whole rate.
    a, b = drain(
        [(1500.0, [stretch(0, 10)]), (1000.0, [(NOW + timedelta(seconds=1000), NOW + 10 * HOUR)])],
        1.0,
        NOW,
    )
    # At 1000 s, a has 500 left and b 1000: together 1500 s more, both done at 2500 s.
    assert a.done_at == b.done_at == NOW + timedelta(seconds=2500)


def test_stretches_that_run_out_leave_work_undone() -> None:
    [result] = drain([(7200.0, [stretch(0, 1)])], 1.0, NOW)
    assert result.done_at is None and result.work_left == pytest.approx(3600.0)
    [idle] = drain([(10.0, [stretch(0, 1)])], 0.0, NOW)
    assert idle.done_at is None
    [nothing] = drain([(0.0, [])], 1.0, NOW)
    assert nothing.done_at == NOW


lanes = st.lists(
    st.tuples(
        st.floats(0, 50_000),
        st.lists(st.tuples(st.floats(0, 1), st.floats(0.01, 3)), min_size=0, max_size=6),
    ),
    min_size=1,
    max_size=5,
)


def as_stretches(pieces: Sequence[tuple[float, float]]) -> list[tuple[datetime, datetime]]:
    """Gaps and lengths in hours, laid out one after another from NOW."""
    result, moment = [], NOW
    for gap, length in pieces:
        low = moment + gap * HOUR
        moment = low + length * HOUR
        result.append((low, moment))
    return result


def union_seconds(stretches: Sequence[tuple[datetime, datetime]]) -> float:
    total, reach = 0.0, NOW
    for low, high in sorted(stretches):
        if high > reach:
            total += (high - max(low, reach)).total_seconds()
            reach = high
    return total


@FAST
@given(lanes, st.floats(0.1, 20))
def test_the_drain_never_spends_more_than_the_rate_over_the_open_time(
    specs: list[tuple[float, list[tuple[float, float]]]], rate: float
) -> None:
    laid = [(work, as_stretches(pieces)) for work, pieces in specs]
    results = drain(laid, rate, NOW)
    spent = 0.0
    for (work, stretches), result in zip(laid, results, strict=True):
        spent += work - result.work_left
        assert 0 <= result.work_left <= work * (1 + 1e-9)
        if result.done_at is not None:
            assert result.work_left == 0
            # A lane never finishes sooner than the whole rate alone would let it.
            until = sum(
                (min(b, result.done_at) - a).total_seconds()
                for a, b in stretches
                if a < result.done_at
            )
            assert rate * until >= work * (1 - 1e-6) - 1e-3
    every = [s for _, stretches in laid for s in stretches]
    assert spent <= rate * union_seconds(every) * (1 + 1e-6) + 1e-3


@FAST
@given(st.lists(st.floats(0, 50_000), min_size=1, max_size=5), lanes, st.floats(0.1, 20))
def test_lanes_with_the_same_windows_use_the_whole_rate_while_work_is_left(
    works: list[float], shape: list[tuple[float, list[tuple[float, float]]]], rate: float
) -> None:
    stretches = as_stretches(shape[0][1])
    results = drain([(w, stretches) for w in works], rate, NOW)
    spent = sum(w - r.work_left for w, r in zip(works, results, strict=True))
    capacity = rate * union_seconds(stretches)
    assert spent == pytest.approx(min(sum(works), capacity), rel=1e-6, abs=1e-3)


# The forecast


def rules(start: int = 9 * 60, end: int = 18 * 60, **extra: object) -> CampaignCallingRules:
    return CampaignCallingRules(
        timezone="America/Chicago",
        hours=WeeklyHours.single(start, end),
        mode=TimezoneMode.RECIPIENT,
        **extra,  # type: ignore[arg-type]
    )


def facts(**changes: object) -> CampaignFacts:
    base: dict[str, object] = {
        "status": CampaignStatus.IN_PROGRESS,
        "rules": rules(),
        "max_retries": 2,
        "retry_delay": timedelta(seconds=30),
        "concurrency_limit": 10,
        "allowed_lines": 10,
        "max_concurrent_calls": 100,
    }
    return CampaignFacts(**{**base, **changes})  # type: ignore[arg-type]


def group(zone: str | None, pending: int, **calls: int) -> GroupBacklog:
    counts = {(CallStatus.PENDING, 0): pending}
    for key, n in calls.items():
        status, dials = key.rsplit("_", 1)
        counts[(CallStatus(status), int(dials))] = n
    return GroupBacklog(Recipient((zone,) if zone else (), (), "US"), counts)


OBSERVED = [
    AttemptTally(AttemptOutcome.COMPLETED, 75, 75 * 30.0),
    AttemptTally(AttemptOutcome.NO_ANSWER, 25, 25 * 30.0),
]


def test_a_campaign_closed_now_finishes_after_its_window_opens() -> None:
    answer = forecast(facts(), [group("America/Chicago", 100)], OBSERVED, None, NOW)
    [zone] = answer.zones
    opens = datetime(2026, 12, 2, 15, 0, tzinfo=UTC)  # 09:00 in Chicago
    assert not zone.open_now and zone.next_opening_at == opens
    assert zone.open_hours_next_7_days == pytest.approx(63.0)
    # 100 numbers at 0.25 retries a dial (2 retries): 131.25 attempts; 10 lines of 30 s
    # make 1/3 attempt a second: 393.75 s, then the retry delay and one last attempt.
    assert answer.expected_attempts == pytest.approx(131.25)
    assert answer.assumptions.attempts_per_second == pytest.approx(1 / 3)
    assert answer.assumptions.mean_attempt_seconds_source is Source.OBSERVED
    assert answer.assumptions.retry_rate == pytest.approx(0.25)
    expected = opens + timedelta(seconds=393.75 + 30 + 30)
    assert answer.expected_finish_at == zone.expected_finish_at
    assert answer.expected_finish_at is not None
    assert abs(answer.expected_finish_at - expected) < timedelta(seconds=1.01)
    assert answer.remaining_numbers == 100


def test_work_beyond_a_day_carries_over_to_the_next_windows() -> None:
    # 9 h a day at 1/3 attempt a second: 10,800 attempts a day; 25,000 take three days.
    answer = forecast(facts(max_retries=0), [group("America/Chicago", 25_000)], OBSERVED, None, NOW)
    assert answer.expected_finish_at is not None
    finish_local = answer.expected_finish_at.astimezone(ZoneInfo("America/Chicago"))
    assert finish_local.date().isoformat() == "2026-12-04"
    assert 9 <= finish_local.hour < 18


def test_pacing_caps_the_rate_and_is_said() -> None:
    answer = forecast(
        facts(calls_per_second=0.1), [group("America/Chicago", 10)], OBSERVED, None, NOW
    )
    assert answer.assumptions.attempts_per_second == pytest.approx(0.1)
    assert answer.assumptions.calls_per_second == 0.1
    assert any(c.startswith("Pacing") for c in answer.caveats)


def test_without_observations_the_defaults_are_used_and_said() -> None:
    answer = forecast(facts(), [group("America/Chicago", 10)], [], None, NOW)
    assumptions = answer.assumptions
    assert assumptions.mean_attempt_seconds == DEFAULT_ATTEMPT_SECONDS
    assert assumptions.retry_rate == DEFAULT_RETRY_RATE
    assert assumptions.mean_attempt_seconds_source is Source.DEFAULT
    assert assumptions.retry_rate_source is Source.DEFAULT
    assert any("defaults" in c for c in answer.caveats)


def test_no_share_now_assumes_the_limit_capped_by_the_carrier() -> None:
    answer = forecast(
        facts(allowed_lines=0, concurrency_limit=500, max_concurrent_calls=40),
        [group("America/Chicago", 10)],
        OBSERVED,
        None,
        NOW,
    )
    assert (answer.assumptions.lines, answer.assumptions.lines_source) == (40, "LIMIT")
    assert any("no share now" in c for c in answer.caveats)


def test_a_final_campaign_answers_with_its_finish_and_no_work() -> None:
    finished = NOW - timedelta(days=1)
    answer = forecast(
        facts(status=CampaignStatus.COMPLETED, finished_at=finished), [], [], None, NOW
    )
    assert answer.expected_finish_at == finished
    assert answer.remaining_numbers == 0 and answer.expected_attempts == 0 and answer.zones == []
    assert answer.caveats == ["The campaign is COMPLETED: nothing more will be dialled."]


def test_a_paused_campaign_cannot_be_told_but_says_when_it_would_finish_if_running() -> None:
    answer = forecast(
        facts(status=CampaignStatus.PAUSED, allowed_lines=0),
        [group("America/Chicago", 10)],
        OBSERVED,
        None,
        NOW,
    )
    assert answer.expected_finish_at is None
    assert answer.expected_finish_if_running_now_at is not None
    assert all(zone.expected_finish_at is None for zone in answer.zones)
    assert "PAUSED" in answer.caveats[0]


def test_a_campaign_that_starts_by_itself_counts_from_its_start() -> None:
    start_at = NOW + timedelta(days=2)
    answer = forecast(
        facts(status=CampaignStatus.PENDING, auto_start=True, rules=rules(start_at=start_at)),
        [group("America/Chicago", 10)],
        OBSERVED,
        None,
        NOW,
    )
    assert answer.expected_finish_at is not None and answer.expected_finish_at > start_at
    assert any("starts by itself" in c for c in answer.caveats)


def test_numbers_that_can_never_be_called_leave_the_finish_unknown() -> None:
    answer = forecast(facts(), [group("America/Chicago", 10), group(None, 5)], OBSERVED, None, NOW)
    assert answer.expected_finish_at is None
    unknown = next(z for z in answer.zones if z.timezone is None)
    assert unknown.next_opening_at is None and unknown.expected_finish_at is None
    assert any("never open" in c for c in answer.caveats)
    assert any("horizon" in c for c in answer.caveats)


def test_work_left_at_end_at_ends_the_campaign_then() -> None:
    end_at = datetime(2026, 12, 2, 16, 0, tzinfo=UTC)  # 10:00 in Chicago: one hour of dialling
    answer = forecast(
        facts(rules=rules(end_at=end_at)), [group("America/Chicago", 5000)], OBSERVED, None, NOW
    )
    assert answer.expected_finish_at == end_at
    assert any("endAt" in c for c in answer.caveats)


def test_a_retry_due_later_holds_the_finish_until_it_is_dialled() -> None:
    later = datetime(2026, 12, 3, 16, 0, tzinfo=UTC)
    backlog = GroupBacklog(
        Recipient(("America/Chicago",), (), "US"),
        {(CallStatus.FAILED, 1): 1},
        latest_retry_at=later,
    )
    answer = forecast(facts(), [backlog], OBSERVED, None, NOW)
    assert answer.expected_finish_at == later + timedelta(seconds=30)


def test_live_calls_and_number_validity_are_caveats() -> None:
    backlog = GroupBacklog(
        Recipient(("America/Chicago",), (), "US"),
        {(CallStatus.PENDING, 0): 3, (CallStatus.IN_PROGRESS, 1): 2},
        not_yet_valid=1,
        expiring=2,
    )
    answer = forecast(facts(), [backlog], OBSERVED, None, NOW)
    text = " ".join(answer.caveats)
    assert "2 calls are being dialled" in text
    assert "notBefore" in text and "expiresAt" in text
    assert answer.remaining_numbers == 5


def test_groups_in_several_zones_finish_in_the_order_their_windows_allow() -> None:
    zones = ["Asia/Kathmandu", "America/New_York", "Pacific/Honolulu"]
    answer = forecast(facts(), [group(z, 2000) for z in zones], OBSERVED, None, NOW)
    by_zone = {z.timezone: z for z in answer.zones}
    assert by_zone["Asia/Kathmandu"].open_now
    finishes = [by_zone[z].expected_finish_at for z in zones]
    assert all(f is not None for f in finishes)
    assert answer.expected_finish_at == max(f for f in finishes if f is not None)
    assert answer.as_json()["zones"][0]["timezone"] in zones


def test_the_json_has_the_documented_names() -> None:
    body = forecast(facts(), [group("America/Chicago", 10)], OBSERVED, None, NOW).as_json()
    assert set(body) >= {
        "status",
        "generatedAt",
        "expectedFinishAt",
        "remainingNumbers",
        "expectedAttempts",
        "assumptions",
        "zones",
        "caveats",
    }
    assert set(body["assumptions"]) >= {
        "lines",
        "callsPerSecond",
        "meanAttemptSeconds",
        "meanAttemptSecondsSource",
        "retryRate",
        "retryRateSource",
        "attemptsObserved",
    }
    assert set(body["zones"][0]) >= {
        "timezone",
        "remainingNumbers",
        "nextOpeningAt",
        "openHoursNext7Days",
        "expectedFinishAt",
    }
    assert body["expectedFinishAt"].endswith("Z")


def test_a_large_spread_campaign_is_forecast_quickly() -> None:
    zones = [
        "America/New_York",
        "America/Chicago",
        "America/Denver",
        "America/Phoenix",
        "America/Los_Angeles",
        "America/Anchorage",
        "Pacific/Honolulu",
        "Europe/London",
        "Asia/Kathmandu",
        "Australia/Lord_Howe",
    ]
    groups = [group(z, 10_000, FAILED_1=500, IN_PROGRESS_1=5) for z in zones]
    began = time.perf_counter()
    answer = forecast(facts(max_retries=3), groups, OBSERVED, None, NOW + timedelta(minutes=7))
    assert time.perf_counter() - began < 0.5
    assert answer.expected_finish_at is not None
    assert answer.expected_finish_at < NOW + FORECAST_HORIZON
    assert not math.isnan(answer.expected_attempts)


def test_more_work_than_the_horizon_could_hold_is_said_without_reading_the_windows() -> None:
    # 10 lines of 30 s: 1/3 attempt a second, at most 1.7 million in 60 days always open.
    answer = forecast(
        facts(max_retries=0), [group("America/Chicago", 2_000_000)], OBSERVED, None, NOW
    )
    assert answer.expected_finish_at is None
    assert any("More work than its lines can do" in c for c in answer.caveats)
    assert not any("horizon (some zone groups" in c for c in answer.caveats)


def test_work_that_outlasts_the_horizon_in_its_windows_is_null() -> None:
    # Under the always-open bound, but 9 h a day give 10,800 attempts: 700,000 need 65 days.
    answer = forecast(
        facts(max_retries=0), [group("America/Chicago", 700_000)], OBSERVED, None, NOW
    )
    assert answer.expected_finish_at is None
    assert any("60-day horizon" in c for c in answer.caveats)
