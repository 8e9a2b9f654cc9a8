"""Two api processes behind one API key: with VCS_REDIS_URL they share one limit; without it,
each enforces its own (the control that shows the test can fail)."""

from __future__ import annotations

import secrets

import aiohttp
import pytest

from tests.support.stack import Stack

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]

REDIS_URL = "redis://127.0.0.1:6379/0"
BURST = 10
#: So slow a refill that no token comes back while the test runs: every answer is the burst's.
RATE = "0.001"
REQUESTS = 3 * BURST


async def allowed_through(stack: Stack, names: tuple[str, str], key: str) -> dict[str, int]:
    """REQUESTS requests, alternating between the two replicas: how many each let through.
    Anything but 200 or 429 fails the test."""
    let_through = dict.fromkeys(names, 0)
    headers = {"Authorization": f"Bearer {key}"}
    async with aiohttp.ClientSession(headers=headers) as http:
        for i in range(REQUESTS):
            name = names[i % 2]
            async with http.get(f"{stack.url(name)}/api/v1/campaigns?size=1") as response:
                assert response.status in (200, 429), await response.text()
                if response.status == 200:
                    let_through[name] += 1
                else:
                    assert int(response.headers["Retry-After"]) >= 1
                    assert response.headers["RateLimit-Remaining"] == "0"
    return let_through


async def replicas(stack: Stack, prefix: str, key: str, **settings: str) -> tuple[str, str]:
    names = (f"{prefix}-a", f"{prefix}-b")
    for name in names:
        await stack.start(
            "api",
            name,
            VCS_API_KEYS=key,
            VCS_RATE_LIMIT_BURST=str(BURST),
            VCS_RATE_LIMIT_PER_SECOND=RATE,
            **settings,
        )
    return names


async def test_replicas_with_redis_share_one_limit(stack: Stack) -> None:
    # A key of this run's own: its count in Redis is no other run's.
    key = secrets.token_urlsafe(24)
    names = await replicas(stack, "api-shared", key, VCS_REDIS_URL=REDIS_URL)
    try:
        counted = await allowed_through(stack, names, key)
    finally:
        for name in names:
            await stack.stop(name)
    assert sum(counted.values()) == BURST, counted
    assert all(counted.values()), f"both replicas served requests: {counted}"


async def test_replicas_without_redis_each_count_their_own(stack: Stack) -> None:
    key = secrets.token_urlsafe(24)
    names = await replicas(stack, "api-alone", key)
    try:
        counted = await allowed_through(stack, names, key)
    finally:
        for name in names:
            await stack.stop(name)
    assert counted == dict.fromkeys(names, BURST)
