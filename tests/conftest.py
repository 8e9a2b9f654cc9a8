"""Fixtures: each test run gets its own database and vhost; e2e tests share one running stack."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import asyncpg
import pytest
import pytest_asyncio

from shared.db.pool import init_connection
from shared.settings import Settings
from tests.support.api_client import (
    TEST_API_KEY,
    TEST_CALLBACK_SECRET,
    ApiClient,
    MockClient,
)
from tests.support.infra import Infra, create_infra, destroy_infra
from tests.support.stack import Stack, full_stack

#: Faster ticks than production so that the e2e suite waits less; behaviour is the same.
E2E_SETTINGS = {
    "VCS_API_KEYS": TEST_API_KEY,
    "VCS_CALLBACK_SECRET": TEST_CALLBACK_SECRET,
    "VCS_DISPATCH_INTERVAL_MS": "100",
    "VCS_HELD_ATTEMPT_CHECK_INTERVAL_MS": "500",
    "VCS_CAMPAIGN_REFRESH_INTERVAL_MS": "500",
    "VCS_BREAKER_RESET_TIMEOUT_MS": "1000",
    "VCS_MOCK_DELAY_MIN_MS": "50",
    "VCS_MOCK_DELAY_MAX_MS": "200",
    # Webhook retries and timeouts within a test's patience.
    "VCS_WEBHOOK_RETRY_BASE_MS": "200",
    "VCS_WEBHOOK_TIMEOUT_MS": "2000",
}


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def infra() -> AsyncIterator[Infra]:
    created = await create_infra()
    yield created
    await destroy_infra(created)


@pytest.fixture(scope="session")
def settings(infra: Infra) -> Settings:
    return Settings(
        database_url=infra.database_url,
        amqp_url=infra.amqp_url,
        log_format="json",
        api_keys=TEST_API_KEY,
        callback_secret=TEST_CALLBACK_SECRET,
        calling_policy="off",
        # Not from the environment (make run's development values): a test that needs
        # webhooks says so.
        webhook_secret_key=None,
        webhook_allow_private=False,
    )


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def db(infra: Infra) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(
        infra.database_url, min_size=1, max_size=5, init=init_connection
    )
    assert pool is not None
    yield pool
    await pool.close()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def stack(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> AsyncIterator[Stack]:
    """api, dispatcher, two workers and the mock carrier, on their own database and vhost."""
    async with full_stack(tmp_path_factory, request, "vcs_e2e", E2E_SETTINGS) as running:
        yield running


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def stack_db(stack: Stack) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(
        stack.infra.database_url, min_size=1, max_size=5, init=init_connection
    )
    assert pool is not None
    yield pool
    await pool.close()


@pytest.fixture
def api(stack: Stack, http: aiohttp.ClientSession) -> ApiClient:
    return ApiClient(http, stack.url("api"))


@pytest_asyncio.fixture(loop_scope="session")
async def mock(stack: Stack, http: aiohttp.ClientSession) -> AsyncIterator[MockClient]:
    """The mock carrier, configured with no failures unless a test says otherwise."""
    client = MockClient(http, stack.url("telephony_mock"))
    await client.configure()
    yield client
