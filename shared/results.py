"""The one idempotent function through which every attempt ends.

A provider's result (a message from the mock, an HTTP callback), the watchdog's timeout and the
worker's own verdict on a dial all end attempts here. Duplicates change nothing, a final state
never regresses, and a real result that arrives after the watchdog timed the attempt out is
still recorded and withdraws the retry that the timeout scheduled, if it has not been dialled.

Concurrent endings of one attempt (a result racing the watchdog, a duplicate callback) are
settled by compare-and-set on the attempt row rather than by locks held across round trips.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import asyncpg

from shared.domain.campaign import retry_config_from_row
from shared.domain.retry_policy import after_attempt
from shared.domain.statuses import AttemptOutcome, CallStatus, CampaignStatus
from shared.messages.telephony import ProviderStatus
from shared.repositories.attempts import AttemptRef, find_attempt_by_external_id

TIMEOUT_REASON = "no result within callbackTimeoutMs"

_FINAL_PROVIDER_STATUSES: dict[str, AttemptOutcome] = {
    "COMPLETED": AttemptOutcome.COMPLETED,
    "BUSY": AttemptOutcome.BUSY,
    "NO_ANSWER": AttemptOutcome.NO_ANSWER,
    "FAILED": AttemptOutcome.FAILED,
    "CANCELED": AttemptOutcome.CANCELED,
}


def outcome_of(status: ProviderStatus) -> AttemptOutcome | None:
    """The attempt outcome a provider status means; None for progress (queued, ringing...)."""
    return _FINAL_PROVIDER_STATUSES.get(status)


@dataclass(frozen=True)
class Ending:
    """How an attempt ended. `outcome` None means no result came in time."""

    outcome: AttemptOutcome | None
    reason: str | None = None
    duration_seconds: int | None = None
    external_call_id: str | None = None


@dataclass(frozen=True)
class EndEffect:
    """What ending an attempt changed, for the caller to tell the worker and the dispatcher."""

    ref: AttemptRef
    campaign_id: UUID
    #: The worker holding the attempt's job.
    worker_id: str
    #: False for a duplicate: nothing changed.
    applied: bool
    #: True if the attempt held a line until now: its job may be acknowledged.
    released_line: bool
    call_status: CallStatus | None


_READ_ATTEMPT = """
    SELECT a.campaign_id, a.worker_id, a.outcome, a.timed_out_at,
           c.status AS call_status, c.attempt_count, c.dial_count,
           k.status AS campaign_status, k.max_retries, k.sync_initial_backoff_ms,
           k.sync_backoff_multiplier, k.callback_retry_delay_ms, k.callback_timeout_ms
    FROM call_attempts a
    JOIN calls c ON c.id = a.call_id
    JOIN campaigns k ON k.id = a.campaign_id
    WHERE a.call_id = $1 AND a.attempt_no = $2
"""


@dataclass(frozen=True)
class _CallChange:
    status: CallStatus
    next_retry_at: datetime | None
    dial_count: int
    failure_reason: str | None
    duration_seconds: int | None
    #: The call must still be in this status (a late result must not overtake a retry).
    expected_status: CallStatus | None = None


# Everything an ending changes, in one statement and without a lock held between round trips:
# the attempt is updated only if it is still as it was read (compare and set), and the call
# and the campaign's fence only if that succeeded. Attempt columns are written once
# (coalesce), as the append-only trigger demands.
_APPLY_ENDING = """
    WITH attempt AS (
        UPDATE call_attempts SET
            timed_out_at = coalesce(timed_out_at, $3),
            outcome = coalesce(outcome, $4),
            reason = coalesce(reason, $5),
            duration_seconds = coalesce(duration_seconds, $6),
            ended_at = coalesce(ended_at, $7),
            external_call_id = coalesce(external_call_id, $8)
        WHERE call_id = $1 AND attempt_no = $2
          AND outcome IS NOT DISTINCT FROM $17 AND timed_out_at IS NOT DISTINCT FROM $18
        RETURNING call_id
    ), call AS (
        UPDATE calls SET status = $9, next_retry_at = $10, dial_count = $11,
            failure_reason = $12, call_duration_seconds = $13,
            external_call_id = coalesce($8, external_call_id), updated_at = $14
        WHERE id = $1 AND attempt_count = $2 AND $9::text IS NOT NULL
          AND ($19::text IS NULL OR status = $19)
          AND EXISTS (SELECT 1 FROM attempt)
    ), fence AS (
        UPDATE campaigns SET in_flight = in_flight - 1
        WHERE id = $15 AND $16 AND EXISTS (SELECT 1 FROM attempt)
    )
    SELECT EXISTS (SELECT 1 FROM attempt)
