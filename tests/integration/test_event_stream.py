"""The live event stream: events in commit order after a cursor, never passing one whose
transaction is still open, filters that still move the cursor, and the endpoint itself
(GET /api/v1/events) with its refusals and its resumption."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient

from services.api.app import create_app
from shared.repositories import event_stream as repo
from shared.repositories.event_stream import Cursor
from shared.repositories.outbox import CALLS_HOOKED
from shared.settings import Settings
from tests.integration.test_attempts import running_campaign
from tests.support.api_client import TEST_API_KEY
from tests.support.numbers import fresh_numbers
from tests.support.sse import collect_until

pytestmark = pytest.mark.asyncio(loop_scope="session")

Client = TestClient  # type: ignore[type-arg]
MakeClient = Callable[..., Awaitable[Client]]
AUTH = {"Authorization": f"Bearer {TEST_API_KEY}"}


@pytest_asyncio.fixture(autouse=True, loop_scope="session")
async def nothing_left(db: asyncpg.Pool) -> AsyncIterator[None]:
    """The database is shared by the session: a stream's interest would make every later
    test write events."""
    yield
    await db.execute("DELETE FROM event_stream_interest")
    await db.execute("DELETE FROM webhook_events")


async def add_event(
    conn: asyncpg.Connection,
    type_: str = "campaign.started",
    campaign_id: UUID | None = None,
    rendered: bool = True,
) -> UUID:
    event_id = uuid4()
    body = json.dumps({"id": str(event_id), "type": type_}) if rendered else None
    await conn.execute(
        "INSERT INTO webhook_events (id, type, campaign_id, sequence, payload, body)"
        " VALUES ($1, $2, $3, 1, '{}', $4)",
        event_id,
        type_,
        campaign_id,
        body,
    )
    return event_id


async def read(conn: asyncpg.Connection, after: Cursor, **wanted: Any) -> repo.StreamRead:
    return await repo.events_after(
        conn,
        after,
        campaign_id=wanted.get("campaign_id"),
        types=wanted.get("types"),
        limit=wanted.get("limit", 100),
    )


async def test_an_event_of_an_open_transaction_holds_back_those_committed_after_it(
    db: asyncpg.Pool,
) -> None:
    async with db.acquire() as reader, db.acquire() as slow, db.acquire() as fast:
        start = await repo.current_cursor(reader)
        open_tx = slow.transaction()
        await open_tx.start()
        try:
            first = await add_event(slow)  # takes its transaction id and position first
            second = await add_event(fast)  # commits first
            assert (await read(reader, start)).events == []
        finally:
            await open_tx.commit()
        got = await read(reader, start)
    assert [e.id for e in got.events] == [first, second]
    assert got.cursor == got.events[-1].cursor


async def test_from_now_on_leaves_out_what_came_before(db: asyncpg.Pool) -> None:
    async with db.acquire() as conn:
        await add_event(conn)
        start = await repo.current_cursor(conn)
        later = await add_event(conn)
        assert [e.id for e in (await read(conn, start)).events] == [later]


async def test_filters_leave_events_out_but_move_past_them(db: asyncpg.Pool) -> None:
    campaign_id = uuid4()
    async with db.acquire() as conn:
        start = await repo.current_cursor(conn)
        other = await add_event(conn, "campaign.started")
        mine = await add_event(conn, "call.completed", campaign_id)
        await add_event(conn, "call.failed", campaign_id)
        got = await read(conn, start, campaign_id=campaign_id, types=["call.completed"])
        assert [e.id for e in got.events] == [mine] and got.scanned == 3
        assert got.cursor > (await repo.cursor_of(conn, other) or start)
        assert (await read(conn, got.cursor)).events == []


async def test_an_event_not_yet_rendered_holds_back_what_follows(db: asyncpg.Pool) -> None:
    async with db.acquire() as conn:
        start = await repo.current_cursor(conn)
        waiting = await add_event(conn, rendered=False)
        await add_event(conn)
        got = await read(conn, start)
        assert got.events == [] and got.scanned == 0 and got.cursor == start
        await conn.execute(
            "UPDATE webhook_events SET body = '{}', fanned_out_at = now() WHERE id = $1", waiting
        )
        assert len((await read(conn, start)).events) == 2


async def test_a_stream_has_events_written_while_no_webhook_wants_them(
    db: asyncpg.Pool,
) -> None:
    hooked = f"SELECT {CALLS_HOOKED}"
    assert await db.fetchval(hooked) is False
    async with db.acquire() as conn:
        await repo.keep_interest(conn, await conn.fetchval("SELECT now() + interval '1 hour'"))
    assert await db.fetchval(hooked) is True


@pytest.fixture
async def client(aiohttp_client: MakeClient, settings: Settings) -> Client:
    fast = settings.model_copy(update={"event_stream_poll_ms": 20, "webhook_poll_interval_ms": 20})
    return await aiohttp_client(create_app(fast), headers=AUTH)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("?campaignId=nope", "campaignId"),
        ("?types=call.completed,call.nope", "types"),
        ("?types=", "types"),
        ("?types=webhook.test", "types"),
        ("?colour=red", "colour"),
        ("?lastEventId=12", "Last-Event-ID"),
    ],
)
async def test_bad_requests_are_a_422_naming_the_field(
    client: Client, query: str, field: str
) -> None:
    response = await client.get(f"/api/v1/events{query}")
    assert response.status == 422, await response.text()
    assert [e["field"] for e in (await response.json())["errors"]] == [field]


async def test_an_unknown_campaign_is_a_404_and_a_forgotten_event_a_410(
    client: Client, db: asyncpg.Pool
) -> None:
    assert (await client.get(f"/api/v1/events?campaignId={uuid4()}")).status == 404
    gone = await client.get("/api/v1/events", headers={"Last-Event-ID": str(uuid4())})
    assert gone.status == 410 and "Last-Event-ID" in (await gone.json())["detail"]
    assert await db.fetchval("SELECT count(*) FROM event_stream_interest") == 1


async def test_without_a_key_the_stream_is_refused(
    aiohttp_client: MakeClient, settings: Settings
) -> None:
    anonymous = await aiohttp_client(create_app(settings))
    assert (await anonymous.get("/api/v1/events")).status == 401


async def test_a_client_that_reconnects_with_last_event_id_misses_nothing(
    client: Client, db: asyncpg.Pool
) -> None:
    campaign_id = await running_campaign(db, fresh_numbers(1))
    async with client.get(f"/api/v1/events?campaignId={campaign_id}") as stream:
        assert stream.status == 200
        assert stream.headers["Content-Type"].startswith("text/event-stream")
        async with db.acquire() as conn:
            sent = [await add_event(conn, "campaign.paused", campaign_id, False)]
            await add_event(conn, "campaign.paused", None, False)  # another's: not sent
        # The api's deliverer renders them; the stream sends them once rendered.
        first = await collect_until(stream, lambda got: len(got) == 1, timeout=10)
    assert [e.id for e in first] == [str(sent[0])]
    async with db.acquire() as conn:  # while the client is away
        sent += [await add_event(conn, "campaign.resumed", campaign_id, False) for _ in "ab"]
    async with client.get(
        f"/api/v1/events?campaignId={campaign_id}", headers={"Last-Event-ID": first[0].id}
    ) as again:
        rest = await collect_until(again, lambda got: len(got) == 2, timeout=10)
        assert [e.id for e in rest] == [str(i) for i in sent[1:]]
        assert [e.type for e in rest] == ["campaign.resumed"] * 2
        # Nothing more comes: a heartbeat at most.
        with pytest.raises(asyncio.TimeoutError):
            await collect_until(again, lambda got: True, timeout=0.5)
