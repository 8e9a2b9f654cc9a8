"""What the one generic consumer does with each delivery: ack, retry or dead-letter."""

from __future__ import annotations

import asyncio
from uuid import uuid4

import pytest
from aio_pika.exceptions import ChannelInvalidStateError
from structlog.testing import capture_logs

from shared.amqp import Consumer
from shared.errors import NotFound, TransientError
from shared.messages import AttemptEnded, CampaignStarted, LeaseLine, Message

ACK = ("ack", None)
DEAD_LETTER = ("reject", False)
REQUEUE = ("nack", True)


class FakeDelivery:
    """A delivered message that records how it was settled, as the broker would see it."""

    def __init__(self, body: bytes, type_: str | None = None) -> None:
        self.body = body
        self.type = type_
        self.settled: list[tuple[str, bool | None]] = []

    @classmethod
    def of(cls, message: Message) -> FakeDelivery:
        return cls(message.to_json(), message.type)

    async def ack(self) -> None:
        self.settled.append(ACK)

    async def reject(self, *, requeue: bool = False) -> None:
        self.settled.append(("reject", requeue))

    async def nack(self, *, requeue: bool = True) -> None:
        self.settled.append(("nack", requeue))


class ClosedChannelDelivery(FakeDelivery):
    """Its channel closed under it: settling fails, and the broker redelivers by itself."""

    async def ack(self) -> None:
        raise ChannelInvalidStateError("channel closed")


class Recorder:
    """A handler that records what it saw, and raises what it is told to."""

    def __init__(self, *raises: BaseException) -> None:
        self.raises = list(raises)
        self.seen: list[Message] = []

    async def __call__(self, message: Message, deps: object) -> None:
        self.seen.append(message)
        if self.raises:
            raise self.raises.pop(0)


def job() -> LeaseLine:
    return LeaseLine(campaign_id=uuid4())


def consumer(handler: Recorder, *, max_retries: int = 5) -> Consumer[object]:
    return Consumer({LeaseLine: handler}, object(), max_retries=max_retries, retry_pause_s=0)


async def test_a_handled_message_is_acknowledged_after_its_handler_ran() -> None:
    handler = Recorder()
    message = job()
    delivery = FakeDelivery.of(message)
    await consumer(handler)(delivery)
    assert handler.seen == [message]
    assert delivery.settled == [ACK]


@pytest.mark.parametrize(
    "body", [b"not json", b'{"type": "LeaseLine"}', b'{"type": "NoSuchMessage", "x": 1}']
)
async def test_an_invalid_message_is_dead_lettered_unhandled(body: bytes) -> None:
    handler = Recorder()
    delivery = FakeDelivery(body, "LeaseLine")
    await consumer(handler)(delivery)
    assert handler.seen == []
    assert delivery.settled == [DEAD_LETTER]


async def test_a_message_of_a_class_with_no_handler_is_dead_lettered() -> None:
    delivery = FakeDelivery.of(AttemptEnded(campaign_id=uuid4(), call_id=uuid4(), attempt_no=1))
    await consumer(Recorder())(delivery)
    assert delivery.settled == [DEAD_LETTER]


async def test_an_ignored_class_is_acknowledged_without_a_handler() -> None:
    handler = Recorder()
    ignoring: Consumer[object] = Consumer({LeaseLine: handler}, object(), ignored={CampaignStarted})
    delivery = FakeDelivery.of(CampaignStarted(campaign_id=uuid4()))
    await ignoring(delivery)
    assert handler.seen == []
    assert delivery.settled == [ACK]


async def test_a_permanent_error_dead_letters_at_once_with_its_reason() -> None:
    handler = Recorder(NotFound("campaign 42 does not exist"))
    delivery = FakeDelivery.of(job())
    with capture_logs() as logs:
        await consumer(handler)(delivery)
    assert delivery.settled == [DEAD_LETTER]
    assert len(handler.seen) == 1
    [entry] = [e for e in logs if e["event"] == "message dead-lettered"]
    assert entry["reason"] == "campaign 42 does not exist"
    assert entry["error_code"] == "not-found"


@pytest.mark.parametrize("error", [TransientError("database away"), RuntimeError("a bug")])
async def test_a_failing_message_is_retried_up_to_the_cap_then_dead_lettered(
    error: Exception,
) -> None:
    max_retries = 3
    handler = Recorder(*[error] * (max_retries + 1))
    consume = consumer(handler, max_retries=max_retries)
    message = job()
    outcomes = []
    for _ in range(max_retries + 1):  # the broker redelivers each requeued message
        delivery = FakeDelivery.of(message)
        await consume(delivery)
        outcomes.extend(delivery.settled)
    assert outcomes == [REQUEUE] * max_retries + [DEAD_LETTER]
    assert len(handler.seen) == max_retries + 1


async def test_a_success_after_failures_is_acknowledged_and_forgets_them() -> None:
    handler = Recorder(TransientError("busy"))
    consume = consumer(handler, max_retries=1)
    message = job()
    first, second = FakeDelivery.of(message), FakeDelivery.of(message)
    await consume(first)
    await consume(second)
    assert (first.settled, second.settled) == ([REQUEUE], [ACK])
    # The count started again: one more failure is retried, not dead-lettered.
    handler.raises.append(TransientError("busy again"))
    third = FakeDelivery.of(message)
    await consume(third)
    assert third.settled == [REQUEUE]


async def test_cancellation_passes_through_without_settling() -> None:
    handler = Recorder(asyncio.CancelledError())
    delivery = FakeDelivery.of(job())
    with pytest.raises(asyncio.CancelledError):
        await consumer(handler)(delivery)
    # Neither acked nor rejected: the broker redelivers it when the channel closes.
    assert delivery.settled == []


async def test_a_closed_channel_when_settling_is_left_to_the_broker() -> None:
    handler = Recorder()
    delivery = ClosedChannelDelivery.of(job())
    await consumer(handler)(delivery)
    assert len(handler.seen) == 1
    assert delivery.settled == []
