"""Workers' heartbeats: who is alive, what each holds, and its breaker's state."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg


@dataclass(frozen=True)
class WorkerBeat:
    worker_id: str
    seen_at: datetime
    leases_held: int
    breaker_state: str


async def record_heartbeat(conn: asyncpg.Connection, beat: WorkerBeat) -> None:
    await conn.execute(
        """
        INSERT INTO workers (worker_id, seen_at, leases_held, breaker_state)
        VALUES ($1, $2, $3, $4)
        ON CONFLICT (worker_id) DO UPDATE SET seen_at = excluded.seen_at,
            leases_held = excluded.leases_held, breaker_state = excluded.breaker_state
        """,
        beat.worker_id,
        beat.seen_at,
        beat.leases_held,
        beat.breaker_state,
    )


async def forget_worker(conn: asyncpg.Connection, worker_id: str) -> None:
    await conn.execute("DELETE FROM workers WHERE worker_id = $1", worker_id)


async def live_workers(conn: asyncpg.Connection, seen_since: datetime) -> list[WorkerBeat]:
    """Workers heard from since `seen_since`; older rows (workers that died) are removed."""
    await conn.execute(
        "DELETE FROM workers WHERE seen_at < $1::timestamptz - interval '1 hour'", seen_since
    )
    rows = await conn.fetch(
        "SELECT worker_id, seen_at, leases_held, breaker_state FROM workers"
        " WHERE seen_at >= $1 ORDER BY worker_id",
        seen_since,
    )
    return [WorkerBeat(**dict(r)) for r in rows]
