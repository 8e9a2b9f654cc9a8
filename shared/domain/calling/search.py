"""When a plan next opens or closes, without scanning minute by minute.

Between two consecutive breakpoints of a zone (the wall-clock boundaries of its layers in both
folds, its local midnights, and its offset changes) nothing read in that zone can change. So
each zone's open stretches of a UTC day are worked out once from its breakpoints and cached;
a plan's stretches are their intersection, clipped by the campaign's schedule and absolute
blackouts; and a search walks UTC days over those stretches.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import lru_cache

from shared.domain.business_hours import load_zone
from shared.domain.calling.plan import Plan, ZoneLayers, zone_open

_DAY = timedelta(days=1)
Stretch = tuple[datetime, datetime]


def next_open(plan: Plan, start: datetime, limit: datetime) -> datetime | None:
    """The earliest instant in [start, limit) at which the plan is open, or None."""
    if plan.never_open or plan.unknown_zone is not None:
        return None
    start = start.astimezone(UTC)
    if plan.start_at and start < plan.start_at:
        start = plan.start_at.astimezone(UTC)
    if plan.end_at and plan.end_at < limit:
        limit = plan.end_at
    day = start.date()
    # Without date-bound rules a UTC day's stretches depend only on its weekday and each
    # zone's offset: a day like one already found closed is closed too, which makes a plan
    # that never opens cheap to prove so.
    periodic = not plan.absolute_periods and not any(z.calendars or z.periods for z in plan.zones)
    closed_days: set[tuple[object, ...]] = set()
    while _day_start(day) < limit:
        shape = _shape(plan, day) if periodic else None
        if shape is not None and shape in closed_days:
            day += _DAY
            continue
        stretches = _stretches(plan, day)
        for low, high in stretches:
            if high > start:
                found = max(low, start)
                return found if found < limit else None
        if shape is not None and not stretches:
            closed_days.add(shape)
        day += _DAY
    return None


def _shape(plan: Plan, day: date) -> tuple[object, ...] | None:
    """What a UTC day's stretches depend on, or None when it holds something more (an offset
    change, the campaign's start or end)."""
    low, high = _day_start(day), _day_start(day) + _DAY
    for bound in (plan.start_at, plan.end_at):
        if bound is not None and low <= bound < high:
            return None
    offsets: list[object] = [day.weekday()]
    for layers in plan.zones:
        offset = _steady_offset(layers.zone, day)
        if offset is None:
            return None
        offsets.append(offset)
    return tuple(offsets)


@lru_cache(maxsize=65536)
def _steady_offset(name: str, day: date) -> timedelta | None:
    """The zone's UTC offset all through the UTC day `day`, or None if it changes that day."""
    zone = load_zone(name)
    low = _day_start(day)
    first = low.astimezone(zone).utcoffset()
    last = (low + _DAY - timedelta(microseconds=1)).astimezone(zone).utcoffset()
    return first if first == last else None


def next_close(plan: Plan, start: datetime, limit: datetime) -> datetime | None:
    """The earliest instant in [start, limit) at which the plan is closed, or None."""
    moment = start.astimezone(UTC)
    day = moment.date()
    while moment < limit:
        for low, high in _stretches(plan, day):
            if high <= moment:
                continue
            if low > moment:
                break
            moment = high
        if moment < _day_start(day) + _DAY:
            return moment if moment < limit else None
        day += _DAY
    return None


