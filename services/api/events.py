"""What the api tells the rest of the system after a change: events, and queues to exist."""

from __future__ import annotations

import asyncio
from uuid import UUID

import aiormq
import structlog
from aio_pika.exceptions import AMQPError

from shared.amqp import Publisher
from shared.errors import TransientError
from shared.messages import CampaignEvent
from shared.topology import CAMPAIGN_EVENTS, declare_campaign_queue, event_routing_key

log = structlog.get_logger()


async def ensure_job_queue(publisher: Publisher, campaign_id: UUID) -> None:
    """Declare the campaign's job queue before workers hear of the campaign, so that they
    can consume it at once. If the broker is away, the dispatcher declares it on its tick."""
    try:
        async with asyncio.timeout(5):
            await declare_campaign_queue(publisher.channel, campaign_id)
    except (TimeoutError, AMQPError, aiormq.exceptions.AMQPError, ConnectionError) as exc:
        log.warning("could not declare the campaign queue", error=repr(exc))


async def publish_event(publisher: Publisher, event: CampaignEvent) -> None:
    """Publish after the commit. The database already holds the truth, so a lost event only
    delays: the dispatcher and the workers reconcile from the database on their tick."""
    try:
        await publisher.publish(event, CAMPAIGN_EVENTS, event_routing_key(event.type))
    except TransientError as exc:
        log.warning(
            "event not published; the tick will catch up", event=event.type, error=exc.detail
        )
