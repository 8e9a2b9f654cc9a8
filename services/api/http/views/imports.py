"""Adding numbers to a campaign: a JSON list, or an uploaded CSV or text file."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
from aiohttp import web

from services.api.http import idempotency
from services.api.http.context import BROKER, POOL, SETTINGS, VALIDATION, bulk_load
from services.api.http.request_io import json_body, path_id
from services.api.http.uploads import rows_of, spool_upload
from services.api.operations import imports as import_ops
from services.api.operations.number_file import Row
from services.api.presenters import import_result
from services.api.schemas import ImportBatch, ImportResult

routes = web.RouteTableDef()


@routes.post("/api/v1/campaigns/{id}/import/batch")
async def import_batch(request: web.Request) -> web.Response:
    raw = await request.read()
    body = ImportBatch.model_validate_json(raw)
    rows = import_ops.batch_rows(body)
    request.app[BROKER].require_ready()
    async with bulk_load(request), request.app[POOL].acquire() as conn, conn.transaction():
        claim = await idempotency.begin(conn, request, raw)
        if isinstance(claim, idempotency.Replay):
            return claim.response()
        out = await _import(request, conn, rows)
        if claim is not None:
            await claim.record(200, out.model_dump(mode="json", by_alias=True))
    await _announce(request, out)
    return json_body(out)


@routes.post("/api/v1/campaigns/{id}/import")
async def import_file(request: web.Request) -> web.Response:
    # Received whole before a connection is taken: a slow client must not hold one.
    with await spool_upload(request, request.app[SETTINGS].max_request_bytes) as spool:
        request.app[BROKER].require_ready()
        async with bulk_load(request), request.app[POOL].acquire() as conn, conn.transaction():
            out = await _import(request, conn, rows_of(spool))
    await _announce(request, out)
    return json_body(out)


async def _import(
    request: web.Request, conn: asyncpg.Connection, batches: AsyncIterator[list[Row]]
) -> ImportResult:
    report, status = await import_ops.import_numbers(
        conn,
        path_id(request),
        batches,
        request.app[SETTINGS].default_region,
        request.app[VALIDATION].executor,
    )
    return import_result(report, status)


async def _announce(request: web.Request, out: ImportResult) -> None:
    await import_ops.announce_imported(request.app[BROKER], path_id(request), out.total_imported)
