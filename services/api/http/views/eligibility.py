"""Why numbers are not dialled: one call's eligibility and a campaign's inventory."""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web

from services.api.http.context import POLICY, POOL
from services.api.http.request_io import json_body, path_id
from services.api.operations import eligibility as eligibility_ops

routes = web.RouteTableDef()


@routes.get("/api/v1/calls/{id}/eligibility")
async def get_call_eligibility(request: web.Request) -> web.Response:
    call_id = path_id(request, what="call")
    async with request.app[POOL].acquire() as conn:
        answer = await eligibility_ops.call_eligibility(
            conn, call_id, datetime.now(UTC), request.app[POLICY]
        )
    return json_body(answer)


@routes.get("/api/v1/campaigns/{id}/inventory")
async def get_campaign_inventory(request: web.Request) -> web.Response:
    campaign_id = path_id(request)
    async with request.app[POOL].acquire() as conn:
        answer = await eligibility_ops.campaign_inventory(
            conn, campaign_id, datetime.now(UTC), request.app[POLICY]
        )
    return json_body(answer)
