"""The api's Prometheus metrics, in the app's own registry."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Histogram

from shared.prometheus import LATENCY_BUCKETS


@dataclass(frozen=True)
class ApiMetrics:
    registry: CollectorRegistry
    #: By method, route template (not the raw path: ids would make endless series) and status.
    requests: Counter
    request_seconds: Histogram
    #: Provider results over HTTP, by what came of them: applied, duplicate, unknown.
    callbacks: Counter

    @classmethod
    def create(cls) -> ApiMetrics:
        registry = CollectorRegistry()
        return cls(
            registry=registry,
            requests=Counter(
                "vcs_http_requests",
                "HTTP requests served",
                ["method", "route", "status"],
                registry=registry,
            ),
            request_seconds=Histogram(
                "vcs_http_request_seconds",
                "Time to answer an HTTP request",
                ["method", "route"],
                buckets=LATENCY_BUCKETS,
                registry=registry,
            ),
            callbacks=Counter(
                "vcs_http_callbacks",
                "Provider results received over HTTP, by what came of them",
                ["result"],
                registry=registry,
            ),
        )
