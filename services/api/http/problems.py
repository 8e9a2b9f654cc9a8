"""Errors as RFC 9457 problem+json. `answer` is the one place that turns exceptions into HTTP
answers."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import structlog
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from pydantic import ValidationError

from shared.db.pool import DATABASE_UNAVAILABLE
from shared.errors import ServiceError, TransientError

log = structlog.get_logger()

PROBLEM_JSON = "application/problem+json"

_TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Request too large",
    415: "Unsupported media type",
    422: "Unprocessable content",
    429: "Too many requests",
    500: "Internal error",
    503: "Service unavailable",
}


def problem(
    status: int, code: str, detail: str, *, headers: dict[str, str] | None = None, **extra: Any
) -> web.Response:
    body = {
        "type": f"/problems/{code}",
        "title": _TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        **extra,
    }
    return web.Response(
        status=status,
        text=json.dumps(body, default=str),
        content_type=PROBLEM_JSON,
        headers=headers,
    )


def validation_problem(exc: ValidationError) -> web.Response:
    """422 listing each failing field by its path in the request (camelCase, [index])."""
    if any(e["type"] == "json_invalid" for e in exc.errors()):
        return problem(400, "malformed-json", "the request body is not valid JSON")
    errors = [
        {"field": _path(e["loc"]), "message": e["msg"]}
        for e in exc.errors(include_url=False, include_input=False)
    ]
    summary = "; ".join(f"{e['field'] or 'body'}: {e['message']}" for e in errors[:5])
    return problem(422, "validation-error", summary, errors=errors)


def _path(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part:
            path += f".{part}" if path else str(part)
    return path


_HTTP_CODES = {404: "not-found", 405: "method-not-allowed", 413: "request-too-large"}

#: Seconds a client is asked to wait before trying again after a 503.
RETRY_AFTER_S = 2


def unavailable(detail: str) -> web.Response:
    """503 with Retry-After: a dependency is away, or a concurrent change got in the way."""
    return problem(
        503, "temporarily-unavailable", detail, headers={"Retry-After": str(RETRY_AFTER_S)}
    )


async def answer(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = _HTTP_CODES.get(exc.status, "http-error")
        detail = exc.text or exc.reason
        if exc.status == 404:
            detail = f"no endpoint at {request.method} {request.path}"
        headers = {k: v for k, v in exc.headers.items() if k.lower() == "allow"}
        return problem(exc.status, code, detail, headers=headers)
    except HttpProcessingError as exc:
        # The body could not be read as what it claims to be (a broken multipart message, a
        # truncated chunk): the client's fault, answered like any other bad request.
        status = exc.code if 400 <= exc.code < 500 else 400
        return problem(
            status, "malformed-body", f"the request body could not be read: {exc.message}"
        )
    except ValidationError as exc:
        return validation_problem(exc)
    except ServiceError as exc:
        if isinstance(exc, TransientError):
            log.warning("dependency unavailable", error=exc.detail)
            response = problem(exc.http_status, exc.code, exc.detail, **exc.extra)
            response.headers["Retry-After"] = str(RETRY_AFTER_S)
            return response
        return problem(exc.http_status, exc.code, exc.detail, **exc.extra)
    except asyncpg.TransactionRollbackError as exc:
        # A deadlock or serialization failure: the transaction changed nothing.
        log.warning("transaction rolled back by the database", error=repr(exc))
        return unavailable("a concurrent change got in the way; try again")
    except DATABASE_UNAVAILABLE as exc:
        log.warning("database unavailable", error=repr(exc))
        return unavailable("the database is unavailable; try again")
    except Exception:
        log.exception("unhandled error")
        return problem(500, "internal-error", "an internal error occurred; it has been logged")
