"""Waiting with a deadline in a way that a cancellation always ends."""

from __future__ import annotations

import asyncio
from contextlib import suppress


async def wait_until_set(event: asyncio.Event, seconds: float) -> bool:
    """Whether `event` is set, waiting for it at most `seconds`.

    asyncio.timeout, not asyncio.wait_for: on Python 3.11 wait_for can swallow a
    cancellation that arrives just as its own timeout fires (CPython issue 86296; 3.12 rebuilt
    wait_for on asyncio.timeout), and a loop that waits in slices then runs on after it was
    told to stop.
    """
    with suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await event.wait()
    return event.is_set()
