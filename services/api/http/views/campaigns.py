"""Campaign endpoints: create, list, read, change, delete, and the lifecycle verbs."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import nullcontext
from datetime import datetime
from uuid import UUID

import asyncpg
from aiohttp import web

from services.api.http import idempotency
from services.api.http.context import BROKER, POOL, SETTINGS, VALIDATION, bulk_load
from services.api.http.pagination import (
    CALL_PAGE_SIZE,
    CAMPAIGN_PAGE_SIZE,
    cursor_position,
    page_headers,
    page_request,
)
from services.api.http.request_io import json_body, json_list, path_id
from services.api.http.views.common import status_filter
from services.api.operations import calls as call_ops
from services.api.operations import campaigns as campaign_ops
from services.api.operations import export
from services.api.operations.broker import Broker
from services.api.presenters import import_result
from services.api.schemas import (
    CallOut,
    CampaignCreate,
    CampaignCreated,
    CampaignOut,
    CampaignPatch,
)
from shared.domain.campaign import Campaign
from shared.domain.statuses import CallStatus, CampaignStatus
from shared.errors import InvalidInput

routes = web.RouteTableDef()

Operation = Callable[[asyncpg.Pool, Broker, UUID], Awaitable[Campaign]]


@routes.post("/api/v1/campaigns")
async def create_campaign(request: web.Request) -> web.Response:
    raw = await request.read()
    body = CampaignCreate.model_validate_json(raw)
    settings = request.app[SETTINGS]
    loading = bulk_load(request) if body.phone_numbers else nullcontext()
    async with loading, request.app[POOL].acquire() as conn, conn.transaction():
        claim = await idempotency.begin(conn, request, raw)
        if isinstance(claim, idempotency.Replay):
            return claim.response()
        campaign, report = await campaign_ops.create_campaign(
            conn, body, settings, request.app[VALIDATION].executor
        )
        shown = await campaign_ops.read_campaign(conn, campaign.id)
        out = CampaignCreated(
            **shown.model_dump(),
            import_summary=import_result(report, campaign.status) if report else None,
        )
        location = f"/api/v1/campaigns/{campaign.id}"
        if claim is not None:
            await claim.record(201, out.model_dump(mode="json", by_alias=True), location)
    return json_body(out, 201, headers={"Location": location})


@routes.get("/api/v1/campaigns")
async def list_campaigns(request: web.Request) -> web.Response:
    page = page_request(request, CAMPAIGN_PAGE_SIZE)
    status = status_filter(request, CampaignStatus)
    after = None
    if page.after is not None:
        try:
            after = (datetime.fromisoformat(page.after["c"]), UUID(page.after["i"]))
        except (KeyError, TypeError, ValueError):
            message = "is not a cursor of this list"
            raise InvalidInput(
                f"cursor {message}", errors=[{"field": "cursor", "message": message}]
            ) from None
    async with request.app[POOL].acquire() as conn:
        campaigns, total, last = await campaign_ops.list_campaigns(
            conn, status=status, limit=page.size, offset=page.offset, after=after
        )
    position = {"c": last[0].isoformat(), "i": str(last[1])} if last else None
    response = json_list(campaigns, CampaignOut)
    response.headers.update(page_headers(request, total, page.size, position))
    return response


@routes.get("/api/v1/campaigns/{id}")
async def get_campaign(request: web.Request) -> web.Response:
    async with request.app[POOL].acquire() as conn:
        return json_body(await campaign_ops.read_campaign(conn, path_id(request)))


@routes.patch("/api/v1/campaigns/{id}")
async def update_campaign(request: web.Request) -> web.Response:
    body = CampaignPatch.model_validate_json(await request.read())
    campaign_id = path_id(request)
    app = request.app
    await campaign_ops.update_campaign(app[POOL], app[BROKER], campaign_id, body, app[SETTINGS])
    async with request.app[POOL].acquire() as conn:
        return json_body(await campaign_ops.read_campaign(conn, campaign_id))


@routes.delete("/api/v1/campaigns/{id}")
async def delete_campaign(request: web.Request) -> web.Response:
    campaign_id = path_id(request)
    await campaign_ops.delete_campaign(request.app[POOL], request.app[BROKER], campaign_id)
    return web.Response(status=204)


@routes.get("/api/v1/campaigns/{id}/calls")
async def list_campaign_calls(request: web.Request) -> web.Response:
    page = page_request(request, CALL_PAGE_SIZE)
    after_seq = cursor_position(page, "s", int)
    async with request.app[POOL].acquire() as conn:
        calls, total, last_seq = await call_ops.list_campaign_calls(
            conn,
            path_id(request),
            status=status_filter(request, CallStatus),
            limit=page.size,
            offset=page.offset,
            after_seq=after_seq,
        )
    response = json_list(calls, CallOut)
    position = {"s": last_seq} if last_seq is not None else None
    response.headers.update(page_headers(request, total, page.size, position))
    return response


@routes.get("/api/v1/campaigns/{id}/calls/export")
async def export_campaign_calls(request: web.Request) -> web.StreamResponse:
    """Every call of the campaign as CSV (filterable by status), streamed."""
    campaign_id = path_id(request)
    status = status_filter(request, CallStatus)
    pool = request.app[POOL]
    await export.check_campaign(pool, campaign_id)
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": f'attachment; filename="campaign-{campaign_id}-calls.csv"',
        }
    )
    await response.prepare(request)
    async for chunk in export.export_chunks(pool, campaign_id, status):
        await response.write(chunk)
    await response.write_eof()
    return response


def _lifecycle_view(operation: Operation) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def view(request: web.Request) -> web.Response:
        campaign = await operation(request.app[POOL], request.app[BROKER], path_id(request))
        async with request.app[POOL].acquire() as conn:
            return json_body(await campaign_ops.read_campaign(conn, campaign.id))

    return view


routes.post("/api/v1/campaigns/{id}/start")(_lifecycle_view(campaign_ops.start_campaign))
routes.post("/api/v1/campaigns/{id}/pause")(_lifecycle_view(campaign_ops.pause_campaign))
routes.post("/api/v1/campaigns/{id}/resume")(_lifecycle_view(campaign_ops.resume_campaign))
routes.post("/api/v1/campaigns/{id}/cancel")(_lifecycle_view(campaign_ops.cancel_campaign))
