"""What the call endpoints do: single calls, call status, and provider callbacks over HTTP."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

import asyncpg
import structlog

from services.api.metrics import ApiMetrics
from services.api.operations.broker import Broker
from services.api.operations.campaign_settings import retry_config_from
from services.api.operations.campaigns import get_visible_campaign
from services.api.operations.suppressions import opt_out
from services.api.presenters import call_out
from services.api.schemas import CallbackIn, CallbackOut, CallOut, SingleCallCreate
from shared.domain.business_hours import ALWAYS_OPEN
from shared.domain.campaign import SINGLE_CALLS
from shared.domain.contacts import InvalidValidity, contact_validity, timezone_attribute
from shared.domain.endings import ProviderReport
from shared.domain.phone import InvalidPhoneNumber, normalize
from shared.domain.recipient_zones import InvalidTimeZone, recipient_place
from shared.domain.statuses import CallStatus, CampaignStatus
from shared.errors import Conflict, InvalidInput, NotFound
from shared.messages import CallsAdded
from shared.repositories import calls as call_repo
from shared.repositories import campaigns as campaign_repo
from shared.repositories import suppressions as suppression_repo
from shared.repositories.endings import apply_provider_report
from shared.repositories.zone_groups import zone_group_ids
from shared.settings import Settings

log = structlog.get_logger()


def _single_calls_template(settings: Settings) -> campaign_repo.NewCampaign:
    return campaign_repo.NewCampaign(
        name="Single calls",
        description="Calls placed one at a time through POST /api/v1/calls",
        concurrency_limit=settings.default_concurrency_limit,
        priority=settings.default_priority,
        retry=retry_config_from(None, settings),
        hours=ALWAYS_OPEN,
        kind=SINGLE_CALLS,
        status=CampaignStatus.IN_PROGRESS,
    )


async def place_single_call(
    conn: asyncpg.Connection, settings: Settings, body: SingleCallCreate
) -> tuple[CallOut, UUID]:
    """Queue one call outside any campaign (default limits and retry config), in the caller's
    transaction; returns it and the id of the campaign that carries single calls. An invalid
    number or `timezone` attribute is InvalidInput naming the field."""
    try:
        number = normalize(body.phone_number, settings.default_region)
    except InvalidPhoneNumber as exc:
        raise InvalidInput(
            str(exc), errors=[{"field": "phoneNumber", "message": str(exc)}]
        ) from exc
    try:
        place = recipient_place(number, body.attributes)
    except InvalidTimeZone as exc:
        field = f"attributes.{timezone_attribute(body.attributes, exc.value)}"
        raise InvalidInput(str(exc), errors=[{"field": field, "message": str(exc)}]) from exc
    try:
        validity = contact_validity(body.attributes)
    except InvalidValidity as exc:
        field = f"attributes.{exc.field}"
        raise InvalidInput(str(exc), errors=[{"field": field, "message": str(exc)}]) from exc
    campaign = await campaign_repo.ensure_single_calls_campaign(
        conn, _single_calls_template(settings)
    )
    group_ids = await zone_group_ids(conn, [place])
    barred = await suppression_repo.suppressed_among(conn, [number], campaign.id, datetime.now(UTC))
    row = await call_repo.insert_single_call(
        conn,
        campaign.id,
        number,
        body.attributes,
        group_ids[place],
        validity,
        ended_as=suppression_repo.SUPPRESSED if barred else None,
    )
    if barred:
        log.info("single call ended at once: the number is suppressed", call_id=str(row["id"]))
    else:
        log.info("single call queued", call_id=str(row["id"]))
    return call_out(row, []), campaign.id


async def announce_single_call(broker: Broker, campaign_id: UUID) -> None:
    """After the commit: the single-calls campaign's queue exists, and the dispatcher hears
    of one more call."""
    await broker.ensure_job_queue(campaign_id)
    await broker.publish_event(CallsAdded(campaign_id=campaign_id, count=1))


async def get_call(pool: asyncpg.Pool, call_id: UUID) -> CallOut:
    async with pool.acquire() as conn:
        found = await call_repo.fetch_call_with_attempts(conn, call_id)
    if found is None:
        raise NotFound(f"no call with id {call_id}")
    return call_out(*found)


async def list_campaign_calls(
    conn: asyncpg.Connection,
    campaign_id: UUID,
    *,
    status: CallStatus | None,
    limit: int,
    offset: int,
    after_seq: int | None,
) -> tuple[list[CallOut], int, int | None]:
    """A page of calls, the total matching the filter, and the position after the page."""
    await get_visible_campaign(conn, campaign_id)
    rows = await call_repo.list_calls(
        conn, campaign_id, status=status, limit=limit, offset=offset, after_seq=after_seq
    )
    total = await call_repo.count_calls(conn, campaign_id, status)
    attempts = await call_repo.fetch_attempts(conn, [r["id"] for r in rows])
    last_seq = rows[-1]["seq"] if len(rows) == limit else None
    return [call_out(r, attempts[r["id"]]) for r in rows], total, last_seq


async def apply_callback(
    pool: asyncpg.Pool, broker: Broker, body: CallbackIn, metrics: ApiMetrics
) -> CallbackOut:
    """A provider's result over HTTP, through the same idempotent path as the mock's messages;
    with `optOut`, the number goes on the global do-not-call list (a repeat changes nothing)."""
    report = ProviderReport(
        external_call_id=body.external_call_id,
        status=body.status,
        duration_seconds=body.duration_seconds,
        failure_reason=body.failure_reason,
        answered_by=body.answered_by,
    )
    out = await apply_report(pool, broker, report, metrics)
    if body.opt_out:
        async with pool.acquire() as conn, conn.transaction():
            await opt_out(conn, out.call_id)
    return out


async def apply_report(
    pool: asyncpg.Pool, broker: Broker, report: ProviderReport, metrics: ApiMetrics
) -> CallbackOut:
    """Apply a provider's report, then tell the worker holding the attempt if it ended it."""
    async with pool.acquire() as conn:
        try:
            effect = await apply_provider_report(conn, report, datetime.now(UTC))
        except asyncpg.UniqueViolationError as exc:
            raise Conflict(
                f"externalCallId {report.external_call_id!r} belongs to another attempt"
            ) from exc
    if effect is None:
        metrics.callbacks.labels("unknown").inc()
        raise NotFound(f"no call attempt with externalCallId {report.external_call_id!r}")
    metrics.callbacks.labels("applied" if effect.applied else "duplicate").inc()
    await broker.signal_attempt_ended(effect)
    await broker.signal_hang_up(effect)
    return CallbackOut(
        external_call_id=report.external_call_id,
        applied=effect.applied,
        call_id=effect.ref.call_id,
        call_status=effect.call_status.value if effect.call_status else None,
    )
