"""The worker's campaign subscriptions against the real broker: what the broker ends, the worker
lets go of, channel and all."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from uuid import UUID

import aio_pika
import asyncpg
import pytest
import pytest_asyncio
from aio_pika.abc import AbstractIncomingMessage, AbstractRobustConnection

from services.worker.channel_source import ChannelSource
from services.worker.subscriptions import CampaignSubscriptions
from shared.db.pool import init_connection
from shared.domain.business_hours import ALWAYS_OPEN
from shared.domain.retry_policy import RetryConfig
from shared.domain.statuses import CampaignStatus
from shared.repositories import campaigns as campaign_repo
from shared.topology import campaign_queue, declare_campaign_queue, delete_campaign_queue
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


def channel_source(
    first: aio_pika.abc.AbstractConnection, infra: Infra, per_connection: int = 1000
) -> ChannelSource:
    return ChannelSource(
        first, lambda n: aio_pika.connect(infra.amqp_url), per_connection=per_connection
    )


def open_channels(connection: AbstractRobustConnection | aio_pika.abc.AbstractConnection) -> int:
    """Channels the client holds open on the connection (aiormq drops closed ones)."""
    assert connection.transport is not None
    return len(connection.transport.connection.channels)


@dataclass
class Consuming:
    pool: asyncpg.Pool
    connection: aio_pika.abc.AbstractConnection
    source: ChannelSource
    subscriptions: CampaignSubscriptions
    campaigns: list[UUID]
    #: Channels open on the first connection before any subscription.
    channels_before: int


@asynccontextmanager
async def consuming(
    infra: Infra, count: int, per_connection: int = 1000
) -> AsyncIterator[Consuming]:
    """`count` running campaigns with their queues, every one consumed (jobs acknowledged at
    once); on the way out, closed as the worker closes them when it stops."""
    pool = await asyncpg.create_pool(
        infra.database_url, min_size=1, max_size=3, init=init_connection
    )
    assert pool is not None
    connection = await aio_pika.connect(infra.amqp_url)
    source = channel_source(connection, infra, per_connection=per_connection)
    subscriptions = CampaignSubscriptions(source, pool)

    async def on_job(incoming: AbstractIncomingMessage) -> None:
        await incoming.ack()

    runner: asyncio.Task[None] | None = None
    try:
        before = open_channels(connection)
        campaigns = await running_campaigns(pool, count)
        for campaign_id in campaigns:
            await declare_campaign_queue(connection, campaign_id)
        runner = asyncio.create_task(subscriptions.run(on_job, 0.1))

        async def all_consumed() -> bool:
            return set(subscriptions.leases_held()) == set(campaigns)

        await wait_until(all_consumed, timeout=20, message="every campaign queue consumed")
        yield Consuming(pool, connection, source, subscriptions, campaigns, before)
    finally:
        # As the worker stops: close() ends run() whatever a cancellation would have met.
        await subscriptions.close()
        if runner is not None:
            await asyncio.wait_for(runner, 10)
        await source.close()
        await connection.close()
        await pool.close()


async def test_a_consumer_cancelled_by_the_broker_while_idle_gives_its_channel_back(
    own: Infra,
) -> None:
    async with consuming(own, 12) as run:
        connection, before = run.connection, run.channels_before

        async def a_channel_each() -> bool:
            return open_channels(connection) == before + len(run.campaigns)

        await wait_until(a_channel_each, timeout=10, message="one channel per campaign queue")

        # The queues go before the worker has read that the campaigns finished (as when the
        # dispatcher removes a finished campaign's queue): the broker cancels the consumers
        # while they hold no job.
        admin = await connection.channel()
        for campaign_id in run.campaigns:
            await delete_campaign_queue(admin, campaign_id)
        await admin.close()

        async def all_dropped() -> bool:
            return not run.subscriptions.leases_held()

        await wait_until(all_dropped, timeout=10, message="every subscription dropped")
        async with run.pool.acquire() as conn:
            await conn.execute("UPDATE campaigns SET status = 'COMPLETED'")

        async def channels_back() -> bool:
            return open_channels(connection) == before

        await wait_until(
            channels_back,
            timeout=10,
            message=f"channels back to {before} (now {open_channels(connection)})",
        )


async def test_past_a_connections_channels_the_worker_opens_another_and_lets_it_go(
    own: Infra,
) -> None:
    """Five channels a connection: twelve campaigns take three connections; once they are
    gone, the worker is back to its one."""
    async with consuming(own, 12, per_connection=5) as run:
        connection, source = run.connection, run.source
        assert source.connections == 3
        assert open_channels(connection) <= 5

        # A job for each campaign reaches its consumer, whichever connection it is on.
        channel = await connection.channel()
        for campaign_id in run.campaigns:
            await channel.default_exchange.publish(
                aio_pika.Message(b"{}"), routing_key=campaign_queue(campaign_id)
            )

        async def queues_drained() -> bool:
            counts = [await declare_campaign_queue(connection, c) for c in run.campaigns]
            return sum(counts) == 0

        await wait_until(queues_drained, timeout=20, message="every job taken")
        await channel.close()

        async with run.pool.acquire() as conn:
            await conn.execute("UPDATE campaigns SET status = 'COMPLETED'")
        run.subscriptions.refresh_soon()

        async def back_to_one() -> bool:
            return source.connections == 1 and not run.subscriptions.leases_held()

        await wait_until(back_to_one, timeout=20, message="the extra connections closed")
        assert not source.lost.is_set(), "closing them ourselves is no loss"


async def test_losing_a_connection_of_its_own_ends_the_session(own: Infra) -> None:
    connection = await aio_pika.connect(own.amqp_url)
    source = channel_source(connection, own, per_connection=1)
    try:
        first = await source.channel()
        second = await source.channel()  # on a connection of the source's own
        assert source.connections == 2 and not source.lost.is_set()
        underlay = await second.get_underlay_channel()
        await underlay.connection.close()  # as the broker does when a node goes

        async def lost() -> bool:
            return source.lost.is_set()

        await wait_until(lost, timeout=10, message="the session told to end")
        assert not first.is_closed
    finally:
        await source.close()
        await connection.close()
