"""A campaign's calls as CSV, streamed a few thousand rows at a time (a campaign may hold
100,000 numbers): one line per call, its attempts counted and its last outcome given."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any
from uuid import UUID

import asyncpg

from services.api.operations.campaigns import get_visible_campaign
from shared.domain.statuses import CallStatus
from shared.repositories import calls as call_repo

CHUNK = 5000
COLUMNS = [
    "id",
    "phoneNumber",
    "status",
    "retryCount",
    "attempts",
    "lastOutcome",
    "lastAttemptedAt",
    "nextRetryAt",
    "externalCallId",
    "failureReason",
    "callDurationSeconds",
    "createdAt",
    "updatedAt",
    "attributes",
    "timezone",
    "timezoneSource",
]


def _iso(value: Any) -> str:
    return value.isoformat() if value is not None else ""


def csv_line(row: Mapping[str, Any], attempts: Sequence[Mapping[str, Any]]) -> list[str]:
    last = attempts[-1] if attempts else None
    last_outcome = ""
    if last is not None:
        last_outcome = last["outcome"] or ("TIMED_OUT" if last["timed_out_at"] else "")
    return [
        str(row["id"]),
        row["phone_number"],
        row["status"],
        str(max(row["dial_count"] - 1, 0)),
        str(len(attempts)),
        last_outcome,
        _iso(row["last_attempted_at"]),
        _iso(row["next_retry_at"]),
        row["external_call_id"] or "",
        row["failure_reason"] or "",
        "" if row["call_duration_seconds"] is None else str(row["call_duration_seconds"]),
        _iso(row["created_at"]),
        _iso(row["updated_at"]),
        json.dumps(row["attributes"]) if row["attributes"] else "",
        # Several candidate zones are space-separated: no IANA name holds a space.
        " ".join(row["timezones"] or ()),
        row["timezone_source"],
    ]


def _encode(lines: list[list[str]]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(lines)
    return buffer.getvalue().encode()


async def check_campaign(pool: asyncpg.Pool, campaign_id: UUID) -> None:
    async with pool.acquire() as conn:
        await get_visible_campaign(conn, campaign_id)


async def export_chunks(
    pool: asyncpg.Pool, campaign_id: UUID, status: CallStatus | None
) -> AsyncIterator[bytes]:
    """The CSV, header first; each chunk read on its own connection, in insertion order."""
    yield _encode([COLUMNS])
    after_seq: int | None = None
    while True:
        async with pool.acquire() as conn:
            rows = await call_repo.list_calls(
                conn, campaign_id, status=status, limit=CHUNK, after_seq=after_seq
            )
            attempts = await call_repo.fetch_attempts(conn, [r["id"] for r in rows])
        if not rows:
            return
        yield _encode([csv_line(r, attempts[r["id"]]) for r in rows])
        if len(rows) < CHUNK:
            return
        after_seq = rows[-1]["seq"]
