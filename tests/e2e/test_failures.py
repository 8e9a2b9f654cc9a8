"""Failures the pipeline survives: a killed worker, poison messages, results over HTTP."""

from __future__ import annotations

import json
import uuid
from typing import Any

import aio_pika
import aiohttp
import asyncpg
import pytest

from shared.signatures import sign
from shared.topology import CALL_RESULTS
from tests.e2e.helpers import (
    assert_never_two_live_calls_per_number,
    finished,
    metric_reaches,
    placed_per_number,
)
from tests.support.api_client import TEST_CALLBACK_SECRET, ApiClient, MockClient, Response
from tests.support.numbers import fresh_numbers
from tests.support.stack import Stack
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]


async def _attempts_held(http: aiohttp.ClientSession, stack: Stack, name: str) -> int:
    async with http.get(f"{stack.url(name)}/health") as response:
        body = await response.json()
        return int(body["components"]["broker"]["attemptsHeld"])


async def test_sigkill_of_the_busy_worker_loses_nothing_and_dials_nothing_twice(
    api: ApiClient, mock: MockClient, stack: Stack, http: aiohttp.ClientSession
) -> None:
    await mock.configure(delayMinMs=100, delayMaxMs=300)
    numbers = fresh_numbers(300)
    campaign = await api.create_campaign(
        name="sigkill",
        phoneNumbers=numbers,
        concurrencyLimit=5,
        # A kill between committing an attempt and sending its dial request leaves an attempt
        # nobody will ever report on: only the callback timeout ends it, and at the default
        # two minutes the campaign would outlast the wait below. Longer than the time a dead
        # worker's results take to be rerouted (WORKER_RESULTS_TTL_MS), so no result that
        # does come is overtaken by a retry.
        retryConfig={"callbackTimeoutMs": 15_000, "callbackRetryDelayMs": 1_000},
    )
    await api.action(campaign["id"], "start")
    await metric_reaches(api, campaign["id"], "completedCalls", 50)

    workers = [name for name in stack.services if name.startswith("worker")]
    held = {name: await _attempts_held(http, stack, name) for name in workers}
    busy = max(held, key=lambda name: held[name])
    assert held[busy] > 0, held
    stack.kill(busy)
    await stack.start("worker", f"{busy}-replacement")

    done = await finished(api, campaign["id"], timeout=120)

    assert done["status"] == "COMPLETED"
    assert done["metrics"]["completedCalls"] == 300
    dials = await mock.calls(campaignId=campaign["id"])
    placed = placed_per_number(dials)
    assert set(placed) == set(numbers)
    assert set(placed.values()) == {1}, "a number was dialled twice"
    assert_never_two_live_calls_per_number(dials)
    assert (await mock.stats())["campaigns"][campaign["id"]]["maxLive"] <= 5


