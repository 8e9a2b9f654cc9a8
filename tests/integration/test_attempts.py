"""The claim, the fence and the one result function, against the real PostgreSQL."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import asyncpg
import pytest
import pytest_asyncio

from services.dispatcher.windows import refresh_windows
from shared.db.pool import init_connection
from shared.domain.attempts import AttemptRef, DialRules, NoDial, StartedAttempt
from shared.domain.business_hours import ALL_DAYS, ALWAYS_OPEN, BusinessHours
from shared.domain.endings import TIMEOUT_REASON, Ending
from shared.domain.retry_policy import RetryConfig
from shared.domain.statuses import AttemptOutcome, CampaignStatus
from shared.repositories import campaigns as campaign_repo
from shared.repositories.attempts import (
    adopt_job_attempt,
    closed_among,
    extend_open_attempt,
    fetch_dial_rules,
    overdue_attempts,
    record_dials_accepted,
)
from shared.repositories.claims import start_attempts
from shared.repositories.endings import end_attempt, end_attempts
from shared.repositories.zone_windows import LEGACY_GROUP, register_groups
from tests.support.infra import create_infra, destroy_infra
from tests.support.numbers import fresh_numbers

pytestmark = pytest.mark.asyncio(loop_scope="session")

RETRY = RetryConfig(
    max_retries=2,
    sync_initial_backoff_ms=10,
    sync_backoff_multiplier=2.0,
    callback_retry_delay_ms=60_000,
    callback_timeout_ms=120_000,
)


def now() -> datetime:
    return datetime.now(UTC)


async def running_campaign(
    db: asyncpg.Pool,
    numbers: list[str],
    *,
    limit: int = 3,
    allowed: int | None = None,
    hours: BusinessHours = ALWAYS_OPEN,
    retry: RetryConfig = RETRY,
) -> UUID:
    """A running campaign whose share (the dispatcher's to set) is its limit unless told."""
    async with db.acquire() as conn:
        campaign = await campaign_repo.insert_campaign(
            conn,
            campaign_repo.NewCampaign(
                name="t",
                description=None,
                concurrency_limit=limit,
                priority=5,
                retry=retry,
                hours=hours,
                status=CampaignStatus.IN_PROGRESS,
            ),
        )
        await conn.copy_records_to_table(
            "calls",
            records=[(uuid4(), campaign.id, n, "PENDING") for n in numbers],
            columns=["id", "campaign_id", "phone_number", "status"],
        )
        await conn.execute(
            "UPDATE campaigns SET allowed_lines = $2 WHERE id = $1",
            campaign.id,
            limit if allowed is None else allowed,
        )
        # Calls copied without a zone group stand in the legacy group; its window is worked
        # out as the dispatcher would (no calling policy).
        await register_groups(conn, campaign.id, [LEGACY_GROUP])
        await refresh_windows(conn, None, now())
    return campaign.id


#: Global capacity for claims in these tests: never the limit unless a test says so.
AMPLE_LINES = 1_000_000


async def claim(
    db: asyncpg.Pool,
    campaign_id: UUID,
    at: datetime | None = None,
    job_id: UUID | None = None,
    capacity: int = AMPLE_LINES,
) -> StartedAttempt | NoDial:
    async with db.acquire() as conn:
        rules = await fetch_dial_rules(conn, campaign_id)
        assert rules is not None
        [answer] = await start_attempts(
            conn, rules, [job_id or uuid4()], "w1", at or now(), capacity
        )
        return answer


async def rules_then_changed(conn: asyncpg.Connection, campaign_id: UUID) -> DialRules:
    """The campaign's dial rules, read just before its settings change."""
    rules = await fetch_dial_rules(conn, campaign_id)
    assert rules is not None
    await conn.execute(
        "UPDATE campaigns SET settings_version = settings_version + 1 WHERE id = $1",
        campaign_id,
    )
    return rules


async def start(db: asyncpg.Pool, campaign_id: UUID, at: datetime | None = None) -> StartedAttempt:
    started = await claim(db, campaign_id, at)
    assert isinstance(started, StartedAttempt), started
    return started


async def call_row(db: asyncpg.Pool, call_id: UUID) -> asyncpg.Record:
    row = await db.fetchrow("SELECT * FROM calls WHERE id = $1", call_id)
    assert row is not None
    return row


async def in_flight(db: asyncpg.Pool, campaign_id: UUID) -> int:
    return int(await db.fetchval("SELECT in_flight FROM campaigns WHERE id = $1", campaign_id))


async def test_the_fence_holds_under_concurrent_claims(db: asyncpg.Pool) -> None:
    campaign_id = await running_campaign(db, fresh_numbers(50), limit=3)

    results = await asyncio.gather(*(claim(db, campaign_id) for _ in range(20)))

    started = [r for r in results if isinstance(r, StartedAttempt)]
    assert len(started) == 3
    assert {r for r in results if isinstance(r, NoDial)} == {NoDial.NO_FREE_LINE}
    assert len({s.ref.call_id for s in started}) == 3
    assert await in_flight(db, campaign_id) == 3


async def test_a_campaign_takes_no_more_lines_than_its_share(db: asyncpg.Pool) -> None:
    campaign_id = await running_campaign(db, fresh_numbers(20), limit=10, allowed=2)

    results = await asyncio.gather(*(claim(db, campaign_id) for _ in range(8)))

    assert sum(isinstance(r, StartedAttempt) for r in results) == 2
    assert await in_flight(db, campaign_id) == 2


async def lines_in_use(db: asyncpg.Pool) -> int:
    return int(await db.fetchval("SELECT sum(in_flight) FROM line_slots"))


@pytest_asyncio.fixture(loop_scope="session")
async def empty_db() -> AsyncIterator[asyncpg.Pool]:
    """A database of its own, with no call in progress left by other tests."""
    infra = await create_infra("vcs_lines")
    pool = await asyncpg.create_pool(
        infra.database_url, min_size=1, max_size=20, init=init_connection
    )
    assert pool is not None
    try:
        yield pool
    finally:
        await pool.close()
        await destroy_infra(infra)


async def test_the_global_capacity_holds_across_campaigns_and_frees_on_endings(
    empty_db: asyncpg.Pool,
) -> None:
    db = empty_db
    campaigns = [await running_campaign(db, fresh_numbers(10), limit=5) for _ in range(3)]
    capacity = 4

    results = await asyncio.gather(
        *(claim(db, c, capacity=capacity) for c in campaigns for _ in range(5))
    )

    started = [r for r in results if isinstance(r, StartedAttempt)]
    # Never over the capacity. A racing claim may come away with NO_FREE_LINE while a line is
    # free (its planned slot was locked by another claim, which it skips rather than waits
    # for; its job is offered again): claimed one by one, the rest of the lines are taken.
    assert 1 <= len(started) <= capacity
    for campaign in campaigns * capacity:
        if len(started) == capacity:
            break
        again = await claim(db, campaign, capacity=capacity)
        assert isinstance(again, StartedAttempt), again
        started.append(again)
    assert await lines_in_use(db) == capacity == 4
    assert sum([await in_flight(db, c) for c in campaigns]) == 4
    assert await claim(db, campaigns[0], capacity=capacity) is NoDial.NO_FREE_LINE

    async with db.acquire() as conn:
        endings = [(s.ref, Ending(AttemptOutcome.COMPLETED, duration_seconds=3)) for s in started]
        await end_attempts(conn, endings[:2], now())
    assert await lines_in_use(db) == capacity - 2
    assert isinstance(await claim(db, campaigns[0], capacity=capacity), StartedAttempt)


async def test_a_lowered_capacity_admits_nothing_until_the_total_is_below_it(
    empty_db: asyncpg.Pool,
) -> None:
    db = empty_db
    campaign = await running_campaign(db, fresh_numbers(20), limit=20)
    for _ in range(8):
        await start(db, campaign)  # under a capacity of a million, wherever the slots fall
    in_use = await lines_in_use(db)

    results = await asyncio.gather(*(claim(db, campaign, capacity=in_use - 2) for _ in range(6)))

    assert set(results) == {NoDial.NO_FREE_LINE}
    assert await lines_in_use(db) == in_use


async def test_due_retries_go_before_new_numbers_and_early_ones_wait(db: asyncpg.Pool) -> None:
    first, second, third = fresh_numbers(3)
    campaign_id = await running_campaign(db, [first, second, third], limit=5)
    attempt = await start(db, campaign_id)
    async with db.acquire() as conn:
        await end_attempt(conn, attempt.ref, Ending(AttemptOutcome.BUSY), now())
    # The retry is due in 60 s: the next claim takes a new number.
    assert (await start(db, campaign_id)).phone_number == second
    # Once due, the retry goes before the remaining new number.
    later = now() + timedelta(seconds=61)
    assert (await start(db, campaign_id, at=later)).phone_number == first


async def test_a_number_live_in_one_campaign_waits_in_another(db: asyncpg.Pool) -> None:
    [shared_number] = fresh_numbers(1)
    one = await running_campaign(db, [shared_number])
    other = await running_campaign(db, [shared_number])
    await start(db, one)
    assert await claim(db, other) is NoDial.NOTHING_TO_DIAL
    assert await in_flight(db, other) == 0


async def test_outside_business_hours_nothing_starts(db: asyncpg.Pool) -> None:
    closed_now = now() + timedelta(hours=12)
    minute = closed_now.hour * 60 + closed_now.minute
    hours = BusinessHours(minute, minute + 1, "UTC", ALL_DAYS)
    campaign_id = await running_campaign(db, fresh_numbers(2), hours=hours)
    assert await claim(db, campaign_id) is NoDial.NOTHING_TO_DIAL
    assert await in_flight(db, campaign_id) == 0


async def test_paused_campaign_starts_nothing(db: asyncpg.Pool) -> None:
    campaign_id = await running_campaign(db, fresh_numbers(2))
    async with db.acquire() as conn:
        await campaign_repo.set_status(
            conn, campaign_id, CampaignStatus.PAUSED, allowed_from=[CampaignStatus.IN_PROGRESS]
        )
    assert await claim(db, campaign_id) is NoDial.NO_FREE_LINE


async def test_results_are_idempotent_and_final_states_never_regress(db: asyncpg.Pool) -> None:
    campaign_id = await running_campaign(db, fresh_numbers(1))
    attempt = await start(db, campaign_id)
    async with db.acquire() as conn:
        first = await end_attempt(
            conn, attempt.ref, Ending(AttemptOutcome.COMPLETED, duration_seconds=30), now()
        )
        again = await end_attempt(conn, attempt.ref, Ending(AttemptOutcome.COMPLETED), now())
        late_failure = await end_attempt(conn, attempt.ref, Ending(AttemptOutcome.FAILED), now())
        late_timeout = await end_attempt(conn, attempt.ref, Ending(None, TIMEOUT_REASON), now())
    assert first is not None and first.applied and first.released_line
    for effect in (again, late_failure, late_timeout):
        assert effect is not None and not effect.applied and not effect.released_line
    row = await call_row(db, attempt.ref.call_id)
    assert row["status"] == "COMPLETED"
    assert row["call_duration_seconds"] == 30
    assert await in_flight(db, campaign_id) == 0


async def test_a_late_success_withdraws_the_retry_the_timeout_scheduled(db: asyncpg.Pool) -> None:
    campaign_id = await running_campaign(db, fresh_numbers(1))
    attempt = await start(db, campaign_id)
    async with db.acquire() as conn:
        timeout = await end_attempt(conn, attempt.ref, Ending(None, TIMEOUT_REASON), now())
        assert timeout is not None and timeout.released_line
        assert (await call_row(db, attempt.ref.call_id))["status"] == "FAILED"
        late = await end_attempt(
            conn, attempt.ref, Ending(AttemptOutcome.COMPLETED, duration_seconds=12), now()
        )
    assert late is not None and late.applied and not late.released_line
    row = await call_row(db, attempt.ref.call_id)
    assert row["status"] == "COMPLETED"
    assert row["next_retry_at"] is None
    assert await in_flight(db, campaign_id) == 0
    history = await db.fetchrow(
        "SELECT outcome, timed_out_at FROM call_attempts WHERE call_id = $1",
        attempt.ref.call_id,
    )
    assert history["outcome"] == "COMPLETED" and history["timed_out_at"] is not None


async def test_a_late_success_after_the_retry_was_dialled_is_only_recorded(
    db: asyncpg.Pool,
) -> None:
    retry_now = RetryConfig(2, 10, 2.0, callback_retry_delay_ms=0, callback_timeout_ms=1000)
    campaign_id = await running_campaign(db, fresh_numbers(1), retry=retry_now)
    first = await start(db, campaign_id)
    async with db.acquire() as conn:
        await end_attempt(conn, first.ref, Ending(None, TIMEOUT_REASON), now())
    second = await start(db, campaign_id)
    assert second.ref.call_id == first.ref.call_id and second.ref.attempt_no == 2
    async with db.acquire() as conn:
        late = await end_attempt(conn, first.ref, Ending(AttemptOutcome.COMPLETED), now())
    assert late is not None and late.applied and late.call_status is None
    assert (await call_row(db, first.ref.call_id))["status"] == "SCHEDULED"
    assert await in_flight(db, campaign_id) == 1


async def test_a_call_never_placed_does_not_use_up_a_retry(db: asyncpg.Pool) -> None:
    campaign_id = await running_campaign(db, fresh_numbers(1))
    attempt = await start(db, campaign_id)
    async with db.acquire() as conn:
        await end_attempt(conn, attempt.ref, Ending(AttemptOutcome.NOT_PLACED, "503"), now())
    row = await call_row(db, attempt.ref.call_id)
    assert row["status"] == "PENDING"
    assert row["dial_count"] == 0 and row["attempt_count"] == 1


async def test_max_retries_then_permanently_failed(db: asyncpg.Pool) -> None:
    retry_now = RetryConfig(1, 10, 2.0, callback_retry_delay_ms=0, callback_timeout_ms=1000)
    campaign_id = await running_campaign(db, fresh_numbers(1), retry=retry_now)
    for expected in ("FAILED", "PERMANENTLY_FAILED"):
        attempt = await start(db, campaign_id)
        async with db.acquire() as conn:
            await end_attempt(conn, attempt.ref, Ending(AttemptOutcome.NO_ANSWER), now())
        assert (await call_row(db, attempt.ref.call_id))["status"] == expected
    assert await claim(db, campaign_id) is NoDial.NOTHING_TO_DIAL


async def test_a_claim_with_stale_rules_changes_nothing(db: asyncpg.Pool) -> None:
    campaign_id = await running_campaign(db, fresh_numbers(1))
    async with db.acquire() as conn:
        rules = await rules_then_changed(conn, campaign_id)
        started = await start_attempts(conn, rules, [uuid4()], "w", now(), AMPLE_LINES)
        assert started == [NoDial.RULES_CHANGED]
    assert await in_flight(db, campaign_id) == 0


async def test_a_retry_scheduled_as_the_campaign_was_cancelled_is_cancelled_too(
    db: asyncpg.Pool,
) -> None:
    campaign_id = await running_campaign(db, fresh_numbers(2))
    attempt = await start(db, campaign_id)
    async with db.acquire() as conn:
        await campaign_repo.set_status(
            conn, campaign_id, CampaignStatus.CANCELLED, allowed_from=[CampaignStatus.IN_PROGRESS]
        )
        await campaign_repo.cancel_waiting_calls(conn, campaign_id)
        # The result was being recorded as the campaign was cancelled, and read it running.
        await conn.execute(
            "UPDATE calls SET status = 'FAILED', next_retry_at = now() WHERE id = $1",
            attempt.ref.call_id,
        )
        assert await campaign_repo.cancel_stragglers(conn) >= 1
    statuses = {
        r["status"]
        for r in await db.fetch("SELECT status FROM calls WHERE campaign_id = $1", campaign_id)
    }
    assert statuses == {"CANCELLED"}


async def test_the_attempt_history_is_append_only(db: asyncpg.Pool) -> None:
    campaign_id = await running_campaign(db, fresh_numbers(1))
    attempt = await start(db, campaign_id)
    async with db.acquire() as conn:
        await end_attempt(conn, attempt.ref, Ending(AttemptOutcome.BUSY), now())
        with pytest.raises(asyncpg.IntegrityConstraintViolationError):
            await conn.execute(
                "UPDATE call_attempts SET outcome = 'COMPLETED' WHERE call_id = $1",
                attempt.ref.call_id,
            )


async def test_a_job_holds_its_line_for_one_call_at_a_time(db: asyncpg.Pool) -> None:
    campaign_id = await running_campaign(db, fresh_numbers(2))
    job_id = uuid4()
    started = await claim(db, campaign_id, job_id=job_id)
    assert isinstance(started, StartedAttempt)
    # A redelivered job, its attempt still open: it may not dial again, only adopt.
    assert await claim(db, campaign_id, job_id=job_id) is NoDial.JOB_STARTED
    async with db.acquire() as conn:
        adopted = await adopt_job_attempt(conn, job_id, "w2")
        assert adopted == started.ref
        effect = await end_attempt(conn, started.ref, Ending(AttemptOutcome.COMPLETED), now())
        assert effect is not None and effect.worker_id == "w2"
        assert await adopt_job_attempt(conn, job_id, "w3") is None
        assert await closed_among(conn, [started.ref, AttemptRef(uuid4(), 1)]) == [started.ref]
    # Once its call ended, the same job goes on with the next number.
    following = await claim(db, campaign_id, job_id=job_id)
    assert isinstance(following, StartedAttempt)
    assert following.ref.call_id != started.ref.call_id


async def test_watchdog_finds_overdue_attempts(db: asyncpg.Pool) -> None:
    campaign_id = await running_campaign(db, fresh_numbers(1))
    attempt = await start(db, campaign_id)
    async with db.acquire() as conn:
        assert attempt.ref not in await overdue_attempts(conn, now())
        assert attempt.ref in await overdue_attempts(conn, now() + timedelta(seconds=121))


async def test_campaign_finishes_completed_or_failed(db: asyncpg.Pool) -> None:
    answered = await running_campaign(db, fresh_numbers(1))
    rejected = await running_campaign(db, fresh_numbers(1))
    for campaign_id, outcome in (
        (answered, AttemptOutcome.COMPLETED),
        (rejected, AttemptOutcome.REJECTED),
    ):
        attempt = await start(db, campaign_id)
        async with db.acquire() as conn:
            assert campaign_id not in await campaign_repo.finishable_campaign_ids(conn)
            await end_attempt(conn, attempt.ref, Ending(outcome), now())
            assert campaign_id in await campaign_repo.finishable_campaign_ids(conn)
            async with conn.transaction():
                status = await campaign_repo.finish_campaign(conn, campaign_id)
        expected = "COMPLETED" if outcome is AttemptOutcome.COMPLETED else "FAILED"
        assert status == expected


async def test_endings_in_one_batch_across_campaigns_and_duplicates(db: asyncpg.Pool) -> None:
    first = await running_campaign(db, fresh_numbers(3))
    second = await running_campaign(db, fresh_numbers(3))
    attempts = [await start(db, first) for _ in range(3)] + [await start(db, second)]
    success = Ending(AttemptOutcome.COMPLETED, duration_seconds=5)
    batch = [(a.ref, success) for a in attempts]
    batch.append((attempts[0].ref, Ending(AttemptOutcome.BUSY)))  # a late duplicate
    batch.append((AttemptRef(uuid4(), 1), success))  # an attempt nobody knows
    async with db.acquire() as conn:
        effects = await end_attempts(conn, batch, now())
    assert [e.applied if e else None for e in effects] == [True, True, True, True, False, None]
    assert all(e.released_line for e in effects[:4] if e)
    assert await in_flight(db, first) == 0
    assert await in_flight(db, second) == 0
    statuses = await db.fetch(
        "SELECT status FROM calls WHERE id = ANY($1::uuid[])", [a.ref.call_id for a in attempts]
    )
    assert {r["status"] for r in statuses} == {"COMPLETED"}


async def test_dial_acceptance_shows_the_call_in_progress(db: asyncpg.Pool) -> None:
    campaign_id = await running_campaign(db, fresh_numbers(2))
    live, answered = await start(db, campaign_id), await start(db, campaign_id)
    async with db.acquire() as conn:
        await end_attempt(
            conn, answered.ref, Ending(AttemptOutcome.COMPLETED, None, 3, "x-2"), now()
        )
        await record_dials_accepted(conn, [(live.ref, "x-1"), (answered.ref, "x-late")])
    assert (await call_row(db, live.ref.call_id))["status"] == "IN_PROGRESS"
    assert (await call_row(db, live.ref.call_id))["external_call_id"] == "x-1"
    # An acceptance that comes after the result changes nothing.
    late = await call_row(db, answered.ref.call_id)
    assert late["status"] == "COMPLETED" and late["external_call_id"] == "x-2"


# Several jobs of one campaign claimed in one statement (how the worker claims under load).


async def claim_many(
    db: asyncpg.Pool,
    campaign_id: UUID,
    jobs: int | list[UUID],
    *,
    at: datetime | None = None,
    capacity: int = AMPLE_LINES,
) -> list[StartedAttempt | NoDial]:
    job_ids = [uuid4() for _ in range(jobs)] if isinstance(jobs, int) else jobs
    async with db.acquire() as conn:
        rules = await fetch_dial_rules(conn, campaign_id)
        assert rules is not None
        return await start_attempts(conn, rules, job_ids, "w1", at or now(), capacity)


def started_of(answers: list[StartedAttempt | NoDial]) -> list[StartedAttempt]:
    return [a for a in answers if isinstance(a, StartedAttempt)]


async def slots_agree_with_open_attempts(db: asyncpg.Pool) -> None:
    """Every slot counts exactly the open attempts that took their line from it."""
    mismatched = await db.fetch(
        """
        SELECT s.slot, s.in_flight, count(a.call_id) AS open_attempts
        FROM line_slots s LEFT JOIN call_attempts a
          ON a.line_slot = s.slot AND a.outcome IS NULL AND a.timed_out_at IS NULL
        GROUP BY s.slot, s.in_flight HAVING s.in_flight <> count(a.call_id)
        """
    )
    assert mismatched == []


async def test_a_batch_takes_the_campaigns_free_lines_and_no_more(db: asyncpg.Pool) -> None:
    campaign_id = await running_campaign(db, fresh_numbers(10), limit=3)

    answers = await claim_many(db, campaign_id, 5)

    started = started_of(answers)
    assert [isinstance(a, StartedAttempt) for a in answers] == [True, True, True, False, False]
    assert answers[3:] == [NoDial.NO_FREE_LINE, NoDial.NO_FREE_LINE]
    assert len({s.ref.call_id for s in started}) == 3
    assert await in_flight(db, campaign_id) == 3
    job_of = await db.fetch(
        "SELECT DISTINCT job_id FROM call_attempts WHERE campaign_id = $1", campaign_id
    )
    assert len(job_of) == 3  # one attempt per job


async def test_a_batch_dials_due_retries_first_and_numbers_in_order(db: asyncpg.Pool) -> None:
    numbers = fresh_numbers(5)
    campaign_id = await running_campaign(db, numbers, limit=5)
    first = await start(db, campaign_id)
    async with db.acquire() as conn:
        await end_attempt(conn, first.ref, Ending(AttemptOutcome.BUSY), now())

    answers = await claim_many(db, campaign_id, 3, at=now() + timedelta(seconds=61))

    assert [a.phone_number for a in started_of(answers)] == [numbers[0], numbers[1], numbers[2]]


async def test_a_batch_larger_than_the_numbers_left_says_nothing_to_dial(
    db: asyncpg.Pool,
) -> None:
    campaign_id = await running_campaign(db, fresh_numbers(2), limit=5)

    answers = await claim_many(db, campaign_id, 4)

    assert len(started_of(answers)) == 2
    assert answers[2:] == [NoDial.NOTHING_TO_DIAL, NoDial.NOTHING_TO_DIAL]
    assert await in_flight(db, campaign_id) == 2


async def test_a_redelivered_job_in_a_batch_waits_while_the_others_dial(db: asyncpg.Pool) -> None:
    campaign_id = await running_campaign(db, fresh_numbers(5), limit=5)
    redelivered = uuid4()
    assert isinstance(await claim(db, campaign_id, job_id=redelivered), StartedAttempt)

    answers = await claim_many(db, campaign_id, [uuid4(), redelivered, uuid4()])

    assert answers[1] is NoDial.JOB_STARTED
    assert len(started_of(answers)) == 2
    assert await in_flight(db, campaign_id) == 3


async def test_a_job_given_twice_in_a_batch_dials_once(db: asyncpg.Pool) -> None:
    campaign_id = await running_campaign(db, fresh_numbers(5), limit=5)
    twice = uuid4()

    answers = await claim_many(db, campaign_id, [twice, uuid4(), twice])

    assert isinstance(answers[0], StartedAttempt)
    assert isinstance(answers[1], StartedAttempt)
    assert answers[2] is NoDial.JOB_STARTED
    assert await in_flight(db, campaign_id) == 2


async def test_a_batch_of_stale_rules_or_a_paused_campaign_changes_nothing(
    db: asyncpg.Pool,
) -> None:
    campaign_id = await running_campaign(db, fresh_numbers(5), limit=5)
    async with db.acquire() as conn:
        rules = await rules_then_changed(conn, campaign_id)
        stale = await start_attempts(conn, rules, [uuid4(), uuid4()], "w", now(), AMPLE_LINES)
        assert stale == [NoDial.RULES_CHANGED, NoDial.RULES_CHANGED]
        await campaign_repo.set_status(
            conn, campaign_id, CampaignStatus.PAUSED, allowed_from=[CampaignStatus.IN_PROGRESS]
        )
    assert await claim_many(db, campaign_id, 2) == [NoDial.NO_FREE_LINE] * 2
    assert await in_flight(db, campaign_id) == 0


async def test_batches_take_lines_across_slots_and_hold_the_capacity(
    empty_db: asyncpg.Pool,
) -> None:
    db = empty_db
    # 20 lines: slots of one or two lines, so a batch needs several of them.
    capacity = 20
    campaigns = [await running_campaign(db, fresh_numbers(30), limit=12) for _ in range(3)]

    one = await claim_many(db, campaigns[0], 10, capacity=capacity)
    assert len(started_of(one)) == 10
    await slots_agree_with_open_attempts(db)

    # Concurrent batches of all three campaigns: together they may not pass the capacity.
    answers = await asyncio.gather(
        *(claim_many(db, c, 6, capacity=capacity) for c in campaigns for _ in range(2))
    )
    started = [s for batch in answers for s in started_of(batch)]
    assert await lines_in_use(db) == 10 + len(started) <= capacity
    assert max([await in_flight(db, c) for c in campaigns]) <= 12
    await slots_agree_with_open_attempts(db)
    assert len({s.ref.call_id for s in started}) == len(started)

    async with db.acquire() as conn:
        await end_attempts(
            conn, [(s.ref, Ending(AttemptOutcome.COMPLETED)) for s in started_of(one)], now()
        )
    await slots_agree_with_open_attempts(db)
    refill = await claim_many(db, campaigns[1], 12, capacity=capacity)
    assert len(started_of(refill)) > 0
    assert await lines_in_use(db) <= capacity
    await slots_agree_with_open_attempts(db)


async def test_results_and_dial_acceptances_of_the_same_attempts_never_deadlock(
    db: asyncpg.Pool,
) -> None:
    """Both lock attempts in key order, whatever order their input comes in."""
    for _ in range(5):
        campaign_id = await running_campaign(db, fresh_numbers(60), limit=60)
        started = started_of(await claim_many(db, campaign_id, 60))
        refs = [s.ref for s in started]
        random.shuffle(refs)

        async def accept(batch: list[AttemptRef]) -> None:
            async with db.acquire() as conn:
                await record_dials_accepted(conn, [(ref, f"ext-{ref.call_id}") for ref in batch])

        async def end(batch: list[AttemptRef]) -> None:
            async with db.acquire() as conn:
                await end_attempts(
                    conn, [(ref, Ending(AttemptOutcome.COMPLETED)) for ref in batch], now()
                )

        await asyncio.gather(
            accept(refs), end(refs[::-1]), accept(sorted(refs, key=str)), end(refs[10:] + refs[:10])
        )
        assert await in_flight(db, campaign_id) == 0


async def test_the_callback_timeout_runs_from_the_end_of_the_dial_window(
    db: asyncpg.Pool,
) -> None:
    campaign_id = await running_campaign(db, fresh_numbers(1))
    at = now()
    async with db.acquire() as conn:
        rules = await fetch_dial_rules(conn, campaign_id)
        assert rules is not None
        [started] = await start_attempts(
            conn, rules, [uuid4()], "w1", at, AMPLE_LINES, dial_window=timedelta(seconds=11)
        )
    assert isinstance(started, StartedAttempt)
    expected = await db.fetchval(
        "SELECT expected_callback_by FROM call_attempts WHERE call_id = $1", started.ref.call_id
    )
    assert expected == at + timedelta(seconds=11) + timedelta(
        milliseconds=RETRY.callback_timeout_ms
    )


async def test_a_dial_retried_after_its_attempt_ended_is_refused(db: asyncpg.Pool) -> None:
    campaign_id = await running_campaign(db, fresh_numbers(2))
    open_one, ended_one = await start(db, campaign_id), await start(db, campaign_id)
    later = now() + timedelta(minutes=10)
    async with db.acquire() as conn:
        await end_attempt(conn, ended_one.ref, Ending(None, TIMEOUT_REASON), now())
        assert await extend_open_attempt(conn, open_one.ref, later)
        assert not await extend_open_attempt(conn, ended_one.ref, later)
    expected = await db.fetchval(
        "SELECT expected_callback_by FROM call_attempts WHERE call_id = $1", open_one.ref.call_id
    )
    assert expected == later
