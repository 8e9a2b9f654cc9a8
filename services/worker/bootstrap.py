"""Builds the worker's collaborators for one broker session and closes them in reverse order."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

import asyncpg
import structlog
from aio_pika.abc import AbstractConnection

from services.worker.channel_source import ChannelSource
from services.worker.dial_rules import DialRulesCache
from services.worker.held_attempts import HeldAttempts
from services.worker.metrics import WorkerMetrics
from services.worker.subscriptions import CampaignSubscriptions
from services.worker.telephony.base import ProviderContext, TelephonyProvider
from services.worker.telephony.providers import connect_provider
from services.worker.telephony.resilience import Dialer
from services.worker.writes import AttemptWrites
from shared.amqp import Publisher, connection_name
from shared.batching import Batcher, KeyedBatcher
from shared.broker_connection import connect
from shared.db.pool import create_pool
from shared.domain.attempts import AttemptRef, DialRules, NoDial, StartedAttempt
from shared.domain.endings import EndEffect, ProviderReport
from shared.settings import Settings

log = structlog.get_logger()

#: Claim statements one worker runs at once, whatever their campaigns. Each campaign's claims
#: go in one statement of their own; with a slot per campaign, the lines that one batch of
#: results freed across ten campaigns became ten statements of about one claim each.
CLAIMS_AT_ONCE = 2


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Deps:
    settings: Settings
    worker_id: str
    pool: asyncpg.Pool
    connection: AbstractConnection
    publisher: Publisher
    #: Unconfirmed, for hints whose loss the database state covers (AttemptEnded).
    hints: Publisher
    dialer: Dialer
    held: HeldAttempts
    #: Channels for the campaign subscriptions, on further connections past a thousand.
    channels: ChannelSource
    subscriptions: CampaignSubscriptions
    dial_rules: DialRulesCache
    #: Every write the handlers make; the batchers below flush through it.
    writes: AttemptWrites
    #: Claims of a line (by a job, under one campaign's settings version), results and dial
    #: acceptances, each written in batches under load.
    claims: KeyedBatcher[tuple[UUID, int], tuple[DialRules, UUID], StartedAttempt | NoDial]
    results: Batcher[ProviderReport, EndEffect | None]
    accepted_dials: Batcher[tuple[AttemptRef, str], None]
    clock: Callable[[], datetime]
    #: How long a dial request may still become a call after it is sent (the worker's patience
    #: for the carrier's answer, and a second for clocks): the callback timeout runs from its
    #: end.
    dial_window: timedelta
    #: Set when the worker stops: jobs finish their current call and take no new one.
    draining: asyncio.Event
    metrics: WorkerMetrics


#: The longest a session's end waits for one of its resources to close: a new session must
#: start even when a close is never answered (a connection the broker closed on an error).
CLOSE_WITHIN_S = 10.0


async def _closed_within(close: Callable[[], Awaitable[object]], what: str) -> bool:
    try:
        async with asyncio.timeout(CLOSE_WITHIN_S):
            await close()
        return True
    except TimeoutError:
        log.error("not closed in time; the session ends without it", resource=what)
        return False


async def _close_pool(pool: asyncpg.Pool) -> None:
    # A graceful close waits for every connection to come back; past the bound, cut them.
    if not await _closed_within(pool.close, "database pool"):
        pool.terminate()


def default_worker_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


@asynccontextmanager
async def bootstrap(
    settings: Settings,
    *,
    pool: asyncpg.Pool | None = None,
    provider: TelephonyProvider | None = None,
    clock: Callable[[], datetime] | None = None,
    metrics: WorkerMetrics | None = None,
) -> AsyncIterator[Deps]:
    """Connect to PostgreSQL and RabbitMQ and yield the worker's Deps.

    The broker connection is deliberately not a robust one: when it drops, the whole session
    ends and the caller starts a new one. The broker has then given the held jobs back, and
    whoever receives them adopts their attempts.
    """
    worker_id = settings.worker_id or default_worker_id()
    async with AsyncExitStack() as scope:
        if pool is None:
            pool = await create_pool(settings)
            scope.push_async_callback(_close_pool, pool)
        connection = await connect(
            settings.amqp_url, client_properties=connection_name(f"worker {worker_id}")
        )
        scope.push_async_callback(_closed_within, connection.close, "broker connection")
        channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
        if provider is None:
            provider = await scope.enter_async_context(
                connect_provider(ProviderContext(settings, connection, worker_id))
            )
        channels = ChannelSource(
            connection,
            lambda n: connect(
                settings.amqp_url, client_properties=connection_name(f"worker {worker_id} #{n}")
            ),
            per_connection=settings.worker_channels_per_connection,
        )
        scope.push_async_callback(_closed_within, channels.close, "campaign connections")
        now = clock or utcnow
        dial_window = timedelta(milliseconds=settings.dial_timeout_ms + 1000)
        writes = AttemptWrites(
            pool,
            worker_id=worker_id,
            clock=now,
            max_concurrent_calls=settings.max_concurrent_calls,
            dial_window=dial_window,
        )
        yield Deps(
            settings=settings,
            worker_id=worker_id,
            pool=pool,
            connection=connection,
            publisher=Publisher(channel),
            hints=Publisher(await connection.channel(publisher_confirms=False)),
            dialer=Dialer(
                provider,
                max_tries=settings.dial_max_tries,
                fail_max=settings.breaker_fail_max,
                reset_timeout_ms=settings.breaker_reset_timeout_ms,
            ),
            held=HeldAttempts(),
            channels=channels,
            subscriptions=CampaignSubscriptions(channels, pool),
            dial_rules=DialRulesCache(pool),
            writes=writes,
            claims=KeyedBatcher(
                writes.claim_lines, max_concurrent=1, max_concurrent_total=CLAIMS_AT_ONCE
            ),
            results=Batcher(writes.write_results, max_concurrent=1),
            accepted_dials=Batcher(writes.write_accepted, max_concurrent=1),
            clock=now,
            dial_window=dial_window,
            draining=asyncio.Event(),
            metrics=metrics or WorkerMetrics.create(),
        )
