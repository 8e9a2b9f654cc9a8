"""The attempts whose jobs this worker holds unacknowledged: an unacked job is a busy line."""

from __future__ import annotations

import asyncio
import time

from shared.domain.attempts import AttemptRef


class HeldAttempts:
    """An event per held attempt, set when the attempt ends."""

    def __init__(self) -> None:
        self._ended: dict[AttemptRef, asyncio.Event] = {}
        self._since: dict[AttemptRef, float] = {}

    def hold(self, ref: AttemptRef) -> asyncio.Event:
        """Start holding `ref`; register before the dial so that no release is missed."""
        self._since.setdefault(ref, time.monotonic())
        return self._ended.setdefault(ref, asyncio.Event())

    async def wait(self, ref: AttemptRef) -> None:
        """Until `ref` is released; then forget it."""
        try:
            await self.hold(ref).wait()
        finally:
            self._ended.pop(ref, None)
            self._since.pop(ref, None)

    def held_for(self, ref: AttemptRef) -> float | None:
        """Seconds since `ref` was first held; None if it is not held."""
        since = self._since.get(ref)
        return None if since is None else time.monotonic() - since

    def release(self, ref: AttemptRef) -> bool:
        event = self._ended.get(ref)
        if event is None:
            return False
        event.set()
        return True

    def refs(self) -> list[AttemptRef]:
        return list(self._ended)

    def __len__(self) -> int:
        return len(self._ended)
