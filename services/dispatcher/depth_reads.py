"""Campaign queue depths read from the broker over a few channels at once.

A read is one queue.declare round trip, and a channel carries one at a time: read one after
the other, a thousand queues cost a thousand round trips of a broker that is busy with the
calls (several milliseconds each under load). Spread over `channels`, they overlap.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from contextlib import suppress
from uuid import UUID

from aio_pika.abc import AbstractChannel, AbstractConnection

from shared.topology import (
    QueueType,
    campaign_queue,
    campaign_queue_arguments,
    declare_campaign_queue,
)

#: Channels the reads share; more gains little once the broker's own work is the limit.
READ_CHANNELS = 8
#: A close on a connection the broker has just dropped may never be answered.
CLOSE_TIMEOUT_S = 5


class DepthReader:
    def __init__(self, connection: AbstractConnection, queue_type: QueueType) -> None:
        self._connection = connection
        self._queue_type = queue_type
        self._arguments = campaign_queue_arguments(queue_type)
        self._idle: asyncio.Queue[AbstractChannel] = asyncio.Queue()
        self._opened: list[AbstractChannel] = []
        self._opening = asyncio.Lock()
        self._declared: set[UUID] = set()

    async def read(self, campaign_ids: Iterable[UUID]) -> dict[UUID, int]:
        """Jobs waiting in each campaign's queue; declares (and binds) a queue on first sight."""
        wanted = list(campaign_ids)
        await self._open_channels()
        gate = asyncio.Semaphore(READ_CHANNELS)

        async def one(campaign_id: UUID) -> int:
            async with gate:
                if campaign_id not in self._declared:
                    queued = await declare_campaign_queue(
                        self._connection, campaign_id, self._queue_type
                    )
                    self._declared.add(campaign_id)
                    return queued
                return await self._depth(campaign_id)

        depths = await asyncio.gather(*(one(c) for c in wanted))
        return dict(zip(wanted, depths, strict=True))

    async def _depth(self, campaign_id: UUID) -> int:
        channel = await self._channel()
        try:
            underlay = await channel.get_underlay_channel()
            declared = await underlay.queue_declare(
                campaign_queue(campaign_id), durable=True, arguments=self._arguments
            )
        except BaseException:
            # A channel in an unknown state is not handed out again.
            self._opened.remove(channel)
            with suppress(Exception):
                await channel.close()
            raise
        self._idle.put_nowait(channel)
        return int(declared.message_count or 0)

    async def _channel(self) -> AbstractChannel:
        await self._open_channels()
        return await self._idle.get()

    async def _open_channels(self) -> None:
        async with self._opening:
            # All of them on the first pass, whether it reads or not (and again after one was
            # dropped): the dispatcher holds the same channels with one running campaign as
            # with thousands.
            while len(self._opened) < READ_CHANNELS:
                channel = await self._connection.channel(publisher_confirms=False)
                self._opened.append(channel)
                self._idle.put_nowait(channel)

    def forget(self, campaign_id: UUID) -> None:
        """Declare the queue again on its next read (someone may have deleted it)."""
        self._declared.discard(campaign_id)

    def forget_all_but(self, campaign_ids: set[UUID]) -> None:
        # A queue not read for a while is declared again when it is: finished campaigns'
        # ids are not kept for the life of the process.
        self._declared &= campaign_ids

    async def close(self) -> None:
        for channel in self._opened:
            with suppress(Exception):
                async with asyncio.timeout(CLOSE_TIMEOUT_S):
                    await channel.close()
        self._opened.clear()
