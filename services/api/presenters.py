"""Domain objects and rows turned into the API's response bodies."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Literal

from services.api.operations.ingestion import ImportReport
from services.api.operations.suppressions import LoadReport
from services.api.schemas import (
    AnsweredByValue,
    AnsweringMachineOut,
    AttemptOut,
    BusinessHoursOut,
    CallOut,
    CampaignMetrics,
    CampaignOut,
    ContactPolicyOut,
    ImportResult,
    InvalidLineOut,
    OutcomeRetryOut,
    RetryConfigOut,
)
from services.api.suppression_schemas import SuppressionOut, SuppressionReport
from shared.domain.answering_machine import answered_by
from shared.domain.business_hours import format_clock, format_days
from shared.domain.calling import TimezoneMode
from shared.domain.campaign import Campaign
from shared.domain.frequency_caps import caps_to_json
from shared.domain.statuses import CallStatus, CampaignStatus
from shared.repositories.call_counts import CallCounts
from shared.repositories.suppressions import Entry


def campaign_out(
    campaign: Campaign, counts: CallCounts, next_dial_at: datetime | None = None
) -> CampaignOut:
    hours = campaign.hours
    retry = campaign.retry
    calling = campaign.calling
    return CampaignOut(
        id=campaign.id,
        name=campaign.name,
        description=campaign.description,
        status=campaign.status.value,
        concurrency_limit=campaign.concurrency_limit,
        priority=campaign.priority,
        retry_config=RetryConfigOut(
            max_retries=retry.max_retries,
            sync_initial_backoff_ms=retry.sync_initial_backoff_ms,
            sync_backoff_multiplier=retry.sync_backoff_multiplier,
            callback_retry_delay_ms=retry.callback_retry_delay_ms,
            callback_timeout_ms=retry.callback_timeout_ms,
            outcomes={
                key.value: OutcomeRetryOut(
                    retry=rule.retry,
                    max_retries=rule.max_retries,
                    delay_ms=rule.delay_ms,
                    backoff_multiplier=rule.backoff_multiplier,
                )
                for key, rule in sorted(retry.outcomes.items())
            },
            jitter_ratio=retry.jitter_ratio,
        ),
        business_hours=BusinessHoursOut(
            start_time=format_clock(hours.start_minute),
            end_time=format_clock(hours.end_minute),
            timezone=hours.timezone,
            allowed_days=format_days(hours.allowed_days),
            crosses_midnight=hours.crosses_midnight,
            timezone_mode=calling.get("timezoneMode", TimezoneMode.CAMPAIGN.value),
            default_time_zone=calling.get("defaultTimeZone"),
            daily_hours=calling.get("dailyHours"),
        ),
        calls_per_second=campaign.calls_per_second,
        holiday_calendars=list(calling.get("holidayCalendars", [])),
        restricted_periods=list(calling.get("restrictedPeriods", [])),
        start_at=campaign.start_at,
        end_at=campaign.end_at,
        auto_start=campaign.auto_start,
        contact_policy=ContactPolicyOut(frequency_caps=caps_to_json(campaign.frequency_caps)),
        answering_machine=AnsweringMachineOut(
            detect=campaign.answering_machine.detect,
            on_machine=campaign.answering_machine.on_machine,
        ),
        next_dial_at=next_dial_at,
        metrics=CampaignMetrics(
            total_calls=counts.total,
            pending_calls=counts[CallStatus.PENDING],
            in_progress_calls=counts[CallStatus.SCHEDULED] + counts[CallStatus.IN_PROGRESS],
            completed_calls=counts[CallStatus.COMPLETED],
            failed_calls=counts[CallStatus.FAILED],
            permanently_failed_calls=counts[CallStatus.PERMANENTLY_FAILED],
            cancelled_calls=counts[CallStatus.CANCELLED],
            suppressed_calls=counts.suppressed,
            total_retries=counts.total_retries,
        ),
        created_at=campaign.created_at,
        updated_at=campaign.updated_at,
        started_at=campaign.started_at,
        finished_at=campaign.finished_at,
    )


def attempt_out(row: Mapping[str, Any]) -> AttemptOut:
    outcome = row["outcome"]
    if outcome is None and row["timed_out_at"] is not None:
        outcome = "TIMED_OUT"
    return AttemptOut(
        attempt_number=row["attempt_no"],
        started_at=row["started_at"],
        ended_at=row["ended_at"] or row["timed_out_at"],
        external_call_id=row["external_call_id"],
        provider_status=row["provider_status"],
        outcome=outcome,
        reason=row["reason"],
        duration_seconds=row["duration_seconds"],
        timed_out_at=row["timed_out_at"],
        answered_by=shown_answer(row["answered_by"]),
        sip_response_code=row["sip_response_code"],
    )


def call_out(row: Mapping[str, Any], attempts: Sequence[Mapping[str, Any]]) -> CallOut:
    return CallOut(
        id=row["id"],
        campaign_id=None if row["campaign_kind"] == "SINGLE_CALLS" else row["campaign_id"],
        phone_number=row["phone_number"],
        status=row["status"],
        retry_count=max(row["dial_count"] - 1, 0),
        last_attempted_at=row["last_attempted_at"],
        next_retry_at=row["next_retry_at"],
        external_call_id=row["external_call_id"],
        failure_reason=row["failure_reason"],
        call_duration_seconds=row["call_duration_seconds"],
        answered_by=shown_answer(row["answered_by"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        attributes=row["attributes"],
        timezone=shown_timezone(row["timezones"]),
        timezone_source=row["timezone_source"],
        attempts=[attempt_out(a) for a in attempts],
    )


def shown_answer(stored: str | None) -> AnsweredByValue | None:
    """Who answered, in our four words: attempts recorded before they were normalised keep
    the carrier's (machine_start...)."""
    who = answered_by(stored)
    return who.value if who else None


