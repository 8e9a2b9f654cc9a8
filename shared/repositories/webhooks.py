"""SQL of webhook endpoints and their delivery log (the API's side; delivery itself is in
shared.repositories.webhook_deliveries)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import asyncpg

_ENDPOINT_COLUMNS = """
    id, url, events, description, enabled, secret_encrypted, previous_secret_encrypted,
    previous_secret_until, disabled_reason, disabled_at, created_at, updated_at
"""


@dataclass(frozen=True)
class Endpoint:
    id: UUID
    url: str
    events: tuple[str, ...]
    description: str | None
    enabled: bool
    secret_encrypted: str
    previous_secret_encrypted: str | None
    previous_secret_until: datetime | None
    disabled_reason: str | None
    disabled_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, row: asyncpg.Record) -> Endpoint:
        return cls(**{**dict(row), "events": tuple(row["events"])})


async def insert_endpoint(
    conn: asyncpg.Connection,
    url: str,
    events: Sequence[str],
    description: str | None,
    secret_encrypted: str,
) -> Endpoint:
    row = await conn.fetchrow(
        f"""
        INSERT INTO webhook_endpoints (url, events, description, secret_encrypted)
        VALUES ($1, $2, $3, $4) RETURNING {_ENDPOINT_COLUMNS}
        """,
        url,
        list(events),
        description,
        secret_encrypted,
    )
    return Endpoint.from_row(row)


async def fetch_endpoint(conn: asyncpg.Connection, endpoint_id: UUID) -> Endpoint | None:
    row = await conn.fetchrow(
        f"SELECT {_ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE id = $1", endpoint_id
    )
    return Endpoint.from_row(row) if row else None


async def list_endpoints(
    conn: asyncpg.Connection, *, limit: int, offset: int, after: tuple[datetime, UUID] | None
) -> tuple[list[Endpoint], int]:
    """A page of endpoints, oldest first, and how many there are."""
    rows = await conn.fetch(
        f"""
        SELECT {_ENDPOINT_COLUMNS} FROM webhook_endpoints
        WHERE $3::timestamptz IS NULL OR (created_at, id) > ($3, $4)
        ORDER BY created_at, id LIMIT $1 OFFSET $2
        """,
        limit,
        offset,
        after[0] if after else None,
        after[1] if after else None,
    )
    total = await conn.fetchval("SELECT count(*) FROM webhook_endpoints")
    return [Endpoint.from_row(r) for r in rows], int(total)


@dataclass(frozen=True)
class EndpointChanges:
    url: str | None = None
    events: Sequence[str] | None = None
    description: str | None = None
    clear_description: bool = False
    enabled: bool | None = None
    #: A new secret; the current one then signs beside it until `previous_secret_until`.
    secret_encrypted: str | None = None
    previous_secret_until: datetime | None = None


async def update_endpoint(
    conn: asyncpg.Connection, endpoint_id: UUID, changes: EndpointChanges
) -> Endpoint | None:
    """Apply the changes; None if there is no such endpoint. Enabling clears why it was
    disabled."""
    row = await conn.fetchrow(
        f"""
        UPDATE webhook_endpoints SET
            url = coalesce($2, url),
            events = coalesce($3, events),
            description = CASE WHEN $5 THEN NULL ELSE coalesce($4, description) END,
            enabled = coalesce($6, enabled),
            disabled_reason = CASE WHEN $6 IS NULL THEN disabled_reason ELSE NULL END,
            disabled_at = CASE WHEN $6 IS NULL THEN disabled_at
                               WHEN $6 THEN NULL ELSE now() END,
            previous_secret_encrypted = CASE WHEN $7::text IS NULL
                THEN previous_secret_encrypted ELSE secret_encrypted END,
            previous_secret_until = CASE WHEN $7::text IS NULL
                THEN previous_secret_until ELSE $8 END,
            secret_encrypted = coalesce($7, secret_encrypted),
            updated_at = now()
        WHERE id = $1
        RETURNING {_ENDPOINT_COLUMNS}
        """,
        endpoint_id,
        changes.url,
        list(changes.events) if changes.events is not None else None,
        changes.description,
        changes.clear_description,
        changes.enabled,
        changes.secret_encrypted,
        changes.previous_secret_until,
    )
    return Endpoint.from_row(row) if row else None


async def delete_endpoint(conn: asyncpg.Connection, endpoint_id: UUID) -> bool:
    """Delete the endpoint with its deliveries; whether it existed.

    The deliveries go first, in the order the deliverer locks them (a delivery, then its
    endpoint when a result disables it): letting the endpoint's cascade delete them locked
    the endpoint first, and a deliverer recording results beside it deadlocked with it."""
    async with conn.transaction():
        await conn.execute("DELETE FROM webhook_deliveries WHERE endpoint_id = $1", endpoint_id)
        deleted = await conn.fetchval(
            "DELETE FROM webhook_endpoints WHERE id = $1 RETURNING true", endpoint_id
        )
    return bool(deleted)


async def insert_test_event(
    conn: asyncpg.Connection, endpoint_id: UUID, event_id: UUID, body: str
) -> UUID:
    """A webhook.test event, rendered (`body`) and given to this endpoint only, due now; the
    delivery's id."""
    delivery_id: UUID = await conn.fetchval(
        """
        WITH event AS (
            INSERT INTO webhook_events (id, type, sequence, payload, body, fanned_out_at)
            VALUES ($2, 'webhook.test', 1, '{}'::jsonb, $3, now())
            RETURNING id
        )
        INSERT INTO webhook_deliveries (endpoint_id, event_id, next_attempt_at)
        SELECT $1, id, now() FROM event
        RETURNING id
        """,
        endpoint_id,
        event_id,
        body,
    )
    return delivery_id


