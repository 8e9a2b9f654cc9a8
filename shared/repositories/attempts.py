"""SQL that starts attempts: the concurrency fence, the claim of the next number, adoption.

The fence is `campaigns.in_flight`: an attempt starts only by raising it while it is below the
concurrency limit, in the same transaction that claims the call and records the attempt, and
it is lowered in the transaction that ends the attempt (see shared.results). So however many
workers hold the campaign's jobs, the database never lets more calls start than the limit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from uuid import UUID

import asyncpg

from shared.domain.campaign import business_hours_from_row, retry_config_from_row
from shared.domain.retry_policy import RetryConfig
from shared.repositories.live_calls import NOT_IN_LIVE_CALL, OPEN_ATTEMPT

_OPEN = "ended_at IS NULL AND timed_out_at IS NULL"


@dataclass(frozen=True)
class AttemptRef:
    call_id: UUID
    attempt_no: int


@dataclass(frozen=True)
class StartedAttempt:
    ref: AttemptRef
    campaign_id: UUID
    phone_number: str
    retry: RetryConfig


class NoDial(Enum):
    """Why a job started no attempt. The job is dropped; the dispatcher issues new ones."""

    NO_FREE_LINE = "campaign not running, or all its lines busy"
    OUTSIDE_BUSINESS_HOURS = "outside business hours"
    NOTHING_TO_DIAL = "no number is due"


_FENCE = """
    UPDATE campaigns SET in_flight = in_flight + 1
    WHERE id = $1 AND status = 'IN_PROGRESS' AND in_flight < concurrency_limit
    RETURNING window_start_minute, window_end_minute, timezone, allowed_days, max_retries,
              sync_initial_backoff_ms, sync_backoff_multiplier, callback_retry_delay_ms,
              callback_timeout_ms
"""


_CLAIM_DUE_RETRY = f"""
    SELECT c.id FROM calls c
    WHERE c.campaign_id = $1 AND c.status = 'FAILED' AND c.next_retry_at <= $2
      AND {NOT_IN_LIVE_CALL}
    ORDER BY c.next_retry_at LIMIT 1 FOR UPDATE SKIP LOCKED
"""

_CLAIM_PENDING = f"""
    SELECT c.id FROM calls c
    WHERE c.campaign_id = $1 AND c.status = 'PENDING' AND {NOT_IN_LIVE_CALL}
    ORDER BY c.seq LIMIT 1 FOR UPDATE SKIP LOCKED
"""

_RECORD_ATTEMPT = """
    WITH dialled AS (
        UPDATE calls SET status = 'SCHEDULED', attempt_count = attempt_count + 1,
            dial_count = dial_count + 1, last_attempted_at = $4, next_retry_at = NULL,
            updated_at = $4
        WHERE id = $1
        RETURNING id, campaign_id, phone_number, attempt_count
    )
    INSERT INTO call_attempts (call_id, attempt_no, campaign_id, phone_number, job_id, worker_id,
                               started_at, expected_callback_by)
    SELECT id, attempt_count, campaign_id, phone_number, $2, $3, $4, $5 FROM dialled
    RETURNING call_id, attempt_no, phone_number
