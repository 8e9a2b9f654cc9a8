"""What every request goes through before and after its view, in one middleware: the size
limit, authentication and the rate limit, errors as problem+json, and one log line."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from uuid import uuid4

import structlog
from aiohttp import web

from services.api.http.access import admit
from services.api.http.problems import answer, problem
from services.api.http.rate_limit import Limits
from services.api.metrics import ApiMetrics

log = structlog.get_logger()

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def edge_middleware(
    limiter: Limits, max_bytes: int, metrics: ApiMetrics
) -> Callable[..., Awaitable[web.StreamResponse]]:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        request_id = request.headers.get("X-Request-Id") or uuid4().hex
        started = time.perf_counter()
        # A keep-alive connection serves its requests in one task: start each one afresh.
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        response = await _respond(request, handler, limiter, max_bytes)
        response.headers["X-Request-Id"] = request_id
        elapsed = time.perf_counter() - started
        route = _route_of(request)
        metrics.requests.labels(request.method, route, str(response.status)).inc()
        metrics.request_seconds.labels(request.method, route).observe(elapsed)
        log.info(
            "request",
            method=request.method,
            path=request.path,
            status=response.status,
            ms=round(elapsed * 1000, 1),
        )
        return response

    return middleware


def _route_of(request: web.Request) -> str:
    """The route's template, e.g. /api/v1/campaigns/{id}; "unmatched" for unknown paths."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


async def _respond(
    request: web.Request, handler: Handler, limiter: Limits, max_bytes: int
) -> web.StreamResponse:
    # A declared body past the limit is refused before any of it is read; one sent without a
    # length is cut off by the readers at the same limit.
    if request.content_length is not None and request.content_length > max_bytes:
        detail = f"the body is {request.content_length} bytes; at most {max_bytes} are accepted"
        return problem(413, "request-too-large", detail)
    if "" in request.query:
        # "?=x": nothing can read it, so it is a client's mistake, not an option to ignore.
        return problem(400, "malformed-query", "a query parameter has no name")
    admission = await admit(request, limiter)
    if admission.refusal is not None:
        admission.refusal.headers.update(admission.headers)
        return admission.refusal
    response = await answer(request, handler)
    response.headers.update(admission.headers)
    return response
