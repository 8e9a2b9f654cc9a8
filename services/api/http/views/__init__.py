"""HTTP views: parse the request, call an operation, translate the answer. Nothing more.

A view that takes an Idempotency-Key opens the transaction itself, so that the key's row
commits with the operation's writes; it calls the operation's announcement (events through
the operations layer's Broker) only after the commit."""

from __future__ import annotations

from aiohttp.web import RouteDef

from services.api.http.views import (
    calls,
    campaigns,
    docs,
    eligibility,
    events,
    forecast,
    health,
    imports,
    statistics,
    suppressions,
    webhooks,
)

ROUTES: list[RouteDef] = [
    *campaigns.routes,
    *imports.routes,
    *calls.routes,
    *suppressions.routes,
    *webhooks.routes,
    *events.routes,
    *statistics.routes,
    *eligibility.routes,
    *forecast.routes,
    *health.routes,
    *docs.routes,
]
