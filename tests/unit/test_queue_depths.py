"""When the dispatcher asks the broker for a campaign queue's depth, and when it goes by what it
knows (services/dispatcher/queue_depths.py)."""

import random
from uuid import UUID, uuid4

from services.dispatcher.queue_depths import QueueDepths, Signature, Wanted

SIGNATURE: Signature = (30, 4, 2, 17, 1, 8)
CHANGED: Signature = (30, 4, 1, 17, 1, 8)


def depths(refresh_s: float = 10, **caps: int) -> QueueDepths:
    return QueueDepths(refresh_s, rng=random.Random(7), **caps)


def read(known: QueueDepths, campaign: UUID, queued: int, now: float = 0) -> None:
    known.answered(campaign, SIGNATURE, queued, now)


def test_a_queue_never_asked_about_is_asked_about_and_has_no_depth_till_then() -> None:
    known = depths()
    campaign = uuid4()
    assert known.depth(campaign) is None
    assert known.to_read([Wanted(campaign, SIGNATURE, 0)], now=0) == [campaign]


def test_an_unchanged_campaign_goes_by_the_last_answer_and_what_was_published_since() -> None:
    known = depths()
    campaign = uuid4()
    read(known, campaign, 3)
    known.published(campaign, 2)
    assert known.to_read([Wanted(campaign, SIGNATURE, 5)], now=1) == []
    assert known.depth(campaign) == 5


def test_a_change_asks_again_when_the_remembered_depth_meets_the_target() -> None:
    known = depths()
    campaign = uuid4()
    read(known, campaign, 3)
    for position in range(len(SIGNATURE)):
        changed = list(SIGNATURE)
        changed[position] += 1
        wanted = Wanted(campaign, tuple(changed), 3)  # type: ignore[arg-type]
        assert known.to_read([wanted], now=1) == [campaign]


def test_below_its_target_or_wanting_nothing_a_changed_campaign_is_not_asked_about() -> None:
    # The broker's depth is at most the remembered one: publishing the difference up to the
    # target cannot overfill the queue, and a target of 0 publishes nothing whatever it says.
    known = depths()
    short, idle = uuid4(), uuid4()
    read(known, short, 1)
    read(known, idle, 0)
    assert known.to_read([Wanted(short, CHANGED, 4), Wanted(idle, CHANGED, 0)], now=1) == []


def test_answers_go_stale_between_half_and_all_of_the_refresh_period() -> None:
    known = depths(refresh_s=10, reads_per_pass=1000)
    campaigns = [uuid4() for _ in range(200)]
    for campaign in campaigns:
        read(known, campaign, 2)
    wanted = [Wanted(c, SIGNATURE, 2) for c in campaigns]
    assert known.to_read(wanted, now=4.99) == []
    assert len(known.to_read(wanted, now=10)) == 200
    # Spread, so that campaigns first read together are not all read again together.
    assert 50 < len(known.to_read(wanted, now=7.5)) < 150


def test_a_pass_asks_about_at_most_its_share_the_longest_unasked_first() -> None:
    known = depths(reads_per_pass=2, declares_per_pass=3)
    old, older, oldest = uuid4(), uuid4(), uuid4()
    read(known, old, 1, now=3)
    read(known, older, 1, now=2)
    read(known, oldest, 1, now=1)
    new = [uuid4() for _ in range(5)]
    wanted = [Wanted(c, CHANGED, 1) for c in (old, older, oldest, *new)]
    assert known.to_read(wanted, now=4) == [*new[:3], oldest, older]


def test_a_refresh_period_of_zero_asks_about_every_campaign_on_every_pass() -> None:
    known = depths(refresh_s=0, reads_per_pass=1)
    campaigns = [uuid4() for _ in range(3)]
    for campaign in campaigns:
        read(known, campaign, 3, now=5)
    wanted = [Wanted(c, SIGNATURE, 0) for c in campaigns]
    assert known.to_read(wanted, now=5) == campaigns


def test_forgotten_campaigns_are_asked_about_again() -> None:
    known = depths()
    kept, dropped, forgotten = uuid4(), uuid4(), uuid4()
    for campaign in (kept, dropped, forgotten):
        read(known, campaign, 1)
    known.forget(forgotten)
    known.forget_all_but({kept, forgotten})
    known.published(dropped, 3)  # a publish for a campaign it does not know is no answer
    assert known.depth(kept) == 1
    assert known.depth(dropped) is None
    assert known.depth(forgotten) is None
