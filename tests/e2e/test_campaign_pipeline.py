"""A whole campaign through api, dispatcher, two workers and the mock carrier."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import aio_pika
import asyncpg
import pytest

from shared.repositories.campaigns import QUEUE_REMOVAL_GRACE_S
from shared.topology import campaign_queue
from tests.e2e.helpers import (
    FINAL_CALL_STATUSES,
    assert_never_two_live_calls_per_number,
    finished,
    placed_per_number,
)
from tests.support.api_client import ApiClient, MockClient
from tests.support.numbers import fresh_numbers
from tests.support.stack import Stack
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]


async def test_campaign_of_500_finishes_within_its_limits(
    api: ApiClient, mock: MockClient, stack_db: asyncpg.Pool, stack: Stack
) -> None:
    await mock.configure(failureRate=0.05, noCallbackRate=0.01, syncErrorRate=0.005)
    numbers = fresh_numbers(500)
    campaign = await api.create_campaign(
        name="five hundred",
        phoneNumbers=numbers,
        concurrencyLimit=5,
        retryConfig={
            "maxRetries": 3,
            "callbackRetryDelayMs": 100,
            "callbackTimeoutMs": 2000,
            "syncInitialBackoffMs": 50,
        },
    )
    await api.action(campaign["id"], "start")

    done = await finished(api, campaign["id"], timeout=120)

    assert done["status"] == "COMPLETED"
    calls = await api.calls(campaign["id"])
    assert len(calls) == 500
    assert {c["status"] for c in calls} <= FINAL_CALL_STATUSES
    assert done["metrics"]["completedCalls"] + done["metrics"]["permanentlyFailedCalls"] == 500
    stats = await mock.stats()
    assert stats["campaigns"][campaign["id"]]["maxLive"] <= 5
    dials = await mock.calls(campaignId=campaign["id"])
    placed = placed_per_number(dials)
    assert set(placed) == set(numbers)
    assert max(placed.values()) <= 3 + 1
    assert_never_two_live_calls_per_number(dials)
    in_flight = await stack_db.fetchval(
        "SELECT in_flight FROM campaigns WHERE id = $1", UUID(campaign["id"])
    )
    assert in_flight == 0
    # A finished campaign's queue goes away, QUEUE_REMOVAL_GRACE_S after its end.
    await wait_until(
        lambda: _queue_gone(stack, campaign["id"]),
        timeout=QUEUE_REMOVAL_GRACE_S + 10,
        message="the queue removed",
    )


async def _queue_gone(stack: Stack, campaign_id: str) -> bool:
    connection = await aio_pika.connect(stack.infra.amqp_url)
    async with connection:
        try:
            await (await connection.channel()).get_queue(campaign_queue(UUID(campaign_id)))
        except aio_pika.exceptions.ChannelNotFoundEntity:
            return True
    return False


async def test_single_call_is_dialled_within_a_second(api: ApiClient, mock: MockClient) -> None:
    [number] = fresh_numbers(1)
    response = await api.request("POST", "/api/v1/calls", json={"phoneNumber": number})
    assert response.status == 201, response.body
    call = response.body
    assert call["campaignId"] is None
    assert call["status"] == "PENDING"

    async def completed() -> dict[str, Any] | None:
        current = await api.call(call["id"])
        return current if current["status"] == "COMPLETED" else None

    done = await wait_until(completed, timeout=10, message="single call to complete")
    [dial] = await mock.calls(phoneNumber=number)
    waited = datetime.fromisoformat(dial["receivedAt"]) - datetime.fromisoformat(call["createdAt"])
    assert waited.total_seconds() < 1.0
    assert [a["outcome"] for a in done["attempts"]] == ["COMPLETED"]
    assert done["externalCallId"] == dial["externalCallId"]
    assert done["callDurationSeconds"] is not None


async def test_every_service_stops_cleanly_on_sigterm(stack: Stack) -> None:
    for module in ("worker", "dispatcher", "api", "telephony_mock"):
        await stack.start(module, f"{module}-to-stop")
        assert await stack.stop(f"{module}-to-stop") == 0, module
