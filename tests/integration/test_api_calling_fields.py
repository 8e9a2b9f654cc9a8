"""The campaign's calling fields through the API: each bad one a 422 naming it (nothing
created or changed), good ones stored, shown and changed by PATCH; and the sweeps that keep
schedules (autoStart, expiresAt, endAt), run as the dispatcher's tick runs them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from services.api.app import create_app
from shared.repositories import schedules
from shared.repositories.campaigns import finish_campaign
from shared.settings import Settings
from tests.integration.test_api_input import campaign_count, fields, problem
from tests.support.api_client import TEST_API_KEY
from tests.support.numbers import fresh_numbers

pytestmark = pytest.mark.asyncio(loop_scope="session")

Client = TestClient  # type: ignore[type-arg]
HOURS = {"startTime": "09:00", "endTime": "17:00", "timezone": "America/Chicago"}


@pytest.fixture
async def client(aiohttp_client: Callable[..., Awaitable[Client]], settings: Settings) -> Client:
    return await aiohttp_client(
        create_app(settings), headers={"Authorization": f"Bearer {TEST_API_KEY}"}
    )


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        (
            {"businessHours": {**HOURS, "defaultTimeZone": "Mars/Base"}},
            "businessHours.defaultTimeZone",
        ),
        ({"businessHours": {**HOURS, "timezoneMode": "LOCAL"}}, "businessHours.timezoneMode"),
        ({"businessHours": {"timezone": "UTC"}}, "businessHours"),
        ({"businessHours": {"dailyHours": {"FUNDAY": []}}}, "businessHours.dailyHours"),
        (
            {
                "businessHours": {
                    "dailyHours": {"MONDAY": [{"startTime": "25:00", "endTime": "26:00"}]}
                }
            },
            "businessHours.dailyHours.MONDAY[0]",
        ),
        (
            {
                "businessHours": {
                    "dailyHours": {"MONDAY": [{"startTime": "09:00", "endTime": "09:00"}]}
                }
            },
            "businessHours.dailyHours.MONDAY[0]",
        ),
        ({"holidayCalendars": ["XX"]}, "holidayCalendars"),
        ({"holidayCalendars": "US"}, "holidayCalendars"),
        (
            {
                "restrictedPeriods": [
                    {"name": "x", "startDate": "2026-12-26", "endDate": "2026-12-24"}
                ]
            },
            "restrictedPeriods[0]",
        ),
        (
            {
                "restrictedPeriods": [
                    {"name": "x", "startDate": "2026-13-01", "endDate": "2026-12-24"}
                ]
            },
            "restrictedPeriods[0].startDate",
        ),
        ({"startAt": "tomorrow"}, "startAt"),
        ({"startAt": "2026-12-24T09:00:00"}, "startAt"),
        ({"startAt": "2026-12-24T09:00:00Z", "endAt": "2026-12-24T08:00:00Z"}, "endAt"),
        ({"autoStart": True}, "autoStart"),
    ],
)
async def test_bad_calling_fields_are_refused_by_name(
    client: Client, db: asyncpg.Pool, payload: dict[str, Any], field: str
) -> None:
    before = await campaign_count(db)
    response = await client.post(
        "/api/v1/campaigns", json={"name": "x", "phoneNumbers": fresh_numbers(1), **payload}
    )
    body = await problem(response, 422)
    assert field in fields(body), body
    assert await campaign_count(db) == before


async def test_calling_fields_are_stored_shown_and_patched(
    client: Client, db: asyncpg.Pool
) -> None:
    start_at = datetime(2030, 1, 2, 15, 0, tzinfo=UTC)
    body = {
        "name": "clinic reminders",
        "phoneNumbers": fresh_numbers(2),
        "businessHours": {
            "timezone": "America/Chicago",
            "timezoneMode": "RECIPIENT",
            "defaultTimeZone": "America/Chicago",
            "dailyHours": {
                "MONDAY": [
                    {"startTime": "09:00", "endTime": "12:00"},
                    {"startTime": "13:00", "endTime": "18:00"},
                ]
            },
        },
        "holidayCalendars": ["US", "US-CA"],
        "restrictedPeriods": [
            {"name": "Christmas", "startDate": "2030-12-24", "endDate": "2030-12-26"}
        ],
        "startAt": start_at.isoformat(),
        "endAt": (start_at + timedelta(days=7)).isoformat(),
        "autoStart": True,
    }
    response = await client.post("/api/v1/campaigns", json=body)
    assert response.status == 201, await response.text()
    created = await response.json()
    hours = created["businessHours"]
    assert hours["timezoneMode"] == "RECIPIENT"
    assert hours["defaultTimeZone"] == "America/Chicago"
    assert hours["dailyHours"]["MONDAY"][1] == {"startTime": "13:00", "endTime": "18:00"}
    assert created["holidayCalendars"] == ["US", "US-CA"]
    assert created["restrictedPeriods"] == [
        {"name": "Christmas", "startDate": "2030-12-24", "endDate": "2030-12-26"}
    ]
    assert datetime.fromisoformat(created["startAt"]) == start_at
    assert created["autoStart"] is True and created["nextDialAt"] is None
    campaign_id = created["id"]
    version = await db.fetchval(
        "SELECT settings_version FROM campaigns WHERE id = $1", UUID(campaign_id)
    )

    # An endAt before the startAt the campaign keeps is a 422 and changes nothing.
    refused = await client.patch(
        f"/api/v1/campaigns/{campaign_id}", json={"endAt": "2030-01-01T00:00:00Z"}
    )
    assert "endAt" in fields(await problem(refused, 422))

    patched = await client.patch(
        f"/api/v1/campaigns/{campaign_id}",
        json={"holidayCalendars": ["GB"], "startAt": None, "autoStart": False},
    )
    assert patched.status == 200, await patched.text()
    shown = await (await client.get(f"/api/v1/campaigns/{campaign_id}")).json()
    assert shown["holidayCalendars"] == ["GB"]
    assert shown["startAt"] is None and shown["autoStart"] is False
    # What the PATCH left out is kept; the window's mode and zones too.
    assert shown["businessHours"]["timezoneMode"] == "RECIPIENT"
    assert shown["restrictedPeriods"][0]["name"] == "Christmas"
    assert shown["endAt"] is not None
    assert (
        await db.fetchval("SELECT settings_version FROM campaigns WHERE id = $1", UUID(campaign_id))
        == version + 1
    )


async def test_a_seed_campaign_shows_the_seeds_window_and_no_schedule(client: Client) -> None:
    response = await client.post(
        "/api/v1/campaigns",
        json={"name": "seed", "phoneNumbers": fresh_numbers(1), "businessHours": HOURS},
    )
    created = await response.json()
    assert created["businessHours"]["timezoneMode"] == "CAMPAIGN"
    assert created["businessHours"]["dailyHours"] is None
    assert created["holidayCalendars"] == [] and created["restrictedPeriods"] == []
    assert created["startAt"] is None and created["endAt"] is None
    assert created["autoStart"] is False


async def test_contacts_validity_is_checked_and_stored(client: Client, db: asyncpg.Pool) -> None:
    good, bad, naive = fresh_numbers(3)
    body = {
        "name": "validity",
        "contacts": [
            {
                "phoneNumber": good,
                "attributes": {
                    "notBefore": "2030-01-01T09:00:00-06:00",
                    "expiresAt": "2030-01-02T09:00:00Z",
                },
            },
            {"phoneNumber": bad, "attributes": {"expiresAt": "soon"}},
            {"phoneNumber": naive, "attributes": {"notBefore": "2030-01-01T09:00:00"}},
        ],
    }
    response = await client.post("/api/v1/campaigns", json=body)
    assert response.status == 201, await response.text()
    summary = (await response.json())["importSummary"]
    assert summary["totalImported"] == 1 and summary["invalidSkipped"] == 2
    row = await db.fetchrow(
        "SELECT not_before, expires_at FROM calls WHERE phone_number = $1", good
    )
    assert row["not_before"] == datetime(2030, 1, 1, 15, 0, tzinfo=UTC)
    assert row["expires_at"] == datetime(2030, 1, 2, 9, 0, tzinfo=UTC)
    strict = await client.post("/api/v1/campaigns", json={**body, "strictNumbers": True})
    assert {"contacts[1].attributes.expiresAt", "contacts[2].attributes.notBefore"} <= fields(
        await problem(strict, 422)
    )


async def _running_campaign(client: Client, **extra: Any) -> str:
    response = await client.post(
        "/api/v1/campaigns", json={"name": "sweeps", "phoneNumbers": fresh_numbers(3), **extra}
    )
    assert response.status == 201, await response.text()
    campaign_id: str = (await response.json())["id"]
    started = await client.post(f"/api/v1/campaigns/{campaign_id}/start")
    assert started.status == 200, await started.text()
    return campaign_id


async def test_the_schedule_sweeps_start_expire_and_end(client: Client, db: asyncpg.Pool) -> None:
    now = datetime.now(UTC)
    # autoStart: a PENDING campaign whose startAt has come starts by itself.
    response = await client.post(
        "/api/v1/campaigns",
        json={
            "name": "auto",
            "phoneNumbers": fresh_numbers(1),
            "startAt": (now + timedelta(seconds=30)).isoformat(),
            "autoStart": True,
        },
    )
    auto = UUID((await response.json())["id"])
    async with db.acquire() as conn:
        assert auto not in await schedules.start_scheduled_campaigns(conn, now)
        assert auto in await schedules.start_scheduled_campaigns(conn, now + timedelta(seconds=31))
    assert await db.fetchval("SELECT status FROM campaigns WHERE id = $1", auto) == "IN_PROGRESS"

    # expiresAt: a waiting number past it ends CANCELLED, EXPIRED.
    expiring = await _running_campaign(client)
    first = await db.fetchval(
        "SELECT id FROM calls WHERE campaign_id = $1 ORDER BY seq LIMIT 1", UUID(expiring)
    )
    await db.execute("UPDATE calls SET expires_at = $2 WHERE id = $1", first, now)
    async with db.acquire() as conn:
        assert await schedules.expire_calls(conn, now + timedelta(seconds=1)) >= 1
    row = await db.fetchrow("SELECT status, failure_reason FROM calls WHERE id = $1", first)
    assert (row["status"], row["failure_reason"]) == ("CANCELLED", "EXPIRED")

    # endAt: waiting numbers end CAMPAIGN_ENDED and the campaign COMPLETED though none answered.
    ending = await _running_campaign(client)
    await db.execute("UPDATE campaigns SET end_at = $2 WHERE id = $1", UUID(ending), now)
    async with db.acquire() as conn:
        assert await schedules.end_past_campaigns(conn, now + timedelta(seconds=1)) == 3
        async with conn.transaction():
            assert await finish_campaign(conn, UUID(ending)) == "COMPLETED"
    reasons = await db.fetch(
        "SELECT DISTINCT status, failure_reason FROM calls WHERE campaign_id = $1", UUID(ending)
    )
    assert [tuple(r) for r in reasons] == [("CANCELLED", "CAMPAIGN_ENDED")]
