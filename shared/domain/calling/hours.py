"""Weekly opening hours: for each local weekday, the minutes of the day at which calls may start.

A moment is judged by its own local weekday and wall-clock minute. A window whose end is before
its start (22:00-02:00) covers 00:00-02:00 and 22:00-24:00 of the same weekday, as the seed's
single window did: its after-midnight part is open on a day only when that day is allowed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from shared.domain.business_hours import (
    ALL_DAYS,
    MINUTES_PER_DAY,
    WEEKDAYS,
    BusinessHours,
    format_clock,
)

#: [start, end) minutes since local midnight, start < end <= 1440.
Interval = tuple[int, int]


def _normalise(windows: Iterable[tuple[int, int]]) -> tuple[Interval, ...]:
    """Sorted, merged, non-empty intervals; an end before the start wraps within the day."""
    parts: list[Interval] = []
    for start, end in windows:
        if start < end:
            parts.append((start, end))
        elif start > end:
            parts.extend(p for p in ((0, end), (start, MINUTES_PER_DAY)) if p[0] < p[1])
    merged: list[Interval] = []
    for start, end in sorted(parts):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return tuple(merged)


@dataclass(frozen=True)
class WeeklyHours:
    """Open intervals per ISO weekday: `days[0]` is Monday, `days[6]` Sunday."""

    days: tuple[tuple[Interval, ...], ...]

    def __post_init__(self) -> None:
        if len(self.days) != 7:
            raise ValueError("WeeklyHours needs seven days")

    @classmethod
    def single(cls, start: int, end: int, allowed_days: Iterable[int] = ALL_DAYS) -> WeeklyHours:
        """One daily window on the given ISO weekdays (the seed's businessHours)."""
        allowed = frozenset(allowed_days)
        window = _normalise([(start, end)])
        return cls(tuple(window if day in allowed else () for day in range(1, 8)))

    @classmethod
    def per_day(cls, windows: Mapping[int, Sequence[tuple[int, int]]]) -> WeeklyHours:
        """Windows per ISO weekday; a day not in `windows` is closed."""
        return cls(tuple(_normalise(windows.get(day, ())) for day in range(1, 8)))

    @classmethod
    def from_business_hours(cls, hours: BusinessHours) -> WeeklyHours:
        return cls.single(hours.start_minute, hours.end_minute, hours.allowed_days)

    def on(self, isoweekday: int) -> tuple[Interval, ...]:
        return self.days[isoweekday - 1]

    def is_open(self, isoweekday: int, minute: int) -> bool:
        return any(start <= minute < end for start, end in self.days[isoweekday - 1])

    @property
    def never_open(self) -> bool:
        return not any(self.days)

    def describe(self, isoweekday: int) -> str:
        """ "09:00-12:00, 13:00-18:00" or "closed all day on SUNDAY"."""
        intervals = self.on(isoweekday)
        if not intervals:
            return f"closed all day on {WEEKDAYS[isoweekday - 1]}"
        return ", ".join(f"{format_clock(a)}-{format_clock(b)}" for a, b in intervals)

    def intersect(self, other: WeeklyHours) -> WeeklyHours:
        """The hours open in both."""
        days = []
        for mine, theirs in zip(self.days, other.days, strict=True):
            days.append(
                _normalise(
                    (max(a, c), min(b, d))
                    for a, b in mine
                    for c, d in theirs
                    if max(a, c) < min(b, d)
                )
            )
        return WeeklyHours(tuple(days))


ALWAYS = WeeklyHours.single(0, MINUTES_PER_DAY)
