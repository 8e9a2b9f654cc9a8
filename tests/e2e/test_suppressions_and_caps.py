"""Do-not-call lists and frequency caps against real processes, counted at the mock carrier:
suppressions racing a running campaign, and two campaigns racing for the same capped numbers
on two worker processes."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from tests.e2e.helpers import finished, placed_per_number
from tests.support.api_client import ApiClient, MockClient
from tests.support.numbers import fresh_numbers
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]

CAMPAIGN_NUMBERS = 2000
BATCHES = 4
BATCH_NUMBERS = 100


async def test_no_attempt_started_after_a_suppression_answered_dials_its_number(
    api: ApiClient, mock: MockClient, stack_db: asyncpg.Pool
) -> None:
    numbers = fresh_numbers(CAMPAIGN_NUMBERS)
    await mock.configure(delayMinMs=40, delayMaxMs=120)
    campaign = await api.create_campaign(
        name="suppressed while running", phoneNumbers=numbers, concurrencyLimit=20
    )
    await api.action(campaign["id"], "start")
    # Batches from every part of the list, the later ones mostly not dialled yet.
    batches = [numbers[i :: BATCHES * 5][:BATCH_NUMBERS] for i in range(BATCHES)]
    answered: dict[str, datetime] = {}
    for index, batch in enumerate(batches):
        # Spread over the run: each batch once another 300 numbers have been dialled.
        async def dialled_on(at_least: int = 300 * (index + 1)) -> bool:
            return (await api.campaign(campaign["id"]))["metrics"]["completedCalls"] >= at_least

        await wait_until(dialled_on, timeout=60, message="the campaign to dial on")
        response = await api.request(
            "POST", "/api/v1/suppressions", json={"phoneNumbers": batch, "reason": "race"}
        )
        assert response.status == 200, response.body
        at = datetime.now(UTC)
        answered.update(dict.fromkeys(batch, at))

    done = await finished(api, campaign["id"], timeout=180)
    attempts = await stack_db.fetch(
        "SELECT phone_number, started_at FROM call_attempts WHERE campaign_id = $1"
        " AND phone_number = ANY($2::text[])",
        campaign["id"],
        list(answered),
    )
    late = [
        (r["phone_number"], r["started_at"])
        for r in attempts
        if r["started_at"] > answered[r["phone_number"]]
    ]
    assert late == [], late
    # Every dial the carrier saw of a suppressed number belongs to one of those attempts.
    placed = placed_per_number(await mock.calls(campaignId=campaign["id"]))
    started = Counter(r["phone_number"] for r in attempts)
    assert all(placed.get(n, 0) <= started[n] for n in answered)
    calls = {c["phoneNumber"]: c for c in await api.calls(campaign["id"])}
    for number in answered:
        call = calls[number]
        if started[number] == 0:
            assert (call["status"], call["failureReason"]) == ("CANCELLED", "SUPPRESSED"), call
        else:
            assert call["status"] in ("COMPLETED", "CANCELLED"), call
    suppressed = sum(
        1
        for c in calls.values()
        if (c["status"], c["failureReason"]) == ("CANCELLED", "SUPPRESSED")
    )
    assert suppressed > 0
    assert done["metrics"]["suppressedCalls"] == suppressed
    assert done["metrics"]["completedCalls"] == CAMPAIGN_NUMBERS - suppressed


async def test_two_campaigns_with_the_same_numbers_dial_each_once_under_a_cap(
    api: ApiClient, mock: MockClient
) -> None:
    numbers = fresh_numbers(300)
    await mock.configure(delayMinMs=20, delayMaxMs=80)
    caps = {"frequencyCaps": [{"maxAttempts": 1, "periodHours": 24}]}
    campaigns = [
        await api.create_campaign(
            name=f"capped {i}", phoneNumbers=numbers, concurrencyLimit=30, contactPolicy=caps
        )
        for i in range(2)
    ]
    for campaign in campaigns:
        await api.action(campaign["id"], "start")

    async def every_number_dialled() -> list[dict[str, Any]] | None:
        shown = [await api.campaign(c["id"]) for c in campaigns]
        done = sum(c["metrics"]["completedCalls"] for c in shown)
        return shown if done >= len(numbers) else None

    shown = await wait_until(every_number_dialled, timeout=120, message="each number dialled")
    # Whatever is left waits for the cap: nothing more is dialled.
    for campaign in campaigns:

        async def settled(campaign_id: str = campaign["id"]) -> dict[str, Any] | None:
            counted = (await api.request("GET", f"/api/v1/campaigns/{campaign_id}/inventory")).body
            waiting = counted["waiting"]
            return (
                counted
                if set(waiting) <= {"FREQUENCY_CAP"} and counted["dialableNow"] == 0
                else None
            )

        await wait_until(settled, timeout=30, message="the rest to wait for the cap")
    dials: Counter[str] = Counter()
    for campaign in campaigns:
        dials.update(placed_per_number(await mock.calls(campaignId=campaign["id"])))
    assert set(dials) == set(numbers) and set(dials.values()) == {1}
    shown = [await api.campaign(c["id"]) for c in campaigns]
    assert sum(c["metrics"]["completedCalls"] for c in shown) == len(numbers)
    # A waiting number says why, and until when.
    waiting = [c for c in await api.calls(campaigns[0]["id"]) if c["status"] == "PENDING"]
    if waiting:
        answer = (await api.request("GET", f"/api/v1/calls/{waiting[0]['id']}/eligibility")).body
        assert "FREQUENCY_CAP" in [r["code"] for r in answer["reasons"]]
        next_at = datetime.fromisoformat(answer["nextEligibleAt"])
        assert (
            datetime.now(UTC) + timedelta(hours=23)
            < next_at
            <= datetime.now(UTC) + timedelta(hours=24)
        )
    for campaign in campaigns:
        await api.action(campaign["id"], "cancel")
