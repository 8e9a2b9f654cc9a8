"""The carrier's inspection and control API: what it received, and how it should behave."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web
from pydantic import ValidationError

from services.telephony_mock.behaviour import MockConfig
from services.telephony_mock.carrier import Carrier
from services.telephony_mock.metrics import carrier_registry
from shared.health import HealthCheck, health_response, run_checks
from shared.prometheus import metrics_route

CARRIER: web.AppKey[Carrier] = web.AppKey("carrier", Carrier)
CHECKS: web.AppKey[Mapping[str, HealthCheck]] = web.AppKey("checks", Mapping)


async def health(request: web.Request) -> web.Response:
    healthy, components = await run_checks(request.app[CHECKS])
    return health_response(healthy, components)


async def stats(request: web.Request) -> web.Response:
    return web.json_response(request.app[CARRIER].stats())


async def calls(request: web.Request) -> web.Response:
    records = request.app[CARRIER].calls(
        phone_number=request.query.get("phoneNumber"),
        campaign_id=request.query.get("campaignId"),
    )
    return web.json_response([r.as_json() for r in records])


async def get_config(request: web.Request) -> web.Response:
    return web.json_response(request.app[CARRIER].config.model_dump(by_alias=True))


async def put_config(request: web.Request) -> web.Response:
    try:
        body: Any = await request.json()
        config = MockConfig.model_validate(body)
    except (ValueError, ValidationError) as exc:
        return web.json_response({"detail": str(exc)}, status=422)
    request.app[CARRIER].configure(config)
    return web.json_response(config.model_dump(by_alias=True))


async def reset(request: web.Request) -> web.Response:
    request.app[CARRIER].reset()
    return web.Response(status=204)


def create_app(carrier: Carrier, checks: Mapping[str, HealthCheck]) -> web.Application:
    app = web.Application()
    app[CARRIER] = carrier
    app[CHECKS] = checks
    app.router.add_get("/health", health)
    app.router.add_get("/mock/stats", stats)
    app.router.add_get("/mock/calls", calls)
    app.router.add_get("/mock/config", get_config)
    app.router.add_put("/mock/config", put_config)
    app.router.add_post("/mock/reset", reset)
    app.router.add_routes([metrics_route(carrier_registry(carrier))])
    return app
