from __future__ import annotations

import asyncio
from uuid import uuid4

from services.worker.held_attempts import HeldAttempts
from shared.domain.attempts import AttemptRef


async def test_a_release_between_hold_and_wait_is_not_lost() -> None:
    held = HeldAttempts()
    ref = AttemptRef(uuid4(), 1)
    held.hold(ref)
    assert held.release(ref)
    await asyncio.wait_for(held.wait(ref), 1)
    assert len(held) == 0


async def test_release_of_an_unknown_attempt_is_harmless() -> None:
    assert not HeldAttempts().release(AttemptRef(uuid4(), 1))
