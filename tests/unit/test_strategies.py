from __future__ import annotations

from uuid import UUID, uuid4

from services.dispatcher.strategies import STRATEGIES, Demand
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
