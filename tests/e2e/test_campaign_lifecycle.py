"""Pause, resume and cancel a running campaign."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.e2e.helpers import FINAL_CALL_STATUSES, finished, metric_reaches
from tests.support.api_client import ApiClient, MockClient
from tests.support.numbers import fresh_numbers
from tests.support.waiting import holds_for, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]


async def test_pause_resume_and_cancel_mid_campaign(api: ApiClient, mock: MockClient) -> None:
    await mock.configure(delayMinMs=100, delayMaxMs=200)
    campaign = await api.create_campaign(
        name="lifecycle", phoneNumbers=fresh_numbers(150), concurrencyLimit=3
    )
    campaign_id = campaign["id"]
    await api.action(campaign_id, "start")
    await metric_reaches(api, campaign_id, "completedCalls", 10)

    paused = await api.action(campaign_id, "pause")
    assert paused["status"] == "PAUSED"
    # Calls in progress finish; then nothing more is dialled.
    await wait_until(
        lambda: _in_progress_is(api, campaign_id, 0), timeout=10, message="calls to finish"
    )
    dialled = len(await mock.calls(campaignId=campaign_id))

    async def no_new_dials() -> bool:
        return len(await mock.calls(campaignId=campaign_id)) == dialled

    await holds_for(no_new_dials, duration=1.5)

    resumed = await api.action(campaign_id, "resume")
    assert resumed["status"] == "IN_PROGRESS"
    await metric_reaches(api, campaign_id, "completedCalls", dialled + 10)

    cancelled = await api.action(campaign_id, "cancel")
    assert cancelled["status"] == "CANCELLED"
    await wait_until(
        lambda: _in_progress_is(api, campaign_id, 0), timeout=10, message="calls to finish"
    )
    calls = await api.calls(campaign_id)
    assert {c["status"] for c in calls} <= FINAL_CALL_STATUSES
    assert sum(c["status"] == "CANCELLED" for c in calls) > 0
    assert (await api.campaign(campaign_id))["status"] == "CANCELLED"
    dialled = len(await mock.calls(campaignId=campaign_id))
    await holds_for(no_new_dials, duration=1.0)
    # A cancelled campaign cannot be started again.
    response = await api.request("POST", f"/api/v1/campaigns/{campaign_id}/start")
    assert response.status == 409
    assert response.body["type"] == "/problems/conflict"


async def _in_progress_is(api: ApiClient, campaign_id: str, count: int) -> bool:
    campaign = await api.campaign(campaign_id)
    return bool(campaign["metrics"]["inProgressCalls"] == count)


def max_simultaneous(dials: list[dict[str, Any]], since: datetime) -> int:
    """The most calls live at once among those placed at or after `since`."""
    events = []
    for dial in dials:
        start = datetime.fromisoformat(dial["receivedAt"])
        if dial["placed"] and start >= since and dial["endedAt"]:
            events += [(start, 1), (datetime.fromisoformat(dial["endedAt"]), -1)]
    live = peak = 0
    for _, change in sorted(events):
        live += change
        peak = max(peak, live)
    return peak


async def test_numbers_added_to_a_running_campaign_are_dialled(
    api: ApiClient, mock: MockClient
) -> None:
    campaign = await api.create_campaign(name="grows", phoneNumbers=fresh_numbers(5))
    await api.action(campaign["id"], "start")
    late = fresh_numbers(5)
    response = await api.request(
        "POST", f"/api/v1/campaigns/{campaign['id']}/import/batch", json={"phoneNumbers": late}
    )
    assert response.body["totalImported"] == 5
    done = await finished(api, campaign["id"])
    assert done["metrics"]["completedCalls"] == 10
    dialled = {d["phoneNumber"] for d in await mock.calls(campaignId=campaign["id"])}
    assert set(late) <= dialled


async def test_a_lower_concurrency_limit_holds_within_seconds(
    api: ApiClient, mock: MockClient
) -> None:
    await mock.configure(delayMinMs=300, delayMaxMs=400)
    campaign = await api.create_campaign(
        name="throttled", phoneNumbers=fresh_numbers(120), concurrencyLimit=6
    )
    await api.action(campaign["id"], "start")
    await metric_reaches(api, campaign["id"], "completedCalls", 12)
    changed = await api.request(
        "PATCH", f"/api/v1/campaigns/{campaign['id']}", json={"concurrencyLimit": 2}
    )
    assert changed.status == 200 and changed.body["concurrencyLimit"] == 2
    # Calls already ringing finish; from one call length later, at most 2 are live.
    settled = datetime.now(UTC) + timedelta(seconds=1)
    await metric_reaches(api, campaign["id"], "completedCalls", 40)
    dials = await mock.calls(campaignId=campaign["id"])
    assert max_simultaneous(dials, since=settled) <= 2
    await api.action(campaign["id"], "cancel")
