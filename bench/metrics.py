"""The figures a console polls, on a table of 1,000,000 calls: GET /api/v1/metrics and a page of
100 campaigns, next to the whole-table count they replaced, measured in the same run."""

from __future__ import annotations

import asyncio
import statistics
import time

import asyncpg

from tests.support.api_client import ApiClient
from tests.support.waiting import wait_until

FINISHED_CAMPAIGNS = 90
RUNNING_CAMPAIGNS = 10
CALLS_EACH = 10_000
#: GET /api/v1/metrics is shared for 2 s by the pollers of a replica: wait it out each time,
#: so that every sample is a real read.
SHARED_FOR_S = 2.1

#: What GET /api/v1/metrics ran on every request before: every call grouped by status.
WHOLE_TABLE_COUNT = """
    SELECT status, count(*) AS n, sum(greatest(dial_count - 1, 0)) AS retries,
           sum(call_duration_seconds) FILTER (WHERE status = 'COMPLETED') AS talk,
           count(call_duration_seconds) FILTER (WHERE status = 'COMPLETED') AS talked
    FROM calls GROUP BY status
"""


async def load_million_calls(db: asyncpg.Pool) -> None:
    """100 campaigns of 10,000 calls, straight into the tables: 90 finished (their calls final)
    and 10 running (a tenth of their calls still pending)."""
    async with db.acquire() as conn:
        await conn.execute(
            f"""
            WITH made AS (
                INSERT INTO campaigns (id, name, status, concurrency_limit, priority,
                    max_retries, sync_initial_backoff_ms, sync_backoff_multiplier,
                    callback_retry_delay_ms, callback_timeout_ms, window_start_minute,
                    window_end_minute, timezone, allowed_days, finished_at, queue_removed_at)
                SELECT gen_random_uuid(), 'metrics bench ' || g,
                       CASE WHEN g <= {FINISHED_CAMPAIGNS} THEN 'COMPLETED' ELSE 'PAUSED' END,
                       10, 5, 3, 1000, 2, 30000, 120000, 0, 1440, 'UTC', '{{1,2,3,4,5,6,7}}',
                       now(), now()
                FROM generate_series(1, {FINISHED_CAMPAIGNS + RUNNING_CAMPAIGNS}) g
                RETURNING id, status
            )
            INSERT INTO calls (campaign_id, phone_number, status, dial_count,
                               call_duration_seconds)
            SELECT m.id, '+1628' || lpad(((row_number() OVER ()) % 10000000)::text, 7, '0'),
                   CASE WHEN m.status = 'PAUSED' AND g % 10 = 0 THEN 'PENDING'
                        WHEN g % 7 = 0 THEN 'PERMANENTLY_FAILED' ELSE 'COMPLETED' END,
                   1 + g % 3, CASE WHEN g % 7 <> 0 THEN 30 + g % 90 END
            FROM made m, generate_series(1, {CALLS_EACH}) g
            """
        )
        await conn.execute("VACUUM ANALYZE calls")


async def _timed(action: object) -> float:
    started = time.perf_counter()
    await action  # type: ignore[misc]
    return (time.perf_counter() - started) * 1000


async def console_reads(api: ApiClient, db: asyncpg.Pool, samples: int = 7) -> dict[str, float]:
    """Median ms of each read on the 1,000,000 calls."""
    await load_million_calls(db)

    async def counted() -> bool:
        kept = await db.fetchval("SELECT count(*) FROM final_call_counts")
        return bool(kept >= FINISHED_CAMPAIGNS)

    await wait_until(counted, timeout=300, interval=1, message="finished campaigns counted")
    whole, metrics, page = [], [], []
    for _ in range(samples):
        whole.append(await _timed(db.fetch(WHOLE_TABLE_COUNT)))
        await asyncio.sleep(SHARED_FOR_S)  # past the shared answer's life
        metrics.append(await _timed(api.request("GET", "/api/v1/metrics")))
        page.append(await _timed(api.request("GET", "/api/v1/campaigns?size=100")))
    return {
        "whole_table": statistics.median(whole),
        "metrics": statistics.median(metrics),
        "page": statistics.median(page),
    }
