"""The outbox's write side: every change of a call or a campaign writes its events in its own
statement, numbered per subject, and only while some enabled endpoint wants them."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import AsyncIterator
from datetime import timedelta
from uuid import UUID

import asyncpg
import pytest
import pytest_asyncio

from services.api.webhooks.render import render_all
from shared.domain.attempts import StartedAttempt
from shared.domain.endings import Ending
from shared.domain.statuses import AttemptOutcome, CampaignStatus
from shared.repositories import campaigns as campaign_repo
from shared.repositories import webhook_deliveries
from shared.repositories.attempts import fetch_dial_rules
from shared.repositories.claims import start_attempts
from shared.repositories.endings import end_attempt
from tests.integration.test_attempts import RETRY, call_row, claim, now, running_campaign, start
from tests.support.numbers import fresh_numbers
from tests.support.waiting import wait_until

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def add_endpoint(db: asyncpg.Pool, events: list[str], enabled: bool = True) -> UUID:
    endpoint_id: UUID = await db.fetchval(
        "INSERT INTO webhook_endpoints (url, events, enabled, secret_encrypted)"
        " VALUES ('http://127.0.0.1:9/', $1, $2, 'x') RETURNING id",
        events,
        enabled,
    )
    return endpoint_id


@pytest_asyncio.fixture(loop_scope="session")
async def hooked(db: asyncpg.Pool) -> AsyncIterator[UUID]:
    """An enabled endpoint that wants every event, removed after the test (the database is
    shared by the session: its tests must not write events for each other)."""
    endpoint_id = await add_endpoint(db, ["*"])
    yield endpoint_id
    await db.execute("DELETE FROM webhook_endpoints WHERE id = $1", endpoint_id)
    await db.execute("DELETE FROM webhook_events")


async def events_of(db: asyncpg.Pool, subject: UUID) -> list[asyncpg.Record]:
    return list(
        await db.fetch(
            "SELECT type, sequence, payload FROM webhook_events"
            " WHERE call_id = $1 OR (call_id IS NULL AND campaign_id = $1) ORDER BY position",
            subject,
        )
    )


async def test_a_call_s_life_is_told_in_numbered_events(db: asyncpg.Pool, hooked: UUID) -> None:
    campaign_id = await running_campaign(db, fresh_numbers(1), retry=RETRY)
    first = await start(db, campaign_id)
    async with db.acquire() as conn:
        await end_attempt(conn, first.ref, Ending(AttemptOutcome.BUSY), now())
    await db.execute("UPDATE calls SET next_retry_at = now() WHERE id = $1", first.ref.call_id)
    second = await start(db, campaign_id)
    assert second.ref.call_id == first.ref.call_id
    async with db.acquire() as conn:
        await end_attempt(
            conn, second.ref, Ending(AttemptOutcome.COMPLETED, duration_seconds=7), now()
        )
    events = await events_of(db, first.ref.call_id)
    assert [(e["type"], e["sequence"]) for e in events] == [
        ("call.attempt.started", 1),
        ("call.attempt.ended", 2),
        ("call.failed", 3),
        ("call.attempt.started", 4),
        ("call.attempt.ended", 5),
        ("call.completed", 6),
    ]
    started, ended, failed = (e["payload"] for e in events[:3])
    assert started["call"]["status"] == "SCHEDULED" and started["attempt"]["attempt_no"] == 1
    assert ended["attempt"]["outcome"] == "BUSY" and ended["call"]["status"] == "FAILED"
    assert "attempt" not in failed
    assert events[-1]["payload"]["call"]["call_duration_seconds"] == 7
    assert (await call_row(db, first.ref.call_id))["event_seq"] == 6


async def test_a_rolled_back_change_writes_no_event(db: asyncpg.Pool, hooked: UUID) -> None:
    campaign_id = await running_campaign(db, fresh_numbers(1))
    with pytest.raises(RuntimeError):
        async with db.acquire() as conn, conn.transaction():
            rules = await fetch_dial_rules(conn, campaign_id)
            assert rules is not None
            [started] = await start_attempts(conn, rules, [UUID(int=7)], "w1", now(), 100)
            assert isinstance(started, StartedAttempt)
            assert await conn.fetchval(
                "SELECT count(*) FROM webhook_events WHERE campaign_id = $1", campaign_id
            )
            raise RuntimeError("the change fails after its statement")
    assert (
        await db.fetchval("SELECT count(*) FROM webhook_events WHERE campaign_id = $1", campaign_id)
        == 0
    )


async def test_nothing_is_written_without_an_endpoint_that_wants_it(db: asyncpg.Pool) -> None:
    campaign_only = await add_endpoint(db, ["campaign.completed"])
    disabled = await add_endpoint(db, ["*"], enabled=False)
    try:
        campaign_id = await running_campaign(db, fresh_numbers(1))
        started = await start(db, campaign_id)
        async with db.acquire() as conn:
            await end_attempt(conn, started.ref, Ending(AttemptOutcome.COMPLETED), now())
        assert await events_of(db, started.ref.call_id) == []
        assert (await call_row(db, started.ref.call_id))["event_seq"] == 0
    finally:
        await db.execute(
            "DELETE FROM webhook_endpoints WHERE id = ANY($1::uuid[])", [campaign_only, disabled]
        )


async def test_cancelling_tells_of_each_waiting_call_and_the_campaign(
    db: asyncpg.Pool, hooked: UUID
) -> None:
    campaign_id = await running_campaign(db, fresh_numbers(3))
    live = await start(db, campaign_id)
    async with db.acquire() as conn, conn.transaction():
        assert await campaign_repo.cancel_waiting_calls(conn, campaign_id) == 2
        await campaign_repo.set_status(
            conn, campaign_id, CampaignStatus.CANCELLED, allowed_from=[CampaignStatus.IN_PROGRESS]
        )
    types = await db.fetch(
        "SELECT type, call_id, sequence FROM webhook_events WHERE campaign_id = $1"
        " ORDER BY position",
        campaign_id,
    )
    cancelled = [r for r in types if r["type"] == "call.cancelled"]
    assert len(cancelled) == 2 and live.ref.call_id not in {r["call_id"] for r in cancelled}
    assert all(r["sequence"] == 1 for r in cancelled)
    [campaign_event] = await events_of(db, campaign_id)
    assert campaign_event["type"] == "campaign.cancelled" and campaign_event["sequence"] == 1
    assert campaign_event["payload"]["campaign"]["status"] == "CANCELLED"


async def test_paused_then_running_again_is_resumed(db: asyncpg.Pool, hooked: UUID) -> None:
    campaign_id = await running_campaign(db, fresh_numbers(1))
    async with db.acquire() as conn:
        for target, source in [
            (CampaignStatus.PAUSED, CampaignStatus.IN_PROGRESS),
            (CampaignStatus.IN_PROGRESS, CampaignStatus.PAUSED),
        ]:
            await campaign_repo.set_status(conn, campaign_id, target, allowed_from=[source])
    assert [(e["type"], e["sequence"]) for e in await events_of(db, campaign_id)] == [
        ("campaign.paused", 1),
        ("campaign.resumed", 2),
    ]


async def test_bodies_are_rendered_from_the_rows_the_change_left(
    db: asyncpg.Pool, hooked: UUID
) -> None:
    campaign_id = await running_campaign(db, fresh_numbers(1))
    started = await start(db, campaign_id)
    async with db.acquire() as conn, conn.transaction():
        # The call moves on before its event is rendered: the body still tells the start.
        await end_attempt(conn, started.ref, Ending(AttemptOutcome.COMPLETED), now())
    async with db.acquire() as conn, conn.transaction():
        events = [
            e
            for e in await webhook_deliveries.lock_events_to_fan_out(conn, 10_000)
            if e.call is not None and e.call["id"] == started.ref.call_id
        ]
        bodies = await render_all(conn, events)
    rendered = [json.loads(bodies[e.position]) for e in events]
    assert [b["type"] for b in rendered] == [
        "call.attempt.started",
        "call.attempt.ended",
        "call.completed",
    ]
    first = rendered[0]
    assert first["sequence"] == 1 and first["data"]["status"] == "SCHEDULED"
    assert first["data"]["id"] == str(started.ref.call_id)
    assert first["data"]["campaignId"] == str(campaign_id)
    assert first["data"]["attempt"]["attemptNumber"] == 1
    assert "attempts" not in first["data"]
    assert rendered[2]["data"]["status"] == "COMPLETED"
    assert rendered[1]["data"]["attempt"]["outcome"] == "COMPLETED"


async def test_claims_that_find_nothing_write_nothing(db: asyncpg.Pool, hooked: UUID) -> None:
    campaign_id = await running_campaign(db, [])
    await claim(db, campaign_id)
    assert (
        await db.fetchval("SELECT count(*) FROM webhook_events WHERE campaign_id = $1", campaign_id)
        == 0
    )


async def test_an_endpoint_hears_only_of_what_happens_after_its_creation(
    db: asyncpg.Pool, hooked: UUID
) -> None:
    campaign_id = await running_campaign(db, fresh_numbers(1))
    await start(db, campaign_id)
    later = await add_endpoint(db, ["*"])
    async with db.acquire() as conn, conn.transaction():
        events = await webhook_deliveries.lock_events_to_fan_out(conn, 10_000)
        await webhook_deliveries.fan_out(
            conn, await render_all(conn, events), room={}, default_room=0, lease_until=now()
        )
    receivers = await db.fetch(
        "SELECT DISTINCT d.endpoint_id FROM webhook_deliveries d"
        " JOIN webhook_events e ON e.id = d.event_id WHERE e.campaign_id = $1",
        campaign_id,
    )
    assert [r["endpoint_id"] for r in receivers] == [hooked]
    await db.execute("DELETE FROM webhook_endpoints WHERE id = $1", later)


async def test_the_first_deliveries_of_an_endpoint_are_made_claimed_up_to_its_room(
    db: asyncpg.Pool, hooked: UUID
) -> None:
    await start(db, await running_campaign(db, fresh_numbers(1)))  # one attempt event
    other = await add_endpoint(db, ["*"])
    await start(db, await running_campaign(db, fresh_numbers(1)))  # for both endpoints
    lease_until = now() + timedelta(minutes=1)
    async with db.acquire() as conn, conn.transaction():
        events = await webhook_deliveries.lock_events_to_fan_out(conn, 10_000)
        made, claimed = await webhook_deliveries.fan_out(
            conn,
            await render_all(conn, events),
            room={hooked: 1},
            default_room=1,
            lease_until=lease_until,
        )
    by_endpoint = Counter(d.endpoint_id for d in claimed)
    assert by_endpoint == {hooked: 1, other: 1}
    assert made > len(claimed) and all(d.attempt_no == 1 and d.body for d in claimed)
    leased = await db.fetch(
        "SELECT endpoint_id, next_attempt_at FROM webhook_deliveries WHERE attempt_count = 1"
    )
    assert sorted(r["endpoint_id"] for r in leased) == sorted(by_endpoint.elements())
    assert all(r["next_attempt_at"] == lease_until for r in leased)
    await db.execute("DELETE FROM webhook_endpoints WHERE id = $1", other)


async def _delivery(db: asyncpg.Pool, endpoint_id: UUID) -> UUID:
    delivery_id: UUID = await db.fetchval(
        """
        WITH event AS (
            INSERT INTO webhook_events (type, sequence, payload, body, fanned_out_at)
            VALUES ('campaign.started', 1, '{}', '{}', now()) RETURNING id)
        INSERT INTO webhook_deliveries (endpoint_id, event_id, next_attempt_at, attempt_count)
        SELECT $1, id, now() + interval '1 minute', 1 FROM event RETURNING id
        """,
        endpoint_id,
    )
    return delivery_id


async def test_results_for_a_delivery_deleted_meanwhile_are_recorded_without_it(
    db: asyncpg.Pool, hooked: UUID
) -> None:
    """An endpoint deleted while its results are being written (the deliverer kept failing
    on the attempts' foreign key, every turn, for good)."""
    gone, kept = await _delivery(db, hooked), await _delivery(db, hooked)
    at = now()
    results = [
        webhook_deliveries.DeliveryResult(d, hooked, 1, at, 3, 204, None, "DELIVERED", None)
        for d in (gone, kept)
    ]
    async with db.acquire() as deleter, db.acquire() as recorder:
        deleting = deleter.transaction()
        await deleting.start()
        await deleter.execute("DELETE FROM webhook_deliveries WHERE id = $1", gone)
        recording = asyncio.create_task(webhook_deliveries.record_results(recorder, results))

        async def waits_for_the_delete() -> bool:
            return bool(
                await db.fetchval(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE wait_event_type = 'Lock' AND datname = current_database()"
                )
            )

        await wait_until(waits_for_the_delete, timeout=10, message="the recorder to wait")
        await deleting.commit()
        await recording
    attempts = await db.fetch("SELECT delivery_id FROM webhook_delivery_attempts")
    assert [r["delivery_id"] for r in attempts] == [kept]
    assert await db.fetchval("SELECT status FROM webhook_deliveries WHERE id = $1", kept) == (
        "DELIVERED"
    )
