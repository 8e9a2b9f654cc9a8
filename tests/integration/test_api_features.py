"""Imports, idempotency keys, PATCH, DELETE, pagination and the body size limit."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from uuid import UUID, uuid4

import aiohttp
import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from services.api.app import create_app
from shared.settings import Settings
from tests.support.api_client import TEST_API_KEY
from tests.support.numbers import fresh_numbers

pytestmark = pytest.mark.asyncio(loop_scope="session")

Client = TestClient  # type: ignore[type-arg]
MakeClient = Callable[..., Awaitable[Client]]
AUTH = {"Authorization": f"Bearer {TEST_API_KEY}"}


@pytest.fixture
async def client(aiohttp_client: MakeClient, settings: Settings) -> Client:
    return await aiohttp_client(create_app(settings), headers=AUTH)


async def create(client: Client, **fields: Any) -> dict[str, Any]:
    response = await client.post("/api/v1/campaigns", json={"name": "t", **fields})
    assert response.status == 201, await response.text()
    return dict(await response.json())


async def calls_of(client: Client, campaign_id: str) -> list[dict[str, Any]]:
    response = await client.get(f"/api/v1/campaigns/{campaign_id}/calls?size=1000")
    return list(await response.json())


async def test_batch_import_reports_every_skipped_number(client: Client) -> None:
    first, second, third = fresh_numbers(3)
    campaign = await create(client, phoneNumbers=[first, second])
    response = await client.post(
        f"/api/v1/campaigns/{campaign['id']}/import/batch",
        json={"phoneNumbers": [first, third, "not a number", third, "+1234567890"]},
    )
    assert response.status == 200, await response.text()
    result = await response.json()
    assert {k: result[k] for k in result if k != "invalidLines"} == {
        "totalReceived": 5,
        "totalImported": 1,
        "duplicatesSkipped": 2,
        "invalidSkipped": 2,
        "suppressed": 0,
        "status": "PARTIALLY_IMPORTED",
        "campaignStatus": "PENDING",
        "invalidLinesTruncated": False,
    }
    assert [(bad["line"], bad["value"]) for bad in result["invalidLines"]] == [
        (3, "not a number"),
        (5, "+1234567890"),
    ]
    assert [c["phoneNumber"] for c in await calls_of(client, campaign["id"])] == [
        first,
        second,
        third,
    ]


async def test_file_import_keeps_extra_columns_as_attributes(client: Client) -> None:
    campaign = await create(client)
    one, two = fresh_numbers(2)
    csv = f"Name,Phone,Appointment\nAda,{one},Mon 9:00\nBob,garbage,Tue\nCy,{two},\n"
    form = aiohttp.FormData()
    form.add_field("file", csv.encode(), filename="patients.csv", content_type="text/csv")
    response = await client.post(f"/api/v1/campaigns/{campaign['id']}/import", data=form)
    assert response.status == 200, await response.text()
    result = await response.json()
    assert (result["totalReceived"], result["totalImported"], result["invalidSkipped"]) == (3, 2, 1)
    assert result["invalidLines"][0]["line"] == 3
    calls = await calls_of(client, campaign["id"])
    assert [(c["phoneNumber"], c["attributes"]) for c in calls] == [
        (one, {"Name": "Ada", "Appointment": "Mon 9:00"}),
        (two, {"Name": "Cy"}),
    ]
    single = await (await client.get(f"/api/v1/calls/{calls[0]['id']}")).json()
    assert single["attributes"] == {"Name": "Ada", "Appointment": "Mon 9:00"}


async def test_imports_are_refused_where_they_cannot_go(client: Client) -> None:
    campaign = await create(client, phoneNumbers=fresh_numbers(1))
    await client.post(f"/api/v1/campaigns/{campaign['id']}/cancel")
    batch = {"phoneNumbers": fresh_numbers(1)}
    finished = await client.post(f"/api/v1/campaigns/{campaign['id']}/import/batch", json=batch)
    assert finished.status == 409
    unknown = await client.post(f"/api/v1/campaigns/{uuid4()}/import/batch", json=batch)
    assert unknown.status == 404
    open_campaign = await create(client)
    not_multipart = await client.post(
        f"/api/v1/campaigns/{open_campaign['id']}/import", data=b"+14155550100"
    )
    assert not_multipart.status == 422
    form = aiohttp.FormData()
    form.add_field("numbers", b"+14155550100", filename="x.txt")
    no_file_field = await client.post(f"/api/v1/campaigns/{open_campaign['id']}/import", data=form)
    assert no_file_field.status == 422
    form = aiohttp.FormData()
    form.add_field("file", b"+14155550100", filename="x.txt")
    form.add_field("skipInvaild", "true")  # misspelt: refused, never ignored
    misspelt = await client.post(f"/api/v1/campaigns/{open_campaign['id']}/import", data=form)
    assert misspelt.status == 422
    assert [e["field"] for e in (await misspelt.json())["errors"]] == ["skipInvaild"]
    assert (await (await client.get(f"/api/v1/campaigns/{open_campaign['id']}")).json())["metrics"][
        "totalCalls"
    ] == 0


async def test_a_retried_request_with_the_same_key_creates_nothing_twice(
    client: Client, db: asyncpg.Pool
) -> None:
    key = {"Idempotency-Key": str(uuid4())}
    body = {"name": "idempotent", "phoneNumbers": fresh_numbers(2)}
    first = await client.post("/api/v1/campaigns", json=body, headers=key)
    again = await client.post("/api/v1/campaigns", json=body, headers=key)
    assert first.status == again.status == 201
    assert (await first.json())["id"] == (await again.json())["id"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.headers["Location"] == first.headers["Location"]
    created = await db.fetchval("SELECT count(*) FROM campaigns WHERE name = 'idempotent'")
    assert created == 1
    different = await client.post("/api/v1/campaigns", json={**body, "name": "other"}, headers=key)
    assert different.status == 422
    assert "Idempotency-Key" in (await different.json())["detail"]


async def test_an_invalid_number_holding_nul_is_echoed_and_replayed_alike(
    client: Client,
) -> None:
    """Found by the stateful fuzzer: the echo of an invalid number with NUL in it could not be
    stored as the key's answer (jsonb holds no NUL), a 500."""
    created = await (await client.post("/api/v1/campaigns", json={"name": "nul"})).json()
    key = {"Idempotency-Key": str(uuid4())}
    path = f"/api/v1/campaigns/{created['id']}/import/batch"
    body = {"contacts": [{"phoneNumber": "12\u0000 34"}, {"phoneNumber": fresh_numbers(1)[0]}]}
    first = await client.post(path, json=body, headers=key)
    assert first.status == 200, await first.text()
    again = await client.post(path, json=body, headers=key)
    assert await again.json() == await first.json()
    [invalid] = (await first.json())["invalidLines"]
    assert invalid["value"] == "12\ufffd 34"


