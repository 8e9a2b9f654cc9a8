"""Webhook endpoints: create, list, read, change (rotate, enable, disable), delete, test; and
each one's delivery log with a retry."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from aiohttp import web

from services.api.http.context import POOL, SETTINGS, WEBHOOK_SECRETS
from services.api.http.pagination import (
    WEBHOOK_PAGE_SIZE,
    cursor_position,
    page_headers,
    page_request,
)
from services.api.http.request_io import json_body, json_list, path_id
from services.api.operations import webhooks as ops
from services.api.webhook_schemas import (
    DELIVERY_STATUSES,
    DeliveryOut,
    WebhookCreate,
    WebhookOut,
    WebhookPatch,
)
from shared.errors import InvalidInput

routes = web.RouteTableDef()


@routes.post("/api/v1/webhooks")
async def create_webhook(request: web.Request) -> web.Response:
    _only_query(request)
    body = WebhookCreate.model_validate_json(await request.read())
    box = request.app[WEBHOOK_SECRETS]
    async with request.app[POOL].acquire() as conn:
        out = await ops.create_webhook(conn, request.app[SETTINGS], box, body)
    return json_body(out, status=201, headers={"Location": f"/api/v1/webhooks/{out.id}"})


@routes.get("/api/v1/webhooks")
async def list_webhooks(request: web.Request) -> web.Response:
    _only_query(request, _PAGING)
    page = page_request(request, WEBHOOK_PAGE_SIZE)
    after = _position(cursor_position(page, "w", str))
    async with request.app[POOL].acquire() as conn:
        endpoints, total = await ops.list_webhooks(
            conn, limit=page.size, offset=page.offset, after=after
        )
    response = json_list([ops.webhook_out(e) for e in endpoints], WebhookOut)
    last = endpoints[-1] if len(endpoints) == page.size else None
    position = {"w": f"{last.created_at.isoformat()}|{last.id}"} if last else None
    response.headers.update(page_headers(request, total, page.size, position))
    return response


@routes.get("/api/v1/webhooks/{id}")
async def get_webhook(request: web.Request) -> web.Response:
    webhook_id = path_id(request, what="webhook")
    _only_query(request)
    async with request.app[POOL].acquire() as conn:
        endpoint = await ops.get_endpoint(conn, webhook_id)
    return json_body(ops.webhook_out(endpoint))


@routes.patch("/api/v1/webhooks/{id}")
async def update_webhook(request: web.Request) -> web.Response:
    webhook_id = path_id(request, what="webhook")
    _only_query(request)
    body = WebhookPatch.model_validate_json(await request.read())
    async with request.app[POOL].acquire() as conn:
        out = await ops.update_webhook(
            conn, request.app[SETTINGS], request.app[WEBHOOK_SECRETS], webhook_id, body
        )
    return json_body(out)


@routes.delete("/api/v1/webhooks/{id}")
async def delete_webhook(request: web.Request) -> web.Response:
    webhook_id = path_id(request, what="webhook")
    _only_query(request)
    async with request.app[POOL].acquire() as conn:
        await ops.delete_webhook(conn, webhook_id)
    return web.Response(status=204)


@routes.post("/api/v1/webhooks/{id}/test")
async def test_webhook(request: web.Request) -> web.Response:
    webhook_id = path_id(request, what="webhook")
    _only_query(request)
    async with request.app[POOL].acquire() as conn, conn.transaction():
        out = await ops.send_test(conn, webhook_id)
    return json_body(out, status=202)


@routes.get("/api/v1/webhooks/{id}/deliveries")
async def list_deliveries(request: web.Request) -> web.Response:
    webhook_id = path_id(request, what="webhook")
    _only_query(request, _PAGING | {"status"})
    status = (request.query.get("status") or "").upper() or None
    if status is not None and status not in DELIVERY_STATUSES:
        message = f"must be one of {', '.join(DELIVERY_STATUSES)}"
        raise InvalidInput(f"status {message}", errors=[{"field": "status", "message": message}])
    page = page_request(request, WEBHOOK_PAGE_SIZE)
    after = _position(cursor_position(page, "d", str))
    async with request.app[POOL].acquire() as conn:
        rows, total = await ops.list_deliveries(
            conn, webhook_id, status=status, limit=page.size, offset=page.offset, after=after
        )
    response = json_list([ops.delivery_out(r) for r in rows], DeliveryOut)
    last = rows[-1] if len(rows) == page.size else None
    position = {"d": f"{last['created_at'].isoformat()}|{last['id']}"} if last else None
    response.headers.update(page_headers(request, total, page.size, position))
    return response


@routes.post("/api/v1/webhooks/{id}/deliveries/{deliveryId}/retry")
async def retry_delivery(request: web.Request) -> web.Response:
    webhook_id = path_id(request, what="webhook")
    delivery_id = path_id(request, "deliveryId", what="delivery")
    _only_query(request)
    async with request.app[POOL].acquire() as conn:
        out = await ops.retry_delivery(conn, webhook_id, delivery_id)
    return json_body(out, status=202)


_PAGING = frozenset({"page", "size", "cursor"})


def _only_query(request: web.Request, allowed: frozenset[str] = frozenset()) -> None:
    """A query parameter these endpoints do not take is a 422 naming it."""
    for name in request.query:
        if name not in allowed:
            message = "is not a parameter of this endpoint"
            raise InvalidInput(
                f"{name!r} {message}", errors=[{"field": name or "(empty)", "message": message}]
            )


def _position(raw: str | None) -> tuple[datetime, UUID] | None:
    """A keyset position `<created_at>|<id>` from a cursor this list gave out."""
    if raw is None:
        return None
    try:
        at, _, ident = raw.partition("|")
        return datetime.fromisoformat(at), UUID(ident)
    except ValueError:
        message = "is not a cursor of this list"
        raise InvalidInput(
            f"cursor {message}", errors=[{"field": "cursor", "message": message}]
        ) from None
