"""The last answer of an expensive read, shared by every request for a short while."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Recent(Generic[T]):
    """Answers `read()` from the last result younger than `ttl_s`; otherwise one caller reads
    again while the others wait for that read, so many pollers cost one read per `ttl_s`."""

    def __init__(self, ttl_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl_s = ttl_s
        self._clock = clock
        self._value: T | None = None
        self._read_at = float("-inf")
        self._lock = asyncio.Lock()

    async def get(self, read: Callable[[], Awaitable[T]]) -> T:
        if self._value is not None and self._clock() - self._read_at < self._ttl_s:
            return self._value
        async with self._lock:
            if self._value is None or self._clock() - self._read_at >= self._ttl_s:
                self._value = await read()
                self._read_at = self._clock()
            return self._value
