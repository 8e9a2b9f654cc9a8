"""The message-speaking carrier adapter against the real broker."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from uuid import uuid4

import aio_pika
import pytest

from services.worker.telephony.base import DialRequest
from services.worker.telephony.providers.mock import AmqpCarrier
from shared.errors import ProviderOutcomeUnknown, ProviderRejected, ProviderUnavailable
from shared.messages import DialAccepted, DialCall, DialRefused, parse_message
from shared.topology import DIAL_REQUESTS_QUEUE, declare_topology
from tests.support.infra import Infra

pytestmark = pytest.mark.asyncio(loop_scope="session")


def request(number: str = "+14155550100") -> DialRequest:
    return DialRequest(uuid4(), 1, uuid4(), number)


@asynccontextmanager
async def carrier_answering(
    infra: Infra, reply: DialAccepted | DialRefused
) -> AsyncIterator[AmqpCarrier]:
    """An adapter, and a carrier stand-in that answers every dial request with `reply`; both
    go away with their connection."""
    connection = await aio_pika.connect(infra.amqp_url)
    async with connection:
        channel = await connection.channel()
        queue = await channel.get_queue(DIAL_REQUESTS_QUEUE)
        await queue.purge()

        async def on_dial(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            assert isinstance(parse_message(message.body), DialCall)
            await channel.default_exchange.publish(
                aio_pika.Message(reply.to_json(), correlation_id=message.correlation_id),
                str(message.reply_to),
            )
            await message.ack()

        await queue.consume(on_dial)
        yield await carrier(connection, 5000)


async def carrier(connection: aio_pika.abc.AbstractConnection, timeout_ms: int) -> AmqpCarrier:
    channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
    adapter = AmqpCarrier(channel, timeout_ms)
    await adapter.start()
    return adapter


async def test_an_accepted_dial_returns_the_carriers_call_id(infra: Infra) -> None:
    async with carrier_answering(infra, DialAccepted(external_call_id="carrier-1")) as adapter:
        assert await adapter.place_call(request()) == "carrier-1"


async def test_a_transient_refusal_is_unavailable(infra: Infra) -> None:
    refusal = DialRefused(transient=True, status_code=503, reason="busy")
    async with carrier_answering(infra, refusal) as adapter:
        with pytest.raises(ProviderUnavailable):
            await adapter.place_call(request())


async def test_a_permanent_refusal_is_a_rejection(infra: Infra) -> None:
    refusal = DialRefused(transient=False, status_code=400, reason="not a number")
    async with carrier_answering(infra, refusal) as adapter:
        with pytest.raises(ProviderRejected):
            await adapter.place_call(request())


async def test_no_answer_means_the_outcome_is_unknown(infra: Infra) -> None:
    conn = await aio_pika.connect(infra.amqp_url)
    async with conn:
        queue = await (await conn.channel()).get_queue(DIAL_REQUESTS_QUEUE)
        await queue.purge()
        with pytest.raises(ProviderOutcomeUnknown):
            await (await carrier(conn, 300)).place_call(request())


async def test_without_a_request_queue_the_carrier_is_unavailable_at_once(infra: Infra) -> None:
    conn = await aio_pika.connect(infra.amqp_url)
    async with conn:
        channel = await conn.channel()
        await channel.queue_delete(DIAL_REQUESTS_QUEUE)
        try:
            with pytest.raises(ProviderUnavailable):
                await (await carrier(conn, 10_000)).place_call(request())
        finally:
            await declare_topology(channel)
