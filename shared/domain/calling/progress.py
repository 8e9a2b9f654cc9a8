"""How work drains through windows: a fluid model of a campaign's dialling, for the forecast.

Each group of numbers has some work (expected attempts) and the open stretches of its plan.
The campaign spends a rate of attempts a second, shared among the groups open at each moment
in proportion to the work they have left (the claim takes numbers in load order from every
open group, so a group's part of the dials follows its part of the numbers). Between two
window changes the open groups therefore drain at the same relative pace and finish together,
so the model steps from one change to the next instead of second by second.
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
        states.append(_Lane(max(work, 0.0), iterator, _next_after(iterator, start)))
    results: list[Drained | None] = [None] * len(states)
    for index, lane in enumerate(states):
        if lane.work <= _EPSILON:
            results[index] = Drained(start, 0.0)
    moment = start
    while True:
        active = [i for i, lane in enumerate(states) if results[i] is None]
        for i in active:
            if states[i].current is None:
                results[i] = Drained(None, states[i].work)
        active = [i for i in active if results[i] is None]
        if not active or rate <= 0:
            break
        open_now = [i for i in active if _open_at(states[i], moment)]
        closed = [i for i in active if i not in open_now]
        events = [_end(states[i]) for i in open_now] + [_begin(states[i]) for i in closed]
        next_event = min(events)
        if not open_now:
            moment = next_event
            continue
        total = sum(states[i].work for i in open_now)
        done_at = moment + timedelta(seconds=total / rate)
        if done_at <= next_event:
            for i in open_now:
                states[i].work = 0.0
                results[i] = Drained(done_at, 0.0)
            moment = done_at
        else:
            spent = rate * (next_event - moment).total_seconds()
            factor = max(0.0, 1.0 - spent / total)
            for i in open_now:
                states[i].work *= factor
            moment = next_event
        for i in active:
            lane = states[i]
            if results[i] is None and lane.current is not None and lane.current[1] <= moment:
                lane.current = _next_after(lane.stretches, moment)
    if rate <= 0:
        for i, lane in enumerate(states):
            if results[i] is None:
                results[i] = Drained(None, lane.work)
    return [r for r in results if r is not None]


def _next_after(stretches: Iterator[Stretch], moment: datetime) -> Stretch | None:
    """The first stretch that still has time after `moment`, clipped to begin no earlier."""
    for low, high in stretches:
        if high > moment:
            return (max(low, moment), high)
    return None


def _open_at(lane: _Lane, moment: datetime) -> bool:
    return lane.current is not None and lane.current[0] <= moment < lane.current[1]


def _begin(lane: _Lane) -> datetime:
    assert lane.current is not None
    return lane.current[0]


def _end(lane: _Lane) -> datetime:
    assert lane.current is not None
    return lane.current[1]
