from __future__ import annotations

from collections.abc import Mapping
from uuid import UUID, uuid4

from hypothesis import given
from hypothesis import strategies as st

from services.dispatcher.strategies import STRATEGIES, Demand
from services.dispatcher.strategies.base import _no_starvation, share_by_weight
from services.dispatcher.strategies.priority import priority
from services.dispatcher.strategies.remaining_calls import remaining_calls
from services.dispatcher.strategies.round_robin import round_robin


def demand(
    limit: int = 50,
    priority: int = 5,
    in_flight: int = 0,
    dialable: int = 1000,
    remaining: int = 1000,
) -> Demand:
    return Demand(uuid4(), limit, priority, in_flight, dialable, remaining)


def lines(allocation: dict[UUID, int], demands: list[Demand]) -> list[int]:
    return [allocation[d.campaign_id] for d in demands]


def test_strategies_are_picked_by_name() -> None:
    assert set(STRATEGIES) == {"round_robin", "priority", "remaining_calls"}


def test_round_robin_shares_equally() -> None:
    demands = [demand(), demand(), demand()]
    assert lines(round_robin(demands, 30), demands) == [10, 10, 10]
    uneven = round_robin(demands, 31)
    assert sorted(lines(uneven, demands)) == [10, 10, 11]


def test_what_one_cannot_use_flows_to_the_others() -> None:
    capped, small_backlog, big = demand(limit=4), demand(dialable=2), demand()
    demands = [capped, small_backlog, big]
    assert lines(round_robin(demands, 30), demands) == [4, 2, 24]


def test_never_more_than_the_capacity_nor_than_each_limit() -> None:
    demands = [demand(limit=40) for _ in range(5)]
    allocation = round_robin(demands, 100)
    assert sum(allocation.values()) == 100
    assert all(v <= 40 for v in allocation.values())
    assert sum(round_robin([demand(limit=3), demand(limit=3)], 100).values()) == 6


def test_priority_shares_follow_the_weights() -> None:
    demands = [demand(priority=1), demand(priority=3), demand(priority=6)]
    assert lines(priority(demands, 30), demands) == [3, 9, 18]


def test_priority_starves_nobody() -> None:
    demands = [demand(priority=1), demand(priority=10), demand(priority=10)]
    allocation = priority(demands, 10)
    assert all(allocation[d.campaign_id] >= 1 for d in demands)
    assert sum(allocation.values()) == 10


def test_remaining_calls_favours_the_nearly_done_without_starving_others() -> None:
    almost, half, fresh = demand(remaining=10), demand(remaining=500), demand(remaining=5000)
    demands = [fresh, half, almost]
    assert lines(remaining_calls(demands, 60), demands) == [1, 9, 50]
    assert lines(remaining_calls(demands, 2), demands) == [0, 1, 1]


def test_campaigns_that_want_nothing_get_nothing() -> None:
    idle, busy = demand(dialable=0), demand()
    demands = [idle, busy]
    for strategy in STRATEGIES.values():
        assert lines(strategy(demands, 20), demands) == [0, 20]


def test_lines_in_use_count_as_wanted() -> None:
    # A campaign with no numbers left to dial keeps the lines its calls hold.
    finishing = demand(in_flight=5, dialable=0)
    demands = [finishing, demand()]
    assert lines(round_robin(demands, 30), demands) == [5, 25]


def _no_starvation_by_definition(lines: dict[UUID, int], wants: dict[UUID, int]) -> None:
    """What _no_starvation does, the plain quadratic way: the reference it must agree with."""
    for campaign in sorted(lines, key=str):
        if wants[campaign] > 0 and lines[campaign] == 0:
            donor = max(lines, key=lambda c: (lines[c], str(c)))
            if lines[donor] >= 2:
                lines[donor] -= 1
                lines[campaign] = 1


@given(
    st.lists(st.tuples(st.integers(0, 6), st.integers(0, 3)), max_size=40),
)
def test_no_starvation_agrees_with_its_definition(held_and_wants: list[tuple[int, int]]) -> None:
    ids = [UUID(int=n * 7919 + 1) for n in range(len(held_and_wants))]
    lines = {c: held for c, (held, _) in zip(ids, held_and_wants, strict=True)}
    wants = {c: want for c, (_, want) in zip(ids, held_and_wants, strict=True)}
    expected = dict(lines)
    _no_starvation_by_definition(expected, wants)
    assert _no_starvation(dict(lines), wants) == expected


def test_thousands_of_campaigns_short_of_lines_are_shared_in_one_go() -> None:
    """3,000 campaigns on 1,500 lines took 18 s a pass before (quadratic); now milliseconds.
    Checked by outcome, not time: every line given, none twice, nobody over its limit."""
    demands = [demand(limit=2) for _ in range(3000)]
    allocation = round_robin(demands, 1500)
    assert sum(allocation.values()) == 1500
    assert set(allocation.values()) <= {0, 1}


def _share_by_weight_by_definition(
    demands: list[Demand], capacity: int, weight: Mapping[UUID, float]
) -> dict[UUID, int]:
    """Water-filling as first written, by id: the reference the positional one must match."""
    lines = {d.campaign_id: 0 for d in demands}
    wants = {d.campaign_id: d.wants for d in demands}
    open_ = [d.campaign_id for d in demands if d.wants > 0]
    left = capacity
    while left > 0 and open_:
        total = sum(weight[c] for c in open_)
        share = {c: left * weight[c] / total for c in open_}
        full = {c for c in open_ if lines[c] + share[c] >= wants[c]}
        if full:
            for c in full:
                left -= wants[c] - lines[c]
                lines[c] = wants[c]
            open_ = [c for c in open_ if c not in full]
            continue
        whole = {c: int(share[c]) for c in open_}
        for c in open_:
            lines[c] += whole[c]
        spare = left - sum(whole.values())
        for c in sorted(open_, key=lambda c: (whole[c] - share[c], str(c)))[:spare]:
            lines[c] += 1
        left = 0
    _no_starvation_by_definition(lines, wants)
    return lines


@given(
    st.lists(
        st.tuples(st.integers(0, 5), st.integers(0, 3), st.integers(0, 6), st.integers(1, 10)),
        max_size=40,
    ),
    st.integers(0, 80),
    st.booleans(),
)
def test_share_by_weight_agrees_with_its_definition(
    campaigns: list[tuple[int, int, int, int]], capacity: int, by_priority: bool
) -> None:
    demands = [
        Demand(UUID(int=(n * 7919 + 1) ** 3 % 2**128), limit, priority, in_flight, dialable, 0)
        for n, (limit, in_flight, dialable, priority) in enumerate(campaigns)
    ]
    weight = {d.campaign_id: float(d.priority) if by_priority else 1.0 for d in demands}
    expected = _share_by_weight_by_definition(demands, capacity, weight)
    assert share_by_weight(demands, capacity, weight) == expected
