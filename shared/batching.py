"""Coalesce concurrent requests into one batched call, without adding latency when idle.

A flush takes its batch when it starts, on the event loop's next turn: the items submitted in
the same turn (the lines one batch of results freed, say) go together, and an item submitted
alone at rest goes at once, alone. Items submitted while flushes are running wait for a free
slot. Under load, batches grow by themselves to what the flush can absorb; at rest, nothing
waits.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")

Flush = Callable[[Sequence[T]], Awaitable[Sequence[R]]]


class Batcher(Generic[T, R]):
    def __init__(
        self,
        flush: Flush[T, R],
        *,
        max_size: int = 100,
        max_concurrent: int = 2,
        shared_slots: asyncio.Semaphore | None = None,
    ) -> None:
        """`shared_slots`, if given, also bounds the flushes running at once across every
        batcher that shares it: a flush takes its batch once it has one of those slots."""
        self._flush = flush
        self._max_size = max_size
        self._shared_slots = shared_slots or contextlib.nullcontext()
        self._slots = max_concurrent
        self._pending: list[tuple[T, asyncio.Future[R]]] = []
        self._tasks: set[asyncio.Task[None]] = set()
        #: A flush is scheduled and has not taken its batch yet.
        self._starting = False

    @property
    def idle(self) -> bool:
        """Nothing waits and no flush runs."""
        return not self._pending and not self._tasks

    async def submit(self, item: T) -> R:
        """The flush's result for `item`, or the exception the flush raised."""
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        self._start_flushes()
        return await future

    def _start_flushes(self) -> None:
        if self._pending and self._slots > 0 and not self._starting:
            self._slots -= 1
            self._starting = True
            task = asyncio.create_task(self._run())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _run(self) -> None:
        async with self._shared_slots:
            await self._run_batch()

    async def _run_batch(self) -> None:
        self._starting = False
        batch, self._pending = self._pending[: self._max_size], self._pending[self._max_size :]
        # More than one batch waiting, and a free slot: the next flush starts alongside.
        self._start_flushes()
        try:
            results = await self._flush([item for item, _ in batch])
        except BaseException as exc:  # every waiter learns of the failure
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            if isinstance(exc, asyncio.CancelledError):
                raise
        else:
            for (_, future), result in zip(batch, results, strict=True):
                if not future.done():
                    future.set_result(result)
        finally:
            self._slots += 1
            # Now, not in the done callback (which runs after the waiters), so `idle` is true
            # as soon as the last waiter looks.
            self._tasks.discard(asyncio.current_task())
            self._start_flushes()


K = TypeVar("K")


class KeyedBatcher(Generic[K, T, R]):
    """A Batcher per key, so that only items of one key go together: made on first use,
    dropped when it has nothing left to do. At most `max_concurrent` flushes of one key run
    at once, and at most `max_concurrent_total` of all keys: under load, a key's items wait
    for a slot and then go together, rather than each key flushing its first item alone."""

    def __init__(
        self,
        flush: Callable[[K, Sequence[T]], Awaitable[Sequence[R]]],
        *,
        max_size: int = 100,
        max_concurrent: int = 1,
        max_concurrent_total: int | None = None,
    ) -> None:
        self._flush = flush
        self._max_size = max_size
        self._max_concurrent = max_concurrent
        self._shared_slots = (
            asyncio.Semaphore(max_concurrent_total) if max_concurrent_total is not None else None
        )
        self._batchers: dict[K, Batcher[T, R]] = {}

    def keys(self) -> set[K]:
        """The keys with items waiting or being flushed."""
        return set(self._batchers)

    async def submit(self, key: K, item: T) -> R:
        batcher = self._batchers.get(key)
        if batcher is None:
            batcher = self._batchers[key] = Batcher(
                lambda items: self._flush(key, items),
                max_size=self._max_size,
                max_concurrent=self._max_concurrent,
                shared_slots=self._shared_slots,
            )
        try:
            return await batcher.submit(item)
        finally:
            if batcher.idle and self._batchers.get(key) is batcher:
                del self._batchers[key]
