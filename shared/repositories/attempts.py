"""SQL that starts attempts: the concurrency fence, the claim of the next number, adoption.

The fence is `campaigns.in_flight`: an attempt starts only by raising it while it is below the
concurrency limit, in the same statement that claims the call and records the attempt, and it
is lowered in the transaction that ends the attempt (see shared.results). So however many
workers hold the campaign's jobs, the database never lets more calls start than the limit.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from uuid import UUID

import asyncpg

from shared.domain.business_hours import BusinessHours
from shared.domain.campaign import business_hours_from_row, retry_config_from_row
from shared.domain.retry_policy import RetryConfig
from shared.repositories.live_calls import NOT_IN_LIVE_CALL, OPEN_ATTEMPT

_OPEN = "ended_at IS NULL AND timed_out_at IS NULL"


@dataclass(frozen=True)
class AttemptRef:
    call_id: UUID
    attempt_no: int


@dataclass(frozen=True)
class DialRules:
    """What a worker checks before dialling for a campaign, as of one settings version."""

    campaign_id: UUID
    version: int
    hours: BusinessHours
    retry: RetryConfig


async def fetch_dial_rules(conn: asyncpg.Connection, campaign_id: UUID) -> DialRules | None:
    row = await conn.fetchrow(
        """
        SELECT id, settings_version, window_start_minute, window_end_minute, timezone,
               allowed_days, max_retries, sync_initial_backoff_ms, sync_backoff_multiplier,
               callback_retry_delay_ms, callback_timeout_ms
        FROM campaigns WHERE id = $1
        """,
        campaign_id,
    )
    if row is None:
        return None
    return DialRules(
        row["id"], row["settings_version"], business_hours_from_row(row), retry_config_from_row(row)
    )


@dataclass(frozen=True)
class StartedAttempt:
    ref: AttemptRef
    campaign_id: UUID
    phone_number: str
    retry: RetryConfig
    #: The campaign's settings_version the attempt was started under.
    settings_version: int


class NoDial(Enum):
    """Why a job started no attempt. The job is dropped; the dispatcher issues new ones."""

    NO_FREE_LINE = "campaign not running, or all its lines busy"
    OUTSIDE_BUSINESS_HOURS = "outside business hours"
    NOTHING_TO_DIAL = "no number is due"
    RULES_CHANGED = "the campaign's settings changed since they were read"


class JobAlreadyStarted(Exception):
    """This job (a redelivery) has an attempt that has not ended."""


#: Slots the global line count is kept in (table line_slots, migration 0005).
LINE_SLOTS = 16

# One statement, so the rows it locks are locked only while it runs: unless this job has an
# attempt still open (a redelivery), pick the most urgent dialable number (due retries first),
# take a line of the campaign (below its limit and its share) and one of the global capacity
# (in a slot with room that no other claim holds), if the settings are still the version whose
# business hours the worker checked, and record the attempt with its slot. Nothing changes
# unless all of it happens. Locks go calls and slot (neither ever waited for), then campaign:
# the order every statement here keeps.
_CLAIM = f"""
    WITH prior AS (
        SELECT call_id FROM call_attempts
        WHERE job_id = $3 AND outcome IS NULL AND timed_out_at IS NULL
    ), due_retry AS (
        SELECT c.id FROM calls c
        WHERE c.campaign_id = $1 AND c.status = 'FAILED' AND c.next_retry_at <= $2
          AND {NOT_IN_LIVE_CALL} AND NOT EXISTS (SELECT 1 FROM prior)
        ORDER BY c.next_retry_at LIMIT 1 FOR UPDATE SKIP LOCKED
    ), fresh AS (
        SELECT c.id FROM calls c
        WHERE c.campaign_id = $1 AND c.status = 'PENDING' AND {NOT_IN_LIVE_CALL}
          AND NOT EXISTS (SELECT 1 FROM due_retry) AND NOT EXISTS (SELECT 1 FROM prior)
        ORDER BY c.seq LIMIT 1 FOR UPDATE SKIP LOCKED
    ), picked AS (
        SELECT id FROM due_retry UNION ALL SELECT id FROM fresh
    ), slot AS (
        SELECT slot FROM line_slots
        WHERE EXISTS (SELECT 1 FROM picked)
          AND in_flight < $7 / {LINE_SLOTS} + CASE WHEN slot < $7 % {LINE_SLOTS} THEN 1 ELSE 0 END
          -- The parts add up to the capacity; this keeps a lowered capacity from letting
          -- slots under their new part take lines while the total is still above it.
          AND (SELECT sum(in_flight) FROM line_slots) < $7
        ORDER BY (slot + $8) % {LINE_SLOTS} LIMIT 1 FOR UPDATE SKIP LOCKED
    ), fence AS (
        UPDATE campaigns SET in_flight = in_flight + 1
        WHERE id = $1 AND status = 'IN_PROGRESS'
          AND in_flight < LEAST(concurrency_limit, allowed_lines)
          AND settings_version = $5 AND EXISTS (SELECT 1 FROM slot)
        RETURNING id
    ), taken AS (
        UPDATE line_slots SET in_flight = in_flight + 1
        WHERE slot = (SELECT slot FROM slot) AND EXISTS (SELECT 1 FROM fence)
        RETURNING slot
    ), dialled AS (
        UPDATE calls c SET status = 'SCHEDULED', attempt_count = c.attempt_count + 1,
            dial_count = c.dial_count + 1, last_attempted_at = $2, next_retry_at = NULL,
            updated_at = $2
        FROM picked WHERE c.id = picked.id AND EXISTS (SELECT 1 FROM taken)
        RETURNING c.id, c.campaign_id, c.phone_number, c.attempt_count
    ), recorded AS (
        INSERT INTO call_attempts (call_id, attempt_no, campaign_id, phone_number, job_id,
                                   worker_id, started_at, expected_callback_by, line_slot)
        SELECT id, attempt_count, campaign_id, phone_number, $3, $4, $2, $6,
               (SELECT slot FROM taken)
        FROM dialled
        RETURNING call_id, attempt_no, phone_number
    )
    SELECT k.status, k.settings_version, EXISTS (SELECT 1 FROM picked) AS had_call,
           EXISTS (SELECT 1 FROM prior) AS job_started, r.call_id, r.attempt_no, r.phone_number
    FROM campaigns k LEFT JOIN recorded r ON true
    WHERE k.id = $1
