"""A worker's session ends, and the next can start, even when a close is never answered."""

from __future__ import annotations

import asyncio

import pytest

from services.worker import bootstrap


class HangingPool:
    def __init__(self) -> None:
        self.terminated = False

    async def close(self) -> None:
        await asyncio.Event().wait()  # a connection that never comes back

    def terminate(self) -> None:
        self.terminated = True


async def test_a_close_that_never_returns_is_given_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bootstrap, "CLOSE_WITHIN_S", 0.05)

    async def never() -> None:
        await asyncio.Event().wait()

    async def at_once() -> None:
        return None

    assert await bootstrap._closed_within(never, "broker connection") is False
    assert await bootstrap._closed_within(at_once, "broker connection") is True


async def test_a_pool_that_does_not_close_is_terminated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bootstrap, "CLOSE_WITHIN_S", 0.05)
    pool = HangingPool()
    await bootstrap._close_pool(pool)  # type: ignore[arg-type]
    assert pool.terminated
