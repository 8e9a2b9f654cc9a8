"""SQL about calls and their attempt history, as the api reads and writes them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

import asyncpg

from shared.domain.statuses import CallStatus
from shared.repositories.zone_windows import register_groups

CALL_COLUMNS = """
    c.id, c.seq, c.campaign_id, k.kind AS campaign_kind, c.phone_number, c.status, c.attempt_count,
    c.dial_count, c.next_retry_at, c.last_attempted_at, c.external_call_id, c.failure_reason,
    c.call_duration_seconds, c.answered_by, c.attributes, c.created_at, c.updated_at, c.not_before,
    c.expires_at, c.zone_group_id, z.regions, z.country, z.zones AS timezones,
    coalesce(z.source, 'unknown') AS timezone_source
"""

#: The call, its campaign's kind and its zone group (a few hundred rows: the join stays cheap
#: on a page of calls); a call from before zone groups has none.
CALL_TABLES = """
    calls c JOIN campaigns k ON k.id = c.campaign_id
    LEFT JOIN zone_groups z ON z.id = c.zone_group_id
"""

ATTEMPT_COLUMNS = """
    call_id, attempt_no, started_at, ended_at, external_call_id, provider_status, outcome,
    reason, duration_seconds, timed_out_at, answered_by, sip_response_code
"""


async def insert_single_call(
    conn: asyncpg.Connection,
    campaign_id: UUID,
    number: str,
    attributes: dict[str, str] | None = None,
    zone_group_id: int | None = None,
    validity: tuple[datetime | None, datetime | None] = (None, None),
    ended_as: str | None = None,
) -> asyncpg.Record:
    """A call outside any list (not deduplicated), its zone group known to the campaign;
    CANCELLED with the reason `ended_as` when given (a suppressed number)."""
    call_id = uuid4()
    await conn.execute(
        "INSERT INTO calls (id, campaign_id, phone_number, status, deduplicate, attributes,"
        " zone_group_id, not_before, expires_at, failure_reason)"
        f" VALUES ($1, $2, $3, CASE WHEN $8::text IS NULL THEN '{CallStatus.PENDING}'"
        f" ELSE '{CallStatus.CANCELLED}' END, false, $4, $5, $6, $7, $8)",
        call_id,
        campaign_id,
        number,
        attributes,
        zone_group_id,
        *validity,
        ended_as,
    )
    if zone_group_id is not None:
        await register_groups(conn, campaign_id, [zone_group_id])
    row = await fetch_call(conn, call_id)
    assert row is not None
    return row


async def fetch_call(conn: asyncpg.Connection, call_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT {CALL_COLUMNS} FROM {CALL_TABLES} WHERE c.id = $1",
        call_id,
    )


async def fetch_call_with_attempts(
    conn: asyncpg.Connection, call_id: UUID
) -> tuple[asyncpg.Record, list[dict[str, Any]]] | None:
    """A call and its attempts in one round trip."""
    row = await conn.fetchrow(
        f"""
        SELECT {CALL_COLUMNS}, coalesce((
            SELECT jsonb_agg(jsonb_build_object(
                'attempt_no', a.attempt_no, 'started_at', a.started_at, 'ended_at', a.ended_at,
                'external_call_id', a.external_call_id, 'provider_status', a.provider_status,
                'outcome', a.outcome, 'reason', a.reason, 'duration_seconds', a.duration_seconds,
                'timed_out_at', a.timed_out_at, 'answered_by', a.answered_by,
                'sip_response_code', a.sip_response_code) ORDER BY a.attempt_no)
            FROM call_attempts a WHERE a.call_id = c.id), '[]'::jsonb) AS attempts
        FROM {CALL_TABLES}
        WHERE c.id = $1
        """,
        call_id,
    )
    return (row, row["attempts"]) if row else None


async def fetch_attempts(
    conn: asyncpg.Connection, call_ids: Sequence[UUID]
) -> dict[UUID, list[asyncpg.Record]]:
    rows = await conn.fetch(
        f"SELECT {ATTEMPT_COLUMNS} FROM call_attempts WHERE call_id = ANY($1::uuid[])"
        " ORDER BY call_id, attempt_no",
        list(call_ids),
    )
    attempts: dict[UUID, list[asyncpg.Record]] = {cid: [] for cid in call_ids}
    for r in rows:
        attempts[r["call_id"]].append(r)
    return attempts


async def list_calls(
    conn: asyncpg.Connection,
    campaign_id: UUID,
    *,
    status: CallStatus | None,
    limit: int,
    offset: int = 0,
    after_seq: int | None = None,
) -> list[asyncpg.Record]:
    """A page of the campaign's calls in insertion order: by offset, or after a given call."""
    rows: list[asyncpg.Record] = await conn.fetch(
        f"""
        SELECT {CALL_COLUMNS} FROM {CALL_TABLES}
        WHERE c.campaign_id = $1 AND ($2::text IS NULL OR c.status = $2)
          AND ($3::bigint IS NULL OR c.seq > $3)
        ORDER BY c.seq OFFSET $4 LIMIT $5
        """,
        campaign_id,
        status.value if status else None,
        after_seq,
        offset,
        limit,
    )
    return rows


async def count_calls(
    conn: asyncpg.Connection, campaign_id: UUID, status: CallStatus | None
) -> int:
    count: int = await conn.fetchval(
        "SELECT count(*) FROM calls WHERE campaign_id = $1 AND ($2::text IS NULL OR status = $2)",
        campaign_id,
        status.value if status else None,
    )
    return count


async def phone_number_of(conn: asyncpg.Connection, call_id: UUID) -> str | None:
    number: str | None = await conn.fetchval(
        "SELECT phone_number FROM calls WHERE id = $1", call_id
    )
    return number
