"""Days and periods on which no call is placed: public holidays and operator blackouts.

Holidays come from the `holidays` package (country and ISO 3166-2 subdivision calendars, kept up
to date by its maintainers), named "US", "US-CA", "GB", "GB-SCT"...
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache

import holidays


class UnknownCalendar(ValueError):
    """A holiday calendar name that the holidays package does not know."""


@lru_cache(maxsize=1)
def _supported() -> dict[str, frozenset[str]]:
    return {
        country: frozenset(subdivisions)
        for country, subdivisions in holidays.list_supported_countries().items()
    }


def check_calendar(code: str) -> str:
    """The canonical name of calendar `code` ("us-ca" gives "US-CA"), or UnknownCalendar."""
    country, _, subdivision = code.strip().upper().partition("-")
    supported = _supported()
    if country not in supported:
        raise UnknownCalendar(f"{code!r} is not a holiday calendar (a country code like US)")
    if subdivision and subdivision not in supported[country]:
        raise UnknownCalendar(
            f"{code!r}: {subdivision!r} is not a subdivision of {country} in the holiday data"
        )
    return f"{country}-{subdivision}" if subdivision else country


@lru_cache(maxsize=256)
def _calendar(code: str) -> holidays.HolidayBase:
    country, _, subdivision = code.partition("-")
    return holidays.country_holidays(country, subdiv=subdivision or None)


@lru_cache(maxsize=65536)
def holiday_name(code: str, day: date) -> str | None:
    """The holiday's name if `day` is a public holiday in calendar `code`, else None."""
    name = _calendar(code).get(day)
    return None if name is None else str(name)


@dataclass(frozen=True)
class RestrictedPeriod:
    """A blackout, read in the local time of the zone it is applied in.

    Either whole local dates (`start_date` to `end_date`, both inclusive) or local wall-clock
    datetimes (`start` inclusive to `end` exclusive, naive); or, when `start`/`end` carry an
    offset, an absolute span of instants that no zone changes.
    """

    name: str
    start_date: date | None = None
    end_date: date | None = None
    start: datetime | None = None
    end: datetime | None = None

    def __post_init__(self) -> None:
        by_dates = self.start_date is not None and self.end_date is not None
        by_times = self.start is not None and self.end is not None
        given = (self.start_date, self.end_date, self.start, self.end)
        if by_dates == by_times or sum(v is not None for v in given) != 2:
            raise ValueError(
                "a restricted period has either startDate and endDate, or start and end"
            )
        if by_times:
            assert self.start is not None and self.end is not None
            if (self.start.tzinfo is None) != (self.end.tzinfo is None):
                raise ValueError("start and end must both have an offset, or neither")
            if self.end <= self.start:
                raise ValueError("a restricted period must end after it starts")
        elif self.end_date < self.start_date:  # type: ignore[operator]
            raise ValueError("a restricted period must not end before it starts")

    @property
    def is_absolute(self) -> bool:
        return self.start is not None and self.start.tzinfo is not None

    def covers_local(self, local: datetime) -> bool:
        """Whether the local wall time `local` (naive or aware, read as a wall clock) is in it."""
        if self.start_date is not None and self.end_date is not None:
            return self.start_date <= local.date() <= self.end_date
        assert self.start is not None and self.end is not None
        if self.is_absolute:
            return self.start <= local < self.end
        wall = local.replace(tzinfo=None)
        return self.start <= wall < self.end

    def describe(self) -> str:
        if self.start_date is not None:
            return f"{self.name!r} ({self.start_date} to {self.end_date})"
        assert self.start is not None and self.end is not None
        return f"{self.name!r} ({self.start.isoformat()} to {self.end.isoformat()})"
