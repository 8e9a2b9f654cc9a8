"""The worker's campaign subscriptions against the real broker: what the broker ends, the worker
lets go of, channel and all."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from uuid import UUID

import aio_pika
import asyncpg
import pytest
import pytest_asyncio
from aio_pika.abc import AbstractIncomingMessage, AbstractRobustConnection

from services.worker.subscriptions import CampaignSubscriptions
from shared.db.pool import init_connection
from shared.domain.business_hours import ALWAYS_OPEN
from shared.domain.retry_policy import RetryConfig
from shared.domain.statuses import CampaignStatus
from shared.repositories import campaigns as campaign_repo
from shared.topology import declare_campaign_queue, delete_campaign_queue
from tests.support.infra import Infra, create_infra, destroy_infra
from tests.support.waiting import wait_until

pytestmark = pytest.mark.asyncio(loop_scope="session")

RETRY = RetryConfig(
    max_retries=0,
    sync_initial_backoff_ms=10,
    sync_backoff_multiplier=2.0,
    callback_retry_delay_ms=1000,
    callback_timeout_ms=60_000,
)


@pytest_asyncio.fixture(loop_scope="session")
async def own() -> AsyncIterator[Infra]:
    """A database and vhost of this test's own: the subscriptions follow every campaign."""
    infra = await create_infra("vcs_subs")
    yield infra
    await destroy_infra(infra)


async def running_campaigns(pool: asyncpg.Pool, count: int) -> list[UUID]:
    ids = []
    async with pool.acquire() as conn:
        for _ in range(count):
            campaign = await campaign_repo.insert_campaign(
                conn,
                campaign_repo.NewCampaign(
                    name="t",
                    description=None,
                    concurrency_limit=2,
                    priority=5,
                    retry=RETRY,
                    hours=ALWAYS_OPEN,
                    status=CampaignStatus.IN_PROGRESS,
                ),
            )
            ids.append(campaign.id)
    return ids


def open_channels(connection: AbstractRobustConnection | aio_pika.abc.AbstractConnection) -> int:
    """Channels the client holds open on the connection (aiormq drops closed ones)."""
    assert connection.transport is not None
    return len(connection.transport.connection.channels)


async def test_a_consumer_cancelled_by_the_broker_while_idle_gives_its_channel_back(
    own: Infra,
) -> None:
    pool = await asyncpg.create_pool(own.database_url, min_size=1, max_size=3, init=init_connection)
    assert pool is not None
    connection = await aio_pika.connect(own.amqp_url)
    admin = await connection.channel()
    subscriptions = CampaignSubscriptions(connection, pool)

    async def on_job(incoming: AbstractIncomingMessage) -> None:
        await incoming.ack()

    runner: asyncio.Task[None] | None = None
    try:
        before = open_channels(connection)
        campaigns = await running_campaigns(pool, 12)
        for campaign_id in campaigns:
            await declare_campaign_queue(admin, campaign_id)
        runner = asyncio.create_task(subscriptions.run(on_job, 0.1))

        async def all_consumed() -> bool:
            return set(subscriptions.leases_held()) == set(campaigns)

        async def a_channel_each() -> bool:
            return open_channels(connection) == before + len(campaigns)

        await wait_until(all_consumed, timeout=10, message="every campaign queue consumed")
        await wait_until(a_channel_each, timeout=10, message="one channel per campaign queue")

        # The queues go before the worker has read that the campaigns finished (as when the
        # dispatcher removes a finished campaign's queue): the broker cancels the consumers
        # while they hold no job.
        for campaign_id in campaigns:
            await delete_campaign_queue(admin, campaign_id)

        async def all_dropped() -> bool:
            return not subscriptions.leases_held()

        await wait_until(all_dropped, timeout=10, message="every subscription dropped")
        async with pool.acquire() as conn:
            await conn.execute("UPDATE campaigns SET status = 'COMPLETED'")

        async def channels_back() -> bool:
            return open_channels(connection) == before

        await wait_until(
            channels_back,
            timeout=10,
            message=f"channels back to {before} (now {open_channels(connection)})",
        )
    finally:
        # As the worker stops: close() ends run() whatever a cancellation would have met.
        await subscriptions.close()
        if runner is not None:
            await asyncio.wait_for(runner, 10)
        await connection.close()
        await pool.close()
