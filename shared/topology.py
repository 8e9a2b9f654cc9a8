"""Every exchange and queue, named to read well in the RabbitMQ management console.

`python -m shared.topology` declares the fixed part; per-campaign and per-worker queues are
declared by the services that use them, with the same arguments as here.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Literal
from uuid import UUID

import structlog
from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractQueue, ExchangeType
from aiormq.exceptions import ChannelPreconditionFailed

from shared.broker_connection import connect
from shared.logging import configure_logging
from shared.settings import Settings

log = structlog.get_logger()

#: Campaign lifecycle events (`campaign.started`, ...): the dispatcher and every worker listen.
CAMPAIGN_EVENTS = "vcs.campaign-events"
#: LeaseLine jobs, routed by campaign id to that campaign's queue.
CALL_JOBS = "vcs.call-jobs"
#: DialCall requests for a carrier that speaks messages (the mock).
TELEPHONY = "vcs.telephony"
DIAL_ROUTING_KEY = "dial"
DIAL_REQUESTS_QUEUE = "vcs.telephony.dial-requests"
#: Call results reported by a carrier, routed by the id of the worker that placed the call,
#: so that it usually applies its own results. What no worker queue takes goes through the
#: alternate exchange to the shared queue, which every worker consumes.
CALL_RESULTS = "vcs.call-results"
CALL_RESULTS_UNROUTED = "vcs.call-results.unrouted"
CALL_RESULTS_QUEUE = "vcs.call-results"
#: A worker's results queue outlives the worker: what it does not take within this time moves
#: to the shared queue (dead-lettering), and the queue itself goes once unused for a minute.
WORKER_RESULTS_TTL_MS = 5_000
WORKER_RESULTS_EXPIRE_MS = 60_000
#: Direct signals to one worker (AttemptEnded), routed by worker id.
WORKER_SIGNALS = "vcs.worker-signals"
#: Where every queue sends what its consumers reject.
DEAD_LETTER = "vcs.dead-letter"
DEAD_LETTER_QUEUE = "vcs.dead-letters"
DISPATCHER_EVENTS_QUEUE = "vcs.dispatcher.campaign-events"
DIRECT_REPLY_TO = "amq.rabbitmq.reply-to"

_DEAD_LETTERED: dict[str, Any] = {"x-dead-letter-exchange": DEAD_LETTER}

QueueType = Literal["classic", "quorum"]

#: A message delivered this often without being settled (its consumer died holding it, each
#: time) is dead-lettered instead of going round for ever; quorum queues only (classic
#: queues count nothing). RabbitMQ 4 makes 20 the default; 3.x has none.
QUORUM_DELIVERY_LIMIT = 20

#: Quorum queues dead-letter at most once unless told otherwise; at least once (a message is
#: removed only when the dead-letter queue confirms it) needs overflow `reject-publish`.
_QUORUM_DEAD_LETTERING: dict[str, Any] = {
    "x-dead-letter-strategy": "at-least-once",
    "x-overflow": "reject-publish",
    "x-delivery-limit": QUORUM_DELIVERY_LIMIT,
}


def work_queue_arguments(queue_type: QueueType, arguments: dict[str, Any]) -> dict[str, Any]:
    """The arguments of a durable queue that carries work or results, of `queue_type`.
    Classic queues keep the arguments they were always declared with, so that an existing
    broker's queues stay equivalent."""
    if queue_type == "classic":
        return dict(arguments)
    quorum = {**arguments, "x-queue-type": "quorum"}
    if "x-dead-letter-exchange" in arguments:
        quorum |= _QUORUM_DEAD_LETTERING
    return quorum


