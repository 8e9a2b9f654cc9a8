"""Call setups a second, per campaign and across all: token buckets the dispatcher draws on
before it publishes a paced campaign's jobs (one call each)."""

from __future__ import annotations

from dataclasses import dataclass, field
from uuid import UUID

#: How much unused rate a bucket saves up, in seconds of it: small, so that dials are spread
#: rather than sent in bursts after a quiet spell, yet at least one whole call.
BURST_SECONDS = 0.2
#: How much of the next call a pass may carry over beyond the burst. A pass that comes a
#: little late keeps what it earned, so the rate holds; one that comes very late (a stalled
#: pass) loses the excess rather than sending its next call at once: calls stay at least half
#: an interval apart.
CARRY_OVER = 0.5


@dataclass
class TokenBucket:
    rate: float
    tokens: float = 0.0
    updated_at: float | None = None

    @property
    def burst(self) -> float:
        return max(1.0, self.rate * BURST_SECONDS)

    def available(self, now: float) -> int:
        """Whole calls allowed now."""
        if self.updated_at is not None:
            earned = self.tokens + (now - self.updated_at) * self.rate
            self.tokens = min(self.burst + CARRY_OVER, earned)
        else:
            self.tokens = 1.0
        self.updated_at = now
        # A timer may fire a hair early: a call due now is allowed now.
        return int(self.tokens + 1e-6)

    def take(self, count: int) -> None:
        self.tokens -= count

    def next_call_at(self) -> float:
        """When the bucket will hold a whole call, on the clock `available` was given."""
        assert self.updated_at is not None, "looked at before it was used"
        return self.updated_at + max(0.0, (1.0 - self.tokens) / self.rate)


@dataclass
class Pacer:
    """Decides how many of the jobs a campaign wants may go out now."""

    global_rate: float | None
    _campaigns: dict[UUID, TokenBucket] = field(default_factory=dict)
    _global: TokenBucket | None = None

    def __post_init__(self) -> None:
        if self.global_rate is not None:
            self._global = TokenBucket(self.global_rate)

    def paces(self, campaign_rate: float | None) -> bool:
        return campaign_rate is not None or self.global_rate is not None

    def allow(self, campaign_id: UUID, campaign_rate: float | None, wanted: int, now: float) -> int:
        """Up to `wanted`, as many as both the campaign's and the global rate allow now; takes
        them from the buckets."""
        buckets: list[TokenBucket] = []
        if campaign_rate is not None:
            bucket = self._campaigns.get(campaign_id)
            if bucket is None or bucket.rate != campaign_rate:
                bucket = self._campaigns[campaign_id] = TokenBucket(campaign_rate)
            buckets.append(bucket)
        else:
            self._campaigns.pop(campaign_id, None)
        if self._global is not None:
            buckets.append(self._global)
        allowed = min([wanted, *(b.available(now) for b in buckets)])
        for bucket in buckets:
            bucket.take(allowed)
        return max(allowed, 0)

    def next_call_at(self, campaign_id: UUID) -> float:
        """When both the campaign's and the global bucket will let one more of its calls out;
        call after `allow` for the campaign."""
        buckets = [b for b in (self._campaigns.get(campaign_id), self._global) if b is not None]
        return max(b.next_call_at() for b in buckets)

    def forget_all_but(self, campaign_ids: set[UUID]) -> None:
        for campaign_id in [c for c in self._campaigns if c not in campaign_ids]:
            del self._campaigns[campaign_id]
