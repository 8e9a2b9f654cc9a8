from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from shared.batching import Batcher, KeyedBatcher


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


async def test_items_of_different_keys_never_share_a_flush_and_idle_keys_are_dropped() -> None:
    flushed: list[tuple[str, list[int]]] = []
    gate = asyncio.Event()
    flushing = {"a": asyncio.Event(), "b": asyncio.Event()}

    async def flush(key: str, items: Sequence[int]) -> list[str]:
        flushed.append((key, list(items)))
        flushing[key].set()
        await gate.wait()
        return [f"{key}{i}" for i in items]

    batcher: KeyedBatcher[str, int, str] = KeyedBatcher(flush, max_concurrent=1)
    waiting = [asyncio.create_task(batcher.submit(key, i)) for i in range(3) for key in ("a", "b")]
    # Each key's first item is flushed alone, at once; the others queue behind it.
    await flushing["a"].wait()
    await flushing["b"].wait()
    gate.set()
    assert await asyncio.gather(*waiting) == ["a0", "b0", "a1", "b1", "a2", "b2"]
    assert sorted(flushed) == [("a", [0]), ("a", [1, 2]), ("b", [0]), ("b", [1, 2])]
    assert batcher.keys() == set()
