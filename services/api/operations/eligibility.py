"""Why a number is not dialled, and when it will be: one call's eligibility and a campaign's
inventory, as the dialler decides.

Every rule the claim enforces (shared.repositories.claims) is reported: the campaign's status;
its windows, holidays, restricted periods and schedule, and the operator's calling policy,
read in the recipient's zone or the campaign's (the zone-group windows that the dispatcher
works out with the same domain functions); the number's own notBefore and expiresAt; a
retry's due time; a live attempt (its own or another call's on the same number); and the
campaign's lines (its limit and the share the dispatcher gives it).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime
from uuid import UUID

import asyncpg

from services.api.eligibility_schemas import EligibilityOut, InventoryOut
from services.api.operations.campaigns import get_visible_campaign
from shared.domain.calling import (
    CallingPolicy,
    CallState,
    Eligibility,
    Reason,
    ReasonCode,
    Recipient,
    eligibility,
    group_window,
)
from shared.domain.campaign import Campaign
from shared.domain.frequency_caps import CapHold, FrequencyCap, cap_hold
from shared.domain.statuses import FINAL_CALL_STATUSES, CallStatus, CampaignStatus
from shared.errors import NotFound
from shared.repositories import campaigns as campaign_repo
from shared.repositories import inventory as inventory_repo
from shared.repositories import number_dials
from shared.repositories import suppressions as suppression_repo
from shared.repositories.inventory import CallDialState, GroupPlace


async def call_eligibility(
    conn: asyncpg.Connection, call_id: UUID, now: datetime, policy: CallingPolicy | None
) -> EligibilityOut:
    """Whether the claim would dial the call at `now`, every reason it would not, and when
    the time-based ones clear. Works for single calls too (their campaign is never shown)."""
    state = await inventory_repo.fetch_call_dial_state(conn, call_id)
    campaign = await campaign_repo.fetch_campaign(conn, state.campaign_id) if state else None
    if state is None or campaign is None:
        raise NotFound(f"no call with id {call_id}")
    # The claim reads next_retry_at of a FAILED call only (a PENDING call may carry one).
    retry_at = state.next_retry_at if state.status is CallStatus.FAILED else None
    recipient = _recipient(state.place)
    rules = campaign.calling_rules
    # Lines and a live call on the number matter only to a call the claim would pick now.
    ready = (
        state.status is CallStatus.PENDING
        or (state.status is CallStatus.FAILED and retry_at is not None and retry_at <= now)
    ) and _within_validity(state, now)
    window_open = group_window(rules, policy, recipient, now).open
    answer = eligibility(
        rules,
        policy,
        recipient,
        CallState(state.status, retry_at, state.not_before, state.expires_at),
        campaign_status=campaign.status,
        lines_busy=ready and window_open and _lines_busy(campaign),
        now=now,
    )
    answer = _with_lines_detail(answer, campaign)
    if ready and window_open and state.number_held_by is not None:
        answer = _held_elsewhere(answer, state)
    if not state.status.is_final:
        entry = await suppression_repo.barring_entry(conn, state.phone_number, campaign.id, now)
        if entry is not None:
            answer = _suppressed(answer, entry)
        caps = _caps(campaign, policy, recipient)
        if caps:
            starts = await number_dials.recent_starts(conn, state.phone_number)
            hold = cap_hold(caps, starts, now)
            if hold is not None:
                later = eligibility(
                    rules,
                    policy,
                    recipient,
                    CallState(state.status, retry_at, state.not_before, state.expires_at),
                    campaign_status=campaign.status,
                    lines_busy=False,
                    now=hold.next_eligible_at,
                )
                answer = _capped(answer, hold, later)
    return EligibilityOut.model_validate(answer.as_json())


def _caps(
    campaign: Campaign, policy: CallingPolicy | None, recipient: Recipient
) -> tuple[FrequencyCap, ...]:
    """Every cap on the number in this campaign: the campaign's and the policy's."""
    caps = set(campaign.frequency_caps)
    if policy is not None:
        caps.update(policy.caps_for(recipient.country, recipient.regions))
    return tuple(sorted(caps))


def _suppressed(answer: Eligibility, entry: suppression_repo.Entry) -> Eligibility:
    """A listed number is never dialled again: the claim ends it when it reaches it."""
    where = "the global do-not-call list" if entry.campaign_id is None else "the campaign's list"
    detail = f"the number is on {where}"
    if entry.reason:
        detail += f" ({entry.reason})"
    if entry.expires_at is not None:
        detail += f" until {_instant(entry.expires_at)}"
    detail += "; the call ends CANCELLED (SUPPRESSED) when the dialler reaches it"
    reason = Reason(ReasonCode.SUPPRESSED, detail)
    return replace(answer, eligible=False, reasons=[*answer.reasons, reason], next_eligible_at=None)


def _capped(answer: Eligibility, hold: CapHold, later: Eligibility) -> Eligibility:
    """A capped number waits until its oldest counted attempt leaves the cap's period; then
    the other time-based rules must allow it too (`later`: the answer at that instant)."""
    cap = hold.cap
    detail = (
        f"{len(hold.counted)} attempts in the last {cap.period_hours} h reached the cap of"
        f" {cap.max_attempts} (every campaign's attempts count); the next is allowed from"
        f" {_instant(hold.next_eligible_at)}"
    )
    reason = Reason(
        ReasonCode.FREQUENCY_CAP,
        detail,
        {
            "maxAttempts": cap.max_attempts,
            "periodHours": cap.period_hours,
            "countedAttempts": [_instant(t) for t in hold.counted],
        },
    )
    if any(r.code.is_permanent for r in answer.reasons):
        next_at = None
    elif later.eligible:
        next_at = hold.next_eligible_at
    else:
        next_at = later.next_eligible_at
    return replace(
        answer, eligible=False, reasons=[*answer.reasons, reason], next_eligible_at=next_at
    )


def _instant(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _within_validity(state: CallDialState, now: datetime) -> bool:
    return (state.not_before is None or state.not_before <= now) and (
        state.expires_at is None or state.expires_at > now
    )


def _recipient(place: GroupPlace) -> Recipient:
    return Recipient(place.zones, place.regions, place.country)


async def campaign_inventory(
    conn: asyncpg.Connection, campaign_id: UUID, now: datetime, policy: CallingPolicy | None
) -> InventoryOut:
    """The campaign's numbers: how many the claim would take now, how many wait and why (each
    counted once), how many are final, and when the first group waiting for its window opens."""
    campaign = await get_visible_campaign(conn, campaign_id)
    counts = await inventory_repo.campaign_inventory(conn, campaign.id, now)
    by_status = counts.by_status
    waiting: Counter[ReasonCode] = Counter(
        {
            ReasonCode.CALL_IN_PROGRESS: by_status[CallStatus.SCHEDULED]
            + by_status[CallStatus.IN_PROGRESS],
            ReasonCode.RETRY_NOT_DUE: by_status[CallStatus.FAILED] - counts.due_retries,
        }
    )
    dialable = 0
    openings: list[datetime] = []
    rules = campaign.calling_rules
    running = campaign.status is CampaignStatus.IN_PROGRESS
    # The claim's order: the campaign's status, the number's own validity, its group's window,
    # then the live-number check per row.
    for group in counts.ready_by_group.values():
        if not running:
            waiting[ReasonCode.CAMPAIGN_NOT_RUNNING] += (
                group.not_yet_valid + group.expired + group.valid
            )
            continue
        waiting[ReasonCode.NOT_YET_VALID] += group.not_yet_valid
        waiting[ReasonCode.EXPIRED] += group.expired
        window = group_window(rules, policy, _recipient(group.place), now)
        if not window.open:
            waiting[window.reasons[0].code] += group.valid
            if window.next_opening is not None and group.valid:
                openings.append(window.next_opening)
            continue
        waiting[ReasonCode.CALL_IN_PROGRESS] += group.valid_but_held
        waiting[ReasonCode.FREQUENCY_CAP] += group.capped
        waiting[ReasonCode.SUPPRESSED] += group.suppressed
        dialable += group.valid - group.valid_but_held - group.capped - group.suppressed
    return InventoryOut(
        dialable_now=dialable,
        waiting={code.value: n for code, n in waiting.items() if n},
        final={status.value: by_status[status] for status in sorted(FINAL_CALL_STATUSES)},
        next_opening_at=None if campaign.status.is_final or not openings else min(openings),
    )


def _lines_busy(campaign: Campaign) -> bool:
    """The claim's fence: no line while the campaign holds as many as its limit and share
    allow. Only said of a running campaign whose rules allow the number now: otherwise the
    dispatcher may give no share, and the rule is the reason."""
    if campaign.status is not CampaignStatus.IN_PROGRESS:
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
