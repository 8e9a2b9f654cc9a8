"""The dispatcher vacuums hot tables itself when the server's autovacuum is off."""

from __future__ import annotations

import asyncpg
import pytest

from services.dispatcher import maintenance
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


async def test_old_webhook_events_go_in_batches_unless_a_delivery_waits(
    db: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(maintenance, "WEBHOOK_EVENTS_BATCH", 3)
    async with db.acquire() as conn, conn.transaction():
        endpoint, disabled = [
            await conn.fetchval(
                "INSERT INTO webhook_endpoints (url, events, enabled, secret_encrypted)"
                " VALUES ('http://127.0.0.1:9/', '{*}', $1, 'x') RETURNING id",
                enabled,
            )
            for enabled in (True, False)
        ]
        old = await conn.fetch(
            "INSERT INTO webhook_events (type, sequence, payload, body, fanned_out_at,"
            " created_at) SELECT 'webhook.test', 1, '{}'::jsonb, '{}', now(),"
            " now() - interval '8 days' FROM generate_series(1, 8) RETURNING id"
        )
        fresh = await conn.fetchval(
            "INSERT INTO webhook_events (type, sequence, payload, body, fanned_out_at)"
            " VALUES ('webhook.test', 1, '{}'::jsonb, '{}', now()) RETURNING id"
        )
        # One old event is still being delivered; one was delivered; one waits only for an
        # endpoint that is disabled.
        await conn.execute(
            "INSERT INTO webhook_deliveries (endpoint_id, event_id, status, next_attempt_at)"
            " VALUES ($1, $2, 'PENDING', now()), ($1, $3, 'DELIVERED', NULL),"
            " ($4, $5, 'PENDING', now())",
            endpoint,
            old[0]["id"],
            old[1]["id"],
            disabled,
            old[2]["id"],
        )
        cutoff = await conn.fetchval("SELECT now() - interval '7 days'")
        removed = await maintenance.forget_old_webhook_events(conn, cutoff)
        left = {r["id"] for r in await conn.fetch("SELECT id FROM webhook_events")}
        await conn.execute(
            "DELETE FROM webhook_endpoints WHERE id = ANY($1::uuid[])", [endpoint, disabled]
        )
        await conn.execute("DELETE FROM webhook_events")
    assert removed == 7
    assert {old[0]["id"], fresh} <= left
    assert old[1]["id"] not in left and old[2]["id"] not in left
