"""Pages of a list: `page`/`size` as the seed numbered them, plus an opaque keyset cursor that
stays stable while rows are being inserted, offered in a `Link: <...>; rel="next"` header."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any, TypeVar

from aiohttp import web
from yarl import URL

from services.api.http.request_io import query_int
from shared.errors import InvalidInput

T = TypeVar("T")

MAX_PAGE_SIZE = 1000
#: The highest page number a list takes (past it, a cursor is the way on).
MAX_PAGE = 1_000_000
#: What a list answers without `size`: the seed's 100 for campaigns (its console pages
#: nothing, so fewer would hide older campaigns), 20 for a campaign's calls.
CAMPAIGN_PAGE_SIZE = 100
CALL_PAGE_SIZE = 20
#: A do-not-call list's page.
SUPPRESSION_PAGE_SIZE = 100
#: A page of webhooks or of a webhook's deliveries.
WEBHOOK_PAGE_SIZE = 100
TOTAL_COUNT_HEADER = "X-Total-Count"


@dataclass(frozen=True)
class PageRequest:
    size: int
    #: Rows to skip (from `page`); 0 when a cursor is given.
    offset: int
    #: Where the previous page ended, decoded from `cursor`; None for the first page.
    after: dict[str, Any] | None


def page_request(request: web.Request, default_size: int) -> PageRequest:
    size = query_int(request, "size", default_size, low=1, high=MAX_PAGE_SIZE)
    page = query_int(request, "page", 0, low=0, high=MAX_PAGE)
    cursor = request.query.get("cursor")
    if cursor:
        return PageRequest(size, 0, decode_cursor(cursor))
    return PageRequest(size, page * size, None)


def cursor_position(page: PageRequest, key: str, kind: type[T]) -> T | None:
    """Where the previous page of this list ended (the cursor's `key`), or None for the first
    page; a 422 for a cursor another list gave out."""
    if page.after is None:
        return None
    value = page.after.get(key)
    if not isinstance(value, kind):
        message = "is not a cursor of this list"
        raise InvalidInput(f"cursor {message}", errors=[{"field": "cursor", "message": message}])
    return value


def encode_cursor(position: dict[str, Any]) -> str:
    raw = json.dumps(position, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> dict[str, Any]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        position = json.loads(raw)
        if not isinstance(position, dict):
            raise ValueError(position)
        return position
    except ValueError:
        message = "is not a cursor this API gave out"
        raise InvalidInput(
            f"cursor {message}", errors=[{"field": "cursor", "message": message}]
        ) from None


def page_headers(
    request: web.Request, total: int, size: int, next_position: dict[str, Any] | None
) -> dict[str, str]:
    """X-Total-Count, and a Link to the next page when this one was full."""
    headers = {TOTAL_COUNT_HEADER: str(total)}
    if next_position is not None:
        query = {k: v for k, v in request.query.items() if k not in ("page", "cursor")}
        query.update(size=str(size), cursor=encode_cursor(next_position))
        url = URL(request.path).with_query(query)
        headers["Link"] = f'<{url}>; rel="next"'
    return headers
