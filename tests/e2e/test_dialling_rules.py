"""Business hours, retries first, backoff and the callback timeout, each shown end to end."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from uuid import UUID

import aio_pika
import pytest

from shared.messages import LeaseLine
from shared.topology import CALL_JOBS, campaign_routing_key
from tests.e2e.helpers import finished
from tests.support.api_client import ApiClient, MockClient
from tests.support.numbers import fresh_numbers
from tests.support.stack import Stack
from tests.support.waiting import holds_for, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]

DAYS = ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY"]


async def test_closed_campaign_waits_while_open_one_proceeds(
    api: ApiClient, mock: MockClient, stack: Stack
) -> None:
    today = datetime.now(UTC).isoweekday()
    closed = await api.create_campaign(
        name="closed today",
        phoneNumbers=fresh_numbers(20),
        businessHours={
            "startTime": "00:00",
            "endTime": "24:00",
            "timezone": "UTC",
            "allowedDays": [d for i, d in enumerate(DAYS, 1) if i != today],
        },
    )
    open_now = await api.create_campaign(name="open", phoneNumbers=fresh_numbers(30))
    await api.action(closed["id"], "start")
    await api.action(open_now["id"], "start")

    await finished(api, open_now["id"])
    # Jobs pushed straight into the closed campaign's queue, as a dispatcher with a wrong
    # clock would: the worker checks the window itself at dial time.
    connection = await aio_pika.connect(stack.infra.amqp_url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.get_exchange(CALL_JOBS)
        for _ in range(5):
            job = LeaseLine(campaign_id=UUID(closed["id"]))
            await exchange.publish(
                aio_pika.Message(job.to_json(), message_id=str(job.message_id), type=job.type),
                campaign_routing_key(job.campaign_id),
            )

    async def nothing_dialled() -> bool:
        return not await mock.calls(campaignId=closed["id"])

    await holds_for(nothing_dialled, duration=2.0)
    campaign = await api.campaign(closed["id"])
    assert campaign["status"] == "IN_PROGRESS"
    assert campaign["metrics"]["pendingCalls"] == 20


async def test_due_retries_are_dialled_before_new_numbers(api: ApiClient, mock: MockClient) -> None:
    numbers = fresh_numbers(8)
    failing = numbers[:3]
    await mock.configure(scenarios={n: ["busy", "completed"] for n in failing})
    campaign = await api.create_campaign(
        name="retries first",
        phoneNumbers=numbers,
        concurrencyLimit=1,
        retryConfig={"maxRetries": 2, "callbackRetryDelayMs": 0},
    )
    await api.action(campaign["id"], "start")
    await finished(api, campaign["id"])

    order = [d["phoneNumber"] for d in await mock.calls(campaignId=campaign["id"]) if d["placed"]]
    # Each failed number's retry comes straight after its failure, before the next new number.
    expected = [n for f in failing for n in (f, f)] + numbers[3:]
    assert order == expected


async def test_provider_errors_back_off_exponentially(api: ApiClient, mock: MockClient) -> None:
    [number] = fresh_numbers(1)
    await mock.configure(scenarios={number: ["sync_error"] * 3 + ["completed"]})
    campaign = await api.create_campaign(
        name="backoff",
        phoneNumbers=[number],
        retryConfig={"syncInitialBackoffMs": 200, "syncBackoffMultiplier": 2.0},
    )
    await api.action(campaign["id"], "start")
    await finished(api, campaign["id"])

    requests = await mock.calls(phoneNumber=number)
    times = [datetime.fromisoformat(r["receivedAt"]) for r in requests]
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(times)]
    assert len(gaps) == 3
    for gap, expected in zip(gaps, (0.2, 0.4, 0.8), strict=True):
        assert gap >= expected * 0.95, gaps
    assert gaps[1] > gaps[0] * 1.5 and gaps[2] > gaps[1] * 1.5, gaps
    [call] = await api.calls(campaign["id"])
    # Errors the provider answered with were retried within one attempt: no retry spent.
    assert call["status"] == "COMPLETED"
    assert call["retryCount"] == 0


async def test_a_call_without_result_times_out_and_is_retried(
    api: ApiClient, mock: MockClient
) -> None:
    [number] = fresh_numbers(1)
    await mock.configure(scenarios={number: ["no_callback", "completed"]})
    campaign = await api.create_campaign(
        name="lost callback",
        phoneNumbers=[number],
        retryConfig={"maxRetries": 1, "callbackTimeoutMs": 1000, "callbackRetryDelayMs": 0},
    )
    await api.action(campaign["id"], "start")
    await finished(api, campaign["id"], timeout=30)

    [call] = await api.calls(campaign["id"])
    assert call["status"] == "COMPLETED"
    assert call["retryCount"] == 1
    assert [a["outcome"] for a in call["attempts"]] == ["TIMED_OUT", "COMPLETED"]

    async def two_dials() -> bool:
        return len([d for d in await mock.calls(phoneNumber=number) if d["placed"]]) == 2

    await wait_until(two_dials, timeout=5, message="two placed dials")
