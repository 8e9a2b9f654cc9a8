"""Builds the dispatcher's collaborators and closes them in reverse order."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

import asyncpg
from aio_pika.abc import AbstractChannel, AbstractConnection

from services.dispatcher.metrics import DispatcherMetrics
from shared.amqp import Publisher, connection_name
from shared.broker_connection import connect
from shared.db.pool import create_pool
from shared.domain.calling import CallingPolicy
from shared.settings import Settings
from shared.topology import declare_topology


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Deps:
    settings: Settings
    pool: asyncpg.Pool
    connection: AbstractConnection
    publisher: Publisher
    #: For queue declarations and deletions, apart from the confirming publisher's channel.
    admin_channel: AbstractChannel
    clock: Callable[[], datetime]
    metrics: DispatcherMetrics
    #: The operator's calling policy; None when turned off (VCS_CALLING_POLICY=off).
    policy: CallingPolicy | None
    #: Set by anything that should make the dispatcher look again now.
    wake: asyncio.Event = field(default_factory=asyncio.Event)


@asynccontextmanager
async def bootstrap(
    settings: Settings,
    *,
    policy: CallingPolicy | None,
    pool: asyncpg.Pool | None = None,
    clock: Callable[[], datetime] | None = None,
    metrics: DispatcherMetrics | None = None,
) -> AsyncIterator[Deps]:
    own_pool = pool is None
    pool = pool or await create_pool(settings)
    try:
        connection = await connect(
            settings.amqp_url, client_properties=connection_name("dispatcher")
        )
        try:
            publisher_channel = await connection.channel(
                publisher_confirms=True, on_return_raises=True
            )
            admin_channel = await connection.channel(publisher_confirms=False)
            await declare_topology(admin_channel, settings.queue_type)
            yield Deps(
                settings=settings,
                pool=pool,
                connection=connection,
                publisher=Publisher(publisher_channel),
                admin_channel=admin_channel,
                clock=clock or utcnow,
                metrics=metrics or DispatcherMetrics.create(settings.max_concurrent_calls),
                policy=policy,
            )
        finally:
            await connection.close()
    finally:
        if own_pool:
            await pool.close()
