"""What the campaign endpoints do: validate, write the database, then publish the event."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import asyncpg
import structlog

from services.api.operations.broker import Broker
from services.api.operations.campaign_settings import (
    answering_machine_from,
    business_hours_from,
    merged_answering_machine,
    merged_retry_config,
    merged_schedule,
    pick,
    retry_config_from,
    schedule_from,
)
from services.api.operations.ingestion import (
    ImportReport,
    Ingestion,
    invalid_field,
    requested_rows,
)
from services.api.presenters import campaign_out
from services.api.schemas import CampaignCreate, CampaignOut, CampaignPatch, ContactIn
from shared.domain.campaign import Campaign
from shared.domain.statuses import CampaignStatus
from shared.errors import Conflict, InvalidInput, NotFound
from shared.messages import (
    CampaignCancelled,
    CampaignEvent,
    CampaignPaused,
    CampaignResumed,
    CampaignStarted,
    CampaignUpdated,
)
from shared.repositories import campaigns as campaign_repo
from shared.repositories import zone_windows
from shared.repositories.call_counts import call_counts
from shared.settings import Settings

log = structlog.get_logger()

#: How many invalid numbers a 422 lists before it only counts them.
MAX_LISTED_ERRORS = 50


async def create_campaign(
    conn: asyncpg.Connection,
    body: CampaignCreate,
    settings: Settings,
    executor: Callable[[], Executor] | None,
) -> tuple[Campaign, ImportReport | None]:
    """Create the campaign with its numbers, in the caller's transaction, and the report on
    them (None without numbers). Invalid numbers are skipped and reported, as the seed did;
    the request is refused (InvalidInput, listing them) only when none is valid, or when it
    asks for `strictNumbers` and any is invalid (an unknown `timezone` attribute counts as
    invalid). Duplicates are dropped."""
    given = body.model_fields_set
    rows = requested_rows(
        body.phone_numbers if "phone_numbers" in given else None,
        contact_list(body.contacts),
        required=False,
    )
    hours = business_hours_from(body.business_hours)
    new = campaign_repo.NewCampaign(
        name=body.name,
        description=body.description,
        concurrency_limit=pick(body.concurrency_limit, settings.default_concurrency_limit),
        priority=pick(body.priority, settings.default_priority),
        retry=retry_config_from(body.retry_config, settings),
        hours=hours,
        calls_per_second=body.calls_per_second,
        schedule=schedule_from(body),
        contact_policy=body.contact_policy.to_json() if body.contact_policy else {},
        answering_machine=answering_machine_from(body.answering_machine),
    )
    campaign = await campaign_repo.insert_campaign(conn, new)
    report = None
    # An empty list adds nothing and reports nothing, as the seed's empty phoneNumbers did.
    if rows is not None and (body.phone_numbers or body.contacts):
        async with Ingestion(conn, campaign.id, settings.default_region, executor) as ingestion:
            async for batch in rows:
                await ingestion.add(batch)
            report = await ingestion.finish()
    if report is not None:
        refused = report.invalid_skipped and (
            body.strict_numbers or report.invalid_skipped == report.total_received
        )
        if refused:
            what = "is" if report.invalid_skipped == 1 else "are"
            raise InvalidInput(
                f"{report.invalid_skipped} of {report.total_received} phone numbers {what}"
                " invalid; nothing was created",
                errors=[
                    {"field": invalid_field(bad, body.contacts is not None), "message": bad.reason}
                    for bad in report.invalid_lines[:MAX_LISTED_ERRORS]
                ],
            )
    numbers = report.total_received if report else 0
    log.info("campaign created", campaign_id=str(campaign.id), numbers=numbers)
    return campaign, report


def contact_list(
    contacts: Sequence[ContactIn] | None,
) -> list[tuple[str, dict[str, str] | None]] | None:
    """A body's contacts as (number, attributes), as a load reads them."""
    if contacts is None:
        return None
    return [(contact["phoneNumber"], contact.get("attributes")) for contact in contacts]


async def get_visible_campaign(conn: asyncpg.Connection, campaign_id: UUID) -> Campaign:
    campaign = await campaign_repo.fetch_campaign(conn, campaign_id)
    if campaign is None or campaign.is_single_calls:
        raise NotFound(f"no campaign with id {campaign_id}")
    return campaign


