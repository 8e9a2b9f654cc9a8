"""Adding numbers to a campaign: a JSON list, or an uploaded CSV or text file."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Literal

import asyncpg
from aiohttp import web

from services.api import idempotency, import_ops
from services.api.context import POOL, PUBLISHER, SETTINGS, VALIDATION, bulk_load
from services.api.events import publish_event, require_broker
from services.api.http_io import json_body, path_id
from services.api.ingestion import ImportReport, listed_rows
from services.api.number_file import Row
from services.api.schemas import ImportBatch, ImportResult, InvalidLineOut
from services.api.uploads import rows_of, spool_upload
from shared.domain.statuses import CampaignStatus
from shared.messages import CallsAdded

routes = web.RouteTableDef()


@routes.post("/api/v1/campaigns/{id}/import/batch")
async def import_batch(request: web.Request) -> web.Response:
    raw = await request.read()
    body = ImportBatch.model_validate_json(raw)
    require_broker(request.app[PUBLISHER])
    async with bulk_load(request), request.app[POOL].acquire() as conn, conn.transaction():
        claim = await idempotency.begin(conn, request, raw)
        if isinstance(claim, idempotency.Replay):
            return claim.response()
        out = await _import(request, conn, listed_rows(body.phone_numbers))
        if claim is not None:
            await claim.record(200, out.model_dump(mode="json", by_alias=True))
    await _announce(request, out)
    return json_body(out)


@routes.post("/api/v1/campaigns/{id}/import")
async def import_file(request: web.Request) -> web.Response:
    # Received whole before a connection is taken: a slow client must not hold one.
    with await spool_upload(request, request.app[SETTINGS].max_request_bytes) as spool:
        require_broker(request.app[PUBLISHER])
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
    return _result(report, status)


async def _announce(request: web.Request, out: ImportResult) -> None:
    if out.total_imported:
        await publish_event(
            request.app[PUBLISHER],
            CallsAdded(campaign_id=path_id(request), count=out.total_imported),
        )


def _result(report: ImportReport, campaign_status: CampaignStatus) -> ImportResult:
    status: Literal["IMPORTED", "PARTIALLY_IMPORTED", "NOTHING_IMPORTED"]
    if report.total_imported == 0:
        status = "NOTHING_IMPORTED"
    elif report.total_imported == report.total_received:
        status = "IMPORTED"
    else:
        status = "PARTIALLY_IMPORTED"
    return ImportResult(
        total_received=report.total_received,
        total_imported=report.total_imported,
        duplicates_skipped=report.duplicates_skipped,
        invalid_skipped=report.invalid_skipped,
        status=status,
        campaign_status=campaign_status.value,
        invalid_lines=[
            InvalidLineOut(line=bad.line, value=bad.value, reason=bad.reason)
            for bad in report.invalid_lines
        ],
        invalid_lines_truncated=report.invalid_lines_truncated,
    )
