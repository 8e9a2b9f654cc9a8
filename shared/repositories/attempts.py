"""SQL on attempts once started (see shared.repositories.claims): adoption by a worker, the
provider's acceptance, deadlines, and lookups."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

import asyncpg

from shared.domain.attempts import AttemptRef, DialRules
from shared.domain.campaign import answering_machine_from_row, retry_config_from_row
from shared.domain.statuses import CallStatus
from shared.repositories.live_calls import OPEN_ATTEMPT
from shared.repositories.sql import after

#: Locks the attempts named in a CTE `input` (call_id, attempt_no) in key order. An UPDATE
#: locks rows in whatever order its plan visits them; every writer of several attempts locks
#: them with this first, so two statements sharing attempts queue up instead of deadlocking.
LOCK_INPUT_ATTEMPTS = """
    SELECT a.call_id FROM call_attempts a JOIN input u USING (call_id, attempt_no)
    ORDER BY a.call_id, a.attempt_no FOR UPDATE OF a"""


async def fetch_dial_rules(conn: asyncpg.Connection, campaign_id: UUID) -> DialRules | None:
    row = await conn.fetchrow(
        """
        SELECT id, settings_version, max_retries, sync_initial_backoff_ms,
               sync_backoff_multiplier, callback_retry_delay_ms, callback_timeout_ms,
               retry_outcomes, retry_jitter_ratio, machine_detection, on_machine
        FROM campaigns WHERE id = $1
        """,
        campaign_id,
    )
    if row is None:
        return None
    return DialRules(
        row["id"],
        row["settings_version"],
        retry_config_from_row(row),
        answering_machine_from_row(row),
    )


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


_RECORD_DIALS_ACCEPTED = f"""
    WITH input AS (
        SELECT * FROM unnest($1::uuid[], $2::int[], $3::text[])
            AS u(call_id, attempt_no, external_call_id)
    ), locked AS ({LOCK_INPUT_ATTEMPTS}
    ), attempt AS (
        UPDATE call_attempts a SET external_call_id = u.external_call_id
        FROM input u
        WHERE a.call_id = u.call_id AND a.attempt_no = u.attempt_no
          AND {after("locked")}
          AND a.external_call_id IS NULL
        RETURNING a.call_id, a.attempt_no, a.external_call_id
    )
    UPDATE calls c SET status = '{CallStatus.IN_PROGRESS}',
        external_call_id = t.external_call_id, updated_at = now()
    FROM attempt t
    WHERE c.id = t.call_id AND c.attempt_count = t.attempt_no
      AND c.status = '{CallStatus.SCHEDULED}'
"""


async def record_dials_accepted(
    conn: asyncpg.Connection, accepted: Sequence[tuple[AttemptRef, str]]
) -> None:
    """The provider took these calls: keep their ids, and show the calls as in progress.

    Locks attempts before calls, the order every statement here keeps, so that this never
    deadlocks with a call's result arriving at the same moment.
    """
    await conn.execute(
        _RECORD_DIALS_ACCEPTED,
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
