"""Which campaign queues this worker consumes, each on its own channel with prefetch = limit
(the channels come from a ChannelSource: past a thousand, on further connections).

The set follows the database (running and paused campaigns), refreshed on campaign events and
on a short interval. A changed concurrency limit gets a new consumer with the new prefetch; the
old channel stays open until the jobs it holds are settled, because closing it would hand them
back to the broker while their calls are still live.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass
from uuid import UUID

import aiormq
import asyncpg
import structlog
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage, AbstractQueue
from aio_pika.exceptions import ChannelNotFoundEntity

from services.worker.channel_source import ChannelSource
from shared.db.pool import DATABASE_UNAVAILABLE
from shared.repositories.campaigns import (
    QUEUE_REMOVAL_GRACE_S,
    ActiveCampaign,
    consumable_campaigns,
)
from shared.topology import campaign_queue
from shared.waits import wait_until_set

log = structlog.get_logger()

JobCallback = Callable[[AbstractIncomingMessage], Awaitable[None]]

#: The longest a worker waits for the broker to answer a cancel or a channel's close.
BROKER_CALL_TIMEOUT_S = 5.0
#: A read of the running campaigns is subscribed from for this long; then read again. The
#: dispatcher keeps an ended campaign's queue for twice as long, so a subscription never
#: asks for a removed queue: a passive declare of one makes the broker close the channel,
#: and aiormq drops its answer to that (channel.close-ok) when its write queue is full, after
#: which reopening the channel's number closes the whole connection ("second 'channel.open'
#: seen"), every campaign's consumer with it.
SUBSCRIBE_WITHIN_S = QUEUE_REMOVAL_GRACE_S / 2


@dataclass
class _Subscription:
    campaign_id: UUID
    limit: int
    channel: AbstractChannel
    queue: AbstractQueue
    consumer_tag: str = ""
    busy: int = 0
    retired: bool = False


class CampaignSubscriptions:
    def __init__(self, channels: ChannelSource, pool: asyncpg.Pool) -> None:
        self._channels = channels
        self._pool = pool
        self._on_job: JobCallback | None = None
        self._subscriptions: dict[UUID, _Subscription] = {}
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()
        self._cancelled_by_broker: set[UUID] = set()
        #: Channels being closed outside any await of ours (from broker callbacks).
        self._closing: set[asyncio.Task[None]] = set()
        #: Set by close(): run() ends and nothing is subscribed again. Cancelling run() is not
        #: enough on its own: aiormq turns a cancellation that lands while the broker closes a
        #: channel (a passive declare of a deleted queue) into that channel's error, which
        #: _subscribe expects, so the loop would go on consuming after it was told to stop.
        self._closed = False

    def refresh_soon(self) -> None:
        self._wake.set()

    def leases_held(self) -> dict[UUID, int]:
        """Leases held (unacknowledged LeaseLine messages) per campaign right now."""
        return {cid: s.busy for cid, s in self._subscriptions.items()}

    async def run(self, on_job: JobCallback, interval_s: float) -> None:
        """Consume with `on_job`; refresh on every wake-up and at least every `interval_s`."""
        self._on_job = on_job
        self._wake.set()
        while not self._closed:
            await wait_until_set(self._wake, interval_s)
            self._wake.clear()
            try:
                await self.refresh()
            except (asyncpg.PostgresError, *DATABASE_UNAVAILABLE) as exc:
                log.warning("could not refresh campaign subscriptions", error=repr(exc))

    async def refresh(self) -> None:
        async with self._lock:
            if self._closed:
                return
            async with self._pool.acquire() as conn:
                wanted = {c.id: c for c in await consumable_campaigns(conn)}
            read_at = time.monotonic()
            for campaign_id in [c for c in self._subscriptions if c not in wanted]:
                # The broker may cancel (and so remove) a subscription while we await.
                gone = self._subscriptions.pop(campaign_id, None)
                if gone is not None:
                    await self._retire(gone)
            for campaign_id, campaign in wanted.items():
                current = self._subscriptions.get(campaign_id)
                if current is not None and current.limit == campaign.concurrency_limit:
                    continue
                if time.monotonic() - read_at > SUBSCRIBE_WITHIN_S:
                    # The campaign may have ended since, its queue removed: read again.
                    self.refresh_soon()
                    break
                subscription = await self._subscribe(campaign)
                if subscription is None:
                    continue
                if campaign_id in self._cancelled_by_broker:
                    # Not a deleted queue, then: most likely the broker's consumer_timeout.
                    log.error(
                        "the broker cancelled the consumer of a running campaign; consuming again",
                        campaign_id=str(campaign_id),
                    )
                self._subscriptions[campaign_id] = subscription
                if current is not None:
                    await self._retire(current)
            self._cancelled_by_broker.clear()

    async def close(self) -> None:
        """Stop consuming for good: run() returns and every subscription is retired."""
        self._closed = True
        self._wake.set()
        async with self._lock:
            for subscription in self._subscriptions.values():
                await self._retire(subscription)
            self._subscriptions.clear()
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)

    async def _subscribe(self, campaign: ActiveCampaign) -> _Subscription | None:
        """Consume the campaign's queue; None if it does not exist (yet, or any more).

        Workers never create campaign queues: the api and the dispatcher do, and the
        dispatcher deletes them when campaigns finish. A worker that re-created one from a
        stale read would leave it behind for ever.
        """
        channel = await self._channels.channel()
        try:
            queue = await channel.declare_queue(campaign_queue(campaign.id), passive=True)
        except ChannelNotFoundEntity:
            await _close(channel)
            log.info("campaign queue does not exist; not consuming", campaign_id=str(campaign.id))
            return None
        await channel.set_qos(prefetch_count=campaign.concurrency_limit)
        subscription = _Subscription(campaign.id, campaign.concurrency_limit, channel, queue)

        handle = self._on_job
        assert handle is not None, "run() sets the job callback before any subscription"

        async def on_job(incoming: AbstractIncomingMessage) -> None:
            if subscription.retired:
                # Delivered as the subscription was retired: its channel is closing or about
                # to, and the broker puts the job back in the queue when it has closed. An
                # acknowledgement sent now could reach the broker after our channel.close,
                # on a channel it no longer has, and RabbitMQ answers that by closing the
                # whole connection (CHANNEL_ERROR, "expected 'channel.open'"): every
                # campaign's consumer and the calls in hand with it.
                return
            subscription.busy += 1
            try:
                await handle(incoming)
            finally:
                subscription.busy -= 1
                if subscription.retired and subscription.busy == 0:
                    await _close(subscription.channel)

        subscription.consumer_tag = await queue.consume(on_job)
        underlay = await channel.get_underlay_channel()
        underlay.on_consumer_cancel_callbacks.add(
            lambda frame: self._on_cancelled_by_broker(subscription, frame)
        )
        channel.close_callbacks.add(
            lambda _channel, exc: self._on_channel_closed(subscription, exc)
        )
        log.info(
            "consuming campaign queue",
            campaign_id=str(campaign.id),
            prefetch=campaign.concurrency_limit,
        )
        return subscription

    async def _retire(self, subscription: _Subscription) -> None:
        subscription.retired = True
        if subscription.busy == 0:
            # Closing the channel ends its consumer too. A basic.cancel first would race the
            # dispatcher's deletion of a finished campaign's queue, and RabbitMQ 3.10 answers
            # a cancel for a quorum queue deleted meanwhile by crashing the channel and
            # closing the whole connection (INTERNAL_ERROR): every campaign's consumer with it.
            await _close(subscription.channel)
        else:
            # Jobs still held (a new limit, say): stop new deliveries, keep the channel to
            # settle them on.
            with suppress(Exception):
                async with asyncio.timeout(BROKER_CALL_TIMEOUT_S):
                    await subscription.queue.cancel(subscription.consumer_tag)
        log.info("stopped consuming campaign queue", campaign_id=str(subscription.campaign_id))

    def _on_cancelled_by_broker(
        self, subscription: _Subscription, frame: aiormq.spec.Basic.Cancel
    ) -> None:
        if frame.consumer_tag != subscription.consumer_tag or subscription.retired:
            return
        # The queue was deleted (campaign finished) or the broker's consumer_timeout fired.
        # Either way, drop the consumer and let the database decide whether to consume again.
        log.warning(
            "the broker cancelled a campaign consumer", campaign_id=str(subscription.campaign_id)
        )
        self._drop(subscription)

    def _on_channel_closed(self, subscription: _Subscription, exc: BaseException | None) -> None:
        if subscription.retired or not isinstance(exc, aiormq.exceptions.ChannelClosed):
            return  # we closed it, or the whole connection went (the session ends)
        # RabbitMQ before 4 closes the channel of a consumer that held a message longer than
        # its consumer_timeout; the jobs it held are back in the queue.
        log.error(
            "the broker closed a campaign channel",
            campaign_id=str(subscription.campaign_id),
            error=repr(exc),
        )
        self._drop(subscription)

    def _drop(self, subscription: _Subscription) -> None:
        """Forget a subscription the broker ended; its channel closes once it holds no job
        (now, if it holds none: nothing else would ever close it)."""
        self._cancelled_by_broker.add(subscription.campaign_id)
        if self._subscriptions.get(subscription.campaign_id) is subscription:
            del self._subscriptions[subscription.campaign_id]
        subscription.retired = True
        if subscription.busy == 0:
            task = asyncio.get_running_loop().create_task(_close(subscription.channel))
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)
        self.refresh_soon()


async def _close(channel: AbstractChannel) -> None:
    # Bounded: on a connection the broker has just closed, a close may never be answered, and
    # the session's end (which retires every subscription) must not wait for it.
    with suppress(Exception):
        async with asyncio.timeout(BROKER_CALL_TIMEOUT_S):
            await channel.close()
