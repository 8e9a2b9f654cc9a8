"""Turning a request's settings into a campaign's: defaults filled in, every rule checked."""

from __future__ import annotations

from typing import Any

from services.api.schemas import (
    AnsweringMachineIn,
    BusinessHoursIn,
    CampaignCreate,
    CampaignPatch,
    OutcomeRetryIn,
    RetryConfigIn,
    RetryOutcomesIn,
    check_schedule,
)
from shared.domain.answering_machine import AnsweringMachine
from shared.domain.business_hours import (
    ALL_DAYS,
    ALWAYS_OPEN,
    MINUTES_PER_DAY,
    BusinessHours,
    BusinessHoursError,
    load_zone,
    parse_clock,
    parse_days,
)
from shared.domain.campaign import BUSINESS_HOURS_CALLING_FIELDS, Campaign
from shared.domain.retry_policy import OutcomeRetry, RetryConfig, RetryOutcome
from shared.errors import InvalidInput
from shared.repositories.campaigns import Schedule
from shared.settings import Settings


def retry_config_from(body: RetryConfigIn | None, settings: Settings) -> RetryConfig:
    body = body or RetryConfigIn()
    return RetryConfig(
        max_retries=pick(body.max_retries, settings.default_max_retries),
        sync_initial_backoff_ms=pick(
            body.sync_initial_backoff_ms, settings.default_sync_initial_backoff_ms
        ),
        sync_backoff_multiplier=pick(
            body.sync_backoff_multiplier, settings.default_sync_backoff_multiplier
        ),
        callback_retry_delay_ms=pick(
            body.callback_retry_delay_ms, settings.default_callback_retry_delay_ms
        ),
        callback_timeout_ms=pick(body.callback_timeout_ms, settings.default_callback_timeout_ms),
        outcomes=outcome_rules_from(body.outcomes),
        jitter_ratio=pick(body.jitter_ratio, 0.0),
    )


def merged_retry_config(current: RetryConfig, body: RetryConfigIn) -> RetryConfig:
    """`current` with the fields `body` sets replaced; `outcomes`, when given, replaces the
    whole map (an outcome left out of it follows the general fields again)."""
    given = body.model_fields_set
    return RetryConfig(
        max_retries=pick(body.max_retries, current.max_retries),
        sync_initial_backoff_ms=pick(body.sync_initial_backoff_ms, current.sync_initial_backoff_ms),
        sync_backoff_multiplier=pick(body.sync_backoff_multiplier, current.sync_backoff_multiplier),
        callback_retry_delay_ms=pick(body.callback_retry_delay_ms, current.callback_retry_delay_ms),
        callback_timeout_ms=pick(body.callback_timeout_ms, current.callback_timeout_ms),
        outcomes=outcome_rules_from(body.outcomes) if "outcomes" in given else current.outcomes,
        jitter_ratio=pick(body.jitter_ratio, current.jitter_ratio),
    )


def outcome_rules_from(body: RetryOutcomesIn | None) -> dict[RetryOutcome, OutcomeRetry]:
    """The per-outcome rules a request gives (`null` or `{}`: none)."""
    if body is None:
        return {}
    rules: dict[RetryOutcome, OutcomeRetry] = {}
    for name in body.model_fields_set:
        rule: OutcomeRetryIn | None = getattr(body, name)
        if rule is None:
            continue
        key = RetryOutcome(str(RetryOutcomesIn.model_fields[name].alias))
        rules[key] = OutcomeRetry(
            retry=rule.retry,
            max_retries=rule.max_retries,
            delay_ms=rule.delay_ms,
            backoff_multiplier=rule.backoff_multiplier,
        )
    return rules


def answering_machine_from(body: AnsweringMachineIn | None) -> AnsweringMachine:
    """The campaign's answering-machine setting (none given: no detection, COMPLETE)."""
    if body is None:
        return AnsweringMachine()
    return AnsweringMachine(detect=body.detect, on_machine=body.on_machine)


def merged_answering_machine(
    current: AnsweringMachine, body: AnsweringMachineIn | None
) -> AnsweringMachine:
    """`current` with the fields a PATCH gives replaced; null resets it."""
    if body is None:
        return AnsweringMachine()
    given = body.model_fields_set
    return AnsweringMachine(
        detect=body.detect if "detect" in given else current.detect,
        on_machine=body.on_machine if "on_machine" in given else current.on_machine,
    )


