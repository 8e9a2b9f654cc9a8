"""SQL for the answers kept for Idempotency-Key retries."""

from __future__ import annotations

from typing import Any

import asyncpg

KEEP_FOR = "24 hours"


async def claim_key(conn: asyncpg.Connection, client: str, key: str, fingerprint: bytes) -> bool:
    """Take the key for this request (True), or find it taken (False). Waits while another
    transaction holds it uncommitted."""
    inserted = await conn.fetchval(
        """
        INSERT INTO idempotency_keys (client, key, request_hash, status, response)
        VALUES ($1, $2, $3, 0, 'null')
        ON CONFLICT (client, key) DO NOTHING
        RETURNING true
        """,
        client,
        key,
        fingerprint,
    )
    return bool(inserted)


async def fetch_answer(conn: asyncpg.Connection, client: str, key: str) -> asyncpg.Record:
    row: asyncpg.Record = await conn.fetchrow(
        "SELECT request_hash, status, response, location FROM idempotency_keys"
        " WHERE client = $1 AND key = $2",
        client,
        key,
    )
    return row


async def record_answer(
    conn: asyncpg.Connection,
    client: str,
    key: str,
    status: int,
    body: Any,
    location: str | None,
) -> None:
    await conn.execute(
        "UPDATE idempotency_keys SET status = $3, response = $4, location = $5"
        " WHERE client = $1 AND key = $2",
        client,
        key,
        status,
        body,
        location,
    )


async def forget_old_keys(conn: asyncpg.Connection) -> int:
    result = await conn.execute(
        f"DELETE FROM idempotency_keys WHERE created_at < now() - interval '{KEEP_FOR}'"
    )
    return int(result.split()[-1])
