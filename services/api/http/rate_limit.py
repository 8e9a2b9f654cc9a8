"""Token buckets per client: `rate` requests a second on average, bursts up to `capacity`.

Hand-written because the well-kept limiters either wait instead of refusing (aiolimiter) or
count windows (limits) and neither exposes the remaining tokens that the RateLimit headers
report. In-process: with several api replicas each enforces its own buckets, so a client's
effective limit is the per-replica limit times the replicas its requests reach.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass


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