"""


async def start_attempt(
    conn: asyncpg.Connection, campaign_id: UUID, job_id: UUID, worker_id: str, now: datetime
) -> StartedAttempt | NoDial:
    """Take a line of the campaign and record an attempt at its most urgent number.

    Due retries go before new numbers. A number already in a live call (in any campaign) is
    passed over; two claims racing for one number are settled by a unique index.
    """
    for _ in range(3):
        try:
            return await _start_attempt_once(conn, campaign_id, job_id, worker_id, now)
        except asyncpg.UniqueViolationError as exc:
            if exc.constraint_name != "call_attempts_one_live_call_per_number":
                raise
    return NoDial.NOTHING_TO_DIAL


async def _start_attempt_once(
    conn: asyncpg.Connection, campaign_id: UUID, job_id: UUID, worker_id: str, now: datetime
) -> StartedAttempt | NoDial:
    transaction = conn.transaction()
    await transaction.start()
    try:
        campaign = await conn.fetchrow(_FENCE, campaign_id)
        if campaign is None:
            await transaction.rollback()
            return NoDial.NO_FREE_LINE
        if not business_hours_from_row(campaign).is_open(now):
            await transaction.rollback()
            return NoDial.OUTSIDE_BUSINESS_HOURS
        call_id = await conn.fetchval(_CLAIM_DUE_RETRY, campaign_id, now)
        if call_id is None:
            call_id = await conn.fetchval(_CLAIM_PENDING, campaign_id)
        if call_id is None:
            await transaction.rollback()
            return NoDial.NOTHING_TO_DIAL
        retry = retry_config_from_row(campaign)
        deadline = now + timedelta(milliseconds=retry.callback_timeout_ms)
        attempt = await conn.fetchrow(_RECORD_ATTEMPT, call_id, job_id, worker_id, now, deadline)
        await transaction.commit()
    except BaseException:
        await transaction.rollback()
        raise
    return StartedAttempt(
        AttemptRef(attempt["call_id"], attempt["attempt_no"]),
        campaign_id,
        attempt["phone_number"],
        retry,
    )


@dataclass(frozen=True)
class JobAttempt:
    ref: AttemptRef
    open: bool


async def adopt_job_attempt(
    conn: asyncpg.Connection, job_id: UUID, worker_id: str
) -> JobAttempt | None:
    """The attempt a (redelivered) job already started, now held by `worker_id`; None if none."""
    row = await conn.fetchrow(
        f"""
        WITH adopted AS (
            UPDATE call_attempts SET worker_id = $2 WHERE job_id = $1 AND {_OPEN}
            RETURNING call_id
        )
        SELECT call_id, attempt_no, EXISTS (SELECT 1 FROM adopted) AS open
        FROM call_attempts WHERE job_id = $1
        """,
        job_id,
        worker_id,
    )
    return JobAttempt(AttemptRef(row["call_id"], row["attempt_no"]), row["open"]) if row else None


async def record_dial_accepted(
    conn: asyncpg.Connection, ref: AttemptRef, external_call_id: str
) -> None:
    """The provider took the call: keep its id, and show the call as in progress."""
    await conn.execute(
        """
        WITH attempt AS (
            UPDATE call_attempts SET external_call_id = $3
            WHERE call_id = $1 AND attempt_no = $2 AND external_call_id IS NULL
        )
        UPDATE calls SET status = 'IN_PROGRESS', external_call_id = $3, updated_at = now()
        WHERE id = $1 AND attempt_count = $2 AND status = 'SCHEDULED'
        """,
        ref.call_id,
        ref.attempt_no,
        external_call_id,
    )


async def closed_among(conn: asyncpg.Connection, refs: Sequence[AttemptRef]) -> list[AttemptRef]:
    """Those of `refs` whose attempt has ended or timed out."""
    if not refs:
        return []
    rows = await conn.fetch(
        f"""
        SELECT a.call_id, a.attempt_no FROM call_attempts a
        JOIN unnest($1::uuid[], $2::int[]) AS r(call_id, attempt_no)
          ON a.call_id = r.call_id AND a.attempt_no = r.attempt_no
        WHERE NOT ({OPEN_ATTEMPT})
        """,
        [r.call_id for r in refs],
        [r.attempt_no for r in refs],
    )
    return [AttemptRef(r["call_id"], r["attempt_no"]) for r in rows]


async def overdue_attempts(
    conn: asyncpg.Connection, now: datetime, limit: int = 500
) -> list[AttemptRef]:
    """Open attempts whose result should have come by now."""
    rows = await conn.fetch(
        f"""
        SELECT call_id, attempt_no FROM call_attempts
        WHERE {_OPEN} AND expected_callback_by < $1
        ORDER BY expected_callback_by LIMIT $2
        """,
        now,
        limit,
    )
    return [AttemptRef(r["call_id"], r["attempt_no"]) for r in rows]


async def find_attempt_by_external_id(
    conn: asyncpg.Connection, external_call_id: str
) -> AttemptRef | None:
    row = await conn.fetchrow(
        "SELECT call_id, attempt_no FROM call_attempts WHERE external_call_id = $1",
        external_call_id,
    )
    return AttemptRef(row["call_id"], row["attempt_no"]) if row else None
