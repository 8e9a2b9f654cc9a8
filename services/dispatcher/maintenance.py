"""Database upkeep by the active dispatcher: expired idempotency keys, dead letters and
do-not-call entries, webhook events past their retention, the dial counts of numbers no cap
counts any more, and vacuuming the hot tables when the server's autovacuum is off.

Calls and attempts change state several times each; without vacuum their indexes fill with
dead entries and every claim slows down. Autovacuum handles this where it is on (the migration
tunes it for these tables). Where an operator turned it off, the active dispatcher does it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial

import asyncpg
import structlog

from shared.db.pool import DATABASE_UNAVAILABLE
from shared.repositories.dead_letters import forget_old_dead_letters
from shared.repositories.idempotency_keys import forget_old_keys
from shared.repositories.number_dials import forget_old_dials
from shared.repositories.suppressions import forget_expired
from shared.repositories.webhook_deliveries import forget_old_events

log = structlog.get_logger()

HOT_TABLES = (
    "calls",
    "call_attempts",
    "campaigns",
    "line_slots",
    "number_dials",
    "webhook_events",
    "webhook_deliveries",
)
#: Vacuum a table once its dead rows pass this share of its live rows (or 5,000).
DEAD_ROW_SHARE = 0.1
MIN_DEAD_ROWS = 5000


@dataclass(frozen=True)
class VacuumNeed:
    table: str
    #: Dead rows slow every claim: vacuum at once. Rows only inserted (a number import) can
    #: wait: that vacuum runs throttled, as autovacuum would, so as not to slow the next import.
    urgent: bool


async def tables_needing_vacuum(conn: asyncpg.Connection) -> list[VacuumNeed]:
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
    needs = []
    for r in rows:
        threshold = max(MIN_DEAD_ROWS, DEAD_ROW_SHARE * r["n_live_tup"])
        if r["n_dead_tup"] > threshold:
            needs.append(VacuumNeed(r["relname"], urgent=True))
        elif r["n_ins_since_vacuum"] > threshold:
            needs.append(VacuumNeed(r["relname"], urgent=False))
    return needs


#: Old webhook events are removed in batches this small (each its own statement and
#: transaction, so no lock is held long), at most this many batches a pass.
WEBHOOK_EVENTS_BATCH = 500
WEBHOOK_BATCHES_PER_PASS = 20


async def forget_old_webhook_events(conn: asyncpg.Connection, before: datetime) -> int:
    """Remove webhook events created before `before` that nothing waits to deliver, in
    small batches; how many."""
    removed = 0
    for _ in range(WEBHOOK_BATCHES_PER_PASS):
        batch = await forget_old_events(conn, before, WEBHOOK_EVENTS_BATCH)
        removed += batch
        if batch < WEBHOOK_EVENTS_BATCH:
            break
    return removed


#: One upkeep step: its name, what its log line says, and the work (how many rows or tables
#: it dealt with).
Step = tuple[str, str, Callable[[], Awaitable[int]]]


async def run_steps(steps: Sequence[Step]) -> None:
    """Each step in turn. A step whose statement fails is logged and the others still run
    (a broken deletion once skipped every vacuum after it); a lost database ends the pass."""
    for name, done, work in steps:
        try:
            count = await work()
        except DATABASE_UNAVAILABLE:
            raise
        except asyncpg.PostgresError as exc:
            log.warning("upkeep step failed", step=name, error=repr(exc))
            continue
        if count:
            log.info(done, step=name, count=count)


@dataclass
class Vacuums:
    """The hot tables' vacuuming where autovacuum is off; warns once that it is."""

    warned: bool = False

    async def run(self, conn: asyncpg.Connection) -> int:
        needs = await tables_needing_vacuum(conn)
        if needs and not self.warned:
            log.warning("autovacuum is off on this server; vacuuming hot tables")
            self.warned = True
        for need in needs:
            # autovacuum's own pace (2 ms every 200 cost units) for the one that can wait.
            delay = "0" if need.urgent else "2ms"
            await conn.execute(f"SET vacuum_cost_delay = '{delay}'")
            await conn.execute(f"VACUUM (ANALYZE) {need.table}")  # from HOT_TABLES
            await conn.execute("RESET vacuum_cost_delay")
        return len(needs)


def upkeep_steps(
    conn: asyncpg.Connection, now: datetime, webhook_retention: timedelta, vacuums: Vacuums
) -> list[Step]:
    return [
        ("idempotency keys", "idempotency keys expired", partial(forget_old_keys, conn)),
        ("dead letters", "old dead letters removed", partial(forget_old_dead_letters, conn)),
        (
            "do-not-call entries",
            "expired do-not-call entries removed",
            partial(forget_expired, conn, now),
        ),
        (
            "webhook events",
            "old webhook events removed",
            partial(forget_old_webhook_events, conn, now - webhook_retention),
        ),
        (
            "dial counts",
            "dial counts of numbers not called for a month removed",
            partial(forget_old_dials, conn, now),
        ),
        ("vacuum", "hot tables vacuumed", partial(vacuums.run, conn)),
    ]


async def keep_database_tidy(
    pool: asyncpg.Pool, interval_s: float, webhook_retention: timedelta = timedelta(days=7)
) -> None:
    """Every `interval_s`: forget idempotency keys past their day, dead letters past their
    fortnight, expired do-not-call entries, webhook events delivered (or given up) more than
    `webhook_retention` ago, and dial counts older than any cap; and vacuum and analyse the
    hot tables that need it."""
    vacuums = Vacuums()
    while True:
        await asyncio.sleep(interval_s)
        try:
            async with pool.acquire() as conn:
                now = datetime.now(UTC)
                await run_steps(upkeep_steps(conn, now, webhook_retention, vacuums))
        except DATABASE_UNAVAILABLE as exc:
            log.warning("upkeep skipped: database unavailable", error=repr(exc))
