"""The dispatcher vacuums hot tables itself when the server's autovacuum is off."""

from __future__ import annotations

import asyncpg
import pytest

from services.dispatcher.maintenance import MIN_DEAD_ROWS, VacuumNeed, tables_needing_vacuum

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_hot_tables_with_many_dead_rows_are_named_unless_autovacuum_runs(
    db: asyncpg.Pool,
) -> None:
    async with db.acquire() as conn:
        autovacuum = await conn.fetchval("SELECT current_setting('autovacuum')::boolean")
        # Make dead rows in campaigns: insert and delete more than the threshold.
        await conn.execute(
            """
            INSERT INTO campaigns (id, name, status, concurrency_limit, priority, max_retries,
                sync_initial_backoff_ms, sync_backoff_multiplier, callback_retry_delay_ms,
                callback_timeout_ms, window_start_minute, window_end_minute, timezone,
                allowed_days)
            SELECT gen_random_uuid(), 'dead', 'PENDING', 1, 5, 0, 0, 1, 0, 1000, 0, 1440, 'UTC',
                   '{1}'
            FROM generate_series(1, $1)
            """,
            MIN_DEAD_ROWS + 100,
        )
        await conn.execute("DELETE FROM campaigns WHERE name = 'dead'")
        await conn.execute("SELECT pg_stat_force_next_flush()")
        tables = await tables_needing_vacuum(conn)
        if autovacuum:
            assert tables == []
            return
        assert VacuumNeed("campaigns", urgent=True) in tables

        # Rows only inserted (an import) can wait for a throttled vacuum.
        await conn.execute("VACUUM campaigns")
        await conn.execute(
            """
            INSERT INTO campaigns (id, name, status, concurrency_limit, priority, max_retries,
                sync_initial_backoff_ms, sync_backoff_multiplier, callback_retry_delay_ms,
                callback_timeout_ms, window_start_minute, window_end_minute, timezone,
                allowed_days)
            SELECT gen_random_uuid(), 'new', 'CANCELLED', 1, 5, 0, 0, 1, 0, 1000, 0, 1440,
                   'UTC', '{1}'
            FROM generate_series(1, $1)
            """,
            MIN_DEAD_ROWS + 100,
        )
        await conn.execute("SELECT pg_stat_force_next_flush()")
        assert VacuumNeed("campaigns", urgent=False) in await tables_needing_vacuum(conn)
        await conn.execute("DELETE FROM campaigns WHERE name = 'new'")
