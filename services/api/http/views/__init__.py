"""HTTP views: parse the request, call an operation, translate the answer. Nothing more."""

from __future__ import annotations

from aiohttp.web import RouteDef

from services.api.http.views import calls, campaigns, docs, health, imports, statistics

ROUTES: list[RouteDef] = [
    *campaigns.routes,
    *imports.routes,
    *calls.routes,
    *statistics.routes,
    *health.routes,
    *docs.routes,
]