async def test_unreadable_result_is_dead_lettered_and_kept(
    stack: Stack, stack_db: asyncpg.Pool
) -> None:
    before = await stack_db.fetchval("SELECT count(*) FROM dead_letters")
    connection = await aio_pika.connect(stack.infra.amqp_url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.get_exchange(CALL_RESULTS)
        await exchange.publish(aio_pika.Message(b"not json at all", type="Garbage"), "")

    async def kept() -> bool:
        return bool(await stack_db.fetchval("SELECT count(*) FROM dead_letters") > before)

    await wait_until(kept, timeout=10, message="the dead letter to be kept")
    row = await stack_db.fetchrow("SELECT * FROM dead_letters ORDER BY id DESC LIMIT 1")
    assert row["queue"] == "vcs.call-results"
    assert row["body"] == "not json at all"


async def test_http_callback_records_a_result_once(api: ApiClient, mock: MockClient) -> None:
    [number] = fresh_numbers(1)
    await mock.configure(scenarios={number: ["no_callback"]})
    created = await api.request("POST", "/api/v1/calls", json={"phoneNumber": number})
    call_id = created.body["id"]

    async def placed() -> str | None:
        call = await api.call(call_id)
        return call["externalCallId"] if call["status"] == "IN_PROGRESS" else None

    external_id = await wait_until(placed, timeout=10, message="the call to be placed")
    body = {"externalCallId": external_id, "status": "completed", "durationSeconds": 42}
    first = await signed(api, body)
    assert first.status == 200, first.body
    assert first.body == {
        "externalCallId": external_id,
        "applied": True,
        "callId": call_id,
        "callStatus": "COMPLETED",
    }
    again = await signed(api, body)
    assert again.status == 200
    assert again.body["applied"] is False
    late_failure = {**body, "status": "FAILED"}
    assert (await signed(api, late_failure)).body["applied"] is False
    call = await api.call(call_id)
    assert call["status"] == "COMPLETED"
    assert call["callDurationSeconds"] == 42
    unknown = await signed(api, {**body, "externalCallId": "nope"})
    assert unknown.status == 404


async def signed(api: ApiClient, body: dict[str, Any]) -> Response:
    raw = json.dumps(body).encode()
    headers = {"X-Signature": sign(TEST_CALLBACK_SECRET, raw), "Content-Type": "application/json"}
    return await api.request("POST", "/api/v1/calls/callback", data=raw, headers=headers)


async def test_a_campaign_can_complete_through_signed_http_callbacks(
    api: ApiClient, mock: MockClient, stack: Stack
) -> None:
    await mock.configure(
        delayMinMs=100, delayMaxMs=200, callbackUrl=f"{stack.url('api')}/api/v1/calls/callback"
    )
    campaign = await api.create_campaign(name="http callbacks", phoneNumbers=fresh_numbers(10))
    await api.action(campaign["id"], "start")
    done = await finished(api, campaign["id"], timeout=30)
    assert done["status"] == "COMPLETED" and done["metrics"]["completedCalls"] == 10
    calls = await api.calls(campaign["id"])
    assert all(c["externalCallId"].startswith("mock-") for c in calls)


async def test_sigkill_of_the_carrier_loses_no_number(
    api: ApiClient, stack: Stack, stack_db: asyncpg.Pool, http: aiohttp.ClientSession
) -> None:
    # The carrier takes dial requests without acknowledgements: those it held, and the calls
    # live in it, die with it, and only the callback timeout ends their attempts.
    slow = {"delayMinMs": 300, "delayMaxMs": 600}
    await MockClient(http, stack.url("telephony_mock")).configure(**slow)
    numbers = fresh_numbers(120)
    campaign = await api.create_campaign(
        name="carrier sigkill",
        phoneNumbers=numbers,
        concurrencyLimit=10,
        retryConfig={"maxRetries": 3, "callbackTimeoutMs": 3_000, "callbackRetryDelayMs": 500},
    )
    await api.action(campaign["id"], "start")
    await metric_reaches(api, campaign["id"], "completedCalls", 20)

    stack.kill("telephony_mock")
    await stack.start("telephony_mock")
    await MockClient(http, stack.url("telephony_mock")).configure(**slow)

    done = await finished(api, campaign["id"], timeout=120)
    assert done["status"] == "COMPLETED"
    assert done["metrics"]["completedCalls"] == len(numbers)
    campaign_id = campaign["id"]
    timed_out = await stack_db.fetchval(
        "SELECT count(*) FROM call_attempts WHERE campaign_id = $1 AND timed_out_at IS NOT NULL",
        campaign_id,
    )
    assert timed_out > 0, "the kill should have caught calls in progress"
    most_dials = await stack_db.fetchval(
        "SELECT max(dial_count) FROM calls WHERE campaign_id = $1", campaign_id
    )
    assert most_dials <= 3 + 1


async def test_a_second_worker_with_the_same_id_waits_says_why_and_takes_over(
    stack: Stack, http: aiohttp.ClientSession
) -> None:
    """Two workers given one VCS_WORKER_ID (or one host name and pid, as on a host's network)
    would share exclusive queues: the second waits unhealthy, says why, and takes over."""
    twin = f"twin-{uuid.uuid4().hex[:8]}"
    await stack.start("worker", "twin-a", VCS_WORKER_ID=twin)
    second = await stack.start("worker", "twin-b", healthy=False, VCS_WORKER_ID=twin)
    try:
        explained = f"another worker is running with id {twin!r}"

        async def says_why() -> bool:
            return explained in second.log_path.read_text(errors="replace")

        await wait_until(says_why, timeout=20, message="the second worker to say why")
        assert "Traceback" not in second.log_tail(200)
        async with http.get(f"{second.base_url}/health") as response:
            assert response.status != 200

        await stack.stop("twin-a")

        async def second_healthy() -> bool:
            try:
                async with http.get(f"{second.base_url}/health") as response:
                    return response.status == 200
            except aiohttp.ClientError:
                return False

        await wait_until(second_healthy, timeout=20, message="the second worker to take over")
    finally:
        for name in ("twin-a", "twin-b"):
            if name in stack.services:
                await stack.stop(name)