async def test_idempotent_single_calls_and_imports(client: Client, db: asyncpg.Pool) -> None:
    key = {"Idempotency-Key": "call-" + uuid4().hex}
    [number] = fresh_numbers(1)
    first = await (
        await client.post("/api/v1/calls", json={"phoneNumber": number}, headers=key)
    ).json()
    again = await (
        await client.post("/api/v1/calls", json={"phoneNumber": number}, headers=key)
    ).json()
    assert first["id"] == again["id"]
    assert await db.fetchval("SELECT count(*) FROM calls WHERE phone_number = $1", number) == 1

    campaign = await create(client)
    batch = {"phoneNumbers": fresh_numbers(3)}
    path = f"/api/v1/campaigns/{campaign['id']}/import/batch"
    import_key = {"Idempotency-Key": "import-" + uuid4().hex}
    once = await (await client.post(path, json=batch, headers=import_key)).json()
    twice = await (await client.post(path, json=batch, headers=import_key)).json()
    assert once == twice and once["totalImported"] == 3
    assert len(await calls_of(client, campaign["id"])) == 3


async def test_patch_changes_what_it_names(client: Client, db: asyncpg.Pool) -> None:
    campaign = await create(
        client, description="first", retryConfig={"maxRetries": 2, "callbackRetryDelayMs": 500}
    )
    path = f"/api/v1/campaigns/{campaign['id']}"
    response = await client.patch(
        path,
        json={
            "name": "renamed",
            "concurrencyLimit": 3,
            "retryConfig": {"maxRetries": 5},
            "businessHours": {"startTime": "08:00", "endTime": "20:00", "timezone": "Europe/Paris"},
        },
    )
    assert response.status == 200, await response.text()
    changed = await response.json()
    assert changed["name"] == "renamed"
    assert changed["description"] == "first"
    assert changed["concurrencyLimit"] == 3
    assert changed["retryConfig"]["maxRetries"] == 5
    assert changed["retryConfig"]["callbackRetryDelayMs"] == 500
    assert changed["businessHours"]["timezone"] == "Europe/Paris"
    version = await db.fetchval(
        "SELECT settings_version FROM campaigns WHERE id = $1", UUID(campaign["id"])
    )
    assert version == 2
    cleared = await (await client.patch(path, json={"description": None})).json()
    assert cleared["description"] is None and cleared["name"] == "renamed"

    bad = await client.patch(path, json={"concurrencyLimit": 0})
    assert bad.status == 422
    assert (await (await client.get(path)).json())["concurrencyLimit"] == 3
    await client.post(f"{path}/cancel")
    assert (await client.patch(path, json={"name": "too late"})).status == 409