_DELIVERY_COLUMNS = """
    d.id, d.event_id, e.type AS event_type, d.status, d.attempt_count, d.next_attempt_at,
    d.created_at, d.finished_at, coalesce((
        SELECT jsonb_agg(jsonb_build_object(
            'attempt_no', a.attempt_no, 'attempted_at', a.attempted_at,
            'status_code', a.status_code, 'latency_ms', a.latency_ms, 'error', a.error,
            'next_retry_at', a.next_retry_at) ORDER BY a.attempt_no)
        FROM webhook_delivery_attempts a WHERE a.delivery_id = d.id), '[]'::jsonb) AS attempts
"""


async def list_deliveries(
    conn: asyncpg.Connection,
    endpoint_id: UUID,
    *,
    status: str | None,
    limit: int,
    offset: int,
    after: tuple[datetime, UUID] | None,
) -> tuple[list[asyncpg.Record], int]:
    """A page of the endpoint's deliveries, newest first, each with its attempts; and the
    total matching the filter."""
    rows = await conn.fetch(
        f"""
        SELECT {_DELIVERY_COLUMNS}
        FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id
        WHERE d.endpoint_id = $1 AND ($2::text IS NULL OR d.status = $2)
          AND ($5::timestamptz IS NULL OR (d.created_at, d.id) < ($5, $6))
        ORDER BY d.created_at DESC, d.id DESC LIMIT $3 OFFSET $4
        """,
        endpoint_id,
        status,
        limit,
        offset,
        after[0] if after else None,
        after[1] if after else None,
    )
    total = await conn.fetchval(
        "SELECT count(*) FROM webhook_deliveries"
        " WHERE endpoint_id = $1 AND ($2::text IS NULL OR status = $2)",
        endpoint_id,
        status,
    )
    return list(rows), int(total)


async def fetch_delivery(
    conn: asyncpg.Connection, endpoint_id: UUID, delivery_id: UUID
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"""
        SELECT {_DELIVERY_COLUMNS}
        FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id
        WHERE d.endpoint_id = $1 AND d.id = $2
        """,
        endpoint_id,
        delivery_id,
    )


async def retry_delivery(
    conn: asyncpg.Connection, endpoint_id: UUID, delivery_id: UUID
) -> asyncpg.Record | None:
    """Make the delivery due now (PENDING again if it had ended, its retry period counted from
    now); None if there is no such delivery. A delivery being sent right now is sent again
    after it (at least once)."""
    updated = await conn.fetchval(
        """
        UPDATE webhook_deliveries SET status = 'PENDING', next_attempt_at = now(),
            finished_at = NULL,
            retry_since = CASE WHEN status = 'PENDING' THEN retry_since ELSE now() END
        WHERE endpoint_id = $1 AND id = $2
        RETURNING true
        """,
        endpoint_id,
        delivery_id,
    )
    if not updated:
        return None
    return await fetch_delivery(conn, endpoint_id, delivery_id)