async def read_campaign(conn: asyncpg.Connection, campaign_id: UUID) -> CampaignOut:
    """The campaign as the API shows it, its calls counted; NotFound if there is none."""
    campaign = await get_visible_campaign(conn, campaign_id)
    counts = await call_counts(conn, [campaign.id])
    next_at = await next_dials(conn, [campaign])
    return campaign_out(campaign, counts[campaign.id], next_at.get(campaign.id))


async def list_campaigns(
    conn: asyncpg.Connection,
    *,
    status: CampaignStatus | None,
    limit: int,
    offset: int,
    after: tuple[datetime, UUID] | None,
) -> tuple[list[CampaignOut], int, tuple[datetime, UUID] | None]:
    """A page of campaigns, newest first; the total matching the filter; and, when the page
    is full, where it ended (creation time and id) for the next page's cursor."""
    campaigns = await campaign_repo.list_campaigns(
        conn, limit=limit, offset=offset, status=status, after=after
    )
    total = await campaign_repo.count_campaigns(conn, status)
    counts = await call_counts(conn, [c.id for c in campaigns])
    last = campaigns[-1] if len(campaigns) == limit else None
    position = (last.created_at, last.id) if last else None
    next_at = await next_dials(conn, campaigns)
    return [campaign_out(c, counts[c.id], next_at.get(c.id)) for c in campaigns], total, position


async def next_dials(
    conn: asyncpg.Connection, campaigns: Sequence[Campaign]
) -> dict[UUID, datetime | None]:
    """When the calling rules next allow a number of each running campaign (as the
    dispatcher last worked its windows out)."""
    running = [c.id for c in campaigns if c.status is CampaignStatus.IN_PROGRESS]
    if not running:
        return {}
    return await zone_windows.next_openings(conn, running, datetime.now(UTC))


@dataclass(frozen=True)
class _Transition:
    target: CampaignStatus
    allowed_from: frozenset[CampaignStatus]
    #: Statuses in which asking again changes nothing and succeeds.
    already: frozenset[CampaignStatus]
    event: Callable[..., CampaignEvent]


_START = _Transition(
    CampaignStatus.IN_PROGRESS,
    frozenset({CampaignStatus.PENDING, CampaignStatus.PAUSED}),
    frozenset({CampaignStatus.IN_PROGRESS}),
    CampaignStarted,
)
_PAUSE = _Transition(
    CampaignStatus.PAUSED,
    frozenset({CampaignStatus.IN_PROGRESS}),
    frozenset({CampaignStatus.PAUSED}),
    CampaignPaused,
)
_RESUME = _Transition(
    CampaignStatus.IN_PROGRESS,
    frozenset({CampaignStatus.PAUSED}),
    frozenset({CampaignStatus.IN_PROGRESS}),
    CampaignResumed,
)
_CANCEL = _Transition(
    CampaignStatus.CANCELLED,
    frozenset({CampaignStatus.PENDING, CampaignStatus.IN_PROGRESS, CampaignStatus.PAUSED}),
    frozenset({CampaignStatus.CANCELLED}),
    CampaignCancelled,
)


async def start_campaign(pool: asyncpg.Pool, broker: Broker, campaign_id: UUID) -> Campaign:
    """Start a new campaign or resume a paused one (the seed's start does both)."""
    return await _transition(pool, broker, campaign_id, _START)


async def pause_campaign(pool: asyncpg.Pool, broker: Broker, campaign_id: UUID) -> Campaign:
    return await _transition(pool, broker, campaign_id, _PAUSE)


async def resume_campaign(pool: asyncpg.Pool, broker: Broker, campaign_id: UUID) -> Campaign:
    return await _transition(pool, broker, campaign_id, _RESUME)


async def cancel_campaign(pool: asyncpg.Pool, broker: Broker, campaign_id: UUID) -> Campaign:
    """Cancel every number not being dialled now; calls in progress finish."""
    return await _transition(pool, broker, campaign_id, _CANCEL)


