"""Rate limits per client: `rate` requests a second on average, bursts up to `capacity`.

In one process (the default): token buckets, hand-written because the well-kept limiters
either wait instead of refusing (aiolimiter) or count windows (limits), and a bucket is what
the RateLimit headers describe best. With several api replicas each then enforces its own
buckets, so a client's effective limit is the per-replica limit times the replicas its
requests reach.

Shared (VCS_REDIS_URL set): every replica counts in Redis, with the limits library's sliding
window counter (its Lua scripts make each count atomic): `capacity` requests in any window of
capacity / rate seconds (rounded up to a whole second), so the same average and the same
burst as the buckets for the defaults. When Redis cannot answer within its timeout the
request is counted in the process's own buckets instead, and a warning logged: an outage of
the limiter's store must not become an outage of the API (docs/scaling.md).
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Protocol

import structlog
from limits import RateLimitItemPerSecond
from limits.aio.storage import RedisStorage
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from redis.asyncio import BlockingConnectionPool
from redis.exceptions import RedisError

log = structlog.get_logger()

#: How long a request waits for Redis before it is counted locally instead.
REDIS_TIMEOUT_S = 0.25
#: Connections one api process keeps to Redis (requests beyond wait for one, briefly).
REDIS_CONNECTIONS = 20
#: At most one "counting locally" warning per this many seconds, not one per request.
WARN_EVERY_S = 30.0


@dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    #: Seconds until the bucket is full again.
    reset_s: int
    #: Seconds until one request would be allowed (0 if allowed now).
    retry_after_s: int

    def headers(self) -> dict[str, str]:
        headers = {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset_s),
        }
        if not self.allowed:
            headers["Retry-After"] = str(self.retry_after_s)
        return headers


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    def __init__(self, rate: float, capacity: int, max_clients: int = 100_000) -> None:
        self._rate = rate
        self._capacity = capacity
        self._max_clients = max_clients
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def take(self, client: str, now: float) -> Decision:
        """Spend one token of `client`'s bucket at time `now` (seconds, monotonic)."""
        bucket = self._buckets.pop(client, None) or _Bucket(float(self._capacity), now)
        bucket.tokens = min(self._capacity, bucket.tokens + (now - bucket.updated) * self._rate)
        bucket.updated = now
        allowed = bucket.tokens >= 1
        if allowed:
            bucket.tokens -= 1
        self._buckets[client] = bucket
        if len(self._buckets) > self._max_clients:
            self._buckets.popitem(last=False)  # the client idle the longest
        missing = self._capacity - bucket.tokens
        return Decision(
            allowed=allowed,
            limit=self._capacity,
            remaining=int(bucket.tokens),
            reset_s=math.ceil(missing / self._rate),
            retry_after_s=0 if allowed else math.ceil((1 - bucket.tokens) / self._rate),
        )


class Limits(Protocol):
    async def take(self, client: str) -> Decision: ...

    async def close(self) -> None: ...


class ProcessLimits:
    """The buckets of this process alone."""

    def __init__(self, rate: float, capacity: int) -> None:
        self._buckets = RateLimiter(rate, capacity)

    async def take(self, client: str) -> Decision:
        return self._buckets.take(client, time.monotonic())

    async def close(self) -> None:
        return None


class SharedLimits:
    """One count per client for every api replica that names the same Redis."""

    def __init__(self, redis_url: str, rate: float, capacity: int) -> None:
        self._pool = BlockingConnectionPool.from_url(
            redis_url,
            max_connections=REDIS_CONNECTIONS,
            timeout=REDIS_TIMEOUT_S,
            socket_timeout=REDIS_TIMEOUT_S,
            socket_connect_timeout=REDIS_TIMEOUT_S,
        )
        storage = RedisStorage(
            # The pool carries the address; the URI only picks the storage class.
            "async+redis://",
            implementation="redispy",
            key_prefix="vcs-rate",
            connection_pool=self._pool,  # type: ignore[arg-type]
        )
        self._counter = SlidingWindowCounterRateLimiter(storage)
        self._item = RateLimitItemPerSecond(capacity, max(1, math.ceil(capacity / rate)))
        self._fallback = ProcessLimits(rate, capacity)
        self._warned_at = -math.inf

    async def take(self, client: str) -> Decision:
        try:
            allowed = await self._counter.hit(self._item, client)
            stats = await self._counter.get_window_stats(self._item, client)
        except (RedisError, OSError, TimeoutError) as exc:
            now = time.monotonic()
            if now - self._warned_at >= WARN_EVERY_S:
                self._warned_at = now
                log.warning("rate limits counted per process: redis unavailable", error=str(exc))
            return await self._fallback.take(client)
        reset_s = max(0, math.ceil(stats.reset_time - time.time()))
        return Decision(
            allowed=allowed,
            limit=self._item.amount,
            remaining=stats.remaining,
            reset_s=reset_s,
            retry_after_s=0 if allowed else max(1, reset_s),
        )

    async def close(self) -> None:
        await self._pool.aclose()


def limits_for(redis_url: str | None, rate: float, capacity: int) -> Limits:
    """Shared through Redis when a URL is given, else this process's own."""
    if redis_url:
        return SharedLimits(redis_url, rate, capacity)
    return ProcessLimits(rate, capacity)
