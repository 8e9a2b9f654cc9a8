"""The deliverer stops when cancelled, even when the cancellation comes with a wake-up (on
Python 3.11 asyncio.wait_for swallowed such a cancellation: the loop went on, and the api's
shutdown waited for it for ever)."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr

from services.api.webhooks.deliverer import Deliverer
from shared.settings import Settings
from tests.support.waiting import wait_until

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest.mark.parametrize("key", [True, False], ids=["delivering", "rendering only"])
async def test_a_cancel_that_comes_with_a_wake_up_stops_the_deliverer(
    db: asyncpg.Pool, settings: Settings, key: bool
) -> None:
    hooked = settings.model_copy(
        update={
            "webhook_secret_key": SecretStr(Fernet.generate_key().decode()) if key else None,
            "webhook_poll_interval_ms": 1000,
        }
    )
    for _ in range(3):
        deliverer = Deliverer(db, hooked)
        task = asyncio.create_task(deliverer.run())

        async def parked(deliverer: Deliverer = deliverer) -> bool:
            return deliverer.idle

        await wait_until(parked, timeout=10, message="the deliverer to wait for work")
        deliverer.wake()
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=5)
        assert done, "the deliverer went on after it was cancelled"
        assert task.cancelled()