def open_intervals(plan: Plan, start: datetime, limit: datetime) -> Iterator[Stretch]:
    """The plan's open stretches within [start, limit), in order, each as long as it lasts
    (stretches that meet at a UTC midnight are joined). Lazy: a caller that stops early pays
    only for the days it read."""
    if plan.never_open or plan.unknown_zone is not None:
        return
    start = start.astimezone(UTC)
    day = start.date()
    pending: Stretch | None = None
    while _day_start(day) < limit:
        for low, high in _stretches(plan, day):
            low, high = max(low, start), min(high, limit)
            if low >= high:
                continue
            if pending is not None and pending[1] == low:
                pending = (pending[0], high)
                continue
            if pending is not None:
                yield pending
            pending = (low, high)
        day += _DAY
    if pending is not None:
        yield pending


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def _stretches(plan: Plan, day: date) -> list[Stretch]:
    """The plan's open stretches within the UTC day `day`, sorted and disjoint."""
    if plan.unknown_zone is not None:
        return []
    low, high = _day_start(day), _day_start(day) + _DAY
    if plan.start_at:
        low = max(low, plan.start_at.astimezone(UTC))
    if plan.end_at:
        high = min(high, plan.end_at.astimezone(UTC))
    stretches: list[Stretch] = [(low, high)] if low < high else []
    for layers in plan.zones:
        if not stretches:
            break
        stretches = _intersect(stretches, _zone_stretches(layers, day))
    for period, _ in plan.absolute_periods:
        assert period.start is not None and period.end is not None
        stretches = _subtract(stretches, period.start, period.end)
    return stretches


def _intersect(first: list[Stretch], second: tuple[Stretch, ...]) -> list[Stretch]:
    result = []
    for a, b in first:
        for c, d in second:
            low, high = max(a, c), min(b, d)
            if low < high:
                result.append((low, high))
    return result


def _subtract(stretches: list[Stretch], low: datetime, high: datetime) -> list[Stretch]:
    result = []
    for a, b in stretches:
        if b <= low or a >= high:
            result.append((a, b))
            continue
        if a < low:
            result.append((a, low))
        if high < b:
            result.append((high, b))
    return result


@lru_cache(maxsize=65536)
def _zone_stretches(layers: ZoneLayers, day: date) -> tuple[Stretch, ...]:
    """The open stretches of one zone's rules within the UTC day `day`."""
    points = _breakpoints(layers, day)
    day_end = _day_start(day) + _DAY
    stretches: list[Stretch] = []
    for index, point in enumerate(points):
        if not zone_open(layers, point):
            continue
        end = points[index + 1] if index + 1 < len(points) else day_end
        if stretches and stretches[-1][1] == point:
            stretches[-1] = (stretches[-1][0], end)
        else:
            stretches.append((point, end))
    return tuple(stretches)


def _breakpoints(layers: ZoneLayers, day: date) -> list[datetime]:
    """Every instant of the UTC day `day` at which a rule of `layers` may change its answer."""
    zone = load_zone(layers.zone)
    day_start = _day_start(day)
    day_end = day_start + _DAY
    points = {day_start}
    first, last = day_start.astimezone(zone), (day_end - timedelta(microseconds=1)).astimezone(zone)
    if first.utcoffset() != last.utcoffset():
        points.add(_offset_change(zone, day_start, day_end))
    for local_day in {first.date(), last.date()}:
        walls = {time()}
        for layer in layers.hours:
            for a, b in layer.hours.on(local_day.isoweekday()):
                walls.update(time(m // 60, m % 60) for m in (a, b) if m < 1440)
        for period, _ in layers.periods:
            for bound in (period.start, period.end):
                if bound is not None and bound.date() == local_day:
                    walls.add(bound.time())
        for wall in walls:
            # Both folds: a wall time repeated when clocks go back happens twice.
            for fold in (0, 1):
                point = datetime.combine(local_day, wall.replace(fold=fold), tzinfo=zone)
                points.add(point.astimezone(UTC))
    return sorted(p for p in points if day_start <= p < day_end)


def _offset_change(zone: tzinfo, low: datetime, high: datetime) -> datetime:
    """The first instant in (low, high] whose UTC offset differs from low's (to the second)."""
    before = low.astimezone(zone).utcoffset()
    while high - low > timedelta(seconds=1):
        middle = (low + (high - low) / 2).replace(microsecond=0)
        if middle <= low:
            break
        if middle.astimezone(zone).utcoffset() == before:
            low = middle
        else:
            high = middle
    return high
