"""What the campaign endpoints do: validate, write the database, then publish the event."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import aiormq
import asyncpg
import structlog
from aio_pika.exceptions import AMQPError

from services.api.schemas import BusinessHoursIn, CampaignCreate, RetryConfigIn
from shared.amqp import Publisher
from shared.domain.business_hours import (
    ALWAYS_OPEN,
    BusinessHours,
    BusinessHoursError,
    load_zone,
    parse_clock,
    parse_days,
)
from shared.domain.campaign import Campaign
from shared.domain.phone import InvalidPhoneNumber, normalize
from shared.domain.retry_policy import RetryConfig
from shared.domain.statuses import CampaignStatus
from shared.errors import Conflict, InvalidInput, NotFound, TransientError
from shared.messages import (
    CampaignCancelled,
    CampaignEvent,
    CampaignPaused,
    CampaignResumed,
    CampaignStarted,
)
from shared.repositories import calls as call_repo
from shared.repositories import campaigns as campaign_repo
from shared.settings import Settings
from shared.topology import CAMPAIGN_EVENTS, declare_campaign_queue, event_routing_key

log = structlog.get_logger()

#: How many invalid numbers a 422 lists before it only counts them.
MAX_LISTED_ERRORS = 50


def retry_config_from(body: RetryConfigIn | None, settings: Settings) -> RetryConfig:
    body = body or RetryConfigIn()
    return RetryConfig(
        max_retries=_pick(body.max_retries, settings.default_max_retries),
        sync_initial_backoff_ms=_pick(
            body.sync_initial_backoff_ms, settings.default_sync_initial_backoff_ms
        ),
        sync_backoff_multiplier=_pick(
            body.sync_backoff_multiplier, settings.default_sync_backoff_multiplier
        ),
        callback_retry_delay_ms=_pick(
            body.callback_retry_delay_ms, settings.default_callback_retry_delay_ms
        ),
        callback_timeout_ms=_pick(body.callback_timeout_ms, settings.default_callback_timeout_ms),
    )


def _pick(value: Any, default: Any) -> Any:
    return default if value is None else value


def business_hours_from(body: BusinessHoursIn | None) -> BusinessHours:
    """The calling window, or InvalidInput naming the field at fault."""
    if body is None:
        return ALWAYS_OPEN
    field = "businessHours."
    start = _checked(field + "startTime", lambda: parse_clock(body.start_time))
    end = _checked(field + "endTime", lambda: parse_clock(body.end_time, allow_end_of_day=True))
    _checked(field + "timezone", lambda: load_zone(body.timezone))
    days = _checked(field + "allowedDays", lambda: parse_days(body.allowed_days))
    if start == end:
        raise _field_error(field + "endTime", "the window is empty: endTime equals startTime")
    if start > end and not body.crosses_midnight:
        raise _field_error(
            field + "startTime",
            f"startTime {body.start_time} is after endTime {body.end_time}; for a window that"
            " crosses midnight set crossesMidnight to true",
        )
    if start < end and body.crosses_midnight:
        raise _field_error(
            field + "crossesMidnight",
            "crossesMidnight is true but endTime is after startTime on the same day",
        )
    return BusinessHours(start, end, body.timezone, days)


def _checked(field: str, parse: Any) -> Any:
    try:
        return parse()
    except BusinessHoursError as exc:
        raise _field_error(field, str(exc)) from exc


def _field_error(field: str, message: str) -> InvalidInput:
    return InvalidInput(f"{field}: {message}", errors=[{"field": field, "message": message}])


def normalized_numbers(raw: list[str], default_region: str) -> list[str]:
    """E.164 numbers in first-seen order without duplicates; InvalidInput lists the bad ones."""
    seen: dict[str, None] = {}
    errors: list[dict[str, Any]] = []
    invalid = 0
    for index, text in enumerate(raw):
        try:
            seen.setdefault(normalize(text, default_region))
        except InvalidPhoneNumber as exc:
            invalid += 1
            if len(errors) < MAX_LISTED_ERRORS:
                errors.append({"field": f"phoneNumbers[{index}]", "message": str(exc)})
    if invalid:
        raise InvalidInput(
            f"{invalid} of {len(raw)} phone numbers are invalid; nothing was created",
            errors=errors,
        )
    return list(seen)


async def create_campaign(pool: asyncpg.Pool, body: CampaignCreate, settings: Settings) -> Campaign:
    hours = business_hours_from(body.business_hours)
    numbers = normalized_numbers(body.phone_numbers, settings.default_region)
    new = campaign_repo.NewCampaign(
        name=body.name,
        description=body.description,
        concurrency_limit=_pick(body.concurrency_limit, settings.default_concurrency_limit),
        priority=_pick(body.priority, settings.default_priority),
        retry=retry_config_from(body.retry_config, settings),
        hours=hours,
    )
    async with pool.acquire() as conn, conn.transaction():
        campaign = await campaign_repo.insert_campaign(conn, new)
        if numbers:
            await call_repo.insert_new_numbers(conn, campaign.id, numbers)
    log.info("campaign created", campaign_id=str(campaign.id), numbers=len(numbers))
    return campaign


async def get_visible_campaign(conn: asyncpg.Connection, campaign_id: UUID) -> Campaign:
    campaign = await campaign_repo.fetch_campaign(conn, campaign_id)
    if campaign is None or campaign.is_single_calls:
        raise NotFound(f"no campaign with id {campaign_id}")
    return campaign


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


async def start_campaign(pool: asyncpg.Pool, publisher: Publisher, campaign_id: UUID) -> Campaign:
    """Start a new campaign or resume a paused one (the seed's start does both)."""
    return await _transition(pool, publisher, campaign_id, _START)


async def pause_campaign(pool: asyncpg.Pool, publisher: Publisher, campaign_id: UUID) -> Campaign:
    return await _transition(pool, publisher, campaign_id, _PAUSE)


async def resume_campaign(pool: asyncpg.Pool, publisher: Publisher, campaign_id: UUID) -> Campaign:
    return await _transition(pool, publisher, campaign_id, _RESUME)


async def cancel_campaign(pool: asyncpg.Pool, publisher: Publisher, campaign_id: UUID) -> Campaign:
    """Cancel every number not being dialled now; calls in progress finish."""
    return await _transition(pool, publisher, campaign_id, _CANCEL)


async def _transition(
    pool: asyncpg.Pool, publisher: Publisher, campaign_id: UUID, transition: _Transition
) -> Campaign:
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
        await ensure_job_queue(publisher, campaign_id)
    await publish_event(publisher, event_type(campaign_id=campaign_id))
    return updated


def _conflict(current: CampaignStatus, target: CampaignStatus) -> Conflict:
    if current.is_final:
        detail = f"the campaign is {current.value}; a finished campaign cannot change"
    elif current is CampaignStatus.PENDING:
        detail = "the campaign has not been started; start it first"
    else:
        detail = f"a {current.value} campaign cannot become {target.value}"
    return Conflict(detail, campaignStatus=current.value)


async def ensure_job_queue(publisher: Publisher, campaign_id: UUID) -> None:
    """Declare the campaign's job queue before workers hear of the campaign, so that they
    can consume it at once. If the broker is away, the dispatcher declares it on its tick."""
    try:
        async with asyncio.timeout(5):
            await declare_campaign_queue(publisher.channel, campaign_id)
    except (TimeoutError, AMQPError, aiormq.exceptions.AMQPError, ConnectionError) as exc:
        log.warning("could not declare the campaign queue", error=repr(exc))


async def publish_event(publisher: Publisher, event: CampaignEvent) -> None:
    """Publish after the commit. The database already holds the truth, so a lost event only
    delays: the dispatcher and the workers reconcile from the database on their tick."""
    try:
        await publisher.publish(event, CAMPAIGN_EVENTS, event_routing_key(event.type))
    except TransientError as exc:
        log.warning(
            "event not published; the tick will catch up", event=event.type, error=exc.detail
        )
