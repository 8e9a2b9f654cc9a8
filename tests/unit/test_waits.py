from __future__ import annotations

import asyncio

from shared.waits import wait_until_set

DEADLINE_S = 5


async def test_a_set_event_ends_the_wait_at_once() -> None:
    event = asyncio.Event()
    asyncio.get_running_loop().call_later(0.01, event.set)
    assert await asyncio.wait_for(wait_until_set(event, 60), DEADLINE_S)
    assert not await wait_until_set(asyncio.Event(), 0.001)
