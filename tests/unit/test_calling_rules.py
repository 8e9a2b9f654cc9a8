"""Campaign calling rules: weekly hours, the request spec and its validation errors."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from pydantic import ValidationError

from shared.domain.business_hours import BusinessHours
from shared.domain.calling import (
    CampaignCallingRules,
    CampaignCallingSpec,
    RestrictedPeriod,
    TimezoneMode,
    WeeklyHours,
    check_calendar,
)
from shared.domain.calling.calendars import UnknownCalendar, holiday_name

WEEKDAYS = frozenset(range(1, 6))


def test_single_window_on_allowed_days() -> None:
    hours = WeeklyHours.single(9 * 60, 18 * 60, WEEKDAYS)
    assert hours.is_open(1, 9 * 60) and hours.is_open(5, 18 * 60 - 1)
    assert not hours.is_open(1, 18 * 60) and not hours.is_open(6, 12 * 60)
    assert hours.describe(7) == "closed all day on SUNDAY"


def test_a_window_crossing_midnight_is_read_by_the_moments_own_weekday() -> None:
    # As the seed's window: 22:00-02:00 on weekdays covers 00:00-02:00 and 22:00-24:00 of each.
    hours = WeeklyHours.single(22 * 60, 2 * 60, WEEKDAYS)
    assert hours.on(1) == ((0, 120), (1320, 1440))
    assert hours.is_open(1, 60) and hours.is_open(5, 23 * 60)
    assert not hours.is_open(6, 60)


def test_the_seeds_business_hours_give_the_same_answers() -> None:
    seed = BusinessHours(22 * 60, 2 * 60, "UTC", WEEKDAYS)
    hours = WeeklyHours.from_business_hours(seed)
    for day in range(1, 8):
        for minute in range(0, 1440, 10):
            moment = datetime(2026, 11, 29, tzinfo=UTC) + timedelta(days=day, minutes=minute)
            assert hours.is_open(moment.isoweekday(), minute) == seed.is_open(moment)
    rules = CampaignCallingRules.from_business_hours(seed)
    assert rules.mode is TimezoneMode.CAMPAIGN and rules.timezone == "UTC"


def test_per_day_hours_with_several_windows_and_intersection() -> None:
    hours = WeeklyHours.per_day({1: [(540, 720), (780, 1080)], 6: [(600, 660), (650, 700)]})
    assert hours.on(1) == ((540, 720), (780, 1080))
    assert hours.on(6) == ((600, 700),)  # overlapping windows merge
    assert hours.on(2) == ()
    policy = WeeklyHours.single(8 * 60, 17 * 60)
    assert hours.intersect(policy).on(1) == ((540, 720), (780, 1020))
    assert WeeklyHours.per_day({}).never_open


def test_spec_of_the_seeds_shape_gives_campaign_mode_rules() -> None:
    spec = CampaignCallingSpec.model_validate(
        {
            "businessHours": {
                "startTime": "09:00",
                "endTime": "18:00",
                "timezone": "America/Chicago",
                "allowedDays": "MONDAY,TUESDAY,WEDNESDAY,THURSDAY,FRIDAY",
            }
        }
    )
    rules = spec.to_rules()
    assert rules.mode is TimezoneMode.CAMPAIGN
    assert rules.timezone == "America/Chicago"
    assert rules.hours == WeeklyHours.single(540, 1080, WEEKDAYS)


def test_spec_with_every_new_field() -> None:
    spec = CampaignCallingSpec.model_validate(
        {
            "businessHours": {
                "timezone": "America/Chicago",
                "timezoneMode": "RECIPIENT",
                "defaultTimeZone": "America/New_York",
                "dailyHours": {
                    "MONDAY": [
                        {"startTime": "09:00", "endTime": "12:00"},
                        {"startTime": "13:00", "endTime": "18:00"},
                    ],
                    "sat": [{"startTime": "10:00", "endTime": "14:00"}],
                },
            },
            "holidayCalendars": ["US", "us-ca", "GB"],
            "restrictedPeriods": [
                {"name": "Christmas", "startDate": "2026-12-24", "endDate": "2026-12-26"},
                {"name": "maintenance", "start": "2026-12-01T10:00", "end": "2026-12-01T12:00"},
            ],
            "startAt": "2026-12-01T00:00:00Z",
            "endAt": "2027-01-31T00:00:00-06:00",
        }
    )
    rules = spec.to_rules()
    assert rules.mode is TimezoneMode.RECIPIENT
    assert rules.default_timezone == "America/New_York"
    assert rules.hours.on(1) == ((540, 720), (780, 1080))
    assert rules.hours.on(6) == ((600, 840),)
    assert rules.hours.on(2) == ()  # a day dailyHours does not name is closed
    assert rules.holiday_calendars == ("US", "US-CA", "GB")
    assert rules.restricted_periods[0].start_date == date(2026, 12, 24)
    assert not rules.restricted_periods[1].is_absolute
    assert rules.start_at == datetime(2026, 12, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"businessHours": {"startTime": "9:00", "endTime": "18:00"}}, "startTime"),
        ({"businessHours": {"startTime": "09:00", "endTime": "09:00"}}, "businessHours"),
        ({"businessHours": {"startTime": "09:00"}}, "businessHours"),
        (
            {"businessHours": {"startTime": "09:00", "endTime": "18:00", "timezone": "Mars/X"}},
            "timezone",
        ),
        (
            {
                "businessHours": {
                    "startTime": "09:00",
                    "endTime": "18:00",
                    "defaultTimeZone": "Nowhere",
                }
            },
            "defaultTimeZone",
        ),
        (
            {"businessHours": {"startTime": "09:00", "endTime": "18:00", "timezoneMode": "X"}},
            "timezoneMode",
        ),
        ({"businessHours": {"dailyHours": {"FUNDAY": []}}}, "dailyHours"),
        (
            {"businessHours": {"dailyHours": {"MONDAY": [{"startTime": "10:00"}]}}},
            "endTime",
        ),
        ({"holidayCalendars": ["XX"]}, "holidayCalendars"),
        ({"holidayCalendars": ["US-ZZ"]}, "holidayCalendars"),
        (
            {
                "restrictedPeriods": [
                    {"name": "x", "startDate": "2026-12-26", "endDate": "2026-12-24"}
                ]
            },
            "restrictedPeriods",
        ),
        (
            {
                "restrictedPeriods": [
                    {"name": "x", "startDate": "2026-13-01", "endDate": "2026-12-24"}
                ]
            },
            "startDate",
        ),
        ({"startAt": "2026-12-01T00:00:00"}, "startAt"),
        ({"startAt": "2026-12-02T00:00:00Z", "endAt": "2026-12-01T00:00:00Z"}, "endAt"),
        ({"businesHours": {}}, "businesHours"),
    ],
)
def test_bad_specs_name_the_failing_field(body: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        CampaignCallingSpec.model_validate(body)
    text = str(caught.value)
    assert field in text, text


def test_holiday_calendars() -> None:
    assert check_calendar("us-ca") == "US-CA"
    with pytest.raises(UnknownCalendar):
        check_calendar("ATLANTIS")
    assert holiday_name("US", date(2026, 7, 4)) == "Independence Day"
    assert holiday_name("US", date(2026, 7, 7)) is None
    # César Chávez Day is a California holiday, not a federal one.
    assert holiday_name("US-CA", date(2026, 3, 31)) is not None
    assert holiday_name("US", date(2026, 3, 31)) is None
    assert holiday_name("GB", date(2026, 12, 28)) is not None  # Boxing Day, observed


def test_restricted_periods() -> None:
    days = RestrictedPeriod("year end", date(2026, 12, 31), date(2027, 1, 1))
    assert days.covers_local(datetime(2027, 1, 1, 23, 59))
    assert not days.covers_local(datetime(2027, 1, 2, 0, 0))
    local = RestrictedPeriod("night", start=datetime(2026, 1, 31, 22), end=datetime(2026, 2, 1, 2))
    assert local.covers_local(datetime(2026, 2, 1, 1, 59, tzinfo=UTC))  # read as a wall clock
    with pytest.raises(ValueError):
        RestrictedPeriod("both", date(2026, 1, 1), date(2026, 1, 2), datetime(2026, 1, 1))
    with pytest.raises(ValueError):
        RestrictedPeriod("mixed", start=datetime(2026, 1, 1, tzinfo=UTC), end=datetime(2026, 1, 2))


def test_a_spec_survives_a_json_round_trip_for_storage() -> None:
    body = {
        "businessHours": {
            "timezone": "America/Chicago",
            "timezoneMode": "RECIPIENT",
            "dailyHours": {"MONDAY": [{"startTime": "22:00", "endTime": "02:00"}]},
        },
        "holidayCalendars": ["us-ca"],
        "restrictedPeriods": [
            {"name": "outage", "start": "2026-12-01T10:00:00Z", "end": "2026-12-01T11:00:00Z"}
        ],
        "endAt": "2027-01-01T00:00:00+01:00",
    }
    spec = CampaignCallingSpec.model_validate(body)
    stored = spec.model_dump_json(by_alias=True, exclude_none=True)
    again = CampaignCallingSpec.model_validate_json(stored)
    assert again.to_rules() == spec.to_rules()
    assert again.to_rules().restricted_periods[0].is_absolute
