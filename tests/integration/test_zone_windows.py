"""The dispatcher's zone-group windows and the claim that reads them: only numbers whose group
is open now are taken, a window closes at its instant without a pass, a change of settings
closes every window until it is worked out again, and the policy narrows a campaign.

Windows are built around the current time in zones without daylight saving time, so that
"opens in two hours" is exact whenever the test runs.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from services.api.app import create_app
from services.dispatcher.windows import refresh_windows
from shared.domain.attempts import StartedAttempt
from shared.domain.calling import parse_calling_policy
from shared.repositories.attempts import fetch_dial_rules
from shared.repositories.claims import start_attempts
from shared.settings import Settings
from tests.support.api_client import TEST_API_KEY
from tests.support.numbers import fresh_numbers

pytestmark = pytest.mark.asyncio(loop_scope="session")

Client = TestClient  # type: ignore[type-arg]
OPEN_ZONE = "Asia/Kolkata"  # UTC+05:30
CLOSED_ZONE = "Asia/Tokyo"  # UTC+09:00: the same local window is 3.5 hours later there


@pytest.fixture
async def client(aiohttp_client: Callable[..., Awaitable[Client]], settings: Settings) -> Client:
    return await aiohttp_client(
        create_app(settings), headers={"Authorization": f"Bearer {TEST_API_KEY}"}
    )


def window_around_now() -> tuple[dict[str, str], datetime]:
    """A window that opened half an hour ago in OPEN_ZONE and closes in two hours (so in
    CLOSED_ZONE, 3.5 hours ahead, it is closed now): the hours, and when it closes."""
    local = datetime.now(UTC).astimezone(ZoneInfo(OPEN_ZONE)).replace(second=0, microsecond=0)
    start = local - timedelta(minutes=30)
    end = local + timedelta(hours=2)
    hours = {
        "startTime": f"{start:%H:%M}",
        "endTime": f"{end:%H:%M}",
        "timezone": OPEN_ZONE,
        "timezoneMode": "RECIPIENT",
    }
    return hours, end.astimezone(UTC)


async def running(
    client: Client, hours: dict[str, str], zones: list[str]
) -> tuple[str, dict[str, str]]:
    numbers = fresh_numbers(len(zones))
    body = {
        "name": "zone windows",
        "contacts": [
            {"phoneNumber": n, "attributes": {"timezone": z}}
            for n, z in zip(numbers, zones, strict=True)
        ],
        "businessHours": hours,
        "concurrencyLimit": 50,
    }
    response = await client.post("/api/v1/campaigns", json=body)
    assert response.status == 201, await response.text()
    campaign_id: str = (await response.json())["id"]
    started = await client.post(f"/api/v1/campaigns/{campaign_id}/start")
    assert started.status == 200
    return campaign_id, dict(zip(numbers, zones, strict=True))


async def claim_all(db: asyncpg.Pool, campaign_id: str, at: datetime, jobs: int = 20) -> list[str]:
    """The numbers a claim of `jobs` jobs with ample lines takes at `at`, in the order the
    claim ranks them (rolled back: nothing changes)."""
    async with db.acquire() as conn:
        await conn.execute(
            "UPDATE campaigns SET allowed_lines = 50 WHERE id = $1", UUID(campaign_id)
        )
        transaction = conn.transaction()
        await transaction.start()
        try:
            rules = await fetch_dial_rules(conn, UUID(campaign_id))
            assert rules is not None
            answers = await start_attempts(
                conn, rules, [uuid4() for _ in range(jobs)], "test", at, 1000
            )
        finally:
            await transaction.rollback()
    return [a.phone_number for a in answers if isinstance(a, StartedAttempt)]


async def windows(db: asyncpg.Pool, campaign_id: str) -> dict[int, asyncpg.Record]:
    rows = await db.fetch(
        "SELECT * FROM campaign_zone_groups WHERE campaign_id = $1", UUID(campaign_id)
    )
    return {row["zone_group_id"]: row for row in rows}


async def test_only_open_groups_are_claimed_and_a_window_closes_at_its_instant(
    client: Client, db: asyncpg.Pool
) -> None:
    hours, closes_at = window_around_now()
    campaign_id, zone_of = await running(client, hours, [OPEN_ZONE, OPEN_ZONE, CLOSED_ZONE])
    now = datetime.now(UTC)
    # Before the dispatcher has worked a window out, nothing is taken: fail closed.
    assert await claim_all(db, campaign_id, now) == []
    async with db.acquire() as conn:
        assert await refresh_windows(conn, None, now) >= 2
        assert await refresh_windows(conn, None, now) == 0  # nothing due any more
    taken = await claim_all(db, campaign_id, now)
    assert sorted(zone_of[n] for n in taken) == [OPEN_ZONE, OPEN_ZONE]
    rows = list((await windows(db, campaign_id)).values())
    open_rows = [r for r in rows if r["open_until"] is not None]
    closed_rows = [r for r in rows if r["open_until"] is None]
    assert len(open_rows) == 1 and len(closed_rows) == 1
    assert open_rows[0]["open_until"] == closes_at
    assert closed_rows[0]["opens_at"] is not None and closed_rows[0]["opens_at"] > now
    # At the closing instant the claim stops, though no pass has come since.
    assert await claim_all(db, campaign_id, closes_at - timedelta(seconds=1)) != []
    assert await claim_all(db, campaign_id, closes_at) == []


async def test_a_settings_change_closes_windows_until_they_are_worked_out_again(
    client: Client, db: asyncpg.Pool
) -> None:
    hours, _ = window_around_now()
    campaign_id, _ = await running(client, hours, [OPEN_ZONE, CLOSED_ZONE])
    now = datetime.now(UTC)
    async with db.acquire() as conn:
        await refresh_windows(conn, None, now)
    assert len(await claim_all(db, campaign_id, now)) == 1
    # Widen the window to the whole day: both zones open, once the dispatcher has looked.
    patched = await client.patch(
        f"/api/v1/campaigns/{campaign_id}",
        json={"businessHours": {**hours, "startTime": "00:00", "endTime": "24:00"}},
    )
    assert patched.status == 200, await patched.text()
    assert await claim_all(db, campaign_id, now) == []
    async with db.acquire() as conn:
        await refresh_windows(conn, None, now)
    assert len(await claim_all(db, campaign_id, now)) == 2


async def test_the_policy_narrows_an_open_campaign(client: Client, db: asyncpg.Pool) -> None:
    always = {"startTime": "00:00", "endTime": "24:00", "timezoneMode": "RECIPIENT"}
    campaign_id, _ = await running(client, always, [OPEN_ZONE])
    now = datetime.now(UTC)
    # A blackout of the policy's, today and tomorrow in the recipient's zone.
    local = now.astimezone(ZoneInfo(OPEN_ZONE))
    blackout = {
        "name": "blackout",
        "startDate": str(local.date()),
        "endDate": str(local.date() + timedelta(days=1)),
    }
    policy = parse_calling_policy(json.dumps({"rules": [], "restrictedPeriods": [blackout]}))
    try:
        async with db.acquire() as conn:
            await refresh_windows(conn, policy, now)
        assert await claim_all(db, campaign_id, now) == []
        row: Any = next(iter((await windows(db, campaign_id)).values()))
        midnight = datetime.combine(local.date() + timedelta(days=2), datetime.min.time())
        assert row["opens_at"] == midnight.replace(tzinfo=ZoneInfo(OPEN_ZONE)).astimezone(UTC)
    finally:
        # Other tests' windows, worked out under this policy too, are worked out again.
        await db.execute("UPDATE campaign_zone_groups SET recheck_at = '-infinity'")


async def test_with_some_groups_closed_the_open_ones_are_taken_in_load_order(
    client: Client, db: asyncpg.Pool
) -> None:
    hours, _ = window_around_now()
    zones = [CLOSED_ZONE, OPEN_ZONE, CLOSED_ZONE, "Asia/Colombo", OPEN_ZONE, "Asia/Colombo"]
    campaign_id, zone_of = await running(client, hours, zones)
    now = datetime.now(UTC)
    async with db.acquire() as conn:
        await refresh_windows(conn, None, now)
    # Colombo keeps Kolkata's clock: both open, Tokyo closed; three jobs take the first three
    # open numbers in the order they were loaded, whichever group each is in.
    numbers = list(zone_of)
    assert await claim_all(db, campaign_id, now, jobs=3) == [numbers[1], numbers[3], numbers[4]]
