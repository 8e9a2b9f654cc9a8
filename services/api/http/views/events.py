"""GET /api/v1/events: the events webhooks carry, as server-sent events (docs/webhooks.md).

Each event is `id: <event id>`, `event: <type>`, `data: <the webhook body>`; a client that
reconnects with `Last-Event-ID` (the header browsers send, or the `lastEventId` query
parameter for clients that cannot set it) gets every event after that one."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import NoReturn
from uuid import UUID

import asyncpg
import structlog
from aiohttp import web

from services.api.http.context import POOL, SETTINGS, STREAMS
from services.api.http.request_io import campaign_query
from services.api.operations import event_stream as ops
from services.api.operations.event_stream import StreamFilter
from shared.domain.webhook_events import STREAMED_TYPES
from shared.errors import InvalidInput

log = structlog.get_logger()
routes = web.RouteTableDef()

_PARAMETERS = frozenset({"campaignId", "types", "lastEventId"})
#: How long a client waits before reconnecting after the stream broke.
RECONNECT_MS = 2000


@routes.get("/api/v1/events")
async def stream_events(request: web.Request) -> web.StreamResponse:
    wanted = _filter(request)
    last = _last_event_id(request)
    settings = request.app[SETTINGS]
    retention = timedelta(days=settings.webhook_retention_days)
    slots = request.app[STREAMS]
    with slots.taken():
        cursor = await ops.start(request.app[POOL], wanted, last, retention)
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream; charset=utf-8",
                "Cache-Control": "no-cache",
                # A buffering proxy (nginx) would hold events back.
                "X-Accel-Buffering": "no",
            }
        )
        await response.prepare(request)
        await response.write(f"retry: {RECONNECT_MS}\n\n".encode())
        quiet_since = time.monotonic()
        try:
            async for events in ops.follow(
                request.app[POOL],
                cursor,
                wanted,
                poll_s=settings.event_stream_poll_ms / 1000,
                retention=retention,
                stop=slots.closing,
            ):
                if events:
                    await response.write(
                        "".join(
                            f"id: {e.id}\nevent: {e.type}\ndata: {e.body}\n\n" for e in events
                        ).encode()
                    )
                    quiet_since = time.monotonic()
                elif time.monotonic() - quiet_since >= settings.event_stream_heartbeat_s:
                    # Also how a client that left is noticed: the write fails.
                    await response.write(b": keep-alive\n\n")
                    quiet_since = time.monotonic()
        except ConnectionError:
            pass  # the client left
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
            # Ended, not broken: the client reconnects with Last-Event-ID and misses nothing.
            log.warning("event stream ended: database unavailable", error=repr(exc))
    return response


def _filter(request: web.Request) -> StreamFilter:
    for name in request.query:
        if name not in _PARAMETERS:
            _refuse(name or "(empty)", "is not a parameter of this endpoint")
    campaign_id = campaign_query(request)
    types = None
    if (raw := request.query.get("types")) is not None:
        types = sorted({t.strip() for t in raw.split(",") if t.strip()})
        unknown = [t for t in types if t not in STREAMED_TYPES]
        if not types or unknown:
            known = ", ".join(sorted(STREAMED_TYPES))
            _refuse("types", f"takes comma-separated event types among {known}")
    return StreamFilter(campaign_id, types)


def _last_event_id(request: web.Request) -> UUID | None:
    raw = request.headers.get("Last-Event-ID") or request.query.get("lastEventId")
    if not raw:
        return None
    try:
        return UUID(raw)
    except ValueError:
        _refuse("Last-Event-ID", "is not an event id this stream sent (a UUID)")


def _refuse(field: str, message: str) -> NoReturn:
    raise InvalidInput(f"{field} {message}", errors=[{"field": field, "message": message}])
