"""When a campaign is expected to finish, and on what assumptions."""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web

from services.api.http.context import POLICY, POOL, SETTINGS
from services.api.http.request_io import json_body, path_id
from services.api.operations import forecast as forecast_ops

routes = web.RouteTableDef()


@routes.get("/api/v1/campaigns/{id}/forecast")
async def get_campaign_forecast(request: web.Request) -> web.Response:
    campaign_id = path_id(request)
    async with request.app[POOL].acquire() as conn:
        answer = await forecast_ops.campaign_forecast(
            conn, campaign_id, datetime.now(UTC), request.app[POLICY], request.app[SETTINGS]
        )
    return json_body(answer)
