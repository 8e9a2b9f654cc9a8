"""The dead-letter keeper against the real broker, while the database is away."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import aio_pika
import asyncpg
import pytest
from aio_pika.abc import AbstractIncomingMessage

from services.dispatcher.dead_letters import DeadLetterKeeper
from tests.support.infra import Infra
from tests.support.stack import free_port

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_a_dead_letter_that_cannot_be_kept_is_redelivered_slowly(infra: Infra) -> None:
    # Nothing listens on this port: every connection attempt is refused, as in an outage.
    unreachable = await asyncpg.create_pool(
        f"postgresql://postgres@127.0.0.1:{free_port()}/x", min_size=0, max_size=1
    )
    assert unreachable is not None
    keeper = DeadLetterKeeper(unreachable, lambda: datetime.now(UTC))
    deliveries: list[float] = []

    async def counting(incoming: AbstractIncomingMessage) -> None:
        deliveries.append(time.monotonic())
        await keeper(incoming)

    connection = await aio_pika.connect(infra.amqp_url)
    try:
        channel = await connection.channel()
        queue = await channel.declare_queue(exclusive=True)
        await channel.default_exchange.publish(aio_pika.Message(b"lost soul"), queue.name)
        await queue.consume(counting)
        await asyncio.sleep(3)  # measuring a rate over a fixed span, not waiting for an event
    finally:
        await connection.close()
        await unreachable.close()
    # An immediate requeue redelivers it hundreds of times in that span.
    assert 1 <= len(deliveries) <= 5, f"{len(deliveries)} deliveries in 3 s"
