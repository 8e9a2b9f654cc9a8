"""Adding numbers to an existing campaign, from a JSON list or an uploaded file."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from concurrent.futures import Executor
from uuid import UUID

import asyncpg
import structlog

from services.api.operations.broker import Broker
from services.api.operations.campaigns import contact_list
from services.api.operations.ingestion import ImportReport, Ingestion, requested_rows
from services.api.operations.number_file import Row
from services.api.schemas import ImportBatch
from shared.domain.campaign import SINGLE_CALLS
from shared.domain.statuses import CampaignStatus
from shared.errors import Conflict, NotFound
from shared.messages import CallsAdded
from shared.repositories import ingestion as ingestion_repo

log = structlog.get_logger()


def batch_rows(body: ImportBatch) -> AsyncIterator[list[Row]]:
    """The rows of a JSON import: exactly one of `phoneNumbers` and `contacts` (InvalidInput
    otherwise, before anything is written)."""
    rows = requested_rows(body.phone_numbers, contact_list(body.contacts), required=True)
    assert rows is not None
    return rows


async def import_numbers(
    conn: asyncpg.Connection,
    campaign_id: UUID,
    batches: AsyncIterator[list[Row]],
    default_region: str,
    executor: Callable[[], Executor] | None,
) -> tuple[ImportReport, CampaignStatus]:
    """Load the rows into a campaign that is not final, in the caller's transaction.

    Invalid numbers (and unknown `timezone` attributes) are reported, never fatal; numbers the
    campaign already has, or that come twice, are skipped. The campaign row is held, which
    lets workers keep dialling but makes finishing or deleting the campaign wait for the
    import.
    """
    row = await ingestion_repo.hold_campaign_for_load(conn, campaign_id)
    if row is None or row["kind"] == SINGLE_CALLS:
        raise NotFound(f"no campaign with id {campaign_id}")
    status = CampaignStatus(row["status"])
    if status.is_final:
        raise Conflict(
            f"the campaign is {status.value}; numbers cannot be added to a finished campaign",
            campaignStatus=status.value,
        )
    async with Ingestion(conn, campaign_id, default_region, executor) as ingestion:
        async for batch in batches:
            await ingestion.add(batch)
        report = await ingestion.finish()
    log.info(
        "numbers imported",
        campaign_id=str(campaign_id),
        received=report.total_received,
        imported=report.total_imported,
        invalid=report.invalid_skipped,
    )
    return report, status


async def announce_imported(broker: Broker, campaign_id: UUID, imported: int) -> None:
    """After the commit: tell the dispatcher the campaign has new numbers, if it has."""
    if imported:
        await broker.publish_event(CallsAdded(campaign_id=campaign_id, count=imported))
