"""Channels for the campaign subscriptions, over as many broker connections as they need.

A worker consumes every running campaign's queue on a channel of its own (the prefetch is
per channel), and RabbitMQ gives a connection at most `channel_max` channels (2,047 by
default). So past `per_connection` channels on a connection, the next ones go on another
connection of the worker's, opened when needed and closed once it holds no channel: a worker
with 3,000 running campaigns holds three connections, one with few.

The first connection is the session's own; the others belong to the source. Losing any of
them ends the session, as losing the first does (`lost` is set): their channels' jobs are
back in their queues, and a new session starts clean.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass

import structlog
from aio_pika.abc import AbstractChannel, AbstractConnection

log = structlog.get_logger()


@dataclass(eq=False)
class _Line:
    connection: AbstractConnection
    own: bool
    channels: int = 0
    closing: bool = False


class ChannelSource:
    def __init__(
        self,
        first: AbstractConnection,
        connect: Callable[[int], Awaitable[AbstractConnection]],
        *,
        per_connection: int,
    ) -> None:
        """`connect(n)` opens the n-th connection (n >= 2); `per_connection` is
        VCS_WORKER_CHANNELS_PER_CONNECTION (1,000: half of RabbitMQ's default channel_max,
        leaving the session's first connection room for its other channels)."""
        self._lines = [_Line(first, own=False)]
        self._connect = connect
        self._per_connection = per_connection
        self._lock = asyncio.Lock()
        self._closing: set[asyncio.Task[None]] = set()
        self._closed = False
        #: Set when a connection of the source's own was lost: the session must end.
        self.lost = asyncio.Event()

    @property
    def connections(self) -> int:
        return len(self._lines)

    async def channel(self) -> AbstractChannel:
        """A new channel (no publisher confirms) on a connection with room for it."""
        async with self._lock:
            line = next(
                (
                    line
                    for line in self._lines
                    if line.channels < self._per_connection and not line.closing
                ),
                None,
            )
            if line is None:
                line = await self._open_line()
            line.channels += 1
        try:
            channel = await line.connection.channel(publisher_confirms=False)
        except BaseException:
            self._release(line)
            raise
        channel.close_callbacks.add(lambda *_: self._release(line))
        return channel

    async def _open_line(self) -> _Line:
        if self._closed:
            raise RuntimeError("the channel source is closed")
        number = len(self._lines) + 1
        connection = await self._connect(number)
        line = _Line(connection, own=True)
        connection.close_callbacks.add(lambda *_: self._lost(line))
        self._lines.append(line)
        log.info("another broker connection for campaign channels", connections=number)
        return line

    def _release(self, line: _Line) -> None:
        line.channels -= 1
        if line.own and line.channels == 0 and not line.closing:
            line.closing = True
            self._lines.remove(line)
            task = asyncio.get_running_loop().create_task(_close(line.connection))
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)
            log.info("broker connection for campaign channels closed", connections=len(self._lines))

    def _lost(self, line: _Line) -> None:
        if line.closing or self._closed:
            return  # we closed it
        log.error("a broker connection for campaign channels was lost; the session ends")
        self.lost.set()

    async def close(self) -> None:
        """Close the source's own connections (the first is the session's)."""
        self._closed = True
        own = [line for line in self._lines if line.own]
        for line in own:
            line.closing = True
        self._lines = [line for line in self._lines if not line.own]
        await asyncio.gather(*(_close(line.connection) for line in own), *self._closing)


async def _close(connection: AbstractConnection) -> None:
    with suppress(Exception):
        await connection.close()
