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

#: Locks the attempts named in a CTE `input` (call_id, attempt_no) in key order. An UPDATE
#: locks rows in whatever order its plan visits them; every writer of several attempts locks
#: them with this first, so two statements sharing attempts queue up instead of deadlocking.
LOCK_INPUT_ATTEMPTS = """
    SELECT a.call_id FROM call_attempts a JOIN input u USING (call_id, attempt_no)
    ORDER BY a.call_id, a.attempt_no FOR UPDATE OF a"""


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
    """Why a job started no attempt. The job is dropped (the dispatcher issues new ones),
    except for JOB_STARTED: the job waits for the attempt it already has."""

    NO_FREE_LINE = "campaign not running, or all its lines busy"
    OUTSIDE_BUSINESS_HOURS = "outside business hours"
    NOTHING_TO_DIAL = "no number is due"
    RULES_CHANGED = "the campaign's settings changed since they were read"
    JOB_STARTED = "this job (a redelivery) has an attempt that has not ended"


#: Slots the global line count is kept in (table line_slots, migration 0005).
LINE_SLOTS = 16

#: A slot's part of the capacity ($7): the parts add up to it.
_SLOT_PART = f"($7 / {LINE_SLOTS} + CASE WHEN slot < $7 % {LINE_SLOTS} THEN 1 ELSE 0 END)"

# One statement for several jobs of one campaign, so the rows it locks are locked only while it
# runs. For the jobs ($3) that have no attempt still open (a redelivery has one), pick as many
# dialable numbers, most urgent first (due retries before new numbers); take lines of the global
# capacity from the slots that have room and that no other claim holds, as many as the picked
# numbers need; then take as many lines of the campaign as it has below its limit and its share
# (and the slots gave), if the settings are still the version whose business hours the worker
# checked. The first `granted` numbers are dialled, each under one job, each attempt recorded
# with the slot its line came from. Locks go calls and slots (neither ever waited for), then
# campaign: the order every statement here keeps.
_CLAIM = f"""
    WITH job AS (
        SELECT job_id, ord FROM unnest($3::uuid[]) WITH ORDINALITY AS j(job_id, ord)
    ), prior AS (
        SELECT job_id FROM call_attempts
        WHERE job_id = ANY($3::uuid[]) AND outcome IS NULL AND timed_out_at IS NULL
    ), wanted AS (
        SELECT job_id, row_number() OVER (ORDER BY ord) AS rank
        FROM job WHERE job_id NOT IN (SELECT job_id FROM prior)
    ), due_retry AS (
        SELECT c.id, c.next_retry_at FROM calls c
        WHERE c.campaign_id = $1 AND c.status = 'FAILED' AND c.next_retry_at <= $2
          AND {NOT_IN_LIVE_CALL}
        ORDER BY c.next_retry_at LIMIT (SELECT count(*) FROM wanted) FOR UPDATE SKIP LOCKED
    ), fresh AS (
        SELECT c.id, c.seq FROM calls c
        WHERE c.campaign_id = $1 AND c.status = 'PENDING' AND {NOT_IN_LIVE_CALL}
        ORDER BY c.seq LIMIT (SELECT count(*) FROM wanted) - (SELECT count(*) FROM due_retry)
        FOR UPDATE SKIP LOCKED
    ), picked AS (
        SELECT id, row_number() OVER (ORDER BY retry_at NULLS LAST, seq) AS rank FROM (
            SELECT id, next_retry_at AS retry_at, NULL::bigint AS seq FROM due_retry
            UNION ALL SELECT id, NULL, seq FROM fresh
        ) p
    ), planned_slot AS (
        -- Read without locks: the first slots (from a random one on, so that claims seldom
        -- meet) whose room covers the picked numbers. Only those are then locked.
        SELECT slot FROM (
            SELECT slot, sum(room) OVER (ORDER BY ord) - room AS before FROM (
                SELECT slot, {_SLOT_PART} - in_flight AS room,
                       (slot + $8) % {LINE_SLOTS} AS ord
                FROM line_slots
            ) s WHERE room > 0
        ) s WHERE before < (SELECT count(*) FROM picked)
    ), slot AS (
        SELECT slot, {_SLOT_PART} - in_flight AS room FROM line_slots
        WHERE slot IN (SELECT slot FROM planned_slot) AND in_flight < {_SLOT_PART}
        FOR UPDATE SKIP LOCKED
    ), fence_read AS (
        SELECT id, LEAST(
            (SELECT count(*) FROM picked),
            LEAST(concurrency_limit, allowed_lines) - in_flight,
            (SELECT sum(room) FROM slot),
            -- Keeps a lowered capacity from letting slots under their new part take lines
            -- while the total is still above it.
            $7 - (SELECT sum(in_flight) FROM line_slots)
        ) AS lines
        FROM campaigns
        WHERE id = $1 AND status = 'IN_PROGRESS' AND settings_version = $5
          AND EXISTS (SELECT 1 FROM slot)
        FOR UPDATE
    ), fence AS (
        UPDATE campaigns k SET in_flight = k.in_flight + f.lines
        FROM fence_read f WHERE k.id = f.id AND f.lines > 0
        RETURNING f.lines
    ), granted AS (
        SELECT coalesce((SELECT lines FROM fence), 0) AS lines
    ), lines_from AS (
        -- Numbers ranked (before, before + room] take their line from this slot.
        SELECT slot, room, coalesce(sum(room) OVER (
            ORDER BY slot ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS before
        FROM slot
    ), taken AS (
        UPDATE line_slots s SET in_flight = s.in_flight + LEAST(l.room, g.lines - l.before)
        FROM lines_from l, granted g
        WHERE s.slot = l.slot AND l.before < g.lines
        RETURNING s.slot
    ), dialled AS (
        UPDATE calls c SET status = 'SCHEDULED', attempt_count = c.attempt_count + 1,
            dial_count = c.dial_count + 1, last_attempted_at = $2, next_retry_at = NULL,
            updated_at = $2
        FROM picked p, granted g
        WHERE c.id = p.id AND p.rank <= g.lines AND EXISTS (SELECT 1 FROM taken)
        RETURNING c.id, c.campaign_id, c.phone_number, c.attempt_count, p.rank
    ), recorded AS (
        INSERT INTO call_attempts (call_id, attempt_no, campaign_id, phone_number, job_id,
                                   worker_id, started_at, expected_callback_by, line_slot)
        SELECT d.id, d.attempt_count, d.campaign_id, d.phone_number, w.job_id, $4, $2, $6,
               l.slot
        FROM dialled d
        JOIN wanted w ON w.rank = d.rank
        JOIN lines_from l ON d.rank > l.before AND d.rank <= l.before + l.room
        RETURNING call_id, attempt_no, phone_number, job_id
    )
    SELECT j.job_id, j.job_id IN (SELECT job_id FROM prior) AS job_started,
           r.call_id, r.attempt_no, r.phone_number, k.status, k.settings_version,
           (SELECT count(*) FROM picked) AS picked
    FROM job j CROSS JOIN campaigns k LEFT JOIN recorded r ON r.job_id = j.job_id
    WHERE k.id = $1
    ORDER BY j.ord
"""