async def _transition(
    pool: asyncpg.Pool, broker: Broker, campaign_id: UUID, transition: _Transition
) -> Campaign:
    broker.require_ready()
    async with pool.acquire() as conn, conn.transaction():
        campaign = await campaign_repo.fetch_campaign(conn, campaign_id)
        if campaign is None or campaign.is_single_calls:
            raise NotFound(f"no campaign with id {campaign_id}")
        if campaign.status in transition.already:
            return campaign
        if campaign.status not in transition.allowed_from:
            raise _conflict(campaign.status, transition.target)
        if transition is _START and not await campaign_repo.has_calls(conn, campaign_id):
            raise InvalidInput(
                "the campaign has no phone numbers to call",
                errors=[{"field": "phoneNumbers", "message": "no phone numbers"}],
            )
        event_type: Callable[..., CampaignEvent] = transition.event
        if transition is _START and campaign.status is CampaignStatus.PAUSED:
            event_type = CampaignResumed
        if transition is _CANCEL:
            # Calls before the campaign row: the order in which a worker's claim locks them.
            cancelled = await campaign_repo.cancel_waiting_calls(conn, campaign_id)
            log.info("campaign cancelled", campaign_id=str(campaign_id), calls_cancelled=cancelled)
        # The guarded update makes the transition atomic; the read above only chose the answer.
        updated = await campaign_repo.set_status(
            conn, campaign_id, transition.target, allowed_from=transition.allowed_from
        )
        if updated is None:
            current = await campaign_repo.fetch_campaign(conn, campaign_id)
            raise _conflict(current.status if current else campaign.status, transition.target)
    if transition is _START:
        await broker.ensure_job_queue(campaign_id)
    await broker.publish_event(event_type(campaign_id=campaign_id))
    return updated


def _conflict(current: CampaignStatus, target: CampaignStatus) -> Conflict:
    if current.is_final:
        detail = f"the campaign is {current.value}; a finished campaign cannot change"
    elif current is CampaignStatus.PENDING:
        detail = "the campaign has not been started; start it first"
    else:
        detail = f"a {current.value} campaign cannot become {target.value}"
    return Conflict(detail, campaignStatus=current.value)


async def update_campaign(
    pool: asyncpg.Pool, broker: Broker, campaign_id: UUID, body: CampaignPatch, settings: Settings
) -> Campaign:
    """Change what the body names, then publish CampaignUpdated: a running campaign follows
    within seconds."""
    present = body.model_fields_set
    broker.require_ready()
    async with pool.acquire() as conn:
        current = await get_visible_campaign(conn, campaign_id)
        if current.status.is_final:
            raise _conflict(current.status, current.status)
        retry = None
        if "retry_config" in present and body.retry_config is not None:
            retry = merged_retry_config(current.retry, body.retry_config)
        hours = None
        if "business_hours" in present:
            hours = business_hours_from(body.business_hours)
        changes = campaign_repo.CampaignChanges(
            name=body.name,
            description=body.description,
            clear_description="description" in present and body.description is None,
            concurrency_limit=body.concurrency_limit,
            priority=body.priority,
            retry=retry,
            hours=hours,
            calls_per_second=body.calls_per_second,
            clear_calls_per_second="calls_per_second" in present and body.calls_per_second is None,
            schedule=merged_schedule(current, body),
            contact_policy=_contact_policy_change(body, present),
            answering_machine=(
                merged_answering_machine(current.answering_machine, body.answering_machine)
                if "answering_machine" in present
                else None
            ),
        )
        updated = await campaign_repo.update_campaign(conn, campaign_id, changes)
        if updated is None:
            latest = await get_visible_campaign(conn, campaign_id)
            raise _conflict(latest.status, latest.status)
    log.info("campaign updated", campaign_id=str(campaign_id), fields=sorted(present))
    await broker.publish_event(CampaignUpdated(campaign_id=campaign_id))
    return updated


async def delete_campaign(pool: asyncpg.Pool, broker: Broker, campaign_id: UUID) -> None:
    """Delete a campaign that is not running (and whose last calls have ended), then its job
    queue."""
    async with pool.acquire() as conn:
        deleted = await campaign_repo.delete_campaign(conn, campaign_id)
        current = None if deleted else await get_visible_campaign(conn, campaign_id)
    if current is None:
        log.info("campaign deleted", campaign_id=str(campaign_id))
        await broker.remove_job_queue(pool, campaign_id)
        return
    if current.status is CampaignStatus.IN_PROGRESS:
        raise Conflict(
            "a running campaign cannot be deleted; pause or cancel it first",
            campaignStatus=current.status.value,
        )
    raise Conflict(
        f"{current.in_flight} of its calls are still in progress; delete it when they end",
        campaignStatus=current.status.value,
    )


def _contact_policy_change(body: CampaignPatch, present: set[str]) -> dict[str, Any] | None:
    """The PATCH's new contactPolicy (null clears it), or None when it names none."""
    if "contact_policy" not in present:
        return None
    return body.contact_policy.to_json() if body.contact_policy else {}
