"""The live event stream with the four services as processes: a client follows a campaign,
leaves mid-campaign, comes back with Last-Event-ID and has missed nothing (docs/webhooks.md)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import asyncpg
import pytest
import pytest_asyncio

from tests.e2e.helpers import finished
from tests.e2e.test_webhooks import check_call_events
from tests.support.api_client import TEST_API_KEY, ApiClient, MockClient
from tests.support.numbers import fresh_numbers
from tests.support.sse import Sent, collect_until
from tests.support.stack import Stack

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]

AUTH = {"Authorization": f"Bearer {TEST_API_KEY}"}


@pytest_asyncio.fixture(loop_scope="session")
async def no_stream_left(stack_db: asyncpg.Pool) -> AsyncIterator[None]:
    """A stream keeps events written for the retention period; the tests that follow this
    one on the shared stack measure dialling without them."""
    yield
    await stack_db.execute("DELETE FROM event_stream_interest")


def _completed(got: list[Sent]) -> bool:
    return any(e.type == "campaign.completed" for e in got)


async def test_a_client_that_leaves_and_comes_back_misses_nothing(
    stack: Stack,
    api: ApiClient,
    mock: MockClient,
    http: aiohttp.ClientSession,
    no_stream_left: None,
) -> None:
    await mock.configure(failureRate=0.2, syncErrorRate=0.0)
    campaign = await api.create_campaign(
        name="event stream",
        phoneNumbers=fresh_numbers(60),
        concurrencyLimit=10,
        retryConfig={"maxRetries": 1, "callbackRetryDelayMs": 100, "callbackTimeoutMs": 2000},
    )
    url = f"{stack.url('api')}/api/v1/events?campaignId={campaign['id']}"
    async with http.get(url, headers=AUTH) as stream:
        assert stream.status == 200
        await api.action(campaign["id"], "start")
        before = await collect_until(stream, lambda got: len(got) >= 40, timeout=60)
    assert not _completed(before), "the campaign ended before the client left"
    done = await finished(api, campaign["id"], timeout=120)  # while the client is away
    async with http.get(url, headers={**AUTH, "Last-Event-ID": before[-1].id}) as again:
        assert again.status == 200
        after = await collect_until(again, _completed, timeout=60)

    ids = [e.id for e in before + after]
    assert len(ids) == len(set(ids)), "an event was sent twice"
    assert all(e.id == e.body["id"] and e.type == e.body["type"] for e in before + after)
    events: list[dict[str, Any]] = [e.body for e in before + after]
    calls = await api.calls(campaign["id"], size=100)
    check_call_events(events, calls)
    told = [e["type"] for e in events if e["type"].startswith("campaign.")]
    assert told == ["campaign.started", "campaign.completed"]
    assert events[-1]["data"]["status"] == done["status"]
