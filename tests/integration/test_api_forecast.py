"""GET /api/v1/campaigns/{id}/forecast through the app: its shape, a campaign closed now, one
with observed attempts, a finished one, unknown ids, and its speed on 100,000 numbers.

Windows are built around the current time in Asia/Kolkata (no daylight saving time), as in
test_api_eligibility; no dispatcher runs, so the campaign's share is what a test writes.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from tests.integration import test_api_eligibility
from tests.integration.test_api_eligibility import (
    OPEN_NOW,
    give_lines,
    instant,
    local_minute,
    window,
)
from tests.integration.test_api_eligibility import campaign as started_campaign
from tests.support.numbers import fresh_numbers

pytestmark = pytest.mark.asyncio(loop_scope="session")

Client = TestClient  # type: ignore[type-arg]
#: The eligibility tests' app client, which cancels the campaigns a test started.
client = test_api_eligibility.client


async def campaign(client: Client, hours: dict[str, str], numbers: list[str]) -> str:
    """A started campaign (cancelled after the test by the shared `client` fixture)."""
    return str((await started_campaign(client, hours, numbers))["id"])


async def forecast(client: Client, campaign_id: str) -> dict[str, Any]:
    response = await client.get(f"/api/v1/campaigns/{campaign_id}/forecast")
    assert response.status == 200, await response.text()
    return dict(await response.json())


async def test_a_campaign_closed_now_is_forecast_to_finish_after_its_window_opens(
    client: Client,
) -> None:
    opens = local_minute(timedelta(hours=2))
    campaign_id = await campaign(
        client, window(opens, opens + timedelta(hours=3)), fresh_numbers(3)
    )
    before = datetime.now(UTC)
    answer = await forecast(client, campaign_id)
    assert answer["campaignId"] == campaign_id and answer["status"] == "IN_PROGRESS"
    assert before - timedelta(seconds=1) <= instant(answer["generatedAt"])  # type: ignore[operator]
    assert answer["remainingNumbers"] == 3
    assumptions = answer["assumptions"]
    # No attempt yet: defaults, said so; no share yet (no dispatcher): the campaign's limit.
    assert assumptions["meanAttemptSecondsSource"] == "DEFAULT"
    assert assumptions["retryRateSource"] == "DEFAULT"
    assert assumptions["attemptsObserved"] == 0
    assert assumptions["linesSource"] == "LIMIT" and assumptions["callsPerSecond"] is None
    assert answer["expectedAttempts"] > 3  # retries expected at the default rate
    [zone] = answer["zones"]
    assert zone["openNow"] is False and zone["remainingNumbers"] == 3
    assert instant(zone["nextOpeningAt"]) == opens
    assert zone["openHoursNext7Days"] == pytest.approx(21.0, abs=3.01)
    finish = instant(answer["expectedFinishAt"])
    assert finish is not None and opens < finish < opens + timedelta(hours=3)
    assert instant(zone["expectedFinishAt"]) == finish
    assert any("defaults" in c for c in answer["caveats"])
    assert any("no share now" in c for c in answer["caveats"])


async def test_observed_attempts_replace_the_defaults(client: Client, db: asyncpg.Pool) -> None:
    opened, closes = (local_minute(d) for d in OPEN_NOW)
    numbers = fresh_numbers(30)
    campaign_id = await campaign(client, window(opened, closes), numbers)
    await give_lines(db, campaign_id, 4)
    calls = await db.fetch(
        "SELECT id, phone_number FROM calls WHERE campaign_id = $1 ORDER BY seq",
        UUID(campaign_id),
    )
    now = datetime.now(UTC)
    # 24 ended attempts of 40 s: 18 answered, 6 unanswered (retried); 2 not placed, ignored.
    rows = []
    for index, call in enumerate(calls[:26]):
        outcome = "COMPLETED" if index < 18 else "NO_ANSWER" if index < 24 else "NOT_PLACED"
        started = now - timedelta(minutes=30) + timedelta(seconds=index)
        rows.append(
            (call["id"], UUID(campaign_id), call["phone_number"], uuid4(), started, outcome)
        )
    await db.executemany(
        "INSERT INTO call_attempts (call_id, attempt_no, campaign_id, phone_number, job_id,"
        " worker_id, started_at, expected_callback_by, ended_at, outcome)"
        " VALUES ($1, 1, $2, $3, $4, 'test', $5, $5::timestamptz + interval '1 hour',"
        " $5::timestamptz + interval '40 seconds', $6)",
        rows,
    )
    await db.execute(
        "UPDATE calls SET status = 'COMPLETED', dial_count = 1, attempt_count = 1"
        " WHERE id = ANY($1::uuid[])",
        [c["id"] for c in calls[:18]],
    )
    answer = await forecast(client, campaign_id)
    assumptions = answer["assumptions"]
    assert assumptions["attemptsObserved"] == 24
    assert assumptions["meanAttemptSeconds"] == pytest.approx(40.0)
    assert assumptions["meanAttemptSecondsSource"] == "OBSERVED"
    assert assumptions["retryRate"] == pytest.approx(0.25)
    assert assumptions["retryRateSource"] == "OBSERVED"
    assert assumptions["lines"] == 4 and assumptions["linesSource"] == "SHARE"
    assert answer["remainingNumbers"] == 12
    [zone] = answer["zones"]
    assert zone["openNow"] is True
    finish = instant(answer["expectedFinishAt"])
    assert finish is not None and now < finish < closes


async def test_a_finished_campaign_answers_with_its_finish_and_no_work(client: Client) -> None:
    opened, closes = (local_minute(d) for d in OPEN_NOW)
    campaign_id = await campaign(client, window(opened, closes), fresh_numbers(2))
    assert (await client.post(f"/api/v1/campaigns/{campaign_id}/cancel")).status == 200
    shown = await (await client.get(f"/api/v1/campaigns/{campaign_id}")).json()
    answer = await forecast(client, campaign_id)
    assert answer["status"] == "CANCELLED"
    assert answer["expectedFinishAt"] is not None
    assert instant(answer["expectedFinishAt"]) == instant(shown["finishedAt"])
    assert (answer["remainingNumbers"], answer["expectedAttempts"], answer["zones"]) == (0, 0, [])
    assert answer["caveats"] == ["The campaign is CANCELLED: nothing more will be dialled."]


async def test_a_paused_campaign_has_no_finish_but_says_why(client: Client) -> None:
    opened, closes = (local_minute(d) for d in OPEN_NOW)
    campaign_id = await campaign(client, window(opened, closes), fresh_numbers(2))
    assert (await client.post(f"/api/v1/campaigns/{campaign_id}/pause")).status == 200
    answer = await forecast(client, campaign_id)
    assert answer["expectedFinishAt"] is None
    assert answer["expectedFinishIfRunningNowAt"] is not None
    assert "PAUSED" in answer["caveats"][0]


@pytest.mark.parametrize(
    "path", [f"/api/v1/campaigns/{uuid4()}/forecast", "/api/v1/campaigns/nope/forecast"]
)
async def test_unknown_campaigns_are_404_problems(client: Client, path: str) -> None:
    response = await client.get(path)
    assert response.status == 404
    assert response.content_type == "application/problem+json"
