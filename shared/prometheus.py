"""Serving a service's Prometheus metrics. Each service keeps its metrics in its own registry
(built at start-up and passed around), never in the library's process-wide default one."""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

#: Breaker states as a gauge's values, the order in which they get worse.
BREAKER_STATE_VALUES = {"closed": 0, "half-open": 1, "open": 2}

#: Buckets for latencies from a few milliseconds (a dial request) to minutes (a whole call).
LATENCY_BUCKETS = (
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300,
)  # fmt: skip


def metrics_route(registry: CollectorRegistry) -> web.RouteDef:
    """GET /metrics in the text exposition format."""

    async def metrics(_: web.Request) -> web.Response:
        response = web.Response(body=generate_latest(registry))
        response.headers["Content-Type"] = CONTENT_TYPE_LATEST
        return response

    return web.get("/metrics", metrics)
