"""Messages no consumer could handle, kept for operators."""

from __future__ import annotations

from typing import Any

import asyncpg


async def keep_dead_letter(
    conn: asyncpg.Connection,
    queue: str,
    message_type: str | None,
    reason: str,
    headers: dict[str, Any],
    body: str,
) -> None:
    await conn.execute(
        "INSERT INTO dead_letters (queue, message_type, reason, headers, body)"
        " VALUES ($1, $2, $3, $4, $5)",
        queue,
        message_type,
        reason,
        headers,
        body,
    )


#: Dead letters are kept this long for operators to look at, then removed.
KEEP_DAYS = 14


async def forget_old_dead_letters(conn: asyncpg.Connection, limit: int = 1000) -> int:
    """Remove up to `limit` dead letters older than KEEP_DAYS; how many went."""
    result = await conn.execute(
        f"""
        DELETE FROM dead_letters WHERE id IN (
            SELECT id FROM dead_letters WHERE received_at < now() - interval '{KEEP_DAYS} days'
            ORDER BY id LIMIT $1)
        """,
        limit,
    )
    return int(result.split()[-1])
