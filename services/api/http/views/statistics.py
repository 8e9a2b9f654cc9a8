"""Statistics: one campaign's progress and pace, and the whole system's figures."""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web

from services.api.http.context import BROKER, POOL, RECENT_METRICS, SETTINGS
from services.api.http.request_io import json_body, path_id, query_int
from services.api.operations import statistics as stats_ops
from services.api.stats_schemas import GlobalMetricsOut

routes = web.RouteTableDef()


@routes.get("/api/v1/campaigns/{id}/stats")
async def campaign_stats(request: web.Request) -> web.Response:
    minutes = query_int(request, "minutes", 15, low=1, high=180)
    stats = await stats_ops.campaign_stats(
        request.app[POOL], path_id(request), datetime.now(UTC), minutes
    )
    return json_body(stats)


@routes.get("/api/v1/metrics")
async def global_metrics(request: web.Request) -> web.Response:
    """Shared for a second or two by every client of this replica: a console polls it."""
    app = request.app

    async def read() -> GlobalMetricsOut:
        return await stats_ops.global_metrics(
            app[POOL], app[BROKER], app[SETTINGS], datetime.now(UTC)
        )

    return json_body(await app[RECENT_METRICS].get(read))
