"""A campaign's settings as the services use them, built from a database row."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from shared.domain.business_hours import BusinessHours
from shared.domain.retry_policy import RetryConfig
from shared.domain.statuses import CampaignStatus

CAMPAIGN = "CAMPAIGN"
SINGLE_CALLS = "SINGLE_CALLS"


@dataclass(frozen=True)
class Campaign:
    id: UUID
    kind: str
    name: str
    description: str | None
    status: CampaignStatus
    concurrency_limit: int
    priority: int
    retry: RetryConfig
    hours: BusinessHours
    in_flight: int
    settings_version: int
    #: Lines the dispatcher allows it now: its share of the global capacity.
    allowed_lines: int
    #: Call setups a second; None: as fast as lines allow.
    calls_per_second: float | None
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @property
    def is_single_calls(self) -> bool:
        return self.kind == SINGLE_CALLS

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Campaign:
        return cls(
            id=row["id"],
            kind=row["kind"],
            name=row["name"],
            description=row["description"],
            status=CampaignStatus(row["status"]),
            concurrency_limit=row["concurrency_limit"],
            priority=row["priority"],
            retry=retry_config_from_row(row),
            hours=business_hours_from_row(row),
            in_flight=row["in_flight"],
            settings_version=row["settings_version"],
            allowed_lines=row["allowed_lines"],
            calls_per_second=row["calls_per_second"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
            started_at=row["started_at"],
            finished_at=row["finished_at"],
        )


def retry_config_from_row(row: Mapping[str, Any]) -> RetryConfig:
    return RetryConfig(
        max_retries=row["max_retries"],
        sync_initial_backoff_ms=row["sync_initial_backoff_ms"],
        sync_backoff_multiplier=row["sync_backoff_multiplier"],
        callback_retry_delay_ms=row["callback_retry_delay_ms"],
        callback_timeout_ms=row["callback_timeout_ms"],
    )


def business_hours_from_row(row: Mapping[str, Any]) -> BusinessHours:
    return BusinessHours(
        start_minute=row["window_start_minute"],
        end_minute=row["window_end_minute"],
        timezone=row["timezone"],
        allowed_days=frozenset(row["allowed_days"]),
    )
