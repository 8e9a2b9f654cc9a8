"""The api when its input is broken or its dependencies are away: a clear 4xx for the first,
503 with Retry-After or a committed 2xx for the second, never a 500."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aio_pika
import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from services.api.app import create_app
from services.api.http.context import BROKER, SETTINGS
from services.dispatcher.bootstrap import bootstrap
from services.dispatcher.housekeeping import remove_finished_queues
from shared.settings import Settings
from shared.signatures import sign
from shared.topology import campaign_queue, declare_campaign_queue
from tests.integration.test_attempts import running_campaign, start
from tests.support.api_client import TEST_API_KEY, TEST_CALLBACK_SECRET
from tests.support.infra import Infra
from tests.support.numbers import fresh_numbers

pytestmark = pytest.mark.asyncio(loop_scope="session")

Client = TestClient  # type: ignore[type-arg]
MakeClient = Callable[..., Awaitable[Client]]
AUTH = {"Authorization": f"Bearer {TEST_API_KEY}"}


@pytest.fixture
async def client(aiohttp_client: MakeClient, settings: Settings) -> Client:
    return await aiohttp_client(create_app(settings), headers=AUTH)


async def created_campaign(client: Client, numbers: int = 3) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/campaigns", json={"name": "faults", "phoneNumbers": fresh_numbers(numbers)}
    )
    assert response.status == 201, await response.text()
    body: dict[str, Any] = await response.json()
    return body


async def call_count(db: asyncpg.Pool, campaign_id: str) -> int:
    return int(await db.fetchval("SELECT count(*) FROM calls WHERE campaign_id = $1", campaign_id))


MALFORMED_UPLOADS = [
    ("multipart/form-data; boundary=xyz", b"--xyz\r\ngarbage"),
    ("multipart/form-data", b"--xyz\r\n\r\n+14155550100\r\n--xyz--\r\n"),
    (
        "multipart/form-data; boundary=xyz",
        b'--xyz\r\nContent-Disposition: form-data; name="\xff\xfe\x00"\r\n\r\n1\r\n--xyz--\r\n',
    ),
    ("multipart/form-data; boundary=xyz", b""),
    ("multipart/form-data; boundary=xyz", b"no boundary anywhere"),
    (
        "multipart/form-data; boundary=xyz",
        b'--xyz\r\nContent-Type: multipart/mixed\r\nContent-Disposition: form-data; name="file"'
        b"\r\n\r\nabc\r\n--xyz--\r\n",
    ),
    (
        "multipart/form-data; boundary=xyz",
        b'--xyz\r\nContent-Disposition: form-data; name="file"\r\n\r\n+1415555',
    ),
]


@pytest.mark.parametrize(("content_type", "body"), MALFORMED_UPLOADS)
async def test_a_broken_multipart_upload_is_a_400_and_adds_nothing(
    client: Client, db: asyncpg.Pool, content_type: str, body: bytes
) -> None:
    campaign = await created_campaign(client)
    response = await client.post(
        f"/api/v1/campaigns/{campaign['id']}/import",
        data=body,
        headers={"Content-Type": content_type},
    )
    assert response.status in (400, 422), await response.text()
    problem = await response.json()
    assert problem["status"] == response.status and "Traceback" not in json.dumps(problem)
    assert await call_count(db, campaign["id"]) == 3


async def test_while_the_broker_is_away_results_are_still_recorded_and_changes_wait(
    client: Client, db: asyncpg.Pool
) -> None:
    campaign = await created_campaign(client)
    started = await start(db, await running_campaign(db, fresh_numbers(1)))
    external_id = f"mock-{started.ref.call_id}"
    await db.execute(
        "UPDATE call_attempts SET external_call_id = $1 WHERE call_id = $2",
        external_id,
        started.ref.call_id,
    )
    await client.server.app[BROKER].close()

    # The carrier's result is the truth: recorded, 200, whatever happens to the hint after it.
    raw = json.dumps({"externalCallId": external_id, "status": "completed"}).encode()
    answer = await client.post(
        "/api/v1/calls/callback",
        data=raw,
        headers={"X-Signature": sign(TEST_CALLBACK_SECRET, raw), **AUTH},
    )
    assert answer.status == 200, await answer.text()
    assert (await answer.json())["callStatus"] == "COMPLETED"

    # A change the rest of the system hears of through the broker waits for it: 503 with
    # Retry-After, and nothing changed.
    for method, path in [
        ("POST", f"/api/v1/campaigns/{campaign['id']}/start"),
        ("POST", f"/api/v1/campaigns/{campaign['id']}/import/batch"),
        ("POST", "/api/v1/calls"),
    ]:
        body = {"phoneNumbers": fresh_numbers(1)} if "import" in path else None
        if path.endswith("/calls"):
            body = {"phoneNumber": fresh_numbers(1)[0]}
        response = await client.request(method, path, json=body)
        assert response.status == 503, (path, await response.text())
        assert int(response.headers["Retry-After"]) > 0
    status = await db.fetchval("SELECT status FROM campaigns WHERE id = $1", campaign["id"])
    assert status == "PENDING"
    assert await call_count(db, campaign["id"]) == 3

    # Creating needs only the database.
    assert (await created_campaign(client))["status"] == "PENDING"


async def test_deleting_while_the_broker_is_away_leaves_the_queue_to_the_dispatcher(
    client: Client, db: asyncpg.Pool, infra: Infra, settings: Settings
) -> None:
    campaign = await created_campaign(client)
    connection = await aio_pika.connect(infra.amqp_url)
    try:
        await declare_campaign_queue(connection, campaign["id"])
        await client.server.app[BROKER].close()
        response = await client.delete(f"/api/v1/campaigns/{campaign['id']}")
        assert response.status == 204, await response.text()
        assert (
            await db.fetchval("SELECT count(*) FROM campaigns WHERE id = $1", campaign["id"]) == 0
        )
        due = await db.fetchval(
            "SELECT count(*) FROM queue_removals WHERE campaign_id = $1", campaign["id"]
        )
        assert due == 1, "the queue's removal should stay due"

        async with bootstrap(settings, pool=db, policy=None) as deps:
            await remove_finished_queues(deps)
        due = await db.fetchval(
            "SELECT count(*) FROM queue_removals WHERE campaign_id = $1", campaign["id"]
        )
        assert due == 0
        probe = await connection.channel()
        with pytest.raises(aio_pika.exceptions.ChannelNotFoundEntity):
            await probe.declare_queue(campaign_queue(campaign["id"]), passive=True)
    finally:
        await connection.close()


async def slow_upload(lines: int, pause_s: float) -> AsyncIterator[bytes]:
    """A multipart body sent a line at a time, as a client on a slow link would."""
    yield b'--b\r\nContent-Disposition: form-data; name="file"; filename="n.csv"\r\n\r\n'
    for number in fresh_numbers(lines):
        yield number.encode() + b"\n"
        await asyncio.sleep(pause_s)  # the client's pace: the point of the test
    yield b"\r\n--b--\r\n"


async def test_slow_uploads_do_not_stall_other_requests(client: Client, db: asyncpg.Pool) -> None:
    pool_size = client.server.app[SETTINGS].db_pool_max_size
    campaigns = [await created_campaign(client, numbers=1) for _ in range(pool_size + 2)]
    uploads = [
        asyncio.create_task(
            client.post(
                f"/api/v1/campaigns/{c['id']}/import",
                data=slow_upload(lines=25, pause_s=0.2),
                headers={"Content-Type": "multipart/form-data; boundary=b"},
            )
        )
        for c in campaigns
    ]
    try:
        await asyncio.sleep(1)  # let every upload start sending
        slowest = 0.0
        for _ in range(10):
            started = time.monotonic()
            response = await client.get("/api/v1/campaigns", params={"size": 5})
            assert response.status == 200
            slowest = max(slowest, time.monotonic() - started)
        # With each upload holding a pool connection, these would wait for the uploads (5 s).
        assert slowest < 2.0, f"a request waited {slowest:.1f} s behind slow uploads"
    finally:
        answers = await asyncio.gather(*uploads)
    for answer in answers:
        assert answer.status == 200, await answer.text()
        assert (await answer.json())["totalImported"] == 25