async def test_delete_only_what_is_not_running(client: Client) -> None:
    pending = await create(client, phoneNumbers=fresh_numbers(2))
    path = f"/api/v1/campaigns/{pending['id']}"
    assert (await client.delete(path)).status == 204
    assert (await client.get(path)).status == 404
    running = await create(client, phoneNumbers=fresh_numbers(1))
    await client.post(f"/api/v1/campaigns/{running['id']}/start")
    refused = await client.delete(f"/api/v1/campaigns/{running['id']}")
    assert refused.status == 409
    assert (await client.delete(f"/api/v1/campaigns/{uuid4()}")).status == 404


async def test_cursor_pages_stay_stable_while_rows_are_added(client: Client) -> None:
    campaign = await create(client, phoneNumbers=fresh_numbers(7))
    path = f"/api/v1/campaigns/{campaign['id']}/calls?size=3"
    seen: list[str] = []
    added = False
    while path:
        response = await client.get(path)
        assert response.headers["X-Total-Count"] == str(7 + (1 if added else 0))
        seen += [c["phoneNumber"] for c in await response.json()]
        if not added:  # a number added mid-walk appears at the end, once
            await client.post(
                f"/api/v1/campaigns/{campaign['id']}/import/batch",
                json={"phoneNumbers": fresh_numbers(1)},
            )
            added = True
        link = response.headers.get("Link")
        path = link.split(">")[0].lstrip("<") if link else ""
    assert len(seen) == len(set(seen)) == 8

    campaigns = await client.get("/api/v1/campaigns?size=2")
    assert int(campaigns.headers["X-Total-Count"]) >= 2
    assert 'rel="next"' in campaigns.headers["Link"]
    bad = await client.get("/api/v1/campaigns?cursor=nonsense")
    assert bad.status == 422


async def test_bodies_past_the_limit_are_refused_before_reading(
    aiohttp_client: MakeClient, settings: Settings
) -> None:
    client = await aiohttp_client(
        create_app(settings.model_copy(update={"max_request_bytes": 4096})), headers=AUTH
    )
    big = {"name": "big", "phoneNumbers": fresh_numbers(400)}
    response = await client.post("/api/v1/campaigns", json=big)
    assert response.status == 413
    assert response.content_type == "application/problem+json"

    campaign = await create(client)

    async def chunks() -> Any:  # no Content-Length: the reader must stop at the limit
        for _ in range(100):
            yield b"+14155550100\n" * 10

    form = aiohttp.FormData()
    form.add_field("file", chunks(), filename="big.txt")
    upload = await client.post(f"/api/v1/campaigns/{campaign['id']}/import", data=form)
    assert upload.status == 413
    assert await calls_of(client, campaign["id"]) == []
