"""HTTP views: parse the request, call an operation, translate the answer. Nothing more."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar
from uuid import UUID

import asyncpg
from aiohttp import web

from services.api import call_ops, campaign_ops
from services.api.context import BROKER, POOL, PUBLISHER, SETTINGS
from services.api.http_io import json_body, json_list, page_params, path_id, read_json
from services.api.presenters import campaign_out
from services.api.schemas import (
    CallbackIn,
    CallOut,
    CampaignCreate,
    CampaignOut,
    SingleCallCreate,
)
from shared.amqp import Publisher
from shared.db.pool import check_database
from shared.domain.campaign import Campaign
from shared.domain.statuses import CallStatus, CampaignStatus
from shared.errors import InvalidInput, Unauthorized
from shared.health import health_response, run_checks
from shared.repositories import campaigns as campaign_repo
from shared.signatures import SIGNATURE_HEADER, is_valid

routes = web.RouteTableDef()


Status = TypeVar("Status", CampaignStatus, CallStatus)
Operation = Callable[[asyncpg.Pool, Publisher, UUID], Awaitable[Campaign]]


def _status_filter(request: web.Request, enum: type[Status]) -> Status | None:
    raw = request.query.get("status")
    if not raw:
        return None
    try:
        return enum(raw.upper())
    except ValueError:
        allowed = ", ".join(s.value for s in enum)
        message = f"must be one of {allowed}"
        raise InvalidInput(
            f"status {message}", errors=[{"field": "status", "message": message}]
        ) from None


async def _campaign_response(
    request: web.Request, campaign_id: UUID, status: int = 200
) -> web.Response:
    async with request.app[POOL].acquire() as conn:
        campaign = await campaign_ops.get_visible_campaign(conn, campaign_id)
        counts = await campaign_repo.call_counts(conn, [campaign.id])
    return json_body(campaign_out(campaign, counts[campaign.id]), status)


@routes.post("/api/v1/campaigns")
async def create_campaign(request: web.Request) -> web.Response:
    body = await read_json(request, CampaignCreate)
    campaign = await campaign_ops.create_campaign(request.app[POOL], body, request.app[SETTINGS])
    response = await _campaign_response(request, campaign.id, status=201)
    response.headers["Location"] = f"/api/v1/campaigns/{campaign.id}"
    return response


@routes.get("/api/v1/campaigns")
async def list_campaigns(request: web.Request) -> web.Response:
    page, size = page_params(request)
    status = _status_filter(request, CampaignStatus)
    async with request.app[POOL].acquire() as conn:
        campaigns = await campaign_repo.list_campaigns(
            conn, offset=page * size, limit=size, status=status
        )
        counts = await campaign_repo.call_counts(conn, [c.id for c in campaigns])
    return json_list([campaign_out(c, counts[c.id]) for c in campaigns], CampaignOut)


@routes.get("/api/v1/campaigns/{id}")
async def get_campaign(request: web.Request) -> web.Response:
    return await _campaign_response(request, path_id(request))


@routes.get("/api/v1/campaigns/{id}/calls")
async def list_campaign_calls(request: web.Request) -> web.Response:
    page, size = page_params(request)
    calls = await call_ops.list_campaign_calls(
        request.app[POOL],
        path_id(request),
        status=_status_filter(request, CallStatus),
        page=page,
        size=size,
    )
    return json_list(calls, CallOut)


def _lifecycle_view(operation: Operation) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def view(request: web.Request) -> web.Response:
        campaign = await operation(request.app[POOL], request.app[PUBLISHER], path_id(request))
        return await _campaign_response(request, campaign.id)

    return view


routes.post("/api/v1/campaigns/{id}/start")(_lifecycle_view(campaign_ops.start_campaign))
routes.post("/api/v1/campaigns/{id}/pause")(_lifecycle_view(campaign_ops.pause_campaign))
routes.post("/api/v1/campaigns/{id}/resume")(_lifecycle_view(campaign_ops.resume_campaign))
routes.post("/api/v1/campaigns/{id}/cancel")(_lifecycle_view(campaign_ops.cancel_campaign))


@routes.post("/api/v1/calls")
async def create_call(request: web.Request) -> web.Response:
    body = await read_json(request, SingleCallCreate)
    call = await call_ops.place_single_call(
        request.app[POOL], request.app[PUBLISHER], request.app[SETTINGS], body
    )
    return json_body(call, 201, headers={"Location": f"/api/v1/calls/{call.id}"})


@routes.post("/api/v1/calls/callback")
async def provider_callback(request: web.Request) -> web.Response:
    """A provider's result, signed: X-Signature = HMAC-SHA256 of the raw body."""
    secret = request.app[SETTINGS].callback_secret
    raw = await request.read()
    if secret is None:
        raise Unauthorized("callbacks are refused: VCS_CALLBACK_SECRET is not configured")
    if not is_valid(secret, raw, request.headers.get(SIGNATURE_HEADER)):
        raise Unauthorized(f"missing or wrong {SIGNATURE_HEADER} for this body")
    body = CallbackIn.model_validate_json(raw)
    result = await call_ops.apply_callback(request.app[POOL], request.app[PUBLISHER], body)
    return json_body(result)


@routes.get("/api/v1/calls/{id}")
async def get_call(request: web.Request) -> web.Response:
    call = await call_ops.get_call(request.app[POOL], path_id(request, what="call"))
    return json_body(call)


async def _health(request: web.Request) -> web.Response:
    pool = request.app[POOL]
    broker = request.app[BROKER]

    async def database() -> None:
        await check_database(pool)

    async def amqp() -> None:
        if broker.is_closed:
            raise ConnectionError("broker connection closed")

    healthy, components = await run_checks({"database": database, "broker": amqp})
    return health_response(healthy, components)


routes.get("/health")(_health)
routes.get("/actuator/health")(_health)