async def start_attempts(
    conn: asyncpg.Connection,
    rules: DialRules,
    job_ids: Sequence[UUID],
    worker_id: str,
    now: datetime,
    capacity: int,
    *,
    dial_window: timedelta = timedelta(0),
) -> list[StartedAttempt | NoDial]:
    """For each job, take a line of the campaign and record an attempt at its most urgent
    number; at most `capacity` calls are in progress across all campaigns. The answers come
    in the order of `job_ids`.

    The attempt's result is expected `callbackTimeoutMs` after the dial request's own window
    (`dial_window`, the worker's patience for the carrier's answer) closes: until then the
    request may still become a call, so its line must not be given to another.

    Due retries go before new numbers. A number already in a live call (in any campaign) is
    passed over. Two claims racing for one number, or a job given twice, break the shared
    statement on a unique index: then each job is claimed alone.
    """
    if not rules.hours.is_open(now):
        return [NoDial.OUTSIDE_BUSINESS_HOURS] * len(job_ids)
    if len(job_ids) > 1:
        try:
            return await _claim(conn, rules, job_ids, worker_id, now, capacity, dial_window)
        except asyncpg.UniqueViolationError:
            pass
    return [
        (await _claim_alone(conn, rules, job_id, worker_id, now, capacity, dial_window))
        for job_id in job_ids
    ]


async def _claim_alone(
    conn: asyncpg.Connection,
    rules: DialRules,
    job_id: UUID,
    worker_id: str,
    now: datetime,
    capacity: int,
    dial_window: timedelta,
) -> StartedAttempt | NoDial:
    for _ in range(3):
        try:
            [answer] = await _claim(conn, rules, [job_id], worker_id, now, capacity, dial_window)
        except asyncpg.UniqueViolationError as exc:
            if exc.constraint_name == "call_attempts_one_open_per_job":
                return NoDial.JOB_STARTED
            if exc.constraint_name == "call_attempts_one_live_call_per_number":
                continue
            raise
        return answer
    return NoDial.NOTHING_TO_DIAL


async def _claim(
    conn: asyncpg.Connection,
    rules: DialRules,
    job_ids: Sequence[UUID],
    worker_id: str,
    now: datetime,
    capacity: int,
    dial_window: timedelta,
) -> list[StartedAttempt | NoDial]:
    rows = await conn.fetch(
        _CLAIM,
        rules.campaign_id,
        now,
        job_ids,
        worker_id,
        rules.version,
        now + dial_window + timedelta(milliseconds=rules.retry.callback_timeout_ms),
        capacity,
        random.randrange(LINE_SLOTS),
    )
    if not rows:  # the campaign is gone
        return [NoDial.NO_FREE_LINE] * len(job_ids)
    started = sum(row["call_id"] is not None for row in rows)
    return [_answer(row, rules, started) for row in rows]


def _answer(row: asyncpg.Record, rules: DialRules, started: int) -> StartedAttempt | NoDial:
    if row["job_started"]:
        return NoDial.JOB_STARTED
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
    if row["status"] != "IN_PROGRESS" or row["picked"] > started:
        return NoDial.NO_FREE_LINE
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
        f"""
        WITH input AS (
            SELECT * FROM unnest($1::uuid[], $2::int[], $3::text[])
                AS u(call_id, attempt_no, external_call_id)
        ), locked AS ({LOCK_INPUT_ATTEMPTS}
        ), attempt AS (
            UPDATE call_attempts a SET external_call_id = u.external_call_id
            FROM input u
            WHERE a.call_id = u.call_id AND a.attempt_no = u.attempt_no
              AND (SELECT count(*) FROM locked) >= 0
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


async def extend_open_attempt(
    conn: asyncpg.Connection, ref: AttemptRef, expected_callback_by: datetime
) -> bool:
    """Push the attempt's deadline to `expected_callback_by` while its dial is still being
    tried; False if the attempt has ended meanwhile (the watchdog timed it out): then it must
    not be dialled at all."""
    extended = await conn.fetchval(
        f"""
        UPDATE call_attempts a SET expected_callback_by = greatest(a.expected_callback_by, $3)
        WHERE a.call_id = $1 AND a.attempt_no = $2 AND {OPEN_ATTEMPT}
        RETURNING true
        """,
        ref.call_id,
        ref.attempt_no,
        expected_callback_by,
    )
    return bool(extended)


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
