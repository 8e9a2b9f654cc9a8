"""A carrier that speaks messages (the telephony_mock): DialCall over RabbitMQ, answered through
direct reply-to; results arrive later as CallResultReported on the results queue."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from uuid import uuid4

from aio_pika.abc import AbstractChannel, AbstractIncomingMessage

from services.worker.telephony.base import DialRequest, HangUpRequest, ProviderContext
from shared.amqp import Publisher, Unroutable
from shared.errors import (
    ProviderOutcomeUnknown,
    ProviderRejected,
    ProviderUnavailable,
    TransientError,
)
from shared.messages import (
    DialAccepted,
    DialCall,
    DialRefused,
    HangUpCall,
    InvalidMessage,
    parse_message,
)
from shared.settings import Settings
from shared.topology import DIAL_ROUTING_KEY, DIRECT_REPLY_TO, TELEPHONY


class AmqpCarrier:
    """Request/reply over one channel; the reply carries the carrier's call id."""

    name = "mock"

    def __init__(self, channel: AbstractChannel, timeout_ms: int, result_route: str = "") -> None:
        self._channel = channel
        self._result_route = result_route
        self._publisher = Publisher(channel)
        self._timeout_s = timeout_ms / 1000
        self._waiting: dict[str, asyncio.Future[DialAccepted | DialRefused]] = {}

    async def start(self) -> None:
        # Direct reply-to: the broker routes replies straight to this channel's consumer.
        queue = await self._channel.get_queue(DIRECT_REPLY_TO, ensure=False)
        await queue.consume(self._on_reply, no_ack=True)

    async def _on_reply(self, incoming: AbstractIncomingMessage) -> None:
        future = self._waiting.pop(incoming.correlation_id or "", None)
        if future is None or future.done():
            return
        try:
            reply = parse_message(incoming.body)
        except InvalidMessage as exc:
            future.set_exception(ProviderOutcomeUnknown(f"unreadable reply: {exc}"))
            return
        if isinstance(reply, DialAccepted | DialRefused):
            future.set_result(reply)
        else:
            future.set_exception(ProviderOutcomeUnknown(f"unexpected reply {reply!r}"))

    async def place_call(self, request: DialRequest) -> str:
        correlation_id = str(uuid4())
        future: asyncio.Future[DialAccepted | DialRefused] = (
            asyncio.get_running_loop().create_future()
        )
        self._waiting[correlation_id] = future
        command = DialCall(
            call_id=request.call_id,
            attempt_no=request.attempt_no,
            campaign_id=request.campaign_id,
            phone_number=request.phone_number,
            idempotency_key=request.idempotency_key,
            result_route=self._result_route,
            expires_at=datetime.now(UTC) + timedelta(seconds=self._timeout_s),
            machine_detection=request.machine_detection,
        )
        try:
            try:
                # The request expires with our patience, so the carrier never acts on a
                # request nobody waits for any more.
                await self._publisher.publish(
                    command,
                    TELEPHONY,
                    DIAL_ROUTING_KEY,
                    persistent=False,
                    expiration_ms=int(self._timeout_s * 1000),
                    reply_to=DIRECT_REPLY_TO,
                    correlation_id=correlation_id,
                )
            except Unroutable as exc:
                raise ProviderUnavailable("the carrier has no request queue") from exc
            except TransientError as exc:
                # The request may have left before the channel failed: never assume it did not.
                raise ProviderOutcomeUnknown(f"dial request in doubt: {exc.detail}") from exc
            try:
                async with asyncio.timeout(self._timeout_s):
                    reply = await future
            except TimeoutError as exc:
                raise ProviderOutcomeUnknown("the carrier did not answer in time") from exc
        finally:
            self._waiting.pop(correlation_id, None)
        if isinstance(reply, DialAccepted):
            return reply.external_call_id
        if reply.transient:
            raise ProviderUnavailable(f"carrier error {reply.status_code}: {reply.reason}")
        raise ProviderRejected(reply.reason, status_code=reply.status_code)

    async def hang_up(self, request: HangUpRequest) -> None:
        """HangUpCall on the carrier's request queue; it needs no answer (the call's result
        tells how it ended)."""
        command = HangUpCall(
            campaign_id=request.campaign_id,
            call_id=request.call_id,
            attempt_no=request.attempt_no,
            external_call_id=request.external_call_id,
        )
        try:
            await self._publisher.publish(command, TELEPHONY, DIAL_ROUTING_KEY, persistent=False)
        except (Unroutable, TransientError) as exc:
            raise ProviderUnavailable(f"hang-up not sent: {exc}") from exc


def check(settings: Settings) -> None:
    """The mock needs nothing but the broker."""


@asynccontextmanager
async def connect(context: ProviderContext) -> AsyncIterator[AmqpCarrier]:
    channel = await context.connection.channel(publisher_confirms=True, on_return_raises=True)
    try:
        carrier = AmqpCarrier(channel, context.settings.dial_timeout_ms, context.worker_id)
        await carrier.start()
        yield carrier
    finally:
        if not channel.is_closed:
            await channel.close()