"""


async def end_attempt(
    conn: asyncpg.Connection, ref: AttemptRef, ending: Ending, now: datetime
) -> EndEffect | None:
    """Record how the attempt `ref` ended and move its call on; None if there is no such attempt."""
    while True:
        row = await conn.fetchrow(_READ_ATTEMPT, ref.call_id, ref.attempt_no)
        if row is None:
            return None
        was_open = row["outcome"] is None and row["timed_out_at"] is None
        timing_out = ending.outcome is None
        if (timing_out and not was_open) or (not timing_out and row["outcome"] is not None):
            return EndEffect(ref, row["campaign_id"], row["worker_id"], False, False, None)

        is_current = row["attempt_count"] == ref.attempt_no
        change: _CallChange | None = None
        if was_open and is_current:
            change = _next_call_state(row, ending, now)
        elif ending.outcome is AttemptOutcome.COMPLETED and is_current:
            # A late real success after the watchdog gave up: the retry it scheduled has not
            # been dialled (this is still the call's latest attempt), so withdraw it.
            change = _late_completion(row, ending)
        applied = await conn.fetchval(
            _APPLY_ENDING,
            ref.call_id,
            ref.attempt_no,
            now if timing_out else None,
            ending.outcome.value if ending.outcome else None,
            ending.reason if not timing_out else None,
            ending.duration_seconds,
            None if timing_out else now,
            ending.external_call_id,
            change.status.value if change else None,
            change.next_retry_at if change else None,
            change.dial_count if change else None,
            change.failure_reason if change else None,
            change.duration_seconds if change else None,
            now,
            row["campaign_id"],
            was_open,
            row["outcome"],
            row["timed_out_at"],
            change.expected_status.value if change and change.expected_status else None,
        )
        if applied:
            return EndEffect(
                ref,
                row["campaign_id"],
                row["worker_id"],
                True,
                was_open,
                change.status if change else None,
            )
        # Someone else ended the attempt between our read and our write: read it again.


def _next_call_state(row: asyncpg.Record, ending: Ending, now: datetime) -> _CallChange:
    dials = row["dial_count"] - (1 if ending.outcome is AttemptOutcome.NOT_PLACED else 0)
    step = after_attempt(
        ending.outcome,
        dials,
        retry_config_from_row(row),
        now,
        campaign_cancelled=row["campaign_status"] == CampaignStatus.CANCELLED,
    )
    failure = None
    if ending.outcome is not AttemptOutcome.COMPLETED:
        failure = ending.reason or (ending.outcome.value if ending.outcome else TIMEOUT_REASON)
    return _CallChange(step.status, step.next_retry_at, dials, failure, ending.duration_seconds)


def _late_completion(row: asyncpg.Record, ending: Ending) -> _CallChange | None:
    status = CallStatus(row["call_status"])
    if status not in (CallStatus.FAILED, CallStatus.PERMANENTLY_FAILED, CallStatus.CANCELLED):
        return None
    return _CallChange(
        CallStatus.COMPLETED,
        None,
        row["dial_count"],
        None,
        ending.duration_seconds,
        expected_status=status,
    )


@dataclass(frozen=True)
class ProviderReport:
    """A provider's status for one attempt, however it reached us."""

    external_call_id: str
    status: ProviderStatus
    ref: AttemptRef | None = None
    duration_seconds: int | None = None
    failure_reason: str | None = None


async def apply_provider_report(
    conn: asyncpg.Connection, report: ProviderReport, now: datetime
) -> EndEffect | None:
    """Apply a provider's status report; None if it names no attempt we know."""
    ref = report.ref or await find_attempt_by_external_id(conn, report.external_call_id)
    if ref is None:
        return None
    outcome = outcome_of(report.status)
    if outcome is None:
        return await _record_progress(conn, ref, report)
    reason = report.failure_reason
    if outcome is not AttemptOutcome.COMPLETED and not reason:
        reason = outcome.value
    ending = Ending(outcome, reason, report.duration_seconds, report.external_call_id)
    return await end_attempt(conn, ref, ending, now)


async def _record_progress(
    conn: asyncpg.Connection, ref: AttemptRef, report: ProviderReport
) -> EndEffect | None:
    """Progress (ringing...) of an attempt without a result yet; ignored once it has one."""
    row = await conn.fetchrow(
        """
        WITH progressed AS (
            UPDATE call_attempts SET provider_status = $3,
                external_call_id = coalesce(external_call_id, $4)
            WHERE call_id = $1 AND attempt_no = $2 AND outcome IS NULL
            RETURNING call_id
        ), moved AS (
            UPDATE calls SET status = 'IN_PROGRESS', updated_at = now()
            WHERE id = $1 AND attempt_count = $2 AND status = 'SCHEDULED'
              AND EXISTS (SELECT 1 FROM progressed)
        )
        SELECT campaign_id, worker_id, EXISTS (SELECT 1 FROM progressed) AS applied
        FROM call_attempts WHERE call_id = $1 AND attempt_no = $2
        """,
        ref.call_id,
        ref.attempt_no,
        report.status,
        report.external_call_id,
    )
    if row is None:
        return None
    return EndEffect(ref, row["campaign_id"], row["worker_id"], row["applied"], False, None)
