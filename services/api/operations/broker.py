"""The api's one way to the message broker: events after a change, job queues to exist, the
signal that ends a held attempt, and queue depths for the metrics. Nothing else in the api
touches aio-pika."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from contextlib import suppress
from uuid import UUID

import aiormq
import asyncpg
import structlog
from aio_pika.abc import AbstractRobustConnection

from shared.amqp import BROKER_UNAVAILABLE, RECONNECT_INTERVAL_S, Publisher, connection_name
from shared.attempt_signals import signal_attempt_ended, signal_hang_up
from shared.broker_connection import connect_robust
from shared.db.pool import DATABASE_UNAVAILABLE
from shared.domain.endings import EndEffect
from shared.errors import TransientError
from shared.messages import CampaignEvent
from shared.repositories.campaigns import forget_queue_removal
from shared.topology import (
    CAMPAIGN_EVENTS,
    QueueType,
    campaign_queue,
    declare_campaign_queue,
    delete_campaign_queue,
    event_routing_key,
)

log = structlog.get_logger()


#: Why queue depths may stay unknown. RuntimeError: aio-pika's "Connection was not opened",
#: when the broker goes between the connected check and the channel; depths only inform.
_DEPTHS_UNKNOWN: tuple[type[BaseException], ...] = (*BROKER_UNAVAILABLE, RuntimeError)


class BrokerUnavailable(TransientError):
    code = "broker-unavailable"


class Broker:
    """A robust connection and a confirming publisher on it. The api only publishes, and a
    publish during a reconnect fails fast: events are hints, and the dispatcher's tick and
    the workers' checks catch up from the database."""

    def __init__(
        self,
        connection: AbstractRobustConnection,
        publisher: Publisher,
        queue_type: QueueType = "classic",
    ) -> None:
        self._connection = connection
        self._publisher = publisher
        self._queue_type = queue_type

    @classmethod
    async def connect(cls, amqp_url: str, queue_type: QueueType = "classic") -> Broker:
        """Connect (to any node that answers), named for the api in the broker's console;
        the caller closes it."""
        connection = await connect_robust(
            amqp_url,
            reconnect_interval=RECONNECT_INTERVAL_S,
            client_properties=connection_name("api"),
        )
        channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
        return cls(connection, Publisher(channel), queue_type)

    async def close(self) -> None:
        await self._connection.close()

    @property
    def connected(self) -> bool:
        """For the health check: False while the broker is away (the robust connection is
        then making itself again, and the publisher's channel is closed) and once the
        connection is closed for good."""
        return not self._connection.is_closed and self._publisher.ready

    def require_ready(self) -> None:
        """Refuse (503, nothing written) a change that the rest of the system learns of
        through the broker while the broker is away. Nothing is dialled during an outage
        anyway (workers take lines only from job queues), and the client's retry lands once
        it is back; a change already committed when the broker fails still answers 2xx (its
        event is a hint)."""
        if not self._publisher.ready:
            raise BrokerUnavailable("the message broker is unavailable; nothing was changed")

    async def ensure_job_queue(self, campaign_id: UUID) -> None:
        """Declare the campaign's job queue before workers hear of the campaign, so that they
        can consume it at once. If the broker is away, the dispatcher declares it on its tick."""
        try:
            async with asyncio.timeout(5):
                await declare_campaign_queue(self._connection, campaign_id, self._queue_type)
        except BROKER_UNAVAILABLE as exc:
            log.warning("could not declare the campaign queue", error=repr(exc))

    async def publish_event(self, event: CampaignEvent) -> None:
        """Publish after the commit. The database already holds the truth, so a lost event
        only delays: the dispatcher and the workers reconcile from the database on their
        tick."""
        try:
            await self._publisher.publish(event, CAMPAIGN_EVENTS, event_routing_key(event.type))
        except TransientError as exc:
            log.warning(
                "event not published; the tick will catch up", event=event.type, error=exc.detail
            )

    async def signal_attempt_ended(self, effect: EndEffect) -> None:
        """Tell the worker holding the attempt that it ended; if this fails, it notices."""
        try:
            await signal_attempt_ended(self._publisher, effect)
        except TransientError as exc:
            log.warning(
                "could not signal the attempt's end; the worker will notice", error=exc.detail
            )

    async def signal_hang_up(self, effect: EndEffect) -> None:
        """Ask the worker holding the attempt to hang up on the machine that answered, if the
        effect says so; if this fails, the call ends when the carrier ends it."""
        try:
            await signal_hang_up(self._publisher, effect)
        except TransientError as exc:
            log.warning("could not ask for a hang-up", error=exc.detail)

    async def remove_job_queue(self, pool: asyncpg.Pool, campaign_id: UUID) -> None:
        """Delete a deleted campaign's job queue now, and forget that it is due. If the broker
        (or the database) is away, the removal stays due and the active dispatcher does it."""
        try:
            async with asyncio.timeout(5):
                await delete_campaign_queue(self._publisher.channel, campaign_id)
            async with pool.acquire() as conn:
                await forget_queue_removal(conn, campaign_id)
        except (*BROKER_UNAVAILABLE, *DATABASE_UNAVAILABLE) as exc:
            log.warning("job queue not removed yet; the dispatcher will", error=repr(exc))

    async def queue_depths(self, campaign_ids: Sequence[UUID]) -> dict[UUID, int | None]:
        """Jobs waiting in each campaign's queue, by passive declaration (which creates
        nothing). A queue that is missing closes the channel it was asked on, so the next one
        gets another. Depths the broker could not tell stay None."""
        depths: dict[UUID, int | None] = dict.fromkeys(campaign_ids)
        if not self.connected:
            return depths
        channel = None
        try:
            async with asyncio.timeout(3):
                for campaign_id in campaign_ids:
                    if channel is None or channel.is_closed:
                        channel = await self._connection.channel(publisher_confirms=False)
                    underlay = await channel.get_underlay_channel()
                    try:
                        declared = await underlay.queue_declare(
                            campaign_queue(campaign_id), passive=True
                        )
                    except aiormq.exceptions.ChannelNotFoundEntity:
                        channel = None  # the broker closed it
                        continue
                    depths[campaign_id] = int(declared.message_count or 0)
        except _DEPTHS_UNKNOWN:
            pass
        finally:
            if channel is not None and not channel.is_closed:
                with suppress(Exception):
                    await channel.close()
        return depths
