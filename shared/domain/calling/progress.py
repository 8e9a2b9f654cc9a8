"""How work drains through windows: a fluid model of a campaign's dialling, for the forecast.

Each group of numbers has some work (expected attempts) and the open stretches of its plan.
The campaign spends a rate of attempts a second, shared among the groups open at each moment
in proportion to the work they have left. That is the model's assumption: the claim takes
due retries first, then new numbers in load order, from whichever groups are open, so the
share follows the numbers left when the groups' numbers are mixed in the load (and not when
the list was sorted by zone: the forecast says so). Between two window changes the open
groups therefore drain at the same relative pace and finish together, so the model steps
from one change to the next instead of second by second.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

Stretch = tuple[datetime, datetime]

#: Work below this (in attempts) is done: floating-point dust must not keep a lane alive.
_EPSILON = 1e-9


@dataclass(frozen=True)
class Drained:
    """One group's outcome: when its work is done (None: its stretches ran out first) and
    the work left then (0 when done)."""

    done_at: datetime | None
    work_left: float


@dataclass
class _Lane:
    work: float
    stretches: Iterator[Stretch]
    current: Stretch | None


def drain(
    lanes: Sequence[tuple[float, Iterable[Stretch]]], rate: float, start: datetime
) -> list[Drained]:
    """For each (work, open stretches in order) lane, when `rate` attempts a second, shared
    among the open lanes by their remaining work from `start` on, finishes its work."""
    states = []
    for work, stretches in lanes:
        iterator = iter(stretches)
        states.append(_Lane(max(work, 0.0), iterator, None))
    results: list[Drained | None] = [None] * len(states)
    active: set[int] = set()
    for index, lane in enumerate(states):
        if lane.work <= _EPSILON:
            results[index] = Drained(start, 0.0)
            continue
        lane.current = _next_after(lane.stretches, start)
        if lane.current is None:
            results[index] = Drained(None, lane.work)
        else:
            active.add(index)
    moment = start
    while active and rate > 0:
        # Every active lane's current stretch ends after `moment`: it is open now if it has
        # begun, and the next change is the nearest end of an open one or start of another.
        open_now, total, next_event = [], 0.0, None
        for i in active:
            current = states[i].current
            assert current is not None
            low, high = current
            if low <= moment:
                open_now.append(i)
                total += states[i].work
                edge = high
            else:
                edge = low
            if next_event is None or edge < next_event:
                next_event = edge
        assert next_event is not None
        if not open_now:
            moment = next_event
            continue
        done_at = moment + timedelta(seconds=total / rate)
        if done_at <= next_event:
            for i in open_now:
                states[i].work = 0.0
                results[i] = Drained(done_at, 0.0)
                active.discard(i)
            moment = done_at
            continue
        factor = max(0.0, 1.0 - rate * (next_event - moment).total_seconds() / total)
        moment = next_event
        for i in open_now:
            lane = states[i]
            lane.work *= factor
            if lane.current is not None and lane.current[1] <= moment:
                lane.current = _next_after(lane.stretches, moment)
                if lane.current is None:
                    results[i] = Drained(None, lane.work)
                    active.discard(i)
    for i in active:
        results[i] = Drained(None, states[i].work)
    return [r for r in results if r is not None]


def _next_after(stretches: Iterator[Stretch], moment: datetime) -> Stretch | None:
    """The first stretch that still has time after `moment`, clipped to begin no earlier."""
    for low, high in stretches:
        if high > moment:
            return (max(low, moment), high)
    return None