class QueueTypeMismatch(RuntimeError):
    """A queue exists with another type than VCS_QUEUE_TYPE asks for; RabbitMQ cannot change
    a queue's type in place."""

    def __init__(self, queue: str, queue_type: QueueType, detail: str) -> None:
        super().__init__(
            f"queue {queue!r} exists with other arguments than VCS_QUEUE_TYPE={queue_type}"
            f" declares ({detail}). RabbitMQ cannot change a queue's type: drain it, stop"
            " the services, delete the queue and start them again"
            " (docs/scaling.md, 'Switching to quorum queues')."
        )
        self.queue = queue


def campaign_queue(campaign_id: UUID) -> str:
    return f"vcs.campaign.{campaign_id}.jobs"


def campaign_routing_key(campaign_id: UUID) -> str:
    return str(campaign_id)


def event_routing_key(message_type: str) -> str:
    """`CampaignStarted` -> `campaign.started`."""
    name = message_type.removeprefix("Campaign")
    words = "".join("-" + c.lower() if c.isupper() else c for c in name).lstrip("-")
    return f"campaign.{words}"


def worker_events_queue(worker_id: str) -> str:
    return f"vcs.worker.{worker_id}.campaign-events"


def worker_signals_queue(worker_id: str) -> str:
    return f"vcs.worker.{worker_id}.signals"


def worker_results_queue(worker_id: str) -> str:
    return f"vcs.worker.{worker_id}.results"


def campaign_queue_arguments(queue_type: QueueType) -> dict[str, Any]:
    # Single active consumer makes the prefetch limit hold across worker replicas.
    arguments = {**_DEAD_LETTERED, "x-single-active-consumer": True}
    if queue_type == "classic":
        # Named since the first release: the broker compares it on every declaration.
        return {**arguments, "x-queue-type": "classic"}
    return work_queue_arguments(queue_type, arguments)


async def _declare_work_queue(
    channel: AbstractChannel, name: str, queue_type: QueueType, arguments: dict[str, Any]
) -> AbstractQueue:
    try:
        return await channel.declare_queue(
            name, durable=True, arguments=work_queue_arguments(queue_type, arguments)
        )
    except ChannelPreconditionFailed as exc:
        raise QueueTypeMismatch(name, queue_type, str(exc)) from exc


async def declare_topology(channel: AbstractChannel, queue_type: QueueType = "classic") -> None:
    """Declare the fixed exchanges and queues; idempotent. QueueTypeMismatch if one of the
    queues exists with another type (the broker has closed the channel then)."""
    dead_letter = await channel.declare_exchange(DEAD_LETTER, ExchangeType.FANOUT, durable=True)
    dead_letters = await _declare_work_queue(channel, DEAD_LETTER_QUEUE, queue_type, {})
    await dead_letters.bind(dead_letter)

    events = await channel.declare_exchange(CAMPAIGN_EVENTS, ExchangeType.TOPIC, durable=True)
    dispatcher_events = await _declare_work_queue(
        channel, DISPATCHER_EVENTS_QUEUE, queue_type, _DEAD_LETTERED
    )
    await dispatcher_events.bind(events, "campaign.#")

    await channel.declare_exchange(CALL_JOBS, ExchangeType.DIRECT, durable=True)
    await channel.declare_exchange(WORKER_SIGNALS, ExchangeType.DIRECT, durable=True)

    telephony = await channel.declare_exchange(TELEPHONY, ExchangeType.DIRECT, durable=True)
    dial_requests = await _declare_work_queue(
        channel, DIAL_REQUESTS_QUEUE, queue_type, _DEAD_LETTERED
    )
    await dial_requests.bind(telephony, DIAL_ROUTING_KEY)

    unrouted = await channel.declare_exchange(
        CALL_RESULTS_UNROUTED, ExchangeType.FANOUT, durable=True
    )
    await channel.declare_exchange(
        CALL_RESULTS,
        ExchangeType.DIRECT,
        durable=True,
        arguments={"alternate-exchange": CALL_RESULTS_UNROUTED},
    )
    results_queue = await _declare_work_queue(
        channel, CALL_RESULTS_QUEUE, queue_type, _DEAD_LETTERED
    )
    await results_queue.bind(unrouted)


