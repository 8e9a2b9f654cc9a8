"""The broker ends a campaign consumer under a worker: its queue deleted, or its delivery
acknowledgement timeout (consumer_timeout) passed. The worker notices, consumes again when
the database says the campaign still runs, and leaks nothing."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from uuid import UUID

import aio_pika
import pytest
import pytest_asyncio

from shared.topology import delete_campaign_queue
from tests.faults.harness import CARRIER_TROUBLE, Workload, fault_run
from tests.support.infra import create_infra
from tests.support.own_processes import make_base_dir
from tests.support.own_rabbitmq import OwnRabbitNode, own_rabbit_node
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.faults, pytest.mark.asyncio(loop_scope="session")]

#: The broker's delivery acknowledgement timeout on the node of this test: shorter than some
#: of its calls, so that it fires again and again.
CONSUMER_TIMEOUT_MS = 3000


async def test_campaign_queues_deleted_under_their_consumers(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    async with fault_run("queue-deleted", tmp_path_factory) as run:
        await run.create_and_start()
        await run.dialled_at_least(0.1)
        connection = await aio_pika.connect(run.stack.infra.amqp_url)
        async with connection:
            channel = await connection.channel()
            for campaign in run.campaigns * 2:
                await delete_campaign_queue(channel, UUID(campaign["id"]))
                run.fault()
                await asyncio.sleep(2)  # the faults' own pace
        log_text = "".join(
            path.read_text(errors="replace") for path in run.stack.log_dir.glob("worker-*.log")
        )
        cancelled = log_text.count("the broker cancelled a campaign consumer")
        run.notes.append(f"{cancelled} consumers cancelled by the broker")
        assert cancelled >= len(run.campaigns)
        await run.verify(await run.wait_finished())


@pytest.fixture
def base() -> AsyncIterator[Path]:
    folder = make_base_dir("vcs-faults-")
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest_asyncio.fixture(loop_scope="session")
async def impatient_broker(base: Path) -> AsyncIterator[OwnRabbitNode]:
    config = [f"consumer_timeout = {CONSUMER_TIMEOUT_MS}"]
    async with own_rabbit_node("impatient", base, extra_config=config) as node:
        yield node


async def test_consumer_timeout_passed_while_calls_run(
    tmp_path_factory: pytest.TempPathFactory, impatient_broker: OwnRabbitNode
) -> None:
    node = impatient_broker
    infra = await create_infra(
        "vcs_fault_ct", amqp_url=node.amqp_url, management_url=node.management_url
    )
    # Calls of up to 5 s hold their jobs past the broker's 3 s; a lease ends after 1 s.
    workload = Workload(callback_timeout_ms=12_000)
    async with fault_run(
        "consumer-timeout",
        tmp_path_factory,
        infra=infra,
        management_url=node.management_url,
        workload=workload,
        settings={"VCS_LINE_LEASE_MS": "1000"},
    ) as run:
        await run.mock.configure(**{**CARRIER_TROUBLE, "delayMinMs": 50, "delayMaxMs": 5000})
        await run.create_and_start()

        def closed_by_broker() -> int:
            return sum(
                path.read_text(errors="replace").count("the broker closed a campaign channel")
                for path in run.stack.log_dir.glob("worker-*.log")
            )

        async def some_closed() -> bool:
            return closed_by_broker() >= 3

        await wait_until(some_closed, timeout=120, interval=1, message="consumer timeouts")
        run.fault()
        await run.mock.configure(**CARRIER_TROUBLE)
        run.fault()
        run.notes.append(f"{closed_by_broker()} channels closed by the broker's consumer_timeout")
        await run.verify(await run.wait_finished())