def shown_timezone(zones: Sequence[str] | None) -> str | list[str] | None:
    """A call's zone as the API shows it: the zone, the candidates when several, else null."""
    if not zones:
        return None
    return zones[0] if len(zones) == 1 else list(zones)


def import_result(report: ImportReport, campaign_status: CampaignStatus) -> ImportResult:
    """What a load of numbers did: the answer of an import, and a new campaign's summary."""
    status: Literal["IMPORTED", "PARTIALLY_IMPORTED", "NOTHING_IMPORTED"]
    if report.total_imported == 0:
        status = "NOTHING_IMPORTED"
    elif report.total_imported == report.total_received:
        status = "IMPORTED"
    else:
        status = "PARTIALLY_IMPORTED"
    return ImportResult(
        total_received=report.total_received,
        total_imported=report.total_imported,
        duplicates_skipped=report.duplicates_skipped,
        invalid_skipped=report.invalid_skipped,
        suppressed=report.suppressed,
        status=status,
        campaign_status=campaign_status.value,
        invalid_lines=[
            InvalidLineOut(line=bad.line, value=bad.value, reason=bad.reason)
            for bad in report.invalid_lines
        ],
        invalid_lines_truncated=report.invalid_lines_truncated,
    )


def suppression_report(report: LoadReport) -> SuppressionReport:
    """What adding numbers to a do-not-call list did."""
    return SuppressionReport(
        total_received=report.total_received,
        added=report.added,
        already_present=report.already_present,
        invalid_skipped=report.invalid_skipped,
        invalid_lines=[
            InvalidLineOut(line=bad.line, value=bad.value, reason=bad.reason)
            for bad in report.invalid_lines
        ],
    )


def suppression_out(entry: Entry) -> SuppressionOut:
    return SuppressionOut(
        phone_number=entry.phone_number,
        campaign_id=entry.campaign_id,
        reason=entry.reason,
        source_call_id=entry.source_call_id,
        expires_at=entry.expires_at,
        created_at=entry.created_at,
    )
