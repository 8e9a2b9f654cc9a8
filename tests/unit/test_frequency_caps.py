"""Frequency caps: which attempts count, when a capped number may be dialled again, and the
caps a policy file gives a number."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.domain.calling.policy import CallingPolicyError, parse_calling_policy
from shared.domain.frequency_caps import FrequencyCap, cap_hold, caps_from_json, counted_in

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
FLORIDA = FrequencyCap(3, 24)
COLLECTIONS = FrequencyCap(7, 168)


def hours_ago(*hours: float) -> list[datetime]:
    return [NOW - timedelta(hours=h) for h in hours]


def test_under_the_cap_nothing_holds() -> None:
    assert cap_hold([FLORIDA], hours_ago(1, 2), NOW) is None


def test_at_the_cap_the_oldest_counted_attempt_must_leave_the_period() -> None:
    hold = cap_hold([FLORIDA], hours_ago(30, 20, 5, 1), NOW)
    assert hold is not None
    assert hold.counted == tuple(hours_ago(20, 5, 1))
    assert hold.next_eligible_at == NOW - timedelta(hours=20) + timedelta(hours=24)


def test_an_attempt_leaves_the_count_exactly_period_hours_after_it_started() -> None:
    start = NOW - timedelta(hours=24)
    assert counted_in(FLORIDA, [start], NOW) == []
    assert counted_in(FLORIDA, [start], NOW - timedelta(microseconds=1)) == [start]


def test_the_cap_that_holds_longest_decides() -> None:
    starts = hours_ago(150, 140, 100, 90, 50, 23, 2, 1)
    hold = cap_hold([FLORIDA, COLLECTIONS], starts, NOW)
    assert hold is not None and hold.cap == COLLECTIONS
    # Eight counted, seven allowed: the second oldest must leave.
    assert hold.next_eligible_at == NOW - timedelta(hours=140) + timedelta(hours=168)


@given(
    st.lists(st.floats(min_value=0.001, max_value=800), max_size=30),
    st.lists(
        st.builds(FrequencyCap, st.integers(1, 8), st.integers(1, 744)), min_size=1, max_size=4
    ),
)
def test_next_eligible_at_is_the_first_instant_every_cap_allows_one_more(
    ages: list[float], caps: list[FrequencyCap]
) -> None:
    starts = hours_ago(*ages)
    hold = cap_hold(caps, starts, NOW)
    if hold is None:
        assert all(len(counted_in(c, starts, NOW)) < c.max_attempts for c in caps)
        return
    at = hold.next_eligible_at
    assert at > NOW
    assert cap_hold(caps, starts, at) is None
    assert cap_hold(caps, starts, at - timedelta(microseconds=1)) is not None


def test_caps_round_trip_through_their_json() -> None:
    stored = [{"maxAttempts": 3, "periodHours": 24}, {"maxAttempts": 3, "periodHours": 24}]
    assert caps_from_json(stored) == (FLORIDA,)


def test_a_policy_gives_a_number_its_global_caps_and_those_of_its_rules() -> None:
    policy = parse_calling_policy(
        """{"frequencyCaps": [{"maxAttempts": 7, "periodHours": 168}],
            "rules": [
              {"name": "federal", "countries": ["US"],
               "hours": {"startTime": "08:00", "endTime": "21:00"}},
              {"name": "Florida", "regions": ["US-FL"],
               "frequencyCaps": [{"maxAttempts": 3, "periodHours": 24}]}]}"""
    )
    assert policy.caps_for("US", ("US-FL",)) == (FLORIDA, COLLECTIONS)
    assert policy.caps_for("US", ("US-CA",)) == (COLLECTIONS,)
    # A rule with caps only sets no hours.
    assert [r.name for r in policy.rules_for("US", ("US-FL",))] == ["federal"]


@pytest.mark.parametrize(
    "caps",
    [
        '[{"maxAttempts": 0, "periodHours": 24}]',
        '[{"maxAttempts": 3, "periodHours": 0}]',
        '[{"maxAttempts": 3, "periodHours": 745}]',
        '[{"maxAttempts": 3, "per": 24}]',
    ],
)
def test_a_policy_with_a_bad_cap_is_refused(caps: str) -> None:
    with pytest.raises(CallingPolicyError, match="frequencyCaps"):
        parse_calling_policy(f'{{"rules": [], "frequencyCaps": {caps}}}')
