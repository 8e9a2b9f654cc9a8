from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime
from uuid import uuid4

from services.dispatcher.pacing import Pacer, TokenBucket
from services.dispatcher.shares import plan_lines
from services.dispatcher.strategies import STRATEGIES
from shared.repositories.dispatching import DispatchCandidate, DispatchSnapshot, RunningCampaign

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def candidate(limit: int = 50, in_flight: int = 0, dialable: int = 100) -> DispatchCandidate:
    campaign = RunningCampaign(
        id=uuid4(),
        concurrency_limit=limit,
        priority=5,
        in_flight=in_flight,
        settings_version=1,
        calls_per_second=None,
    )
    return DispatchCandidate(campaign, dialable, 0)


def test_campaigns_outside_their_hours_get_no_lines_and_keep_theirs_out_of_the_share() -> None:
    open_a, open_b, closed = candidate(), candidate(), candidate(in_flight=6)
    snapshot = DispatchSnapshot([open_a, open_b, closed], lines_in_use=6)

    allowed = plan_lines(
        snapshot, {open_a.campaign.id, open_b.campaign.id}, 30, STRATEGIES["round_robin"]
    )

    # The closed campaign's six live calls still occupy six of the thirty lines.
    assert allowed == {open_a.campaign.id: 12, open_b.campaign.id: 12, closed.campaign.id: 0}


def test_lines_held_by_paused_campaigns_count_against_the_capacity() -> None:
    running = candidate()
    snapshot = DispatchSnapshot([running], lines_in_use=25)  # 25 held by a paused campaign

    assert plan_lines(snapshot, {running.campaign.id}, 30, STRATEGIES["round_robin"]) == {
        running.campaign.id: 5
    }


def test_a_share_never_goes_below_zero_when_others_hold_more_than_the_capacity() -> None:
    running = candidate()
    snapshot = DispatchSnapshot([running], lines_in_use=40)
    assert plan_lines(snapshot, {running.campaign.id}, 30, STRATEGIES["priority"]) == {
        running.campaign.id: 0
    }


def test_a_bucket_lets_its_rate_through_spread_not_bursted() -> None:
    bucket = TokenBucket(rate=5)
    sent = []
    for step in range(200):  # 10 s in 50 ms passes, always wanting more
        now = step * 0.05
        allowed = min(bucket.available(now), 10)
        bucket.take(allowed)
        sent.extend([now] * allowed)
    assert 49 <= len(sent) <= 51
    assert max(sent.count(t) for t in set(sent)) == 1  # never two in one pass


def test_late_passes_lose_nothing_of_the_rate() -> None:
    rng = random.Random(7)
    bucket = TokenBucket(rate=5)
    now, sent = 0.0, 0
    while now < 20:
        allowed = bucket.available(now)
        bucket.take(allowed)
        sent += allowed
        now += rng.uniform(0.03, 0.15)
    assert 99 <= sent <= 101


def test_unused_rate_is_not_saved_up_for_a_burst() -> None:
    bucket = TokenBucket(rate=5)
    bucket.available(0.0)
    assert bucket.available(60.0) == 1


def test_pacer_applies_both_the_campaign_and_the_global_rate() -> None:
    pacer = Pacer(global_rate=10)
    slow, fast = uuid4(), uuid4()
    dialled = {slow: 0, fast: 0}
    for step in range(100):  # 5 s
        now = step * 0.05
        dialled[slow] += pacer.allow(slow, 2, 100, now)
        dialled[fast] += pacer.allow(fast, None, 100, now)
    assert 9 <= dialled[slow] <= 11
    assert 48 <= dialled[slow] + dialled[fast] <= 51


def test_pacer_paces_only_when_asked() -> None:
    assert not Pacer(global_rate=None).paces(None)
    assert Pacer(global_rate=None).paces(3.0)
    assert Pacer(global_rate=50).paces(None)


def test_a_changed_rate_takes_effect_at_once() -> None:
    pacer = Pacer(global_rate=None)
    campaign = uuid4()
    pacer.allow(campaign, 1, 100, 0.0)
    assert pacer.allow(campaign, 100, 100, 1.0) == 1  # a fresh bucket starts with one call
    assert pacer.allow(campaign, 100, 100, 1.1) == 10


def test_a_very_late_pass_is_not_followed_at_once_by_another_call() -> None:
    bucket = TokenBucket(rate=5)  # a call every 200 ms
    bucket.take(bucket.available(0.0))
    bucket.take(bucket.available(0.39))  # a pass stalled 190 ms
    assert bucket.next_call_at() >= 0.39 + 0.1  # half an interval, not at once
    assert bucket.available(0.40) == 0


def test_passes_that_come_when_the_next_call_is_due_send_evenly_at_the_rate() -> None:
    pacer = Pacer(global_rate=None)
    campaign = uuid4()
    now, sent = 0.0, []
    while now < 10:
        if pacer.allow(campaign, 5, 100, now):
            sent.append(now)
        now = pacer.next_call_at(campaign) + 0.001  # the pass is a millisecond late
    gaps = [later - earlier for earlier, later in itertools.pairwise(sent)]
    assert 49 <= len(sent) <= 51
    assert min(gaps) >= 0.199 and max(gaps) <= 0.201
