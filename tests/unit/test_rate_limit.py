from __future__ import annotations

from services.api.http.rate_limit import RateLimiter


def test_a_burst_then_the_steady_rate() -> None:
    limiter = RateLimiter(rate=10, capacity=3)
    assert [limiter.take("a", 0.0).allowed for _ in range(4)] == [True, True, True, False]
    refused = limiter.take("a", 0.0)
    assert refused.retry_after_s == 1 and refused.remaining == 0
    assert limiter.take("a", 0.1).allowed  # one token back after 1/rate seconds
    assert not limiter.take("a", 0.1).allowed
    assert limiter.take("b", 0.1).allowed  # each client has its own bucket


def test_headers_report_the_bucket() -> None:
    limiter = RateLimiter(rate=2, capacity=4)
    decision = limiter.take("a", 0.0)
    assert decision.headers() == {
        "RateLimit-Limit": "4",
        "RateLimit-Remaining": "3",
        "RateLimit-Reset": "1",
    }


def test_idle_clients_are_forgotten_first() -> None:
    limiter = RateLimiter(rate=1, capacity=1, max_clients=2)
    limiter.take("a", 0.0)
    limiter.take("b", 0.0)
    limiter.take("c", 0.0)  # "a" is dropped and starts again with a full bucket
    assert limiter.take("a", 0.0).allowed
    assert not limiter.take("c", 0.0).allowed
