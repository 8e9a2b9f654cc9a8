"""The live event streams one api replica serves: a bound on how many, and a signal that
ends them all when the api shuts down (they would otherwise hold the shutdown for its whole
timeout)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

from shared.errors import TransientError


class StreamSlots:
    def __init__(self, most: int) -> None:
        self._most = most
        self._open = 0
        self.closing = asyncio.Event()

    @contextlib.contextmanager
    def taken(self) -> Iterator[None]:
        """Hold one stream's slot; a 503 when every slot is taken or the api is closing."""
        if self.closing.is_set():
            raise TransientError("the api is shutting down: reconnect")
        if self._open >= self._most:
            raise TransientError(
                f"this api replica already serves {self._most} event streams: try again later"
            )
        self._open += 1
        try:
            yield
        finally:
            self._open -= 1
