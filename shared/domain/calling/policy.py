"""The operator's calling policy: hours per country or region, in the recipient's local time,
applied on top of every campaign. A campaign can only narrow it, never widen it.

The file is JSON (docs/calling-policy.md). `load_calling_policy` returns None for "off" and
raises CallingPolicyError for anything it cannot read, so a service refuses to start rather
than allowing every hour.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from pydantic import Field, ValidationError, field_validator, model_validator

from shared.domain.business_hours import parse_clock, parse_days
from shared.domain.calling.calendars import RestrictedPeriod
from shared.domain.calling.hours import WeeklyHours
from shared.domain.calling.spec import (
    DailyHours,
    RestrictedPeriodSpec,
    Spec,
    check_calendars,
    check_daily_hours,
    daily_windows,
)
from shared.domain.frequency_caps import (
    MAX_CAPS,
    FrequencyCap,
    FrequencyCapSpec,
    caps_of,
)

OFF = "off"


class CallingPolicyError(ValueError):
    """A policy file that is missing or does not parse: the service must not start."""


@dataclass(frozen=True)
class PolicyRule:
    name: str
    countries: frozenset[str]
    regions: frozenset[str]
    #: None: the rule sets no hours (only frequency caps).
    hours: WeeklyHours | None
    frequency_caps: tuple[FrequencyCap, ...] = ()

    def applies_to(self, country: str | None, regions: tuple[str, ...]) -> bool:
        return country in self.countries or any(r in self.regions for r in regions)


@dataclass(frozen=True)
class CallingPolicy:
    """The enabled rules, and calendars and blackouts read in every recipient's zone."""

    rules: tuple[PolicyRule, ...] = ()
    holiday_calendars: tuple[str, ...] = ()
    restricted_periods: tuple[RestrictedPeriod, ...] = ()
    #: Caps on every number, whatever its country.
    frequency_caps: tuple[FrequencyCap, ...] = ()

    def rules_for(self, country: str | None, regions: tuple[str, ...]) -> tuple[PolicyRule, ...]:
        """The rules whose hours apply to a recipient of this country and these regions."""
        return tuple(
            rule
            for rule in self.rules
            if rule.hours is not None and rule.applies_to(country, regions)
        )

    def caps_for(self, country: str | None, regions: tuple[str, ...]) -> tuple[FrequencyCap, ...]:
        """Every frequency cap on a number of this country and these regions."""
        caps = set(self.frequency_caps)
        for rule in self.rules:
            if rule.applies_to(country, regions):
                caps.update(rule.frequency_caps)
        return tuple(sorted(caps))


class _Hours(Spec):
    start_time: str
    end_time: str
    allowed_days: str | list[str] = "MONDAY,TUESDAY,WEDNESDAY,THURSDAY,FRIDAY,SATURDAY,SUNDAY"

    @model_validator(mode="after")
    def _check(self) -> _Hours:
        self.weekly()
        return self

    def weekly(self) -> WeeklyHours:
        start = parse_clock(self.start_time)
        end = parse_clock(self.end_time, allow_end_of_day=True)
        if start == end:
            raise ValueError("the window is empty: endTime equals startTime")
        return WeeklyHours.single(start, end, parse_days(self.allowed_days))


class _Rule(Spec):
    name: str = Field(min_length=1)
    enabled: bool = True
    #: Free text for the operator (why the rule exists, its source); ignored.
    note: str | None = None
    countries: list[str] = Field(default_factory=list)
    regions: list[str] = Field(default_factory=list)
    hours: _Hours | None = None
    #: Replaces `hours` on the days it names.
    daily_hours: DailyHours | None = None
    frequency_caps: list[FrequencyCapSpec] = Field(default_factory=list, max_length=MAX_CAPS)

    _days = field_validator("daily_hours")(check_daily_hours)

    @field_validator("countries")
    @classmethod
    def _countries(cls, value: list[str]) -> list[str]:
        for code in value:
            if len(code) != 2 or not code.isalpha() or not code.isupper():
                raise ValueError(f"{code!r} is not an ISO 3166-1 alpha-2 country code like US")
        return value

    @field_validator("regions")
    @classmethod
    def _regions(cls, value: list[str]) -> list[str]:
        for code in value:
            country, dash, sub = code.partition("-")
            if not (len(country) == 2 and country.isupper() and dash and sub.isalnum()):
                raise ValueError(f"{code!r} is not an ISO 3166-2 region code like US-FL")
        return value

    @model_validator(mode="after")
    def _check(self) -> _Rule:
        if not self.countries and not self.regions:
            raise ValueError(f"rule {self.name!r} names no countries and no regions")
        if self.hours is None and self.daily_hours is None and not self.frequency_caps:
            raise ValueError(f"rule {self.name!r} has no hours, dailyHours or frequencyCaps")
        return self

    def to_rule(self) -> PolicyRule:
        caps = caps_of(self.frequency_caps)
        if self.hours is None and self.daily_hours is None:
            return PolicyRule(
                self.name, frozenset(self.countries), frozenset(self.regions), None, caps
            )
        base = self.hours.weekly() if self.hours else WeeklyHours.per_day({})
        days = list(base.days)
        for day, windows in daily_windows(self.daily_hours or {}).items():
            days[day - 1] = WeeklyHours.per_day({day: windows}).on(day)
        return PolicyRule(
            self.name,
            frozenset(self.countries),
            frozenset(self.regions),
            WeeklyHours(tuple(days)),
            caps,
        )


class _PolicyFile(Spec):
    description: str | None = None
    rules: list[_Rule]
    holiday_calendars: list[str] = Field(default_factory=list)
    restricted_periods: list[RestrictedPeriodSpec] = Field(default_factory=list)
    frequency_caps: list[FrequencyCapSpec] = Field(default_factory=list, max_length=MAX_CAPS)

    _calendars = field_validator("holiday_calendars")(check_calendars)


def parse_calling_policy(text: str, source: str = "calling policy") -> CallingPolicy:
    """The policy in the JSON `text`, or CallingPolicyError saying what and where is wrong."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CallingPolicyError(f"{source}: not JSON: {exc}") from exc
    try:
        parsed = _PolicyFile.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or '(top level)'}: {error['msg']}"
            for error in exc.errors()
        )
        raise CallingPolicyError(f"{source}: {problems}") from exc
    return CallingPolicy(
        rules=tuple(rule.to_rule() for rule in parsed.rules if rule.enabled),
        holiday_calendars=tuple(parsed.holiday_calendars),
        restricted_periods=tuple(p.to_period() for p in parsed.restricted_periods),
        frequency_caps=caps_of(parsed.frequency_caps),
    )


def load_calling_policy(value: str | os.PathLike[str]) -> CallingPolicy | None:
    """The policy in the file `value` names; None when `value` is "off" (the caller warns)."""
    if isinstance(value, str) and value.strip().lower() == OFF:
        return None
    path = Path(value)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CallingPolicyError(f"calling policy {str(path)!r} cannot be read: {exc}") from exc
    return parse_calling_policy(text, source=f"calling policy {str(path)!r}")
