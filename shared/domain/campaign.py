"""A campaign's settings as the services use them, built from a database row."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any
from uuid import UUID

from shared.domain.answering_machine import AnsweringMachine, OnMachine
from shared.domain.business_hours import BusinessHours, format_clock, format_days
from shared.domain.calling.rules import CampaignCallingRules
from shared.domain.calling.spec import CampaignCallingSpec
from shared.domain.frequency_caps import FrequencyCap, caps_from_json
from shared.domain.retry_policy import RetryConfig, outcomes_from_json
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
    #: What the seed's columns cannot say (timezoneMode, defaultTimeZone, dailyHours,
    #: holidayCalendars, restrictedPeriods), in the API's camelCase: see CALLING_FIELDS.
    calling: Mapping[str, Any] = field(default_factory=dict)
    start_at: datetime | None = None
    end_at: datetime | None = None
    auto_start: bool = False
    #: {"frequencyCaps": [...]}, in the API's camelCase: see `frequency_caps`.
    contact_policy: Mapping[str, Any] = field(default_factory=dict)
    answering_machine: AnsweringMachine = field(default_factory=AnsweringMachine)

    @property
    def frequency_caps(self) -> tuple[FrequencyCap, ...]:
        """The campaign's own caps (the policy's apply on top)."""
        return _caps(json.dumps(self.contact_policy.get("frequencyCaps") or [], sort_keys=True))

    @property
    def is_single_calls(self) -> bool:
        return self.kind == SINGLE_CALLS

    @property
    def calling_rules(self) -> CampaignCallingRules:
        """Every time-based rule of the campaign, as the calling domain reads them."""
        hours = self.hours
        return _calling_rules(
            hours.start_minute,
            hours.end_minute,
            hours.timezone,
            tuple(sorted(hours.allowed_days)),
            json.dumps(self.calling, sort_keys=True),
            self.start_at,
            self.end_at,
        )

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
            calling=row["calling"],
            start_at=row["start_at"],
            end_at=row["end_at"],
            auto_start=row["auto_start"],
            contact_policy=row["contact_policy"],
            answering_machine=answering_machine_from_row(row),
        )


def retry_config_from_row(row: Mapping[str, Any]) -> RetryConfig:
    return RetryConfig(
        max_retries=row["max_retries"],
        sync_initial_backoff_ms=row["sync_initial_backoff_ms"],
        sync_backoff_multiplier=row["sync_backoff_multiplier"],
        callback_retry_delay_ms=row["callback_retry_delay_ms"],
        callback_timeout_ms=row["callback_timeout_ms"],
        outcomes=outcomes_from_json(row["retry_outcomes"]),
        jitter_ratio=row["retry_jitter_ratio"],
    )


def answering_machine_from_row(row: Mapping[str, Any]) -> AnsweringMachine:
    return AnsweringMachine(
        detect=row["machine_detection"], on_machine=OnMachine(row["on_machine"])
    )


def business_hours_from_row(row: Mapping[str, Any]) -> BusinessHours:
    return BusinessHours(
        start_minute=row["window_start_minute"],
        end_minute=row["window_end_minute"],
        timezone=row["timezone"],
        allowed_days=frozenset(row["allowed_days"]),
    )


#: The business hours fields a campaign keeps in its `calling` column, and the top-level ones.
BUSINESS_HOURS_CALLING_FIELDS = ("timezoneMode", "defaultTimeZone", "dailyHours")
CALLING_FIELDS = ("holidayCalendars", "restrictedPeriods")


@lru_cache(maxsize=4096)
def _calling_rules(
    start_minute: int,
    end_minute: int,
    timezone: str,
    days: tuple[int, ...],
    calling_json: str,
    start_at: datetime | None,
    end_at: datetime | None,
) -> CampaignCallingRules:
    # Stored settings were checked when they were written: validating them again here only
    # turns them into the domain's types (cached: a dispatcher pass reads every campaign).
    calling = json.loads(calling_json)
    hours = {
        "startTime": format_clock(start_minute),
        "endTime": format_clock(end_minute),
        "timezone": timezone,
        "allowedDays": format_days(frozenset(days)),
        **{k: calling[k] for k in BUSINESS_HOURS_CALLING_FIELDS if k in calling},
    }
    spec = CampaignCallingSpec.model_validate(
        {
            "businessHours": hours,
            **{k: calling[k] for k in CALLING_FIELDS if k in calling},
            "startAt": start_at,
            "endAt": end_at,
        }
    )
    return spec.to_rules()


@lru_cache(maxsize=1024)
def _caps(caps_json: str) -> tuple[FrequencyCap, ...]:
    return caps_from_json(json.loads(caps_json))
