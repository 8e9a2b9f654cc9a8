from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from shared.batching import Batcher, KeyedBatcher


async def test_alone_an_item_is_flushed_at_once() -> None:
    flushed: list[list[int]] = []

    async def flush(items: Sequence[int]) -> list[int]:
        flushed.append(list(items))
        return [i * 10 for i in items]

    batcher: Batcher[int, int] = Batcher(flush)
    assert await batcher.submit(7) == 70
    assert await batcher.submit(8) == 80
    assert flushed == [[7], [8]]
    assert batcher.idle


async def test_items_of_one_turn_share_a_flush_and_later_ones_wait_for_a_slot() -> None:
    flushed: list[list[int]] = []
    gate = asyncio.Event()
    flushing = asyncio.Event()

    async def flush(items: Sequence[int]) -> list[int]:
        flushed.append(list(items))
        flushing.set()
        await gate.wait()
        return [i * 10 for i in items]

    batcher: Batcher[int, int] = Batcher(flush, max_size=3, max_concurrent=1)
    together = [asyncio.create_task(batcher.submit(i)) for i in range(2)]
    await flushing.wait()
    # Submitted in the same turn of the loop: one flush, which did not wait for more.
    assert flushed == [[0, 1]]
    later = [asyncio.create_task(batcher.submit(i)) for i in range(2, 6)]
    gate.set()
    assert await asyncio.gather(*together, *later) == [0, 10, 20, 30, 40, 50]
    # Those that came while the only slot was busy went together, at most three at a time.
    assert flushed == [[0, 1], [2, 3, 4], [5]]


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
    await flushing["a"].wait()
    await flushing["b"].wait()
    later = asyncio.create_task(batcher.submit("a", 3))
    gate.set()
    assert await asyncio.gather(*waiting, later) == ["a0", "b0", "a1", "b1", "a2", "b2", "a3"]
    assert sorted(flushed) == [("a", [0, 1, 2]), ("a", [3]), ("b", [0, 1, 2])]
    assert batcher.keys() == set()


async def test_keys_share_a_limit_on_flushes_and_a_keys_items_wait_for_it_together() -> None:
    flushed: list[tuple[str, list[int]]] = []
    running = 0
    most_running = 0
    gate = asyncio.Event()
    first_flushing = asyncio.Event()

    async def flush(key: str, items: Sequence[int]) -> list[str]:
        nonlocal running, most_running
        running += 1
        most_running = max(most_running, running)
        flushed.append((key, list(items)))
        first_flushing.set()
        await gate.wait()
        running -= 1
        return [f"{key}{i}" for i in items]

    batcher: KeyedBatcher[str, int, str] = KeyedBatcher(
        flush, max_concurrent=1, max_concurrent_total=1
    )
    first = asyncio.create_task(batcher.submit("a", 0))
    await first_flushing.wait()
    # Submitted while the only slot is busy, one key's items at different moments.
    waiting = [asyncio.create_task(batcher.submit(key, i)) for key, i in (("b", 1), ("c", 1))]
    waiting += [asyncio.create_task(batcher.submit(key, i)) for key, i in (("b", 2), ("c", 2))]
    gate.set()
    assert await asyncio.gather(first, *waiting) == ["a0", "b1", "c1", "b2", "c2"]
    assert most_running == 1
    assert flushed == [("a", [0]), ("b", [1, 2]), ("c", [1, 2])]
