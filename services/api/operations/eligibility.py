"""Why a number is not dialled, and when it will be: one call's eligibility and a campaign's
inventory, as the dialler decides today.

Only the rules the claim enforces (shared.repositories.claims) are reported: the campaign's
status, its business hours read in its own zone, a retry's due time, a live attempt (its own or
another call's on the same number), and the campaign's lines (its limit and the share the
dispatcher gives it). The recipient's local time and the calling policy are not applied at dial
time yet, so the domain is asked with no policy and a recipient of unknown zone (which matters
only in RECIPIENT mode, which no campaign has yet).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from uuid import UUID

import asyncpg

from services.api.eligibility_schemas import EligibilityOut, InventoryOut
from services.api.operations.campaigns import get_visible_campaign
from shared.domain.calling import (
    CallState,
    CampaignCallingRules,
    Eligibility,
    Reason,
    ReasonCode,
    Recipient,
    eligibility,
    group_window,
)
from shared.domain.campaign import Campaign
from shared.domain.statuses import FINAL_CALL_STATUSES, CallStatus, CampaignStatus
from shared.errors import NotFound
from shared.repositories import campaigns as campaign_repo
from shared.repositories import inventory as inventory_repo
from shared.repositories.inventory import CallDialState


async def call_eligibility(
    conn: asyncpg.Connection, call_id: UUID, now: datetime
) -> EligibilityOut:
    """Whether the claim would dial the call at `now`, every reason it would not, and when
    the time-based ones clear. Works for single calls too (their campaign is never shown)."""
    state = await inventory_repo.fetch_call_dial_state(conn, call_id)
    campaign = await campaign_repo.fetch_campaign(conn, state.campaign_id) if state else None
    if state is None or campaign is None:
        raise NotFound(f"no call with id {call_id}")
    # The claim reads next_retry_at of a FAILED call only (a PENDING call may carry one).
    retry_at = state.next_retry_at if state.status is CallStatus.FAILED else None
    # Lines and a live call on the number matter only to a call the claim would pick now.
    ready = state.status is CallStatus.PENDING or (
        state.status is CallStatus.FAILED and retry_at is not None and retry_at <= now
    )
    answer = eligibility(
        _rules(campaign),
        None,
        Recipient(),
        CallState(state.status, retry_at),
        campaign_status=campaign.status,
        lines_busy=ready and _lines_busy(campaign, now),
        now=now,
    )
    answer = _with_lines_detail(answer, campaign)
    if ready and state.number_held_by is not None:
        answer = _held_elsewhere(answer, state)
    return EligibilityOut.model_validate(answer.as_json())


async def campaign_inventory(
    conn: asyncpg.Connection, campaign_id: UUID, now: datetime
) -> InventoryOut:
    """The campaign's numbers: how many the claim would take now, how many wait and why (each
    counted once), how many are final, and when its window next opens."""
    campaign = await get_visible_campaign(conn, campaign_id)
    counts = await inventory_repo.campaign_inventory(conn, campaign.id, now)
    by_status = counts.by_status
    waiting: dict[ReasonCode, int] = {
        ReasonCode.CALL_IN_PROGRESS: by_status[CallStatus.SCHEDULED]
        + by_status[CallStatus.IN_PROGRESS],
        ReasonCode.RETRY_NOT_DUE: by_status[CallStatus.FAILED] - counts.due_retries,
        ReasonCode.CAMPAIGN_NOT_RUNNING: 0,
        ReasonCode.OUTSIDE_CAMPAIGN_WINDOW: 0,
    }
    dialable = 0
    # The same order as the claim's own checks: the campaign's status, then its window
    # (checked by the worker before the statement), then the live-number check per row.
    if campaign.status is not CampaignStatus.IN_PROGRESS:
        waiting[ReasonCode.CAMPAIGN_NOT_RUNNING] = counts.ready
    elif not campaign.hours.is_open(now):
        waiting[ReasonCode.OUTSIDE_CAMPAIGN_WINDOW] = counts.ready
    else:
        waiting[ReasonCode.CALL_IN_PROGRESS] += counts.ready_but_held
        dialable = counts.ready - counts.ready_but_held
    window = group_window(_rules(campaign), None, Recipient(), now)
    return InventoryOut(
        dialable_now=dialable,
        waiting={code.value: n for code, n in waiting.items() if n},
        final={status.value: by_status[status] for status in sorted(FINAL_CALL_STATUSES)},
        next_opening_at=None if campaign.status.is_final else window.next_opening,
    )


def _rules(campaign: Campaign) -> CampaignCallingRules:
    return CampaignCallingRules.from_business_hours(campaign.hours)


def _lines_busy(campaign: Campaign, now: datetime) -> bool:
    """The claim's fence: no line while the campaign holds as many as its limit and share
    allow. Only said of a running campaign inside its window: outside it the dispatcher gives
    no share, and the window is the reason."""
    if campaign.status is not CampaignStatus.IN_PROGRESS or not campaign.hours.is_open(now):
        return False
    return campaign.in_flight >= min(campaign.concurrency_limit, campaign.allowed_lines)


def _with_lines_detail(answer: Eligibility, campaign: Campaign) -> Eligibility:
    """The domain's LINES_BUSY, with the figures that make it so."""
    allowed = min(campaign.concurrency_limit, campaign.allowed_lines)
    detail = (
        f"{campaign.in_flight} calls of the campaign are in progress and it may hold {allowed}"
        f" now (concurrencyLimit {campaign.concurrency_limit}, share of the lines"
        f" {campaign.allowed_lines})"
    )
    reasons = [
        Reason(r.code, detail) if r.code is ReasonCode.LINES_BUSY else r for r in answer.reasons
    ]
    return replace(answer, reasons=reasons)


def _held_elsewhere(answer: Eligibility, state: CallDialState) -> Eligibility:
    """The claim passes over a number that an open attempt holds, in any campaign."""
    reason = Reason(
        ReasonCode.CALL_IN_PROGRESS,
        f"the number is in a live call (call {state.number_held_by}); the claim passes it over"
        " until that call ends",
    )
    return replace(answer, eligible=False, reasons=[*answer.reasons, reason])
