"""Parsing requests and writing responses: the same few steps for every view."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any
from uuid import UUID

from aiohttp import web
from pydantic import BaseModel, TypeAdapter

from shared.errors import InvalidInput, NotFound


def path_id(request: web.Request, name: str = "id", *, what: str = "campaign") -> UUID:
    """The path's id; a 404 naming `what` when it is not a UUID (no such thing can exist)."""
    raw = request.match_info[name]
    try:
        return UUID(raw)
    except ValueError:
        raise NotFound(f"no {what} with id {raw!r}") from None


def campaign_query(request: web.Request) -> UUID | None:
    """The `campaignId` query parameter, None when absent; a 422 naming it when not a UUID."""
    raw = request.query.get("campaignId")
    if raw is None:
        return None
    try:
        return UUID(raw)
    except ValueError:
        message = "is not a campaign id (a UUID)"
        raise InvalidInput(
            f"campaignId {message}", errors=[{"field": "campaignId", "message": message}]
        ) from None


def query_int(request: web.Request, name: str, default: int, *, low: int, high: int) -> int:
    """A whole-number query parameter from `low` to `high`; `default` when absent or empty."""
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        message = f"must be a whole number from {low} to {high}"
        raise InvalidInput(f"{name} {message}", errors=[{"field": name, "message": message}])
    return value


def json_body(
    model: BaseModel, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    """A response body as JSON, with the API's camelCase names."""
    return web.Response(
        status=status,
        text=model.model_dump_json(by_alias=True),
        content_type="application/json",
        headers=headers,
    )


@cache
def _list_adapter(item_type: type[BaseModel]) -> TypeAdapter[Any]:
    return TypeAdapter(list[item_type])  # type: ignore[valid-type]


def json_list(items: Sequence[BaseModel], item_type: type[BaseModel]) -> web.Response:
    """A JSON array, as the seed's list endpoints answer."""
    body = _list_adapter(item_type).dump_json(list(items), by_alias=True)
    return web.Response(body=body, content_type="application/json")
