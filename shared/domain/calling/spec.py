"""The camelCase request shapes of a campaign's calling schedule, checked field by field.

Every rule is checked here, in validators, so that a bad request fails as a pydantic
ValidationError whose `loc` names the field (the api turns it into a 422), and `.to_rules()`
never fails.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.alias_generators import to_camel

from shared.domain.business_hours import ALL_DAYS, load_zone, parse_clock, parse_days
from shared.domain.calling.calendars import RestrictedPeriod, check_calendar
from shared.domain.calling.hours import WeeklyHours
from shared.domain.calling.rules import CampaignCallingRules, TimezoneMode

_ALL_DAYS_TEXT = "MONDAY,TUESDAY,WEDNESDAY,THURSDAY,FRIDAY,SATURDAY,SUNDAY"


class Spec(BaseModel):
    """Unknown fields are errors: a misspelt rule must not be silently ignored."""

    model_config = ConfigDict(alias_generator=to_camel, extra="forbid", frozen=True)


def _zone(value: str) -> str:
    load_zone(value)  # raises BusinessHoursError, a ValueError: a field error
    return value


TimeZoneName = Annotated[str, Field(min_length=1, max_length=64, examples=["America/Chicago"])]


class WindowSpec(Spec):
    """One daily window; an end before the start crosses midnight."""

    start_time: str = Field(examples=["09:00"])
    end_time: str = Field(examples=["18:00"])

    @model_validator(mode="after")
    def _check(self) -> WindowSpec:
        self.minutes()
        return self

    def minutes(self) -> tuple[int, int]:
        start = parse_clock(self.start_time)
        end = parse_clock(self.end_time, allow_end_of_day=True)
        if start == end:
            raise ValueError("the window is empty: endTime equals startTime")
        return start, end


DailyHours = dict[str, list[WindowSpec]]


def check_daily_hours(value: DailyHours | None) -> DailyHours | None:
    if value is not None:
        for name in value:
            parse_days([name])  # a day name, or a field error naming it
    return value


def daily_windows(value: DailyHours) -> dict[int, list[tuple[int, int]]]:
    """ISO weekday to windows, from {"MONDAY": [{"startTime": ..., "endTime": ...}], ...}."""
    windows: dict[int, list[tuple[int, int]]] = {}
    for name, items in value.items():
        (day,) = parse_days([name])
        windows.setdefault(day, []).extend(item.minutes() for item in items)
    return windows


class BusinessHoursSpec(Spec):
    """The seed's businessHours, with the recipient-time mode and per-day hours added."""

    start_time: str | None = Field(None, examples=["09:00"])
    end_time: str | None = Field(None, examples=["18:00"])
    timezone: TimeZoneName = "UTC"
    allowed_days: str | list[str] = _ALL_DAYS_TEXT
    crosses_midnight: bool | None = None
    timezone_mode: TimezoneMode = TimezoneMode.CAMPAIGN
    default_time_zone: TimeZoneName | None = None
    #: Replaces startTime/endTime/allowedDays when given: a day it does not name is closed.
    daily_hours: DailyHours | None = None

    _zones = field_validator("timezone", "default_time_zone")(
        lambda value: None if value is None else _zone(value)
    )
    _days = field_validator("daily_hours")(check_daily_hours)

    @field_validator("start_time", "end_time")
    @classmethod
    def _clock(cls, value: str | None, info: Any) -> str | None:
        if value is not None:
            parse_clock(value, allow_end_of_day=info.field_name == "end_time")
        return value

    @field_validator("allowed_days")
    @classmethod
    def _allowed(cls, value: str | list[str]) -> str | list[str]:
        parse_days(value)
        return value

    @model_validator(mode="after")
    def _window(self) -> BusinessHoursSpec:
        if self.daily_hours is not None:
            return self
        if self.start_time is None or self.end_time is None:
            raise ValueError("startTime and endTime are required unless dailyHours is given")
        start, end = parse_clock(self.start_time), parse_clock(self.end_time, allow_end_of_day=True)
        if start == end:
            raise ValueError("the window is empty: endTime equals startTime")
        if start < end and self.crosses_midnight:
            raise ValueError("crossesMidnight is true but endTime is after startTime")
        return self

    def weekly_hours(self) -> WeeklyHours:
        if self.daily_hours is not None:
            return WeeklyHours.per_day(daily_windows(self.daily_hours))
        assert self.start_time is not None and self.end_time is not None
        return WeeklyHours.single(
            parse_clock(self.start_time),
            parse_clock(self.end_time, allow_end_of_day=True),
            parse_days(self.allowed_days),
        )


class RestrictedPeriodSpec(Spec):
    """Whole local dates (startDate..endDate, inclusive), or local times (start..end,
    end exclusive; with an offset they are absolute instants)."""

    name: str = Field(min_length=1, max_length=200)
    start_date: date | None = None
    end_date: date | None = None
    start: datetime | None = None
    end: datetime | None = None

    @model_validator(mode="after")
    def _check(self) -> RestrictedPeriodSpec:
        self.to_period()  # its ValueError names what is wrong
        return self

    def to_period(self) -> RestrictedPeriod:
        return RestrictedPeriod(self.name, self.start_date, self.end_date, self.start, self.end)


def check_calendars(value: list[str]) -> list[str]:
    return [check_calendar(code) for code in value]


class CampaignCallingSpec(Spec):
    """When a campaign may call: its window, holidays, blackouts and schedule."""

    business_hours: BusinessHoursSpec | None = None
    holiday_calendars: list[str] = Field(default_factory=list, examples=[["US", "US-CA"]])
    restricted_periods: list[RestrictedPeriodSpec] = Field(default_factory=list)
    start_at: AwareDatetime | None = None
    end_at: AwareDatetime | None = None

    _calendars = field_validator("holiday_calendars")(check_calendars)

    @model_validator(mode="after")
    def _schedule(self) -> CampaignCallingSpec:
        if self.start_at and self.end_at and self.end_at <= self.start_at:
            raise ValueError("endAt must be after startAt")
        return self

    def to_rules(self) -> CampaignCallingRules:
        hours = self.business_hours
        periods = tuple(p.to_period() for p in self.restricted_periods)
        common: dict[str, Any] = {
            "holiday_calendars": tuple(self.holiday_calendars),
            "restricted_periods": periods,
            "start_at": self.start_at,
            "end_at": self.end_at,
        }
        if hours is None:
            return CampaignCallingRules(hours=WeeklyHours.single(0, 1440, ALL_DAYS), **common)
        return CampaignCallingRules(
            timezone=hours.timezone,
            hours=hours.weekly_hours(),
            mode=hours.timezone_mode,
            default_timezone=hours.default_time_zone,
            **common,
        )
