"""The carrier's message interface: DialCall in, a reply through reply-to, results published."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import structlog
from aio_pika.abc import AbstractIncomingMessage
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_delay, wait_exponential

from services.telephony_mock.carrier import Accepted, Carrier, Result
from shared.amqp import Publisher, connection_name
from shared.broker_connection import connect
from shared.errors import TransientError
from shared.messages import (
    CallResultReported,
    DialAccepted,
    DialCall,
    DialRefused,
    HangUpCall,
    InvalidMessage,
    Message,
    parse_message,
)
from shared.runtime import run_sessions
from shared.topology import CALL_RESULTS, DIAL_REQUESTS_QUEUE, QueueType, declare_topology

log = structlog.get_logger()


#: How long a result waits for the broker to come back before the carrier gives it up (a
#: carrier retries a callback for a while, then drops it; the callback timeout covers it).
RESULT_DELIVERY_S = 60.0


class AmqpEndpoint:
    """The carrier's message interface, over one broker connection at a time: when the broker
    goes, the session ends and a new one starts (as the workers do), so the consumer of dial
    requests is always one this session made."""

    def __init__(self, amqp_url: str, queue_type: QueueType = "classic") -> None:
        self._amqp_url = amqp_url
        self._queue_type = queue_type
        self._carrier: Carrier | None = None
        self._publisher: Publisher | None = None
        self._replies: Publisher | None = None
        self._connected = asyncio.Event()

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    async def run(self, carrier: Carrier, stop: asyncio.Event) -> None:
        """Take dial requests for `carrier` until `stop` is set, across broker outages."""
        self._carrier = carrier
        await run_sessions("telephony mock broker", self._session, stop)

    async def _session(self, stop: asyncio.Event) -> None:
        connection = await connect(
            self._amqp_url, client_properties=connection_name("telephony_mock")
        )
        lost = asyncio.Event()
        connection.close_callbacks.add(lambda *_: lost.set())
        async with connection:
            async with connection.channel() as setup:
                await declare_topology(setup, self._queue_type)
            publisher = Publisher(
                await connection.channel(publisher_confirms=True, on_return_raises=True)
            )
            # Replies go through direct reply-to, which confirms nothing useful: no confirms.
            replies = Publisher(await connection.channel(publisher_confirms=False))
            # Taken without acknowledgements, as an HTTP carrier takes requests: one that dies
            # with the carrier is never answered, and the worker counts its dial as in doubt
            # (the same as a lost reply), which the callback timeout settles. Acknowledging
            # each one cost the mock and the broker a seventh of their CPU per call.
            channel = await connection.channel(publisher_confirms=False)
            queue = await channel.get_queue(DIAL_REQUESTS_QUEUE, ensure=False)
            await queue.consume(self._on_request, no_ack=True)
            self._publisher, self._replies = publisher, replies
            self._connected.set()
            log.info("taking dial requests")
            try:
                await _first(stop.wait(), lost.wait())
            finally:
                self._connected.clear()
                self._publisher = self._replies = None
            if lost.is_set() and not stop.is_set():
                log.error("broker connection lost; taking dial requests again once it is back")

    async def _on_request(self, incoming: AbstractIncomingMessage) -> None:
        try:
            message = parse_message(incoming.body)
        except InvalidMessage as exc:
            log.error("unreadable dial request", error=str(exc)[:300])
            return
        if type(message) in IGNORED:
            return
        handler = HANDLERS.get(type(message))
        if handler is None:
            log.error("not a dial request", type=type(message).__name__)
            return
        await handler(self, message, incoming)

    async def _answer_dial(self, command: DialCall, incoming: AbstractIncomingMessage) -> None:
        """Place the call with the carrier and answer through the request's reply-to."""
        if command.expires_at is not None and datetime.now(UTC) > command.expires_at:
            # Held up on its way: the worker has stopped waiting, so the call is not placed.
            log.warning("expired dial request dropped", call_id=str(command.call_id))
            return
        assert self._carrier is not None
        outcome = self._carrier.dial(
            phone_number=command.phone_number,
            idempotency_key=command.idempotency_key,
            campaign_id=str(command.campaign_id),
            call_id=str(command.call_id),
            attempt_no=command.attempt_no,
            result_route=command.result_route,
            machine_detection=command.machine_detection,
        )
        reply: DialAccepted | DialRefused = (
            DialAccepted(external_call_id=outcome.external_call_id)
            if isinstance(outcome, Accepted)
            else DialRefused(
                transient=outcome.transient, status_code=outcome.status_code, reason=outcome.reason
            )
        )
        if incoming.reply_to and self._replies is not None:
            try:
                await self._replies.publish(
                    reply,
                    "",
                    incoming.reply_to,
                    persistent=False,
                    correlation_id=incoming.correlation_id,
                    mandatory=False,
                )
            except TransientError as exc:
                log.warning("could not answer a dial request", error=exc.detail)

    async def _hang_up(self, command: HangUpCall, incoming: AbstractIncomingMessage) -> None:
        """End a live call now; one already over stays as it was."""
        assert self._carrier is not None
        if self._carrier.hang_up(command.external_call_id):
            log.info("call hung up", external_call_id=command.external_call_id)

    async def report(self, result: Result) -> None:
        """Publish a call's result; while the broker is away, wait for it (up to
        RESULT_DELIVERY_S), as a carrier retries a callback."""
        record = result.record
        assert record.external_call_id is not None
        message = CallResultReported(
            external_call_id=record.external_call_id,
            status=result.status,
            call_id=record.call_id,
            attempt_no=record.attempt_no,
            duration_seconds=result.duration_seconds,
            failure_reason=result.failure_reason,
            answered_by=result.answered_by,
        )
        async for attempt in AsyncRetrying(
            stop=stop_after_delay(RESULT_DELIVERY_S),
            wait=wait_exponential(multiplier=0.2, max=2),
            retry=retry_if_exception_type(TransientError),
            reraise=True,
        ):
            with attempt:
                publisher = self._publisher
                if publisher is None:
                    raise TransientError("no broker connection")
                await publisher.publish(message, CALL_RESULTS, record.result_route)


RequestHandler = Callable[["AmqpEndpoint", Any, AbstractIncomingMessage], Awaitable[None]]

#: What the carrier does with each message its dial-requests queue may carry.
HANDLERS: dict[type[Message], RequestHandler] = {
    DialCall: AmqpEndpoint._answer_dial,
    HangUpCall: AmqpEndpoint._hang_up,
}

#: Messages its queue may carry that it drops without acting: none today.
IGNORED: frozenset[type[Message]] = frozenset()


async def _first(*waits: Awaitable[object]) -> None:
    tasks = [asyncio.ensure_future(w) for w in waits]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
