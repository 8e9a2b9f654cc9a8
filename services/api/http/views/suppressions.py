"""The do-not-call lists: add (JSON or a file), list, remove; and a call's opt-out."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from urllib.parse import unquote

import asyncpg
from aiohttp import web

from services.api.http import idempotency
from services.api.http.context import POOL, SETTINGS, VALIDATION, bulk_load
from services.api.http.pagination import (
    SUPPRESSION_PAGE_SIZE,
    cursor_position,
    page_headers,
    page_request,
)
from services.api.http.request_io import campaign_query, json_body, json_list, path_id
from services.api.http.uploads import rows_of, spool_upload_with_fields
from services.api.operations import suppressions as suppression_ops
from services.api.operations.ingestion import InvalidLine, listed_rows
from services.api.operations.number_file import Row
from services.api.presenters import suppression_out, suppression_report
from services.api.suppression_schemas import (
    IMPORT_OPTION_NAMES,
    SuppressionImportOptions,
    SuppressionOut,
    SuppressionsAdd,
)
from shared.errors import InvalidInput, NotFound

routes = web.RouteTableDef()


@routes.post("/api/v1/suppressions")
async def add_suppressions(request: web.Request) -> web.Response:
    raw = await request.read()
    body = SuppressionsAdd.model_validate_json(raw)
    async with bulk_load(request), request.app[POOL].acquire() as conn, conn.transaction():
        claim = await idempotency.begin(conn, request, raw)
        if isinstance(claim, idempotency.Replay):
            return claim.response()
        report = await _load(request, conn, listed_rows(body.phone_numbers), body, _json_field)
        out = suppression_report(report)
        if claim is not None:
            await claim.record(200, out.model_dump(mode="json", by_alias=True))
    return json_body(out)


@routes.post("/api/v1/suppressions/import")
async def import_suppressions(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    # Received whole before a connection is taken: a slow client must not hold one.
    spool, fields = await spool_upload_with_fields(
        request, settings.max_request_bytes, IMPORT_OPTION_NAMES
    )
    with spool:
        options = _import_options({**request.query, **fields})
        async with bulk_load(request), request.app[POOL].acquire() as conn, conn.transaction():
            report = await _load(request, conn, rows_of(spool), options, _file_field)
    return json_body(suppression_report(report))


@routes.get("/api/v1/suppressions")
async def list_suppressions(request: web.Request) -> web.Response:
    page = page_request(request, SUPPRESSION_PAGE_SIZE)
    after = cursor_position(page, "n", str)
    campaign_id = campaign_query(request)
    number = request.query.get("phoneNumber") or None
    if number is not None:
        number = suppression_ops.listed_number(
            number, request.app[SETTINGS].default_region, "phoneNumber"
        )
    async with request.app[POOL].acquire() as conn:
        entries, total = await suppression_ops.list_entries(
            conn, campaign_id, number, limit=page.size, offset=page.offset, after=after
        )
    response = json_list([suppression_out(e) for e in entries], SuppressionOut)
    position = {"n": entries[-1].phone_number} if len(entries) == page.size else None
    response.headers.update(page_headers(request, total, page.size, position))
    return response


# A number has a digit: so /api/v1/suppressions/import is never taken for one.
@routes.delete(r"/api/v1/suppressions/{phoneNumber:[^/]*[0-9][^/]*}")
async def delete_suppression(request: web.Request) -> web.Response:
    raw = unquote(request.match_info["phoneNumber"])
    try:
        number = suppression_ops.listed_number(
            raw, request.app[SETTINGS].default_region, "phoneNumber"
        )
    except InvalidInput:
        # As for an id that is not a UUID: no list can hold it.
        raise NotFound(f"{raw[:64]!r} is not a phone number, so on no list") from None
    campaign_id = campaign_query(request)
    async with request.app[POOL].acquire() as conn:
        await suppression_ops.remove(conn, number, campaign_id)
    return web.Response(status=204)


@routes.post("/api/v1/calls/{id}/opt-out")
async def opt_out(request: web.Request) -> web.Response:
    call_id = path_id(request, what="call")
    async with request.app[POOL].acquire() as conn, conn.transaction():
        entry = await suppression_ops.opt_out(conn, call_id)
    return json_body(suppression_out(entry))


async def _load(
    request: web.Request,
    conn: asyncpg.Connection,
    rows: AsyncIterator[list[Row]],
    options: SuppressionsAdd | SuppressionImportOptions,
    field_of: Callable[[InvalidLine], str],
) -> suppression_ops.LoadReport:
    return await suppression_ops.load_numbers(
        conn,
        rows,
        campaign_id=options.campaign_id,
        reason=options.reason,
        expires_at=options.expires_at,
        skip_invalid=options.skip_invalid,
        default_region=request.app[SETTINGS].default_region,
        executor=request.app[VALIDATION].executor,
        field_of=field_of,
    )


def _json_field(bad: InvalidLine) -> str:
    return f"phoneNumbers[{bad.line - 1}]"


def _file_field(bad: InvalidLine) -> str:
    return f"file (line {bad.line})"


def _import_options(given: Mapping[str, str]) -> SuppressionImportOptions:
    """The options given as form fields or query parameters; a bad one is a 422 naming it. An
    empty one is bad too, not absent: an empty campaignId read as "no campaign" would put the
    numbers on the global list."""
    known = {k: v for k, v in given.items() if k in IMPORT_OPTION_NAMES}
    return SuppressionImportOptions.model_validate(known)
