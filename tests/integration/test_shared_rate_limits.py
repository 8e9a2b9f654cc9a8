"""The shared rate limits against the machine's Redis: one count for every limiter naming it,
and the process's own buckets when Redis cannot be reached."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import pytest

from services.api.http.rate_limit import SharedLimits

pytestmark = pytest.mark.asyncio(loop_scope="session")

REDIS_URL = "redis://127.0.0.1:6379/0"
#: Nothing listens on port 1 of the loopback: every connection is refused at once.
NO_REDIS_URL = "redis://127.0.0.1:1/0"


@pytest.fixture
async def two_replicas() -> AsyncIterator[tuple[SharedLimits, SharedLimits]]:
    first, second = (SharedLimits(REDIS_URL, rate=0.001, capacity=5) for _ in range(2))
    yield first, second
    await first.close()
    await second.close()


async def test_two_limiters_count_one_client_once(
    two_replicas: tuple[SharedLimits, SharedLimits],
) -> None:
    client = f"key:{secrets.token_hex(8)}"
    decisions = [await two_replicas[i % 2].take(client) for i in range(8)]
    assert [d.allowed for d in decisions] == [True] * 5 + [False] * 3
    assert [d.remaining for d in decisions[:5]] == [4, 3, 2, 1, 0]
    refused = decisions[-1].headers()
    assert refused["RateLimit-Limit"] == "5" and refused["RateLimit-Remaining"] == "0"
    assert int(refused["Retry-After"]) >= 1
    # Another client has its own count.
    assert (await two_replicas[0].take(f"key:{secrets.token_hex(8)}")).allowed


async def test_without_redis_each_process_counts_alone() -> None:
    limiter = SharedLimits(NO_REDIS_URL, rate=0.001, capacity=2)
    try:
        client = f"key:{secrets.token_hex(8)}"
        assert [(await limiter.take(client)).allowed for _ in range(3)] == [True, True, False]
    finally:
        await limiter.close()
