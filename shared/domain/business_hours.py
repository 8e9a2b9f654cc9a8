"""When a campaign may dial: a daily window in the campaign's time zone, on allowed weekdays.

A window whose start is after its end crosses midnight: 22:00-02:00 means 22:00 to 24:00 and
00:00 to 02:00. The after-midnight part belongs to the next calendar day, so it is open only
when that day is allowed. A time zone that does not load closes the window (fail closed).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

WEEKDAYS = ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY")
ALL_DAYS = frozenset(range(1, 8))
MINUTES_PER_DAY = 24 * 60
_CLOCK = re.compile(r"^([01]\d|2[0-4]):([0-5]\d)(?::([0-5]\d))?$")


class BusinessHoursError(ValueError):
    """A window, day or time zone that cannot be understood."""


@lru_cache(maxsize=1024)
def load_zone(name: str) -> ZoneInfo:
    """The IANA zone `name`, or BusinessHoursError; cached because zones never change at runtime."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise BusinessHoursError(f"unknown time zone {name!r}") from exc


def parse_clock(value: str, *, allow_end_of_day: bool = False) -> int:
    """Minutes since midnight of "HH:MM" (or "HH:MM:SS", seconds ignored); "24:00" ends a day."""
    match = _CLOCK.match(value.strip())
    if not match:
        raise BusinessHoursError(f"{value!r} is not a time of day like 09:00")
    hours, minutes = int(match.group(1)), int(match.group(2))
    total = hours * 60 + minutes
    if total > MINUTES_PER_DAY or (total == MINUTES_PER_DAY and not allow_end_of_day):
        raise BusinessHoursError(f"{value!r} is not a time of day like 09:00")
    return total


def format_clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def parse_days(value: str | list[str] | tuple[str, ...]) -> frozenset[int]:
    """ISO weekday numbers (Monday=1) from "MONDAY,TUESDAY", "MON,TUE" or a list of either."""
    items = value.split(",") if isinstance(value, str) else list(value)
    days: set[int] = set()
    for raw in items:
        name = str(raw).strip().upper()
        if not name:
            continue
        matches = [i for i, day in enumerate(WEEKDAYS, 1) if day == name or day[:3] == name]
        if not matches:
            raise BusinessHoursError(f"{raw!r} is not a day of the week")
        days.add(matches[0])
    if not days:
        raise BusinessHoursError("at least one day must be allowed")
    return frozenset(days)


def format_days(days: frozenset[int]) -> str:
    return ",".join(WEEKDAYS[day - 1] for day in sorted(days))


@dataclass(frozen=True)
class BusinessHours:
    """A daily calling window. `start_minute`/`end_minute` count minutes since local midnight."""

    start_minute: int
    end_minute: int
    timezone: str
    allowed_days: frozenset[int]

    @property
    def crosses_midnight(self) -> bool:
        return self.start_minute > self.end_minute

    def is_open(self, at: datetime) -> bool:
        """Whether a call may be placed at the instant `at` (timezone-aware)."""
        try:
            local = at.astimezone(load_zone(self.timezone))
        except BusinessHoursError:
            return False
        minute = local.hour * 60 + local.minute
        if local.isoweekday() not in self.allowed_days:
            return False
        if self.crosses_midnight:
            return minute >= self.start_minute or minute < self.end_minute
        return self.start_minute <= minute < self.end_minute

    def next_opening(self, at: datetime) -> datetime | None:
        """The first instant after `at` at which the window opens, or None if it never does."""
        try:
            zone = load_zone(self.timezone)
        except BusinessHoursError:
            return None
        local_day = at.astimezone(zone).date()
        candidates = []
        for offset in range(0, 9):
            day = local_day + timedelta(days=offset)
            if day.isoweekday() not in self.allowed_days:
                continue
            for minute in self._opening_minutes(day):
                # A wall time inside a DST gap does not exist; zoneinfo maps it forward.
                wall = time(minute // 60, minute % 60)
                candidates.append(datetime.combine(day, wall, tzinfo=zone))
        later = sorted(c for c in candidates if c > at)
        return later[0] if later else None

    def _opening_minutes(self, day: date) -> list[int]:
        if not self.crosses_midnight:
            return [self.start_minute]
        # The after-midnight part opens at 00:00 unless the previous day's part runs into it.
        previous_allowed = (day - timedelta(days=1)).isoweekday() in self.allowed_days
        openings = [self.start_minute]
        if self.end_minute > 0 and not previous_allowed:
            openings.append(0)
        return openings


ALWAYS_OPEN = BusinessHours(0, MINUTES_PER_DAY, "UTC", ALL_DAYS)
