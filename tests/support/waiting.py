"""Waiting on conditions with deadlines, never on bare sleeps."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def wait_until(
    probe: Callable[[], Awaitable[T]],
    *,
    timeout: float,
    interval: float = 0.05,
    message: str = "condition",
) -> T:
    """Poll `probe` until it returns something truthy; AssertionError after `timeout` s."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while True:
        last = await probe()
        if last:
            return last
        if time.monotonic() > deadline:
            raise AssertionError(
                f"timed out after {timeout} s waiting for {message}; last: {last!r}"
            )
        await asyncio.sleep(interval)


async def holds_for(
    probe: Callable[[], Awaitable[bool]], *, duration: float, interval: float = 0.05
) -> None:
    """Assert that `probe` stays true for `duration` seconds (for "nothing happens" checks)."""
    deadline = time.monotonic() + duration
    while time.monotonic() < deadline:
        assert await probe(), "condition stopped holding"
        await asyncio.sleep(interval)
