"""Database upkeep by the active dispatcher: expired idempotency keys, and vacuuming the hot
tables when the server's autovacuum is off.

Calls and attempts change state several times each; without vacuum their indexes fill with
dead entries and every claim slows down. Autovacuum handles this where it is on (the migration
tunes it for these tables). Where an operator turned it off, the active dispatcher does it.
"""

from __future__ import annotations

import asyncio

import asyncpg
import structlog

from shared.repositories.idempotency_keys import forget_old_keys

log = structlog.get_logger()

HOT_TABLES = ("calls", "call_attempts", "campaigns", "line_slots")
#: Vacuum a table once its dead rows pass this share of its live rows (or 5,000).
DEAD_ROW_SHARE = 0.1
MIN_DEAD_ROWS = 5000


async def tables_needing_vacuum(conn: asyncpg.Connection) -> list[str]:
    """The hot tables with enough dead rows, or none if autovacuum looks after them."""
    if await conn.fetchval("SELECT current_setting('autovacuum')::boolean"):
        return []
    rows = await conn.fetch(
        "SELECT relname, n_live_tup, n_dead_tup, n_ins_since_vacuum FROM pg_stat_user_tables"
        " WHERE schemaname = current_schema() AND relname = ANY($1::text[])",
        list(HOT_TABLES),
    )
    # Dead rows slow every index scan; rows inserted since the last vacuum are not yet in the
    # visibility map, which makes the counts behind the lists read the table, not the index.
    return [
        r["relname"]
        for r in rows
        if r["n_dead_tup"] > max(MIN_DEAD_ROWS, DEAD_ROW_SHARE * r["n_live_tup"])
        or r["n_ins_since_vacuum"] > max(MIN_DEAD_ROWS, DEAD_ROW_SHARE * r["n_live_tup"])
    ]


async def keep_database_tidy(pool: asyncpg.Pool, interval_s: float) -> None:
    """Every `interval_s`: forget idempotency keys past their day, and vacuum and analyse the
    hot tables that need it."""
    warned = False
    while True:
        await asyncio.sleep(interval_s)
        try:
            async with pool.acquire() as conn:
                if forgotten := await forget_old_keys(conn):
                    log.info("idempotency keys expired", keys=forgotten)
                for table in await tables_needing_vacuum(conn):
                    if not warned:
                        log.warning("autovacuum is off on this server; vacuuming hot tables")
                        warned = True
                    await conn.execute(f"VACUUM (ANALYZE) {table}")  # names from HOT_TABLES
        except (asyncpg.PostgresError, OSError) as exc:
            log.warning("could not vacuum", error=repr(exc))
