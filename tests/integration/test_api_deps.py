"""create_app(settings, deps): collaborators a caller brings are used, and left open for it."""

from __future__ import annotations

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from services.api.app import Deps, create_app
from services.api.operations.broker import Broker
from shared.settings import Settings
from tests.support.api_client import TEST_API_KEY

pytestmark = pytest.mark.asyncio(loop_scope="session")

AUTH = {"Authorization": f"Bearer {TEST_API_KEY}"}


async def test_a_given_pool_and_broker_serve_the_app_and_outlive_it(
    settings: Settings, db: asyncpg.Pool
) -> None:
    broker = await Broker.connect(settings.amqp_url)
    try:
        app = create_app(settings, Deps(pool=db, broker=broker))
        async with TestClient(TestServer(app), headers=AUTH) as client:
            created = await client.post("/api/v1/campaigns", json={"name": "deps"})
            assert created.status == 201, await created.text()
            campaign_id = (await created.json())["id"]
            health = await client.get("/health")
            assert health.status == 200, await health.text()
        assert not db.is_closing()
        assert broker.connected
        assert await db.fetchval("SELECT count(*) FROM campaigns WHERE id = $1", campaign_id)
    finally:
        await broker.close()
