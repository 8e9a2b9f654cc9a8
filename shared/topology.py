"""Every exchange and queue, named to read well in the RabbitMQ management console.

`python -m shared.topology` declares the fixed part; per-campaign and per-worker queues are
declared by the services that use them, with the same arguments as here.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import aio_pika
import structlog
from aio_pika.abc import AbstractChannel, AbstractQueue, ExchangeType

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


def campaign_queue_arguments() -> dict[str, Any]:
    # Single active consumer makes the prefetch limit hold across worker replicas.
    return {**_DEAD_LETTERED, "x-single-active-consumer": True, "x-queue-type": "classic"}


async def declare_topology(channel: AbstractChannel) -> None:
    """Declare the fixed exchanges and queues; idempotent."""
    dead_letter = await channel.declare_exchange(DEAD_LETTER, ExchangeType.FANOUT, durable=True)
    dead_letters = await channel.declare_queue(DEAD_LETTER_QUEUE, durable=True)
    await dead_letters.bind(dead_letter)

    events = await channel.declare_exchange(CAMPAIGN_EVENTS, ExchangeType.TOPIC, durable=True)
    dispatcher_events = await channel.declare_queue(
        DISPATCHER_EVENTS_QUEUE, durable=True, arguments=_DEAD_LETTERED
    )
    await dispatcher_events.bind(events, "campaign.#")

    await channel.declare_exchange(CALL_JOBS, ExchangeType.DIRECT, durable=True)
    await channel.declare_exchange(WORKER_SIGNALS, ExchangeType.DIRECT, durable=True)

    telephony = await channel.declare_exchange(TELEPHONY, ExchangeType.DIRECT, durable=True)
    dial_requests = await channel.declare_queue(
        DIAL_REQUESTS_QUEUE, durable=True, arguments=_DEAD_LETTERED
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
    results_queue = await channel.declare_queue(
        CALL_RESULTS_QUEUE, durable=True, arguments=_DEAD_LETTERED
    )
    await results_queue.bind(unrouted)


async def declare_campaign_queue(channel: AbstractChannel, campaign_id: UUID) -> int:
    """Declare the campaign's job queue, bound to the jobs exchange (idempotent); the jobs
    waiting in it.

    Through the underlying channel: a robust channel remembers every queue declared on it and
    declares them all again when it reconnects, which would bring back the queues of campaigns
    that finished meanwhile (and keep one object per campaign for ever).
    """
    underlay = await channel.get_underlay_channel()
    declared = await underlay.queue_declare(
        campaign_queue(campaign_id), durable=True, arguments=campaign_queue_arguments()
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


async def declare_worker_queues(channel: AbstractChannel, worker_id: str) -> WorkerQueues:
    """A worker's own queues. Events and signals die with its connection; results outlive it
    (see WORKER_RESULTS_TTL_MS), because a result must never be lost with a worker."""
    events = await channel.declare_queue(
        worker_events_queue(worker_id), exclusive=True, auto_delete=True
    )
    await events.bind(CAMPAIGN_EVENTS, "campaign.#")
    signals = await channel.declare_queue(
        worker_signals_queue(worker_id), exclusive=True, auto_delete=True
    )
    await signals.bind(WORKER_SIGNALS, worker_id)
    results = await channel.declare_queue(
        worker_results_queue(worker_id),
        durable=True,
        arguments={
            "x-message-ttl": WORKER_RESULTS_TTL_MS,
            "x-dead-letter-exchange": CALL_RESULTS_UNROUTED,
            "x-expires": WORKER_RESULTS_EXPIRE_MS,
        },
    )
    await results.bind(CALL_RESULTS, worker_id)
    return WorkerQueues(events, signals, results)


async def _declare(settings: Settings) -> None:
    connection = await aio_pika.connect(settings.amqp_url)
    async with connection:
        await declare_topology(await connection.channel())
    log.info("topology declared")


def main() -> None:
    settings = Settings()
    configure_logging("topology", settings.log_level, settings.log_format)
    asyncio.run(_declare(settings))


if __name__ == "__main__":
    main()