def pick(value: Any, default: Any) -> Any:
    return default if value is None else value


def business_hours_from(body: BusinessHoursIn | None) -> BusinessHours:
    """The calling window, or InvalidInput naming the field at fault. With dailyHours, the
    seed's window is what the body says of it, or the whole day: dailyHours replaces it."""
    if body is None:
        return ALWAYS_OPEN
    field = "businessHours."
    zone = body.default_time_zone
    if zone is not None:
        _checked(field + "defaultTimeZone", lambda: load_zone(zone))
    if body.start_time is None or body.end_time is None:
        _checked(field + "timezone", lambda: load_zone(body.timezone))
        return BusinessHours(0, MINUTES_PER_DAY, body.timezone, ALL_DAYS)
    start = _checked(field + "startTime", lambda: parse_clock(body.start_time))
    end = _checked(field + "endTime", lambda: parse_clock(body.end_time, allow_end_of_day=True))
    _checked(field + "timezone", lambda: load_zone(body.timezone))
    days = _checked(field + "allowedDays", lambda: parse_days(body.allowed_days))
    if start == end:
        raise _field_error(field + "endTime", "the window is empty: endTime equals startTime")
    # An end before the start crosses midnight, flag or no flag: the seed read 22:00-06:00 so,
    # and its clients cannot send the flag.
    if start < end and body.crosses_midnight:
        raise _field_error(
            field + "crossesMidnight",
            "crossesMidnight is true but endTime is after startTime on the same day",
        )
    return BusinessHours(start, end, body.timezone, days)


def _checked(field: str, parse: Any) -> Any:
    try:
        return parse()
    except BusinessHoursError as exc:
        raise _field_error(field, str(exc)) from exc


def _field_error(field: str, message: str) -> InvalidInput:
    return InvalidInput(f"{field}: {message}", errors=[{"field": field, "message": message}])


def _calling(
    hours: BusinessHoursIn | None, calendars: list[str], periods: list[Any]
) -> dict[str, Any]:
    """The campaign's `calling` column: what the seed's columns cannot hold."""
    calling: dict[str, Any] = {}
    if hours is not None:
        dumped = hours.model_dump(mode="json", by_alias=True, exclude_none=True)
        calling.update({k: dumped[k] for k in BUSINESS_HOURS_CALLING_FIELDS if k in dumped})
    if calendars:
        calling["holidayCalendars"] = list(calendars)
    if periods:
        calling["restrictedPeriods"] = [
            p.model_dump(mode="json", by_alias=True, exclude_none=True) for p in periods
        ]
    return calling


def schedule_from(body: CampaignCreate) -> Schedule:
    return Schedule(
        _calling(body.business_hours, body.holiday_calendars or [], body.restricted_periods or []),
        body.start_at,
        body.end_at,
        body.auto_start,
    )


_SCHEDULE_FIELDS = frozenset(
    {
        "business_hours",
        "holiday_calendars",
        "restricted_periods",
        "start_at",
        "end_at",
        "auto_start",
    }
)


def merged_schedule(current: Campaign, body: CampaignPatch) -> Schedule | None:
    """The schedule after a PATCH (None when it names none of its fields): fields the body
    leaves out keep their values; businessHours replaces the whole window, its mode and zones
    included. InvalidInput when the result contradicts itself."""
    present = body.model_fields_set
    if not present & _SCHEDULE_FIELDS:
        return None
    calling = dict(current.calling)
    if "business_hours" in present:
        for key in BUSINESS_HOURS_CALLING_FIELDS:
            calling.pop(key, None)
        calling.update(_calling(body.business_hours, [], []))
    if "holiday_calendars" in present:
        calling.pop("holidayCalendars", None)
        calling.update(_calling(None, body.holiday_calendars or [], []))
    if "restricted_periods" in present:
        calling.pop("restrictedPeriods", None)
        calling.update(_calling(None, [], body.restricted_periods or []))
    start_at = body.start_at if "start_at" in present else current.start_at
    end_at = body.end_at if "end_at" in present else current.end_at
    auto_start = current.auto_start if body.auto_start is None else body.auto_start
    try:
        check_schedule(start_at, end_at)
    except ValueError as exc:
        raise _field_error("endAt", str(exc)) from exc
    if auto_start and start_at is None:
        raise _field_error("autoStart", "autoStart needs startAt")
    return Schedule(calling, start_at, end_at, auto_start)
