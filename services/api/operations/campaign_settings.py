"""Turning a request's settings into a campaign's: defaults filled in, every rule checked."""

from __future__ import annotations

from typing import Any

from services.api.schemas import BusinessHoursIn, RetryConfigIn
from shared.domain.business_hours import (
    ALWAYS_OPEN,
    BusinessHours,
    BusinessHoursError,
    load_zone,
    parse_clock,
    parse_days,
)
from shared.domain.retry_policy import RetryConfig
from shared.errors import InvalidInput
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
    )


def merged_retry_config(current: RetryConfig, body: RetryConfigIn) -> RetryConfig:
    """`current` with the fields `body` sets replaced."""
    return RetryConfig(
        max_retries=pick(body.max_retries, current.max_retries),
        sync_initial_backoff_ms=pick(body.sync_initial_backoff_ms, current.sync_initial_backoff_ms),
        sync_backoff_multiplier=pick(body.sync_backoff_multiplier, current.sync_backoff_multiplier),
        callback_retry_delay_ms=pick(body.callback_retry_delay_ms, current.callback_retry_delay_ms),
        callback_timeout_ms=pick(body.callback_timeout_ms, current.callback_timeout_ms),
    )


def pick(value: Any, default: Any) -> Any:
    return default if value is None else value


def business_hours_from(body: BusinessHoursIn | None) -> BusinessHours:
    """The calling window, or InvalidInput naming the field at fault."""
    if body is None:
        return ALWAYS_OPEN
    field = "businessHours."
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
