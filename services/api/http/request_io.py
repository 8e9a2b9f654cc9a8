"""Parsing requests and writing responses: the same few steps for every view."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any, TypeVar
from uuid import UUID

from aiohttp import web
from pydantic import BaseModel, TypeAdapter

from shared.errors import InvalidInput, NotFound

M = TypeVar("M", bound=BaseModel)

MAX_PAGE_SIZE = 1000


async def read_json(request: web.Request, model: type[M]) -> M:
    """The body parsed and validated by `model` (pydantic errors become 400/422 problems)."""
    return model.model_validate_json(await request.read())


def path_id(request: web.Request, name: str = "id", *, what: str = "campaign") -> UUID:
    raw = request.match_info[name]
    try:
        return UUID(raw)
    except ValueError:
        raise NotFound(f"no {what} with id {raw!r}") from None


def query_int(request: web.Request, name: str, default: int, *, low: int, high: int) -> int:
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


def page_params(request: web.Request, default_size: int = 20) -> tuple[int, int]:
    """`page` (from 0, as the seed numbers them) and `size`."""
    page = query_int(request, "page", 0, low=0, high=1_000_000)
    size = query_int(request, "size", default_size, low=1, high=MAX_PAGE_SIZE)
    return page, size


def json_body(
    model: BaseModel, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
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
