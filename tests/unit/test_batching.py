from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from shared.batching import Batcher


async def test_alone_an_item_is_flushed_at_once_and_under_load_items_share_flushes() -> None:
    flushed: list[list[int]] = []
    gate = asyncio.Event()
    first_flush_started = asyncio.Event()

    async def flush(items: Sequence[int]) -> list[int]:
        flushed.append(list(items))
        first_flush_started.set()
        await gate.wait()
        return [i * 10 for i in items]

    batcher: Batcher[int, int] = Batcher(flush, max_size=3, max_concurrent=1)
    waiting = [asyncio.create_task(batcher.submit(i)) for i in range(6)]
    await first_flush_started.wait()
    assert flushed == [[0]]  # the first item did not wait for company
    gate.set()
    assert await asyncio.gather(*waiting) == [0, 10, 20, 30, 40, 50]
    assert flushed == [[0], [1, 2, 3], [4, 5]]


async def test_a_failed_flush_fails_every_item_in_it() -> None:
    async def flush(items: Sequence[int]) -> list[int]:
        raise RuntimeError("database down")

    batcher: Batcher[int, int] = Batcher(flush)
    with pytest.raises(RuntimeError):
        await batcher.submit(1)
    # The slot is free again afterwards.
    with pytest.raises(RuntimeError):
        await asyncio.wait_for(batcher.submit(2), 1)
