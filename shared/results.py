"""The one idempotent function through which every attempt ends.

A provider's result (a message from the mock, an HTTP callback), the watchdog's timeout and the
worker's own verdict on a dial all end attempts here. Duplicates change nothing, a final state
never regresses, and a real result that arrives after the watchdog timed the attempt out is
still recorded and withdraws the retry that the timeout scheduled, if it has not been dialled.
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


_LOCK_ATTEMPT = """
    SELECT a.campaign_id, a.worker_id, a.outcome, a.timed_out_at,
           c.status AS call_status, c.attempt_count, c.dial_count,
           k.status AS campaign_status, k.max_retries, k.sync_initial_backoff_ms,
           k.sync_backoff_multiplier, k.callback_retry_delay_ms, k.callback_timeout_ms
    FROM call_attempts a
    JOIN calls c ON c.id = a.call_id
    JOIN campaigns k ON k.id = a.campaign_id
    WHERE a.call_id = $1 AND a.attempt_no = $2
    FOR UPDATE OF a, c
"""


async def end_attempt(
    conn: asyncpg.Connection, ref: AttemptRef, ending: Ending, now: datetime
) -> EndEffect | None:
    """Record how the attempt `ref` ended and move its call on; None if there is no such attempt."""
    async with conn.transaction():
        row = await conn.fetchrow(_LOCK_ATTEMPT, ref.call_id, ref.attempt_no)
        if row is None:
            return None
        was_open = row["outcome"] is None and row["timed_out_at"] is None
        already_has_result = row["outcome"] is not None
        if (ending.outcome is None and not was_open) or (
            ending.outcome is not None and already_has_result
        ):
            return EndEffect(ref, row["campaign_id"], row["worker_id"], False, False, None)

        await _record_on_attempt(conn, ref, ending, now)
        is_current = row["attempt_count"] == ref.attempt_no
        new_status: CallStatus | None = None
        if was_open:
            await conn.execute(
                "UPDATE campaigns SET in_flight = in_flight - 1 WHERE id = $1", row["campaign_id"]
            )
            if is_current:
                new_status = await _move_call_on(conn, ref, row, ending, now)
        elif ending.outcome is AttemptOutcome.COMPLETED and is_current:
            # A late real success after the watchdog gave up: the retry it scheduled has not
            # been dialled (this is still the call's latest attempt), so withdraw it.
            new_status = await _complete_late(conn, ref, ending, row)
        return EndEffect(ref, row["campaign_id"], row["worker_id"], True, was_open, new_status)


async def _record_on_attempt(
    conn: asyncpg.Connection, ref: AttemptRef, ending: Ending, now: datetime
) -> None:
    if ending.outcome is None:
        await conn.execute(
            "UPDATE call_attempts SET timed_out_at = $3 WHERE call_id = $1 AND attempt_no = $2",
            ref.call_id,
            ref.attempt_no,
            now,
        )
        return
    await conn.execute(
        """
        UPDATE call_attempts SET outcome = $3, reason = $4, duration_seconds = $5, ended_at = $6,
            external_call_id = coalesce(external_call_id, $7)
        WHERE call_id = $1 AND attempt_no = $2
        """,
        ref.call_id,
        ref.attempt_no,
        ending.outcome.value,
        ending.reason,
        ending.duration_seconds,
        now,
        ending.external_call_id,
    )


async def _move_call_on(
    conn: asyncpg.Connection,
    ref: AttemptRef,
    row: asyncpg.Record,
    ending: Ending,
    now: datetime,
) -> CallStatus:
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
    await conn.execute(
        """
        UPDATE calls SET status = $3, next_retry_at = $4, dial_count = $5, failure_reason = $6,
            call_duration_seconds = $7, external_call_id = coalesce($8, external_call_id),
            updated_at = $9
        WHERE id = $1 AND attempt_count = $2
        """,
        ref.call_id,
        ref.attempt_no,
        step.status.value,
        step.next_retry_at,
        dials,
        failure,
        ending.duration_seconds,
        ending.external_call_id,
        now,
    )
    return step.status


async def _complete_late(
    conn: asyncpg.Connection, ref: AttemptRef, ending: Ending, row: asyncpg.Record
) -> CallStatus | None:
    if row["call_status"] not in (
        CallStatus.FAILED,
        CallStatus.PERMANENTLY_FAILED,
        CallStatus.CANCELLED,
    ):
        return None
    await conn.execute(
        """
        UPDATE calls SET status = 'COMPLETED', next_retry_at = NULL, failure_reason = NULL,
            call_duration_seconds = $3, external_call_id = coalesce($4, external_call_id),
            updated_at = now()
        WHERE id = $1 AND attempt_count = $2
        """,
        ref.call_id,
        ref.attempt_no,
        ending.duration_seconds,
        ending.external_call_id,
    )
    return CallStatus.COMPLETED


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
