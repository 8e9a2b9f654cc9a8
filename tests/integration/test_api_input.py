"""Bad input gets a clear 4xx problem and changes nothing; good input is normalised."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from services.api.app import create_app
from shared.settings import Settings
from shared.signatures import sign
from tests.support.api_client import TEST_API_KEY, TEST_CALLBACK_SECRET
from tests.support.numbers import fresh_numbers

pytestmark = pytest.mark.asyncio(loop_scope="session")

Client = TestClient  # type: ignore[type-arg]


@pytest.fixture
async def client(aiohttp_client: Callable[..., Awaitable[Client]], settings: Settings) -> Client:
    return await aiohttp_client(
        create_app(settings), headers={"Authorization": f"Bearer {TEST_API_KEY}"}
    )


async def campaign_count(db: asyncpg.Pool) -> int:
    return int(await db.fetchval("SELECT count(*) FROM campaigns"))


async def problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status == status, await response.text()
    assert response.content_type == "application/problem+json"
    body: dict[str, Any] = await response.json()
    assert body["status"] == status and body["type"].startswith("/problems/") and body["detail"]
    assert "Traceback" not in str(body)
    return body


def fields(body: dict[str, Any]) -> set[str]:
    return {e["field"] for e in body.get("errors", [])}


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        (
            {"phoneNumbers": ["+14155550100", "not a number"], "strictNumbers": True},
            "phoneNumbers[1]",
        ),
        ({"phoneNumbers": ["not a number", "+1234567890"]}, "phoneNumbers[0]"),
        ({"phoneNumbers": ["+1234567890"]}, "phoneNumbers[0]"),
        (
            {"businessHours": {"startTime": "09:00", "endTime": "17:00", "timezone": "Mars/Base"}},
            "businessHours.timezone",
        ),
        (
            {
                "businessHours": {
                    "startTime": "09:00",
                    "endTime": "17:00",
                    "crossesMidnight": True,
                }
            },
            "businessHours.crossesMidnight",
        ),
        ({"businessHours": {"startTime": "09:00", "endTime": "09:00"}}, "businessHours.endTime"),
        ({"businessHours": {"startTime": "9am", "endTime": "17:00"}}, "businessHours.startTime"),
        (
            {"businessHours": {"startTime": "09:00", "endTime": "17:00", "allowedDays": "FUNDAY"}},
            "businessHours.allowedDays",
        ),
        ({"concurrencyLimit": -1}, "concurrencyLimit"),
        ({"concurrencyLimit": 0}, "concurrencyLimit"),
        ({"concurrencyLimit": "5"}, "concurrencyLimit"),
        ({"priority": 11}, "priority"),
        ({"retryConfig": {"maxRetries": -1}}, "retryConfig.maxRetries"),
        ({"retryConfig": {"callbackTimeoutMs": 3_600_000}}, "retryConfig.callbackTimeoutMs"),
        ({"retryConfig": {"syncBackoffMultiplier": 0.5}}, "retryConfig.syncBackoffMultiplier"),
        ({"name": ""}, "name"),
        ({"name": "\u000e\u0000"}, "name"),
        ({"description": "a\u0000b"}, "description"),
        ({"surprise": 1}, "surprise"),
    ],
)
async def test_invalid_campaigns_are_refused_field_by_field(
    client: Client, db: asyncpg.Pool, payload: dict[str, Any], field: str
) -> None:
    before = await campaign_count(db)
    response = await client.post("/api/v1/campaigns", json={"name": "x", **payload})
    body = await problem(response, 422)
    assert field in fields(body), body
    assert await campaign_count(db) == before


@pytest.mark.parametrize("raw", [b"{not json", b"", b"[1, 2]", b'"text"'])
async def test_malformed_bodies_are_refused(client: Client, db: asyncpg.Pool, raw: bytes) -> None:
    before = await campaign_count(db)
    response = await client.post(
        "/api/v1/campaigns", data=raw, headers={"Content-Type": "application/json"}
    )
    assert response.status in (400, 422)
    await problem(response, response.status)
    assert await campaign_count(db) == before


async def test_unknown_and_malformed_ids_are_404(client: Client) -> None:
    for path in (
        f"/api/v1/campaigns/{uuid4()}",
        "/api/v1/campaigns/abc",
        f"/api/v1/calls/{uuid4()}",
    ):
        await problem(await client.get(path), 404)
    for verb in ("start", "pause", "resume", "cancel"):
        await problem(await client.post(f"/api/v1/campaigns/{uuid4()}/{verb}"), 404)
    await problem(await client.get("/api/v1/nowhere"), 404)
    await problem(await client.delete("/api/v1/calls/callback"), 405)


async def test_numbers_are_normalised_and_deduplicated(client: Client) -> None:
    response = await client.post(
        "/api/v1/campaigns",
        json={
            "name": "dedup",
            "phoneNumbers": ["+1 415 555 0100", "(415) 555-0100", "0014155550100", "+14155550101"],
            "businessHours": {
                "startTime": "09:00",
                "endTime": "18:00",
                "timezone": "America/New_York",
                "allowedDays": ["MON", "TUE"],
            },
        },
    )
    assert response.status == 201, await response.text()
    campaign = await response.json()
    assert response.headers["Location"] == f"/api/v1/campaigns/{campaign['id']}"
    assert campaign["metrics"]["totalCalls"] == 2
    assert campaign["status"] == "PENDING"
    assert campaign["concurrencyLimit"] == 10
    assert campaign["retryConfig"]["maxRetries"] == 3
    assert campaign["retryConfig"]["callbackTimeoutMs"] == 120_000
    assert campaign["businessHours"]["allowedDays"] == "MONDAY,TUESDAY"
    calls = await (await client.get(f"/api/v1/campaigns/{campaign['id']}/calls")).json()
    assert [c["phoneNumber"] for c in calls] == ["+14155550100", "+14155550101"]


async def test_overnight_window_needs_to_be_asked_for(client: Client) -> None:
    response = await client.post(
        "/api/v1/campaigns",
        json={
            "name": "night",
            "businessHours": {"startTime": "22:00", "endTime": "02:00", "crossesMidnight": True},
        },
    )
    assert response.status == 201, await response.text()
    assert (await response.json())["businessHours"]["crossesMidnight"] is True


async def test_lifecycle_refusals(client: Client) -> None:
    empty = await (await client.post("/api/v1/campaigns", json={"name": "empty"})).json()
    body = await problem(await client.post(f"/api/v1/campaigns/{empty['id']}/start"), 422)
    assert "no phone numbers" in body["detail"]
    body = await problem(await client.post(f"/api/v1/campaigns/{empty['id']}/pause"), 409)
    assert body["campaignStatus"] == "PENDING"
    await problem(await client.post(f"/api/v1/campaigns/{empty['id']}/resume"), 409)

    full = await (
        await client.post("/api/v1/campaigns", json={"name": "c", "phoneNumbers": fresh_numbers(2)})
    ).json()
    cancelled = await client.post(f"/api/v1/campaigns/{full['id']}/cancel")
    assert (await cancelled.json())["status"] == "CANCELLED"
    again = await client.post(f"/api/v1/campaigns/{full['id']}/cancel")
    assert again.status == 200
    await problem(await client.post(f"/api/v1/campaigns/{full['id']}/start"), 409)
    calls = await (await client.get(f"/api/v1/campaigns/{full['id']}/calls")).json()
    assert {c["status"] for c in calls} == {"CANCELLED"}


@pytest.mark.parametrize("query", ["page=-1", "size=0", "size=5000", "page=x", "status=BOGUS"])
async def test_bad_list_parameters(client: Client, query: str) -> None:
    await problem(await client.get(f"/api/v1/campaigns?{query}"), 422)


async def test_lists_are_arrays_paged_from_zero(client: Client) -> None:
    for n in range(3):
        await client.post("/api/v1/campaigns", json={"name": f"page {n}"})
    first = await (await client.get("/api/v1/campaigns?page=0&size=2")).json()
    second = await (await client.get("/api/v1/campaigns?page=1&size=2")).json()
    assert isinstance(first, list) and len(first) == 2
    assert {c["id"] for c in first}.isdisjoint({c["id"] for c in second})
    pending = await (await client.get("/api/v1/campaigns?status=pending&size=1000")).json()
    assert pending and all(c["status"] == "PENDING" for c in pending)


async def test_single_call_and_callback_input(client: Client) -> None:
    await problem(await client.post("/api/v1/calls", json={"phoneNumber": "12"}), 422)
    await problem(await client.post("/api/v1/calls", json={}), 422)
    body = await problem(
        await signed_callback(client, {"externalCallId": "x", "status": "EXPLODED"}), 422
    )
    assert "status" in fields(body)
    await problem(await signed_callback(client, {"externalCallId": "x", "status": "BUSY"}), 404)


async def signed_callback(client: Client, body: dict[str, Any]) -> Any:
    raw = json.dumps(body).encode()
    return await client.post(
        "/api/v1/calls/callback",
        data=raw,
        headers={
            "X-Signature": sign(TEST_CALLBACK_SECRET, raw),
            "Content-Type": "application/json",
        },
    )


async def test_health_reports_database_and_broker(client: Client) -> None:
    for path in ("/health", "/actuator/health"):
        response = await client.get(path)
        assert response.status == 200
        body = await response.json()
        assert body["components"]["database"]["status"] == "UP"
        assert body["components"]["broker"]["status"] == "UP"


async def test_a_seed_client_gets_the_seeds_defaults(client: Client, db: asyncpg.Pool) -> None:
    """What the Java system's own console relies on: the valid numbers of a list created, the
    invalid ones reported; a window of 22:00-06:00 across midnight without a flag; 100
    campaigns a page; a number, not null, for the average duration."""
    valid = fresh_numbers(2)
    response = await client.post(
        "/api/v1/campaigns",
        json={
            "name": "seed client",
            "phoneNumbers": [valid[0], "+1234567890", valid[1], "not a number"],
            "businessHours": {"startTime": "22:00", "endTime": "06:00", "timezone": "UTC"},
        },
    )
    assert response.status == 201, await response.text()
    body = await response.json()
    assert body["metrics"]["totalCalls"] == 2
    summary = body["importSummary"]
    assert summary["totalReceived"] == 4 and summary["totalImported"] == 2
    assert summary["invalidSkipped"] == 2
    assert [line["line"] for line in summary["invalidLines"]] == [2, 4]
    assert body["businessHours"]["crossesMidnight"] is True
    numbers = await db.fetch(
        "SELECT phone_number FROM calls WHERE campaign_id = $1 ORDER BY seq", UUID(body["id"])
    )
    assert [r["phone_number"] for r in numbers] == valid

    for _ in range(105 - await campaign_count(db)):
        await client.post("/api/v1/campaigns", json={"name": "filler"})
    listed = await client.get("/api/v1/campaigns")
    assert len(await listed.json()) == 100

    metrics = await (await client.get("/api/v1/metrics")).json()
    assert isinstance(metrics["avgCallDurationSeconds"], float)


async def test_strict_numbers_refuse_the_whole_list(client: Client, db: asyncpg.Pool) -> None:
    before = await campaign_count(db)
    response = await client.post(
        "/api/v1/campaigns",
        json={"name": "strict", "phoneNumbers": [*fresh_numbers(3), "0"], "strictNumbers": True},
    )
    body = await problem(response, 422)
    assert fields(body) == {"phoneNumbers[3]"}
    assert await campaign_count(db) == before
