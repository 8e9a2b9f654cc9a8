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
