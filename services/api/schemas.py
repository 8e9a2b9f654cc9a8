"""HTTP request and response bodies, with the seed API's camelCase field names."""

from __future__ import annotations

import zoneinfo
from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)
from pydantic.alias_generators import to_camel

from shared.messages.telephony import ProviderStatus
from shared.settings import MAX_CALLBACK_TIMEOUT_MS


class RequestBody(BaseModel):
    """Strict: unknown fields and wrongly typed values are errors, reported per field."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=False, extra="forbid", strict=True, frozen=True
    )


class ResponseBody(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


# Requests

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


def _json_integer(value: Any) -> Any:
    """JSON has numbers, not integers: 6.0 is the integer 6, as JSON Schema says. Text and
    booleans are still refused (the models are strict)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


Int = Annotated[int, BeforeValidator(_json_integer)]
CLOCK_PATTERN = r"^([01][0-9]|2[0-4]):[0-5][0-9](:[0-5][0-9])?$"
TimeZone = Annotated[
    str,
    Field(
        json_schema_extra={"enum": sorted(zoneinfo.available_timezones())},
        description="IANA time zone, e.g. America/New_York",
    ),
]


class RetryConfigIn(RequestBody):
    max_retries: Int | None = Field(None, ge=0, le=20)
    sync_initial_backoff_ms: Int | None = Field(None, ge=0, le=600_000)
    sync_backoff_multiplier: float | None = Field(None, ge=1.0, le=10.0)
    callback_retry_delay_ms: Int | None = Field(None, ge=0, le=86_400_000)
    callback_timeout_ms: Int | None = Field(None, ge=1000, le=MAX_CALLBACK_TIMEOUT_MS)


class BusinessHoursIn(RequestBody):
    start_time: str = Field(
        description='Local opening time, "HH:MM"', examples=["09:00"], pattern=CLOCK_PATTERN
    )
    end_time: str = Field(
        description='Local closing time, "HH:MM" (exclusive; "24:00" allowed)',
        pattern=CLOCK_PATTERN,
    )
    timezone: TimeZone = "UTC"
    allowed_days: str | list[str] = Field(
        "MONDAY,TUESDAY,WEDNESDAY,THURSDAY,FRIDAY,SATURDAY,SUNDAY",
        description='"MONDAY,TUESDAY" or ["MONDAY", "TUESDAY"]; three-letter names work too',
    )
    crosses_midnight: bool = Field(
        False,
        description="Must be true for a window whose end is before its start (22:00-02:00);"
        " the part after midnight then belongs to the next day.",
    )


CallsPerSecond = Annotated[
    float,
    Field(
        gt=0,
        le=1000,
        description="Call setups a second, spread evenly; omitted: as fast as lines allow",
    ),
]


class CampaignCreate(RequestBody):
    name: Name
    description: str | None = Field(None, max_length=2000)
    phone_numbers: list[str] = Field(default_factory=list, max_length=100_000)
    concurrency_limit: Int | None = Field(None, ge=1, le=1000)
    priority: Int | None = Field(None, ge=1, le=10)
    retry_config: RetryConfigIn | None = None
    business_hours: BusinessHoursIn | None = None
    calls_per_second: CallsPerSecond | None = None


class CampaignPatch(RequestBody):
    """Only the fields present change. `retryConfig` fields merge into the current ones;
    `businessHours` replaces the whole window."""

    name: Name | None = None
    description: str | None = Field(None, max_length=2000)
    concurrency_limit: Int | None = Field(None, ge=1, le=1000)
    priority: Int | None = Field(None, ge=1, le=10)
    retry_config: RetryConfigIn | None = None
    business_hours: BusinessHoursIn | None = None
    calls_per_second: CallsPerSecond | None = Field(
        None, description="null removes the campaign's own pace"
    )


class ImportBatch(RequestBody):
    phone_numbers: list[str] = Field(max_length=1_000_000)


class SingleCallCreate(RequestBody):
    phone_number: str = Field(min_length=1, max_length=40)


class CallbackIn(RequestBody):
    external_call_id: str = Field(min_length=1, max_length=200)
    status: ProviderStatus
    duration_seconds: Int | None = Field(None, ge=0, le=86_400)
    failure_reason: str | None = Field(None, max_length=500)

    @field_validator("status", mode="before")
    @classmethod
    def _canonical_status(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.strip().upper().replace("-", "_")
            return {"CANCELLED": "CANCELED", "NOANSWER": "NO_ANSWER"}.get(value, value)
        return value


# Responses


class RetryConfigOut(ResponseBody):
    max_retries: int
    sync_initial_backoff_ms: int
    sync_backoff_multiplier: float
    callback_retry_delay_ms: int
    callback_timeout_ms: int


class BusinessHoursOut(ResponseBody):
    start_time: str
    end_time: str
    timezone: str
    allowed_days: str
    crosses_midnight: bool


class CampaignMetrics(ResponseBody):
    total_calls: int
    pending_calls: int
    in_progress_calls: int
    completed_calls: int
    failed_calls: int
    permanently_failed_calls: int
    cancelled_calls: int
    total_retries: int


class CampaignOut(ResponseBody):
    id: UUID
    name: str
    description: str | None
    status: str
    concurrency_limit: int
    priority: int
    retry_config: RetryConfigOut
    business_hours: BusinessHoursOut
    calls_per_second: float | None
    metrics: CampaignMetrics
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class AttemptOut(ResponseBody):
    attempt_number: int
    started_at: datetime
    ended_at: datetime | None
    external_call_id: str | None
    provider_status: str | None
    outcome: str | None = Field(
        description="COMPLETED, BUSY, NO_ANSWER, FAILED, CANCELED, REJECTED, NOT_PLACED, or"
        " TIMED_OUT when no result came in time; null while the call is live"
    )
    reason: str | None
    duration_seconds: int | None
    timed_out_at: datetime | None
    answered_by: str | None = Field(
        None, description="Who answered, when the carrier detects it: human, machine_start..."
    )
    sip_response_code: int | None = Field(
        None, description="The SIP response the carrier reported for the call, if any"
    )


class CallOut(ResponseBody):
    id: UUID
    campaign_id: UUID | None = Field(description="null for a single call")
    phone_number: str
    status: str
    retry_count: int
    last_attempted_at: datetime | None
    next_retry_at: datetime | None
    external_call_id: str | None
    failure_reason: str | None
    call_duration_seconds: int | None
    created_at: datetime
    updated_at: datetime
    attributes: dict[str, str] | None = Field(
        description="The extra columns of the uploaded file's line, by column name"
    )
    attempts: list[AttemptOut]


class InvalidLineOut(ResponseBody):
    line: int = Field(description="1-based line of the file, or position in the JSON list")
    value: str
    reason: str


class ImportResult(ResponseBody):
    total_received: int
    total_imported: int
    duplicates_skipped: int
    invalid_skipped: int
    status: Literal["IMPORTED", "PARTIALLY_IMPORTED", "NOTHING_IMPORTED"] = Field(
        description="IMPORTED: every number received was added; PARTIALLY_IMPORTED: some were"
        " skipped as invalid or duplicate; NOTHING_IMPORTED: none was added"
    )
    campaign_status: str
    invalid_lines: list[InvalidLineOut]
    invalid_lines_truncated: bool = Field(
        description="true when there were more invalid lines than listed"
    )


class CallbackOut(ResponseBody):
    external_call_id: str
    applied: bool = Field(description="false when this status was already recorded")
    call_id: UUID
    call_status: str | None
