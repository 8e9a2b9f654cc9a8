"""What the api tells the rest of the system after a change: events, and queues to exist."""

from __future__ import annotations

import asyncio
from uuid import UUID

import asyncpg
import structlog

from shared.amqp import BROKER_UNAVAILABLE, Publisher
from shared.db.pool import DATABASE_UNAVAILABLE
from shared.errors import TransientError
from shared.messages import CampaignEvent
from shared.repositories.campaigns import forget_queue_removal
from shared.topology import (
    CAMPAIGN_EVENTS,
    declare_campaign_queue,
    delete_campaign_queue,
    event_routing_key,
)

log = structlog.get_logger()


class BrokerUnavailable(TransientError):
    code = "broker-unavailable"


def require_broker(publisher: Publisher) -> None:
    """Refuse (503, nothing written) a change that the rest of the system learns of through
    the broker while the broker is away. Nothing is dialled during an outage anyway (workers
    take lines only from job queues), and the client's retry lands once it is back; a change
    already committed when the broker fails still answers 2xx (its event is a hint)."""
    if not publisher.ready:
        raise BrokerUnavailable("the message broker is unavailable; nothing was changed")


async def ensure_job_queue(publisher: Publisher, campaign_id: UUID) -> None:
    """Declare the campaign's job queue before workers hear of the campaign, so that they
    can consume it at once. If the broker is away, the dispatcher declares it on its tick."""
    try:
        async with asyncio.timeout(5):
            await declare_campaign_queue(publisher.channel, campaign_id)
    except BROKER_UNAVAILABLE as exc:
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


async def remove_job_queue(publisher: Publisher, pool: asyncpg.Pool, campaign_id: UUID) -> None:
    """Delete a deleted campaign's job queue now, and forget that it is due. If the broker (or
    the database) is away, the removal stays due and the active dispatcher does it later."""
    try:
        async with asyncio.timeout(5):
            await delete_campaign_queue(publisher.channel, campaign_id)
        async with pool.acquire() as conn:
            await forget_queue_removal(conn, campaign_id)
    except (*BROKER_UNAVAILABLE, *DATABASE_UNAVAILABLE) as exc:
        log.warning("job queue not removed yet; the dispatcher will", error=repr(exc))
