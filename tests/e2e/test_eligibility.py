"""Eligibility and inventory with the real processes: what they say is what the dialler does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.e2e.helpers import finished
from tests.support.api_client import ApiClient, MockClient
from tests.support.numbers import fresh_numbers
from tests.support.waiting import holds_for

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]

#: No daylight saving time: "in two hours" is exact.
ZONE = "Asia/Kolkata"


async def test_a_window_that_opens_later_holds_every_number_and_says_when(
    api: ApiClient, mock: MockClient
) -> None:
    opens = (datetime.now(UTC) + timedelta(hours=2)).astimezone(ZoneInfo(ZONE))
    opens = opens.replace(second=0, microsecond=0)
    campaign = await api.create_campaign(
        name="opens later",
        phoneNumbers=fresh_numbers(5),
        businessHours={
            "startTime": f"{opens:%H:%M}",
            "endTime": f"{opens + timedelta(hours=3):%H:%M}",
            "timezone": ZONE,
        },
    )
    await api.action(campaign["id"], "start")

    async def nothing_dialled() -> bool:
        return not await mock.calls(campaignId=campaign["id"])

    await holds_for(nothing_dialled, duration=2.0)
    inventory = await api.request("GET", f"/api/v1/campaigns/{campaign['id']}/inventory")
    assert inventory.status == 200, inventory.body
    assert inventory.body["dialableNow"] == 0
    assert inventory.body["waiting"] == {"OUTSIDE_CAMPAIGN_WINDOW": 5}
    assert datetime.fromisoformat(inventory.body["nextOpeningAt"]) == opens
    [call, *_] = await api.calls(campaign["id"])
    answer = await api.request("GET", f"/api/v1/calls/{call['id']}/eligibility")
    assert [r["code"] for r in answer.body["reasons"]] == ["OUTSIDE_CAMPAIGN_WINDOW"]
    assert datetime.fromisoformat(answer.body["nextEligibleAt"]) == opens
    await api.action(campaign["id"], "cancel")


async def test_a_finished_campaign_is_all_final(api: ApiClient) -> None:
    campaign = await api.create_campaign(name="done", phoneNumbers=fresh_numbers(6))
    await api.action(campaign["id"], "start")
    await finished(api, campaign["id"])
    inventory = await api.request("GET", f"/api/v1/campaigns/{campaign['id']}/inventory")
    assert inventory.body == {
        "dialableNow": 0,
        "waiting": {},
        "final": {"CANCELLED": 0, "COMPLETED": 6, "PERMANENTLY_FAILED": 0},
        "nextOpeningAt": None,
    }
    [call, *_] = await api.calls(campaign["id"])
    answer = await api.request("GET", f"/api/v1/calls/{call['id']}/eligibility")
    assert answer.body["eligible"] is False
    assert [r["code"] for r in answer.body["reasons"]] == ["CAMPAIGN_NOT_RUNNING", "FINAL"]
    assert answer.body["nextEligibleAt"] is None
