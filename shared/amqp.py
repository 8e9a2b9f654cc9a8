"""Publishing with confirms, and the one generic consumer that decides ack, retry or dead-letter."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Collection, Mapping
from typing import Any, Generic, Protocol, TypeVar

import aio_pika
import aiormq
import structlog
from aio_pika.abc import AbstractChannel, AbstractExchange
from aio_pika.exceptions import AMQPError, ChannelInvalidStateError, DeliveryError, PublishError

from shared.errors import PermanentError, TransientError
from shared.messages import InvalidMessage, Message, parse_message

log = structlog.get_logger()

D = TypeVar("D")
Handler = Callable[[Any, D], Awaitable[None]]


#: Seconds between a robust connection's attempts to reach the broker again (aio-pika's
#: default is 5): work should resume within a few seconds of an outage's end.
RECONNECT_INTERVAL_S = 1.0

#: What aio-pika raises when the broker is away or the channel is gone: a closed or
#: reconnecting channel raises ChannelInvalidStateError, a RuntimeError, not an AMQPError.
BROKER_UNAVAILABLE: tuple[type[BaseException], ...] = (
    TimeoutError,
    DeliveryError,
    AMQPError,
    aiormq.exceptions.AMQPError,
    ChannelInvalidStateError,
    ConnectionError,
)


def connection_name(service: str) -> dict[str, Any]:
    """Client properties that name a connection in the management console (`service@host`,
    or a worker's id), so that an operator can tell whose channels are whose."""
    return {"connection_name": service}


class Unroutable(TransientError):
    """The broker had no queue for a mandatory message."""

    code = "unroutable"


class Publisher:
    """Publishes messages as persistent JSON on a channel with publisher confirms."""

    def __init__(self, channel: AbstractChannel) -> None:
        self._channel = channel
        self._exchanges: dict[str, AbstractExchange] = {}

    @property
    def channel(self) -> AbstractChannel:
        return self._channel

    @property
    def ready(self) -> bool:
        """False while the channel is closed: the broker is away, or the connection is being
        made again."""
        return not self._channel.is_closed

    async def _exchange(self, name: str) -> AbstractExchange:
        if name == "":
            return self._channel.default_exchange
        exchange = self._exchanges.get(name)
        if exchange is None:
            exchange = await self._channel.get_exchange(name, ensure=False)
            self._exchanges[name] = exchange
        return exchange

    async def publish(
        self,
        message: Message,
        exchange: str,
        routing_key: str,
        *,
        persistent: bool = True,
        expiration_ms: int | None = None,
        reply_to: str | None = None,
        correlation_id: str | None = None,
        timeout_s: float = 10.0,
        mandatory: bool = True,
    ) -> None:
        """Publish and wait for the broker's confirm; Unroutable if no queue took it.

        `mandatory=False` only for direct reply-to: the broker delivers those replies but
        also returns them as unroutable when the mandatory flag is set.
        """
        amqp_message = aio_pika.Message(
            message.to_json(),
            content_type="application/json",
            delivery_mode=(
                aio_pika.DeliveryMode.PERSISTENT
                if persistent
                else aio_pika.DeliveryMode.NOT_PERSISTENT
            ),
            message_id=str(message.message_id),
            type=getattr(message, "type", None),
            correlation_id=correlation_id
            or (str(message.correlation_id) if message.correlation_id else None),
            reply_to=reply_to,
            expiration=expiration_ms / 1000 if expiration_ms is not None else None,
            timestamp=message.occurred_at,
        )
        try:
            async with asyncio.timeout(timeout_s):
                target = await self._exchange(exchange)
                await target.publish(amqp_message, routing_key, mandatory=mandatory)
        except TimeoutError as exc:
            raise TransientError(f"no confirm from the broker within {timeout_s} s") from exc
        except PublishError as exc:
            raise Unroutable(f"no queue for {exchange!r}/{routing_key!r}") from exc
        except BROKER_UNAVAILABLE as exc:
            raise TransientError(f"publish to {exchange!r} failed: {exc!r}") from exc


class Delivery(Protocol):
    """What the consumer uses of a delivered message (aio-pika's AbstractIncomingMessage has
    it all); tests hand it small fakes."""

    @property
    def body(self) -> bytes: ...

    @property
    def type(self) -> str | None: ...

    def ack(self) -> Awaitable[None]: ...

    def reject(self, *, requeue: bool = ...) -> Awaitable[None]: ...

    def nack(self, *, requeue: bool = ...) -> Awaitable[None]: ...


class Consumer(Generic[D]):
    """Runs the handler registered for each message's class, then acknowledges.

    The class comes from the message's wire `type` (see `shared.messages.parse_message`).
    Invalid message, a class with no handler, or a PermanentError: rejected without requeue,
    so the queue's dead-letter exchange takes it. A class in `ignored`: acknowledged untouched.
    Any other exception: requeued after a growing pause, up to `max_retries` times, then
    dead-lettered. Cancellation passes through without settling: the broker redelivers the
    message when the channel closes. Handlers never see aio-pika objects.
    """

    def __init__(
        self,
        handlers: Mapping[type[Message], Handler[D]],
        deps: D,
        *,
        ignored: Collection[type[Message]] = (),
        max_retries: int = 5,
        retry_pause_s: float = 0.2,
    ) -> None:
        self._handlers = handlers
        self._ignored = frozenset(ignored)
        self._deps = deps
        self._max_retries = max_retries
        self._retry_pause_s = retry_pause_s
        # Failures per message id; bounded so a poison stream cannot grow it without end.
        self._failures: OrderedDict[str, int] = OrderedDict()

    async def __call__(self, incoming: Delivery) -> None:
        try:
            message = parse_message(incoming.body)
        except InvalidMessage as exc:
            log.error("invalid message dead-lettered", error=str(exc)[:500], type=incoming.type)
            await settle(incoming.reject(requeue=False))
            return
        if type(message) in self._ignored:
            await settle(incoming.ack())
            return
        handler = self._handlers.get(type(message))
        if handler is None:
            log.error("no handler for message type, dead-lettered", type=incoming.type)
            await settle(incoming.reject(requeue=False))
            return
        context = {"message_id": str(message.message_id), "message_type": incoming.type}
        for key in ("campaign_id", "call_id"):
            if (value := getattr(message, key, None)) is not None:
                context[key] = str(value)
        with structlog.contextvars.bound_contextvars(**context):
            await self._run(handler, message, incoming)

    async def _run(self, handler: Handler[D], message: Message, incoming: Delivery) -> None:
        try:
            await handler(message, self._deps)
        except PermanentError as exc:
            log.error("message dead-lettered", reason=exc.detail, error_code=exc.code)
            await settle(incoming.reject(requeue=False))
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            key = str(message.message_id)
            failures = self._failures.pop(key, 0) + 1
            if failures > self._max_retries:
                log.error(
                    "message failed too often, dead-lettered", failures=failures, exc_info=exc
                )
                await settle(incoming.reject(requeue=False))
                return
            self._failures[key] = failures
            while len(self._failures) > 10_000:
                self._failures.popitem(last=False)
            level = log.warning if isinstance(exc, TransientError) else log.exception
            level("message handling failed, will retry", failures=failures, error=repr(exc))
            await asyncio.sleep(min(self._retry_pause_s * 2 ** (failures - 1), 5.0))
            await settle(incoming.nack(requeue=True))
        else:
            self._failures.pop(str(message.message_id), None)
            await settle(incoming.ack())


async def settle(operation: Awaitable[None]) -> None:
    """Ack or reject; a closed channel means the broker requeues the message by itself."""
    try:
        await operation
    except BROKER_UNAVAILABLE as exc:
        log.warning("could not settle message; the broker will redeliver it", error=repr(exc))
