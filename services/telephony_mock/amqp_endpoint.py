"""The carrier's message interface: DialCall in, a reply through reply-to, results published."""

from __future__ import annotations

import structlog
from aio_pika.abc import AbstractConnection, AbstractIncomingMessage
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from services.telephony_mock.carrier import Accepted, Carrier, Result
from shared.amqp import Publisher
from shared.errors import TransientError
from shared.messages import (
    CallResultReported,
    DialAccepted,
    DialCall,
    DialRefused,
    InvalidMessage,
    parse_message,
)
from shared.topology import CALL_RESULTS, DIAL_REQUESTS_QUEUE

log = structlog.get_logger()


class AmqpEndpoint:
    def __init__(self, connection: AbstractConnection) -> None:
        self._connection = connection
        self._carrier: Carrier | None = None
        self._publisher: Publisher | None = None
        self._replies: Publisher | None = None

    async def start(self, carrier: Carrier) -> None:
        """Take dial requests for `carrier`."""
        self._carrier = carrier
        self._publisher = Publisher(
            await self._connection.channel(publisher_confirms=True, on_return_raises=True)
        )
        # Replies go through direct reply-to, which confirms nothing useful: no confirms.
        self._replies = Publisher(await self._connection.channel(publisher_confirms=False))
        # Taken without acknowledgements, as an HTTP carrier takes requests: one that dies
        # with the carrier is never answered, and the worker counts its dial as in doubt (the
        # same as a lost reply), which the callback timeout settles. Acknowledging each one
        # cost the mock and the broker a seventh of their CPU per call.
        channel = await self._connection.channel(publisher_confirms=False)
        queue = await channel.get_queue(DIAL_REQUESTS_QUEUE, ensure=False)
        await queue.consume(self._on_dial, no_ack=True)

    async def _on_dial(self, incoming: AbstractIncomingMessage) -> None:
        try:
            command = parse_message(incoming.body)
        except InvalidMessage as exc:
            log.error("unreadable dial request", error=str(exc)[:300])
            return
        if not isinstance(command, DialCall):
            log.error("not a dial request", type=type(command).__name__)
            return
        assert self._carrier is not None
        outcome = self._carrier.dial(
            phone_number=command.phone_number,
            idempotency_key=command.idempotency_key,
            campaign_id=str(command.campaign_id),
            call_id=str(command.call_id),
            attempt_no=command.attempt_no,
            result_route=command.result_route,
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

    async def report(self, result: Result) -> None:
        """Publish a call's result, retrying a little while the broker is unavailable."""
        assert self._publisher is not None
        record = result.record
        assert record.external_call_id is not None
        message = CallResultReported(
            external_call_id=record.external_call_id,
            status=result.status,
            call_id=record.call_id,
            attempt_no=record.attempt_no,
            duration_seconds=result.duration_seconds,
            failure_reason=result.failure_reason,
        )
        try:
            await self._publisher.publish(message, CALL_RESULTS, record.result_route)
        except TransientError:
            # Only when the broker is away: retry a while, as a carrier retries a callback.
            async for attempt in AsyncRetrying(
                stop=stop_after_attempt(5),
                wait=wait_exponential(multiplier=0.2, max=5),
                retry=retry_if_exception_type(TransientError),
                reraise=True,
            ):
                with attempt:
                    await self._publisher.publish(message, CALL_RESULTS, record.result_route)
