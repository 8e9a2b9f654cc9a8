from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from shared.domain.business_hours import (
    ALL_DAYS,
    BusinessHours,
    BusinessHoursError,
    format_days,
    parse_clock,
    parse_days,
)

NEW_YORK = ZoneInfo("America/New_York")
WEEKDAYS = frozenset(range(1, 6))


def at(zone: ZoneInfo, *args: int) -> datetime:
    return datetime(*args, tzinfo=zone)  # type: ignore[misc]


def test_clock_parsing() -> None:
    assert parse_clock("09:00") == 540
    assert parse_clock("23:59:30") == 23 * 60 + 59
    assert parse_clock("24:00", allow_end_of_day=True) == 1440
    for bad in ("24:00", "9:00", "25:00", "12:60", "noon", ""):
        with pytest.raises(BusinessHoursError):
            parse_clock(bad)


def test_days_from_strings_lists_and_abbreviations() -> None:
    assert parse_days("MONDAY,TUESDAY") == frozenset({1, 2})
    assert parse_days(["sat", " Sunday "]) == frozenset({6, 7})
    assert format_days(frozenset({5, 1})) == "MONDAY,FRIDAY"
    for bad in ("FUNDAY", "", ","):
        with pytest.raises(BusinessHoursError):
            parse_days(bad)


def test_window_in_the_campaigns_time_zone() -> None:
    hours = BusinessHours(9 * 60, 18 * 60, "America/New_York", WEEKDAYS)
    # Monday 2026-11-30: 09:00 opens, 17:59 open, 18:00 closed (end is exclusive).
    assert not hours.is_open(at(NEW_YORK, 2026, 11, 30, 8, 59))
    assert hours.is_open(at(NEW_YORK, 2026, 11, 30, 9, 0))
    assert hours.is_open(at(NEW_YORK, 2026, 11, 30, 17, 59))
    assert not hours.is_open(at(NEW_YORK, 2026, 11, 30, 18, 0))
    # 14:30 UTC is 09:30 in New York in winter.
    assert hours.is_open(datetime(2026, 11, 30, 14, 30, tzinfo=UTC))
    assert not hours.is_open(datetime(2026, 11, 30, 13, 30, tzinfo=UTC))
    # Saturday is not allowed.
    assert not hours.is_open(at(NEW_YORK, 2026, 12, 5, 12, 0))


def test_window_follows_daylight_saving_time() -> None:
    hours = BusinessHours(9 * 60, 10 * 60, "America/New_York", ALL_DAYS)
    # 13:30 UTC is 09:30 EDT in July, but 08:30 EST in January.
    assert hours.is_open(datetime(2026, 7, 1, 13, 30, tzinfo=UTC))
    assert not hours.is_open(datetime(2026, 1, 7, 13, 30, tzinfo=UTC))


def test_after_midnight_part_belongs_to_the_next_day() -> None:
    hours = BusinessHours(22 * 60, 2 * 60, "UTC", WEEKDAYS)
    assert hours.crosses_midnight
    friday_late = datetime(2026, 12, 4, 23, 0, tzinfo=UTC)
    saturday_early = datetime(2026, 12, 5, 1, 0, tzinfo=UTC)
    monday_early = datetime(2026, 11, 30, 1, 0, tzinfo=UTC)
    sunday_late = datetime(2026, 12, 6, 23, 0, tzinfo=UTC)
    assert hours.is_open(friday_late)
    assert not hours.is_open(saturday_early)
    assert hours.is_open(monday_early)
    assert not hours.is_open(sunday_late)
    assert not hours.is_open(datetime(2026, 12, 1, 12, 0, tzinfo=UTC))


def test_unknown_time_zone_fails_closed() -> None:
    hours = BusinessHours(0, 1440, "Mars/Olympus_Mons", ALL_DAYS)
    assert not hours.is_open(datetime(2026, 11, 30, 12, 0, tzinfo=UTC))
    assert hours.next_opening(datetime(2026, 11, 30, 12, 0, tzinfo=UTC)) is None


def test_next_opening() -> None:
    hours = BusinessHours(9 * 60, 18 * 60, "America/New_York", WEEKDAYS)
    # Friday evening: next opening is Monday 09:00 New York time.
    friday_evening = at(NEW_YORK, 2026, 12, 4, 19, 0)
    assert hours.next_opening(friday_evening) == at(NEW_YORK, 2026, 12, 7, 9, 0)
    # Before opening on a weekday: today.
    assert hours.next_opening(at(NEW_YORK, 2026, 12, 1, 7, 0)) == at(NEW_YORK, 2026, 12, 1, 9, 0)


def test_next_opening_of_an_overnight_window_after_a_closed_day() -> None:
    hours = BusinessHours(22 * 60, 2 * 60, "UTC", WEEKDAYS)
    sunday_noon = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
    # Monday's after-midnight part opens at 00:00 since Sunday's window does not run into it.
    assert hours.next_opening(sunday_noon) == datetime(2026, 12, 7, 0, 0, tzinfo=UTC)
