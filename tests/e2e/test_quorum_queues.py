"""VCS_QUEUE_TYPE=quorum on one node (the machine's broker, a vhost of the test's own): every
durable queue that carries work or results is a quorum queue, a worker's exclusive queues stay
classic, and a campaign with failures and retries finishes within its cap, as with classic
queues. A queue of the other type left from before is explained (fixed queues) or replaced
(a campaign's job queue, which holds only credit). The cluster itself: tests/cluster."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote
from uuid import UUID, uuid4

import aio_pika
import aiohttp
import pytest
import pytest_asyncio

from shared.broker_connection import connect
from shared.repositories.campaigns import QUEUE_REMOVAL_GRACE_S
from shared.topology import (
    CALL_RESULTS_QUEUE,
    DEAD_LETTER_QUEUE,
    DIAL_REQUESTS_QUEUE,
    DISPATCHER_EVENTS_QUEUE,
    QUORUM_DELIVERY_LIMIT,
    QueueTypeMismatch,
    campaign_queue,
    declare_campaign_queue,
    declare_topology,
)
from tests.conftest import E2E_SETTINGS
from tests.e2e.helpers import (
    FINAL_CALL_STATUSES,
    assert_never_two_live_calls_per_number,
    finished,
    placed_per_number,
)
from tests.support.api_client import ApiClient, MockClient
from tests.support.infra import create_infra, destroy_infra
from tests.support.numbers import fresh_numbers
from tests.support.stack import Stack, full_stack
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]

FIXED_WORK_QUEUES = {
    DEAD_LETTER_QUEUE,
    DISPATCHER_EVENTS_QUEUE,
    DIAL_REQUESTS_QUEUE,
    CALL_RESULTS_QUEUE,
}


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def quorum_stack(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> AsyncIterator[Stack]:
    async with full_stack(
        tmp_path_factory, request, "vcs_quorum", E2E_SETTINGS, queue_type="quorum"
    ) as running:
        yield running


@pytest.fixture
def api(quorum_stack: Stack, http: aiohttp.ClientSession) -> ApiClient:
    return ApiClient(http, quorum_stack.url("api"))


@pytest_asyncio.fixture(loop_scope="session")
async def mock(quorum_stack: Stack, http: aiohttp.ClientSession) -> MockClient:
    client = MockClient(http, quorum_stack.url("telephony_mock"))
    await client.configure()
    return client


async def queues(http: aiohttp.ClientSession, stack: Stack) -> dict[str, dict[str, Any]]:
    """The vhost's queues by name, as the management API shows them (type, arguments)."""
    vhost = quote(stack.infra.vhost, safe="")
    headers = {"Authorization": aiohttp.encode_basic_auth("guest", "guest")}
    url = f"{stack.infra.management_url}/api/queues/{vhost}?columns=name,type,arguments"
    async with http.get(url, headers=headers) as response:
        response.raise_for_status()
        return {q["name"]: q for q in await response.json()}


async def test_a_campaign_runs_on_quorum_queues_within_its_cap(
    api: ApiClient, mock: MockClient, quorum_stack: Stack, http: aiohttp.ClientSession
) -> None:
    await mock.configure(
        failureRate=0.05, noCallbackRate=0.01, syncErrorRate=0.005, delayMinMs=50, delayMaxMs=150
    )
    numbers = fresh_numbers(200)
    campaign = await api.create_campaign(
        name="on quorum queues",
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
    job_queue = campaign_queue(UUID(campaign["id"]))

    async def job_queue_declared() -> dict[str, dict[str, Any]] | None:
        found = await queues(http, quorum_stack)
        return found if job_queue in found else None

    seen = await wait_until(job_queue_declared, timeout=30, message="the job queue declared")
    for name in FIXED_WORK_QUEUES | {job_queue}:
        assert seen[name]["type"] == "quorum", (name, seen[name])
    job_arguments = seen[job_queue]["arguments"]
    assert job_arguments["x-single-active-consumer"] is True
    assert job_arguments["x-dead-letter-strategy"] == "at-least-once"
    assert job_arguments["x-delivery-limit"] == QUORUM_DELIVERY_LIMIT
    results = [n for n in seen if n.startswith("vcs.worker.") and n.endswith(".results")]
    assert len(results) == 2 and all(seen[n]["type"] == "quorum" for n in results)
    own = [n for n in seen if n.startswith("vcs.worker.") and not n.endswith(".results")]
    assert own and all(seen[n]["type"] == "classic" for n in own), "exclusive queues stay"

    done = await finished(api, campaign["id"], timeout=180)

    assert done["status"] == "COMPLETED"
    calls = await api.calls(campaign["id"])
    assert len(calls) == 200 and {c["status"] for c in calls} <= FINAL_CALL_STATUSES
    stats = await mock.stats()
    assert stats["campaigns"][campaign["id"]]["maxLive"] <= 5
    dials = await mock.calls(campaignId=campaign["id"])
    assert set(placed_per_number(dials)) == set(numbers)
    assert max(placed_per_number(dials).values()) <= 3 + 1
    assert_never_two_live_calls_per_number(dials)

    async def job_queue_gone() -> bool:
        return job_queue not in await queues(http, quorum_stack)

    await wait_until(
        job_queue_gone,
        timeout=QUEUE_REMOVAL_GRACE_S + 15,
        message="the finished campaign's queue removed",
    )


async def test_fixed_queues_of_the_other_type_are_explained() -> None:
    infra = await create_infra("vcs_qtype", queue_type="classic")
    try:
        connection = await connect(infra.amqp_url)
        async with connection:
            with pytest.raises(QueueTypeMismatch) as refused:
                await declare_topology(await connection.channel(), "quorum")
            message = str(refused.value)
            assert "VCS_QUEUE_TYPE=quorum" in message and "docs/scaling.md" in message
            assert refused.value.queue == DEAD_LETTER_QUEUE  # the first one declared
            # Nothing was changed: the classic topology still declares as it was.
            await declare_topology(await connection.channel(), "classic")
    finally:
        await destroy_infra(infra)


async def test_a_job_queue_of_the_other_type_is_replaced(http: aiohttp.ClientSession) -> None:
    infra = await create_infra("vcs_qtype", queue_type="quorum")
    campaign_id = uuid4()
    try:
        connection = await connect(infra.amqp_url)
        async with connection:
            assert await declare_campaign_queue(connection, campaign_id, "classic") == 0
            assert await declare_campaign_queue(connection, campaign_id, "quorum") == 0
            channel = await connection.channel()
            await channel.default_exchange.publish(
                aio_pika.Message(b"a job"), routing_key=campaign_queue(campaign_id)
            )
            # Declared again the same way: kept with its job, not replaced again.
            assert await declare_campaign_queue(connection, campaign_id, "quorum") == 1
            # The connection took no harm from the refused declaration.
            assert not connection.is_closed
        vhost = quote(infra.vhost, safe="")
        headers = {"Authorization": aiohttp.encode_basic_auth("guest", "guest")}
        name = quote(campaign_queue(campaign_id), safe="")
        async with http.get(
            f"{infra.management_url}/api/queues/{vhost}/{name}", headers=headers
        ) as response:
            assert response.status == 200
            assert (await response.json())["type"] == "quorum"
    finally:
        await destroy_infra(infra)