async def declare_campaign_queue(
    connection: AbstractConnection, campaign_id: UUID, queue_type: QueueType = "classic"
) -> int:
    """Declare the campaign's job queue, bound to the jobs exchange (idempotent); the jobs
    waiting in it.

    On a channel of its own, closed after: a robust channel remembers every queue declared on
    it and declares them all again when it reconnects, which would bring back the queues of
    campaigns that finished meanwhile; and a queue of the other type (a campaign that ran
    across a change of VCS_QUEUE_TYPE) makes the broker close the channel it was declared on.
    Such a queue is replaced: it holds only jobs, credit the dispatcher publishes again.
    """
    try:
        return await _declare_campaign_queue(connection, campaign_id, queue_type)
    except ChannelPreconditionFailed as exc:
        log.warning(
            "campaign job queue of another type replaced",
            queue=campaign_queue(campaign_id),
            queue_type=queue_type,
            error=str(exc),
        )
    async with connection.channel(publisher_confirms=False) as channel:
        underlay = await channel.get_underlay_channel()
        await underlay.queue_delete(campaign_queue(campaign_id))
    return await _declare_campaign_queue(connection, campaign_id, queue_type)


async def _declare_campaign_queue(
    connection: AbstractConnection, campaign_id: UUID, queue_type: QueueType
) -> int:
    async with connection.channel(publisher_confirms=False) as channel:
        underlay = await channel.get_underlay_channel()
        declared = await underlay.queue_declare(
            campaign_queue(campaign_id),
            durable=True,
            arguments=campaign_queue_arguments(queue_type),
        )
        await underlay.queue_bind(
            campaign_queue(campaign_id), CALL_JOBS, routing_key=campaign_routing_key(campaign_id)
        )
        return int(declared.message_count or 0)


async def delete_campaign_queue(channel: AbstractChannel, campaign_id: UUID) -> None:
    """Delete the campaign's job queue, with whatever it holds; nothing if it does not exist.
    Consumers of it are cancelled by the broker."""
    underlay = await channel.get_underlay_channel()
    await underlay.queue_delete(campaign_queue(campaign_id))


@dataclass(frozen=True)
class WorkerQueues:
    events: AbstractQueue
    signals: AbstractQueue
    results: AbstractQueue


async def declare_worker_queues(
    channel: AbstractChannel, worker_id: str, queue_type: QueueType = "classic"
) -> WorkerQueues:
    """A worker's own queues. Events and signals die with its connection; results outlive it
    (see WORKER_RESULTS_TTL_MS), because a result must never be lost with a worker: on a
    cluster it is a quorum queue too, else it would be lost with its node and the worker
    could not declare it again elsewhere."""
    events = await channel.declare_queue(
        worker_events_queue(worker_id), exclusive=True, auto_delete=True
    )
    await events.bind(CAMPAIGN_EVENTS, "campaign.#")
    signals = await channel.declare_queue(
        worker_signals_queue(worker_id), exclusive=True, auto_delete=True
    )
    await signals.bind(WORKER_SIGNALS, worker_id)
    results = await _declare_work_queue(
        channel,
        worker_results_queue(worker_id),
        queue_type,
        {
            "x-message-ttl": WORKER_RESULTS_TTL_MS,
            "x-dead-letter-exchange": CALL_RESULTS_UNROUTED,
            "x-expires": WORKER_RESULTS_EXPIRE_MS,
        },
    )
    await results.bind(CALL_RESULTS, worker_id)
    return WorkerQueues(events, signals, results)


async def _declare(settings: Settings) -> None:
    connection = await connect(settings.amqp_url)
    async with connection:
        await declare_topology(await connection.channel(), settings.queue_type)
    log.info("topology declared")


def main() -> None:
    settings = Settings()
    configure_logging("topology", settings.log_level, settings.log_format)
    asyncio.run(_declare(settings))


if __name__ == "__main__":
    main()
