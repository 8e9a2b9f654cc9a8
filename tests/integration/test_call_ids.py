"""Call ids are in the UUIDv7 layout, so bulk loads append to the index: made by the database's
default, or by the api for a load (shared/db/ids.py)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable
from uuid import UUID

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from services.api.app import create_app
from shared.db.pool import create_pool
from shared.settings import Settings
from tests.support.api_client import TEST_API_KEY
from tests.support.numbers import fresh_numbers

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_call_ids_are_time_ordered_uuids(db: asyncpg.Pool) -> None:
    before_ms = int(time.time() * 1000)
    ids: list[uuid.UUID] = [
        r["id"]
        for r in await db.fetch("SELECT time_ordered_uuid() AS id FROM generate_series(1, 500)")
    ]
    after_ms = int(time.time() * 1000)
    assert len(set(ids)) == 500
    for made in ids:
        assert made.version == 7 and made.variant == uuid.RFC_4122
        assert before_ms - 1000 <= made.int >> 80 <= after_ms + 1000  # 48 bits of epoch ms
    default = await db.fetchval(
        "SELECT column_default FROM information_schema.columns"
        " WHERE table_name = 'calls' AND column_name = 'id'"
    )
    assert default == "time_ordered_uuid()"


async def test_loaded_calls_have_ids_made_by_the_api_in_load_order(
    aiohttp_client: Callable[..., Awaitable[TestClient]],  # type: ignore[type-arg]
    settings: Settings,
    db: asyncpg.Pool,
) -> None:
    client = await aiohttp_client(
        create_app(settings), headers={"Authorization": f"Bearer {TEST_API_KEY}"}
    )
    before_ms = int(time.time() * 1000)
    response = await client.post(
        "/api/v1/campaigns", json={"name": "ids", "phoneNumbers": fresh_numbers(300)}
    )
    assert response.status == 201, await response.text()
    campaign = await response.json()
    ids = [
        r["id"]
        for r in await db.fetch(
            "SELECT id FROM calls WHERE campaign_id = $1 ORDER BY seq", UUID(campaign["id"])
        )
    ]
    assert len(ids) == 300
    assert ids == sorted(ids)  # ordered as loaded: the counter follows the rows
    for made in ids:
        assert made.version == 7 and made.variant == uuid.RFC_4122
        assert before_ms - 1000 <= made.int >> 80 <= int(time.time() * 1000) + 1000


async def test_our_pools_run_without_jit(settings: Settings) -> None:
    pool = await create_pool(settings, max_size=1)
    try:
        assert await pool.fetchval("SHOW jit") == "off"
    finally:
        await pool.close()