"""


async def start_attempt(
    conn: asyncpg.Connection,
    rules: DialRules,
    job_id: UUID,
    worker_id: str,
    now: datetime,
    capacity: int,
) -> StartedAttempt | NoDial:
    """Take a line of the campaign and record an attempt at its most urgent number; at most
    `capacity` calls are in progress across all campaigns.

    Due retries go before new numbers. A number already in a live call (in any campaign) is
    passed over; two claims racing for one number are settled by a unique index. Raises
    JobAlreadyStarted for a job that has an attempt already.
    """
    if not rules.hours.is_open(now):
        return NoDial.OUTSIDE_BUSINESS_HOURS
    deadline = now + timedelta(milliseconds=rules.retry.callback_timeout_ms)
    for _ in range(3):
        try:
            row = await conn.fetchrow(
                _CLAIM,
                rules.campaign_id,
                now,
                job_id,
                worker_id,
                rules.version,
                deadline,
                capacity,
                # Claims start looking at different slots, so they seldom meet.
                random.randrange(LINE_SLOTS),
            )
        except asyncpg.UniqueViolationError as exc:
            if exc.constraint_name == "call_attempts_one_open_per_job":
                raise JobAlreadyStarted(str(job_id)) from exc
            if exc.constraint_name == "call_attempts_one_live_call_per_number":
                continue
            raise
        if row is None:
            return NoDial.NO_FREE_LINE
        if row["job_started"]:
            raise JobAlreadyStarted(str(job_id))
        if row["call_id"] is not None:
            return StartedAttempt(
                AttemptRef(row["call_id"], row["attempt_no"]),
                rules.campaign_id,
                row["phone_number"],
                rules.retry,
                rules.version,
            )
        if row["settings_version"] != rules.version:
            return NoDial.RULES_CHANGED
        if row["status"] != "IN_PROGRESS" or row["had_call"]:
            return NoDial.NO_FREE_LINE
        return NoDial.NOTHING_TO_DIAL
    return NoDial.NOTHING_TO_DIAL


async def adopt_job_attempt(
    conn: asyncpg.Connection, job_id: UUID, worker_id: str
) -> AttemptRef | None:
    """The open attempt of a (redelivered) job, now held by `worker_id`; None if it has none."""
    row = await conn.fetchrow(
        """
        UPDATE call_attempts SET worker_id = $2
        WHERE job_id = $1 AND outcome IS NULL AND timed_out_at IS NULL
        RETURNING call_id, attempt_no
        """,
        job_id,
        worker_id,
    )
    return AttemptRef(row["call_id"], row["attempt_no"]) if row else None


async def record_dials_accepted(
    conn: asyncpg.Connection, accepted: Sequence[tuple[AttemptRef, str]]
) -> None:
    """The provider took these calls: keep their ids, and show the calls as in progress.

    Locks attempts before calls, the order every statement here keeps, so that this never
    deadlocks with a call's result arriving at the same moment.
    """
    await conn.execute(
        """
        WITH input AS (
            SELECT * FROM unnest($1::uuid[], $2::int[], $3::text[])
                AS u(call_id, attempt_no, external_call_id)
            ORDER BY call_id, attempt_no
        ), attempt AS (
            UPDATE call_attempts a SET external_call_id = u.external_call_id
            FROM input u
            WHERE a.call_id = u.call_id AND a.attempt_no = u.attempt_no
              AND a.external_call_id IS NULL
            RETURNING a.call_id, a.attempt_no, a.external_call_id
        )
        UPDATE calls c SET status = 'IN_PROGRESS', external_call_id = t.external_call_id,
            updated_at = now()
        FROM attempt t
        WHERE c.id = t.call_id AND c.attempt_count = t.attempt_no AND c.status = 'SCHEDULED'
        """,
        [ref.call_id for ref, _ in accepted],
        [ref.attempt_no for ref, _ in accepted],
        [external_id for _, external_id in accepted],
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
        """
        SELECT call_id, attempt_no FROM call_attempts
        WHERE outcome IS NULL AND timed_out_at IS NULL AND expected_callback_by < $1
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
