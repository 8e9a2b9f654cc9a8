"""The webhook endpoints and the deliverer behind them, with a receiver on 127.0.0.1."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from cryptography.fernet import Fernet
from pydantic import SecretStr
from standardwebhooks import Webhook

from services.api.app import create_app
from shared.settings import Settings
from tests.support.api_client import TEST_API_KEY
from tests.support.waiting import wait_until

pytestmark = pytest.mark.asyncio(loop_scope="session")

Client = TestClient  # type: ignore[type-arg]
MakeClient = Callable[..., Awaitable[Client]]
AUTH = {"Authorization": f"Bearer {TEST_API_KEY}"}
KEY = Fernet.generate_key().decode()


@dataclass
class Receiver:
    """A customer's endpoint: answers each request with the next planned status (then 200)
    and keeps what it received."""

    planned: list[int] = field(default_factory=list)
    received: list[tuple[dict[str, str], str]] = field(default_factory=list)
    url: str = ""

    async def wait_for(self, count: int) -> None:
        async def enough() -> bool:
            return len(self.received) >= count

        await wait_until(enough, timeout=10, message=f"{count} requests at the receiver")

    async def handle(self, request: web.Request) -> web.Response:
        self.received.append((dict(request.headers), await request.text()))
        return web.Response(status=self.planned.pop(0) if self.planned else 200)


@pytest_asyncio.fixture(loop_scope="session")
async def receiver() -> AsyncIterator[Receiver]:
    found = Receiver()
    app = web.Application()
    app.router.add_post("/hook", found.handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    found.url = str(server.make_url("/hook"))
    yield found
    await server.close()


@pytest.fixture
async def client(aiohttp_client: MakeClient, settings: Settings) -> AsyncIterator[Client]:
    hooked = settings.model_copy(
        update={
            "webhook_secret_key": SecretStr(KEY),
            "webhook_allow_private": True,
            "webhook_retry_base_ms": 50,
            "webhook_poll_interval_ms": 20,
        }
    )
    made = await aiohttp_client(create_app(hooked), headers=AUTH)
    yield made


@pytest.fixture
async def strict_client(aiohttp_client: MakeClient, settings: Settings) -> Client:
    """An api that refuses private addresses (the default)."""
    strict = settings.model_copy(update={"webhook_secret_key": SecretStr(KEY)})
    return await aiohttp_client(create_app(strict), headers=AUTH)


@pytest_asyncio.fixture(autouse=True, loop_scope="session")
async def no_endpoints_left(db: asyncpg.Pool) -> AsyncIterator[None]:
    yield
    await db.execute("DELETE FROM webhook_endpoints")


async def create(client: Client, **fields: Any) -> dict[str, Any]:
    response = await client.post("/api/v1/webhooks", json=fields)
    assert response.status == 201, await response.text()
    return dict(await response.json())


async def deliveries(client: Client, webhook_id: str, query: str = "") -> list[dict[str, Any]]:
    response = await client.get(f"/api/v1/webhooks/{webhook_id}/deliveries{query}")
    assert response.status == 200, await response.text()
    return list(await response.json())


async def test_create_shows_the_secret_once_and_a_test_event_arrives_signed(
    client: Client, receiver: Receiver, db: asyncpg.Pool
) -> None:
    created = await create(client, url=receiver.url, events=["*"], description="crm")
    assert created["secret"].startswith("whsec_") and created["enabled"] is True
    assert created["events"] == ["*"] and created["description"] == "crm"
    stored = await db.fetchval(
        "SELECT secret_encrypted FROM webhook_endpoints WHERE id = $1::uuid", created["id"]
    )
    assert created["secret"] not in stored
    shown = await (await client.get(f"/api/v1/webhooks/{created['id']}")).json()
    assert "secret" not in shown and shown["url"] == receiver.url
    listed = await client.get("/api/v1/webhooks")
    assert [w["id"] for w in await listed.json()] == [created["id"]]
    assert listed.headers["X-Total-Count"] == "1"

    test = await client.post(f"/api/v1/webhooks/{created['id']}/test")
    assert test.status == 202, await test.text()
    sent = await test.json()
    await receiver.wait_for(1)
    headers, body = receiver.received[0]
    event = Webhook(created["secret"]).verify(body, headers)
    assert event["type"] == "webhook.test" and event["id"] == sent["eventId"]
    assert headers["webhook-id"] == sent["eventId"]

    async def delivered() -> bool:
        found = await deliveries(client, created["id"], "?status=DELIVERED")
        return len(found) == 1 and len(found[0]["attempts"]) == 1

    await wait_until(delivered, timeout=10)
    [log] = await deliveries(client, created["id"])
    assert log["eventType"] == "webhook.test" and log["attempts"][0]["statusCode"] == 200


async def test_a_500_is_retried_with_the_same_id_then_delivered(
    client: Client, receiver: Receiver
) -> None:
    receiver.planned = [500, 503]
    created = await create(client, url=receiver.url, events=["campaign.completed"])
    await client.post(f"/api/v1/webhooks/{created['id']}/test")

    async def delivered() -> bool:
        found = await deliveries(client, created["id"])
        return bool(found) and found[0]["status"] == "DELIVERED"

    await wait_until(delivered, timeout=15)
    [log] = await deliveries(client, created["id"])
    assert [a["statusCode"] for a in log["attempts"]] == [500, 503, 200]
    assert log["attempts"][0]["nextRetryAt"] is not None and log["attempts"][2]["error"] is None
    assert len({h["webhook-id"] for h, _ in receiver.received}) == 1
    for headers, body in receiver.received:
        Webhook(created["secret"]).verify(body, headers)


async def test_410_gone_disables_the_endpoint_at_once(client: Client, receiver: Receiver) -> None:
    receiver.planned = [410]
    created = await create(client, url=receiver.url, events=["*"])
    await client.post(f"/api/v1/webhooks/{created['id']}/test")

    async def disabled() -> bool:
        shown = await (await client.get(f"/api/v1/webhooks/{created['id']}")).json()
        return shown["enabled"] is False

    await wait_until(disabled, timeout=10)
    shown = await (await client.get(f"/api/v1/webhooks/{created['id']}")).json()
    assert shown["disabledReason"] == "GONE"
    [log] = await deliveries(client, created["id"])
    assert log["status"] == "FAILED"
    # Enabled again, and the delivery retried by hand: it arrives.
    patched = await client.patch(f"/api/v1/webhooks/{created['id']}", json={"enabled": True})
    assert (await patched.json())["disabledReason"] is None
    retried = await client.post(f"/api/v1/webhooks/{created['id']}/deliveries/{log['id']}/retry")
    assert retried.status == 202 and (await retried.json())["status"] == "PENDING"
    await receiver.wait_for(2)


async def test_a_rotated_secret_signs_beside_the_previous_one(
    client: Client, receiver: Receiver
) -> None:
    created = await create(client, url=receiver.url, events=["*"])
    rotated = await client.patch(
        f"/api/v1/webhooks/{created['id']}",
        json={"rotateSecret": True, "events": ["call.completed"]},
    )
    assert rotated.status == 200, await rotated.text()
    answer = await rotated.json()
    assert answer["secret"] != created["secret"] and answer["previousSecretUntil"]
    assert answer["events"] == ["call.completed"]
    await client.post(f"/api/v1/webhooks/{created['id']}/test")
    await receiver.wait_for(1)
    headers, body = receiver.received[0]
    assert len(headers["webhook-signature"].split(" ")) == 2
    Webhook(answer["secret"]).verify(body, headers)
    Webhook(created["secret"]).verify(body, headers)
    plain = await client.patch(f"/api/v1/webhooks/{created['id']}", json={"description": "x"})
    assert (await plain.json())["secret"] is None


async def test_delete_removes_the_endpoint(client: Client, receiver: Receiver) -> None:
    created = await create(client, url=receiver.url, events=["*"])
    assert (await client.delete(f"/api/v1/webhooks/{created['id']}")).status == 204
    assert (await client.get(f"/api/v1/webhooks/{created['id']}")).status == 404
    assert (await client.delete(f"/api/v1/webhooks/{created['id']}")).status == 404
    assert (await client.post(f"/api/v1/webhooks/{created['id']}/test")).status == 404


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"url": "ftp://example.com/x", "events": ["*"]}, "url"),
        ({"url": "https://example.com/x", "events": ["call.exploded"]}, "events"),
        ({"url": "https://example.com/x", "events": []}, "events"),
        ({"url": "https://example.com/x"}, "events"),
        ({"events": ["*"]}, "url"),
        ({"url": "https://example.com/x", "events": ["*"], "colour": "red"}, "colour"),
        ({"url": "https://example.com/x", "events": "*"}, "events"),
        ({"url": "http://10.0.0.8/x", "events": ["*"]}, "url"),
        ({"url": "http://127.0.0.1:8080/x", "events": ["*"]}, "url"),
        ({"url": "http://[::1]/x", "events": ["*"]}, "url"),
        ({"url": "http://localhost/x", "events": ["*"]}, "url"),
    ],
)
async def test_bad_input_is_a_422_naming_the_field_and_creates_nothing(
    strict_client: Client, db: asyncpg.Pool, body: dict[str, Any], named: str
) -> None:
    response = await strict_client.post("/api/v1/webhooks", json=body)
    assert response.status == 422, await response.text()
    problem = await response.json()
    assert named in {e["field"].split(".")[0].split("[")[0] for e in problem["errors"]}, problem
    assert await db.fetchval("SELECT count(*) FROM webhook_endpoints") == 0


async def test_malformed_bodies_and_patches_are_refused(
    strict_client: Client, db: asyncpg.Pool
) -> None:
    response = await strict_client.post("/api/v1/webhooks", data=b"{not json")
    assert response.status in (400, 422)
    created = await create(strict_client, url="https://example.com/x", events=["*"])
    for patch, named in [
        ({"url": "http://192.168.1.1/"}, "url"),
        ({"events": None}, "events"),
        ({"enabled": "yes"}, "enabled"),
    ]:
        response = await strict_client.patch(f"/api/v1/webhooks/{created['id']}", json=patch)
        assert response.status == 422, await response.text()
        assert named in {e["field"] for e in (await response.json())["errors"]}
    shown = await (await strict_client.get(f"/api/v1/webhooks/{created['id']}")).json()
    assert shown["url"] == "https://example.com/x" and shown["events"] == ["*"]
    bad_status = await strict_client.get(f"/api/v1/webhooks/{created['id']}/deliveries?status=LOST")
    assert bad_status.status == 422
    assert (await strict_client.get("/api/v1/webhooks/not-a-uuid")).status == 404


async def test_a_campaign_s_events_reach_the_endpoint(client: Client, receiver: Receiver) -> None:
    created = await create(client, url=receiver.url, events=["campaign.started", "campaign.paused"])
    campaign = await client.post(
        "/api/v1/campaigns", json={"name": "hooked", "phoneNumbers": ["+14155550100"]}
    )
    campaign_id = (await campaign.json())["id"]
    assert (await client.post(f"/api/v1/campaigns/{campaign_id}/start")).status == 200
    assert (await client.post(f"/api/v1/campaigns/{campaign_id}/pause")).status == 200
    await receiver.wait_for(2)
    events = sorted(
        (Webhook(created["secret"]).verify(b, h) for h, b in receiver.received),
        key=lambda e: e["sequence"],
    )
    assert [(e["type"], e["sequence"]) for e in events] == [
        ("campaign.started", 1),
        ("campaign.paused", 2),
    ]
    got = await (await client.get(f"/api/v1/campaigns/{campaign_id}")).json()
    assert events[1]["data"]["id"] == campaign_id
    assert events[1]["data"]["status"] == "PAUSED"
    assert set(events[1]["data"]) == set(got)


async def test_an_endpoint_failing_for_the_whole_period_is_disabled(
    aiohttp_client: MakeClient, settings: Settings, receiver: Receiver
) -> None:
    receiver.planned = [500] * 1000
    short = settings.model_copy(
        update={
            "webhook_secret_key": SecretStr(KEY),
            "webhook_allow_private": True,
            "webhook_retry_base_ms": 100,
            "webhook_poll_interval_ms": 20,
            # About two seconds of retries.
            "webhook_retry_hours": 2 / 3600,
        }
    )
    client = await aiohttp_client(create_app(short), headers=AUTH)
    created = await create(client, url=receiver.url, events=["*"])
    await client.post(f"/api/v1/webhooks/{created['id']}/test")

    async def disabled() -> dict[str, Any] | None:
        shown = await (await client.get(f"/api/v1/webhooks/{created['id']}")).json()
        return shown if shown["enabled"] is False else None

    shown = await wait_until(disabled, timeout=20, message="the endpoint disabled")
    assert shown["disabledReason"] == "FAILING"
    [log] = await deliveries(client, created["id"])
    assert log["status"] == "FAILED" and len(log["attempts"]) >= 2
    assert {a["statusCode"] for a in log["attempts"]} == {500}
