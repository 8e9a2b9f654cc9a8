"""Finished campaigns are counted once; the counts the api shows stay those of the calls."""

from __future__ import annotations

from uuid import UUID

import asyncpg
import pytest

from shared.domain.attempts import AttemptRef
from shared.domain.endings import TIMEOUT_REASON, Ending
from shared.domain.retry_policy import RetryConfig
from shared.domain.statuses import AttemptOutcome, CallStatus
from shared.repositories import campaigns as campaign_repo
from shared.repositories.call_counts import (
    CallCounts,
    call_counts,
    call_totals,
    count_finished_campaigns,
)
from shared.repositories.endings import end_attempt
from tests.integration.test_attempts import now, running_campaign, start
from tests.support.numbers import fresh_numbers

pytestmark = pytest.mark.asyncio(loop_scope="session")

NO_RETRY = RetryConfig(0, 10, 2.0, callback_retry_delay_ms=0, callback_timeout_ms=1000)


async def counted_from_calls(db: asyncpg.Pool, campaign_id: UUID) -> dict[CallStatus, int]:
    rows = await db.fetch(
        "SELECT status, count(*) AS n FROM calls WHERE campaign_id = $1 GROUP BY status",
        campaign_id,
    )
    return {CallStatus(r["status"]): r["n"] for r in rows}


async def finished_campaign(db: asyncpg.Pool) -> tuple[UUID, list[UUID]]:
    """A campaign of three numbers: one answered, one timed out for good, one rejected."""
    campaign_id = await running_campaign(db, fresh_numbers(3), retry=NO_RETRY)
    calls = []
    async with db.acquire() as conn:
        for ending in (
            Ending(AttemptOutcome.COMPLETED, duration_seconds=30),
            Ending(None, TIMEOUT_REASON),
            Ending(AttemptOutcome.REJECTED, "invalid number"),
        ):
            attempt = await start(db, campaign_id)
            await end_attempt(conn, attempt.ref, ending, now())
            calls.append(attempt.ref.call_id)
        async with conn.transaction():
            assert await campaign_repo.finish_campaign(conn, campaign_id) is not None
    return campaign_id, calls


async def test_a_finished_campaign_is_counted_once_and_reads_the_same(db: asyncpg.Pool) -> None:
    campaign_id, _ = await finished_campaign(db)
    async with db.acquire() as conn:
        live = (await call_counts(conn, [campaign_id]))[campaign_id]
        totals_before = await call_totals(conn)
        while await count_finished_campaigns(conn):
            pass
        kept = await db.fetchrow(
            "SELECT * FROM final_call_counts WHERE campaign_id = $1", campaign_id
        )
        assert kept is not None
        counted = (await call_counts(conn, [campaign_id]))[campaign_id]
        totals_after = await call_totals(conn)
    assert counted == live
    assert counted.by_status == await counted_from_calls(db, campaign_id)
    assert counted[CallStatus.COMPLETED] == 1 and counted.talk_seconds == 30
    assert totals_after == totals_before


async def test_a_late_result_after_the_count_has_it_taken_again(db: asyncpg.Pool) -> None:
    campaign_id, [_, timed_out, _] = await finished_campaign(db)
    async with db.acquire() as conn:
        while await count_finished_campaigns(conn):
            pass
        ref = await conn.fetchrow(
            "SELECT call_id, attempt_no FROM call_attempts WHERE call_id = $1", timed_out
        )
        late = await end_attempt(
            conn,
            AttemptRef(ref["call_id"], ref["attempt_no"]),
            Ending(AttemptOutcome.COMPLETED, duration_seconds=12),
            now(),
        )
        assert late is not None and late.call_status is CallStatus.COMPLETED
        while await count_finished_campaigns(conn):
            pass
        counted = (await call_counts(conn, [campaign_id]))[campaign_id]
    assert counted.by_status == await counted_from_calls(db, campaign_id)
    assert counted[CallStatus.COMPLETED] == 2 and counted.talk_seconds == 42


async def test_campaigns_with_calls_in_play_are_counted_from_the_calls(db: asyncpg.Pool) -> None:
    campaign_id = await running_campaign(db, fresh_numbers(4))
    await start(db, campaign_id)
    async with db.acquire() as conn:
        await count_finished_campaigns(conn)
        counted = (await call_counts(conn, [campaign_id]))[campaign_id]
        kept = await conn.fetchval(
            "SELECT count(*) FROM final_call_counts WHERE campaign_id = $1", campaign_id
        )
    assert kept == 0
    assert counted == CallCounts({CallStatus.PENDING: 3, CallStatus.SCHEDULED: 1}, 0, 0, 0)


class _CountsMidway:
    """A connection whose first read is followed, before the second, by the dispatcher's
    count of finished campaigns on another connection: the moment a reader of two
    statements can meet."""

    def __init__(self, conn: asyncpg.Connection, db: asyncpg.Pool) -> None:
        self.conn, self.db, self.reads = conn, db, 0

    async def fetch(self, query: str, *args: object) -> list[asyncpg.Record]:
        rows = await self.conn.fetch(query, *args)
        self.reads += 1
        if self.reads == 1:
            async with self.db.acquire() as other:
                while await count_finished_campaigns(other):
                    pass
        return rows


async def test_a_campaign_counted_while_it_is_read_is_counted_once(db: asyncpg.Pool) -> None:
    campaign_id, _ = await finished_campaign(db)
    async with db.acquire() as conn:
        totals = await call_totals(conn)
        ours = (await call_counts(conn, [campaign_id]))[campaign_id]
        assert (
            await db.fetchval(
                "SELECT count(*) FROM final_call_counts WHERE campaign_id = $1", campaign_id
            )
            == 0
        )

        midway = _CountsMidway(conn, db)
        assert await call_totals(midway) == totals  # type: ignore[arg-type]
        assert (
            await db.fetchval(
                "SELECT count(*) FROM final_call_counts WHERE campaign_id = $1", campaign_id
            )
            == 1
        )

        other_id, _ = await finished_campaign(db)
        before = await call_counts(conn, [other_id])
        assert await call_counts(_CountsMidway(conn, db), [other_id]) == before  # type: ignore[arg-type]
    assert ours.total == 3 and before[other_id].total == 3
