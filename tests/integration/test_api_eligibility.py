"""GET /api/v1/calls/{id}/eligibility and /api/v1/campaigns/{id}/inventory: the reasons the
dialler enforces, with exact instants, and counts that agree with the claim.

Nothing is frozen: each window is built around the current time in Asia/Kolkata (UTC+05:30,
no daylight saving time, so "in two hours" is exact), with every day allowed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
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
from shared.repositories.attempts import fetch_dial_rules
from shared.repositories.claims import start_attempts
from shared.settings import Settings
from tests.support.api_client import TEST_API_KEY
from tests.support.numbers import fresh_numbers

pytestmark = pytest.mark.asyncio(loop_scope="session")

Client = TestClient  # type: ignore[type-arg]
AUTH = {"Authorization": f"Bearer {TEST_API_KEY}"}
ZONE = "Asia/Kolkata"


#: Campaigns a test made, cancelled after it so no running campaign is left for other tests.
_CREATED: list[str] = []


@pytest.fixture
async def client(
    aiohttp_client: Callable[..., Awaitable[Client]], settings: Settings
) -> AsyncIterator[Client]:
    client = await aiohttp_client(create_app(settings), headers=AUTH)
    yield client
    while _CREATED:
        await client.post(f"/api/v1/campaigns/{_CREATED.pop()}/cancel")


def local_minute(delta: timedelta) -> datetime:
    """Now + delta in ZONE, to the whole minute (a window starts on a minute)."""
    return (datetime.now(UTC) + delta).astimezone(ZoneInfo(ZONE)).replace(second=0, microsecond=0)


def window(start: datetime, end: datetime) -> dict[str, str]:
    return {"startTime": f"{start:%H:%M}", "endTime": f"{end:%H:%M}", "timezone": ZONE}


def instant(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


async def campaign(
    client: Client, hours: dict[str, str], numbers: list[str], *, start: bool = True
) -> dict[str, Any]:
    body = {"name": "why not", "phoneNumbers": numbers, "businessHours": hours}
    response = await client.post("/api/v1/campaigns", json=body)
    assert response.status == 201, await response.text()
    created = dict(await response.json())
    _CREATED.append(created["id"])
    if start:
        started = await client.post(f"/api/v1/campaigns/{created['id']}/start")
        assert started.status == 200, await started.text()
    return created


async def call_ids(client: Client, campaign_id: str) -> list[UUID]:
    response = await client.get(f"/api/v1/campaigns/{campaign_id}/calls?size=100")
    return [UUID(c["id"]) for c in await response.json()]


async def give_lines(db: asyncpg.Pool, campaign_id: str, lines: int) -> None:
    """What the dispatcher does on its pass: no dispatcher runs in these tests."""
    await db.execute(
        "UPDATE campaigns SET allowed_lines = $2 WHERE id = $1", UUID(campaign_id), lines
    )


async def eligibility(client: Client, call_id: UUID) -> dict[str, Any]:
    response = await client.get(f"/api/v1/calls/{call_id}/eligibility")
    assert response.status == 200, await response.text()
    return dict(await response.json())


async def inventory(client: Client, campaign_id: str) -> dict[str, Any]:
    response = await client.get(f"/api/v1/campaigns/{campaign_id}/inventory")
    assert response.status == 200, await response.text()
    return dict(await response.json())


def codes(answer: dict[str, Any]) -> list[str]:
    return [reason["code"] for reason in answer["reasons"]]


OPEN_NOW = (timedelta(hours=-1), timedelta(hours=2))


async def test_a_call_inside_its_window_with_a_free_line_is_eligible_now(
    client: Client, db: asyncpg.Pool
) -> None:
    opened = local_minute(OPEN_NOW[0])
    created = await campaign(client, window(opened, local_minute(OPEN_NOW[1])), fresh_numbers(1))
    await give_lines(db, created["id"], 5)
    [call_id] = await call_ids(client, created["id"])
    before = datetime.now(UTC)
    answer = await eligibility(client, call_id)
    after = datetime.now(UTC)
    assert answer["eligible"] is True and answer["reasons"] == []
    next_at = instant(answer["nextEligibleAt"])
    assert next_at is not None and before <= next_at <= after
    # The recipient's own zone (the number's area code) and its local time.
    zone = answer["timezone"]
    local = datetime.fromisoformat(answer["localTime"])
    assert local.utcoffset() == datetime.now(ZoneInfo(zone)).utcoffset()


async def test_outside_the_window_says_where_and_when_it_opens(client: Client) -> None:
    opens = local_minute(timedelta(hours=2))
    created = await campaign(client, window(opens, opens + timedelta(hours=3)), fresh_numbers(2))
    first, _ = await call_ids(client, created["id"])
    answer = await eligibility(client, first)
    assert answer["eligible"] is False
    assert codes(answer) == ["OUTSIDE_CAMPAIGN_WINDOW"]
    detail = answer["reasons"][0]["detail"]
    now_there = {f"{local_minute(timedelta(minutes=m)):%H:%M} " for m in (-1, 0)}
    assert ZONE in detail and any(detail.startswith(clock) for clock in now_there), detail
    closes = opens + timedelta(hours=3)
    # A window past midnight is described per day: today's part ends at 24:00.
    today = f"{closes:%H:%M}" if closes.date() == opens.date() else "24:00"
    assert f"{opens:%H:%M}-{today}" in detail
    assert instant(answer["nextEligibleAt"]) == opens
    counted = await inventory(client, created["id"])
    assert counted == {
        "dialableNow": 0,
        "waiting": {"OUTSIDE_CAMPAIGN_WINDOW": 2},
        "final": {"CANCELLED": 0, "COMPLETED": 0, "PERMANENTLY_FAILED": 0},
        "nextOpeningAt": counted["nextOpeningAt"],
    }
    assert instant(counted["nextOpeningAt"]) == opens


async def test_a_campaign_not_started_or_paused_is_the_reason(
    client: Client, db: asyncpg.Pool
) -> None:
    opened, closes = (local_minute(d) for d in OPEN_NOW)
    created = await campaign(client, window(opened, closes), fresh_numbers(1), start=False)
    [call_id] = await call_ids(client, created["id"])
    answer = await eligibility(client, call_id)
    assert codes(answer) == ["CAMPAIGN_NOT_RUNNING"]
    assert "PENDING" in answer["reasons"][0]["detail"]
    await client.post(f"/api/v1/campaigns/{created['id']}/start")
    await give_lines(db, created["id"], 5)
    await client.post(f"/api/v1/campaigns/{created['id']}/pause")
    paused = await eligibility(client, call_id)
    assert codes(paused) == ["CAMPAIGN_NOT_RUNNING"]
    assert "PAUSED" in paused["reasons"][0]["detail"]
    assert (await inventory(client, created["id"]))["waiting"] == {"CAMPAIGN_NOT_RUNNING": 1}
    await client.post(f"/api/v1/campaigns/{created['id']}/cancel")
    cancelled = await eligibility(client, call_id)
    assert codes(cancelled) == ["CAMPAIGN_NOT_RUNNING", "FINAL"]
    assert cancelled["nextEligibleAt"] is None
    after = await inventory(client, created["id"])
    assert after["dialableNow"] == 0 and after["nextOpeningAt"] is None
    assert after["final"]["CANCELLED"] == 1


async def test_a_retry_is_eligible_at_its_due_time_or_the_next_opening_after_it(
    client: Client, db: asyncpg.Pool
) -> None:
    opened, closes = (local_minute(d) for d in OPEN_NOW)
    created = await campaign(client, window(opened, closes), fresh_numbers(3))
    await give_lines(db, created["id"], 5)
    soon, late, due = await call_ids(client, created["id"])
    in_ten = (datetime.now(UTC) + timedelta(minutes=10)).replace(microsecond=0)
    after_close = (datetime.now(UTC) + timedelta(hours=3)).replace(microsecond=0)
    past = datetime.now(UTC) - timedelta(minutes=1)
    for call_id, retry_at in ((soon, in_ten), (late, after_close), (due, past)):
        await db.execute(
            "UPDATE calls SET status = 'FAILED', next_retry_at = $2 WHERE id = $1",
            call_id,
            retry_at,
        )
    answer = await eligibility(client, soon)
    assert codes(answer) == ["RETRY_NOT_DUE"]
    assert in_ten.isoformat().replace("+00:00", "Z") in answer["reasons"][0]["detail"]
    assert instant(answer["nextEligibleAt"]) == in_ten
    # Due after today's window closes: eligible when tomorrow's window opens.
    assert instant((await eligibility(client, late))["nextEligibleAt"]) == opened + timedelta(
        days=1
    )
    assert (await eligibility(client, due))["eligible"] is True
    counted = await inventory(client, created["id"])
    assert (counted["dialableNow"], counted["waiting"]) == (1, {"RETRY_NOT_DUE": 2})


async def test_final_and_live_calls(client: Client, db: asyncpg.Pool) -> None:
    opened, closes = (local_minute(d) for d in OPEN_NOW)
    created = await campaign(client, window(opened, closes), fresh_numbers(2))
    await give_lines(db, created["id"], 5)
    done, live = await call_ids(client, created["id"])
    await db.execute("UPDATE calls SET status = 'COMPLETED' WHERE id = $1", done)
    await db.execute("UPDATE calls SET status = 'IN_PROGRESS' WHERE id = $1", live)
    final = await eligibility(client, done)
    assert codes(final) == ["FINAL"] and final["nextEligibleAt"] is None
    assert "COMPLETED" in final["reasons"][0]["detail"]
    assert codes(await eligibility(client, live)) == ["CALL_IN_PROGRESS"]


async def test_lines_busy_names_the_limit_and_the_share(client: Client, db: asyncpg.Pool) -> None:
    opened, closes = (local_minute(d) for d in OPEN_NOW)
    created = await campaign(client, window(opened, closes), fresh_numbers(2))
    call_id, retry = await call_ids(client, created["id"])
    # Running and inside its window, but the dispatcher has given it no share yet.
    answer = await eligibility(client, call_id)
    assert codes(answer) == ["LINES_BUSY"]
    assert "may hold 0 now" in answer["reasons"][0]["detail"]
    assert "share of the lines 0" in answer["reasons"][0]["detail"]
    # Not time-based: nothing to wait for but a line.
    assert instant(answer["nextEligibleAt"]) is not None
    # Lines are said to be busy only for a call the claim would pick now.
    await db.execute(
        "UPDATE calls SET status = 'FAILED', next_retry_at = now() + interval '1 hour'"
        " WHERE id = $1",
        retry,
    )
    assert codes(await eligibility(client, retry)) == ["RETRY_NOT_DUE"]


async def test_a_number_in_a_live_call_elsewhere_waits_for_it(
    client: Client, db: asyncpg.Pool
) -> None:
    opened, closes = (local_minute(d) for d in OPEN_NOW)
    [number] = fresh_numbers(1)
    first = await campaign(client, window(opened, closes), [number])
    second = await campaign(client, window(opened, closes), [number])
    await give_lines(db, second["id"], 5)
    [holder] = await call_ids(client, first["id"])
    [waiting] = await call_ids(client, second["id"])
    await db.execute("UPDATE calls SET status = 'IN_PROGRESS' WHERE id = $1", holder)
    await db.execute(
        "INSERT INTO call_attempts (call_id, attempt_no, campaign_id, phone_number, job_id,"
        " worker_id, started_at, expected_callback_by)"
        " VALUES ($1, 1, $2, $3, $4, 'test', now(), now() + interval '1 hour')",
        holder,
        UUID(first["id"]),
        number,
        uuid4(),
    )
    try:
        answer = await eligibility(client, waiting)
        assert codes(answer) == ["CALL_IN_PROGRESS"]
        assert str(holder) in answer["reasons"][0]["detail"]
        counted = await inventory(client, second["id"])
        assert (counted["dialableNow"], counted["waiting"]) == (0, {"CALL_IN_PROGRESS": 1})
    finally:
        await db.execute("DELETE FROM call_attempts WHERE call_id = $1", holder)


async def test_inventory_of_a_mixed_campaign_is_what_the_claim_takes(
    client: Client, db: asyncpg.Pool
) -> None:
    opened, closes = (local_minute(d) for d in OPEN_NOW)
    created = await campaign(client, window(opened, closes), fresh_numbers(8))
    campaign_id = UUID(created["id"])
    await db.execute(
        "UPDATE campaigns SET allowed_lines = 20, concurrency_limit = 20 WHERE id = $1",
        campaign_id,
    )
    ids = await call_ids(client, created["id"])
    now = datetime.now(UTC)
    changes: list[tuple[str, datetime | None]] = [
        ("PENDING", None),
        ("PENDING", None),
        ("FAILED", now - timedelta(minutes=5)),
        ("FAILED", now + timedelta(hours=1)),
        ("COMPLETED", None),
        ("PERMANENTLY_FAILED", None),
        ("SCHEDULED", None),
        ("CANCELLED", None),
    ]
    for call_id, (status, retry_at) in zip(ids, changes, strict=True):
        await db.execute(
            "UPDATE calls SET status = $2, next_retry_at = $3 WHERE id = $1",
            call_id,
            status,
            retry_at,
        )
    counted = await inventory(client, created["id"])
    assert counted == {
        "dialableNow": 3,
        "waiting": {"CALL_IN_PROGRESS": 1, "RETRY_NOT_DUE": 1},
        "final": {"CANCELLED": 1, "COMPLETED": 1, "PERMANENTLY_FAILED": 1},
        "nextOpeningAt": None,
    }
    # The claim itself, given more jobs than numbers, takes exactly dialableNow (rolled back).
    async with db.acquire() as conn:
        transaction = conn.transaction()
        await transaction.start()
        try:
            # The dispatcher's pass works out the zone groups' windows first.
            await refresh_windows(conn, None, datetime.now(UTC))
            rules = await fetch_dial_rules(conn, campaign_id)
            assert rules is not None
            jobs = [uuid4() for _ in range(10)]
            answers = await start_attempts(conn, rules, jobs, "test", datetime.now(UTC), 1000)
            assert sum(isinstance(a, StartedAttempt) for a in answers) == counted["dialableNow"]
        finally:
            await transaction.rollback()


async def test_a_single_call_has_an_eligibility_but_no_inventory(
    client: Client, db: asyncpg.Pool
) -> None:
    response = await client.post("/api/v1/calls", json={"phoneNumber": fresh_numbers(1)[0]})
    assert response.status == 201, await response.text()
    call_id = UUID((await response.json())["id"])
    answer = await eligibility(client, call_id)
    # The number's own zone: single calls run in an always-open campaign.
    assert answer["timezone"] == "America/Los_Angeles"
    assert set(codes(answer)) <= {"LINES_BUSY", "CALL_IN_PROGRESS"}
    single_calls = await db.fetchval("SELECT campaign_id FROM calls WHERE id = $1", call_id)
    hidden = await client.get(f"/api/v1/campaigns/{single_calls}/inventory")
    assert hidden.status == 404


@pytest.mark.parametrize(
    "path",
    [
        f"/api/v1/calls/{uuid4()}/eligibility",
        "/api/v1/calls/not-a-uuid/eligibility",
        f"/api/v1/campaigns/{uuid4()}/inventory",
        "/api/v1/campaigns/nope/inventory",
    ],
)
async def test_unknown_ids_are_404_problems(client: Client, path: str) -> None:
    response = await client.get(path)
    assert response.status == 404
    assert response.content_type == "application/problem+json"
