"""Whether one call may be dialled now and, if not, why and when; and the same question for a
group of recipients that share zones and regions, cheaply, for the dispatcher."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

from shared.domain.business_hours import load_zone
from shared.domain.calling.plan import HORIZON, Plan, build_plan, closed_reasons, is_open
from shared.domain.calling.policy import CallingPolicy
from shared.domain.calling.reasons import Reason, ReasonCode
from shared.domain.calling.rules import CallState, CampaignCallingRules, Recipient
from shared.domain.calling.search import _steady_offset, _zone_stretches, next_close, next_open
from shared.domain.statuses import CallStatus, CampaignStatus

_LIVE = frozenset({CallStatus.SCHEDULED, CallStatus.IN_PROGRESS})


@dataclass(frozen=True)
class Eligibility:
    eligible: bool
    reasons: list[Reason]
    #: The earliest instant at which every time-based reason clears; None: never.
    next_eligible_at: datetime | None
    #: The zone the rules were read in, or the candidate zones when several.
    timezone: str | tuple[str, ...] | None
    local_time: str | tuple[str, ...] | None

    def as_json(self) -> dict[str, Any]:
        """The API's shape: camelCase, RFC 3339 instants, lists for several zones."""
        return {
            "eligible": self.eligible,
            "reasons": [reason.as_json() for reason in self.reasons],
            "nextEligibleAt": _instant(self.next_eligible_at),
            "timezone": list(self.timezone) if isinstance(self.timezone, tuple) else self.timezone,
            "localTime": (
                list(self.local_time) if isinstance(self.local_time, tuple) else self.local_time
            ),
        }


def _instant(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def eligibility(
    rules: CampaignCallingRules,
    policy: CallingPolicy | None,
    recipient: Recipient,
    call_state: CallState,
    *,
    campaign_status: CampaignStatus,
    lines_busy: bool,
    now: datetime,
) -> Eligibility:
    """Whether the call may be dialled at `now`, every reason it may not, and from when it may."""
    plan = build_plan(rules, policy, recipient)
    reasons: list[Reason] = []
    if campaign_status is not CampaignStatus.IN_PROGRESS:
        reasons.append(
            Reason(ReasonCode.CAMPAIGN_NOT_RUNNING, f"the campaign is {campaign_status.value}")
        )
    status = call_state.status
    if status.is_final:
        reasons.append(Reason(ReasonCode.FINAL, f"the call is {status.value}"))
    elif status in _LIVE:
        reasons.append(Reason(ReasonCode.CALL_IN_PROGRESS, f"an attempt is {status.value}"))
    elif call_state.next_retry_at and now < call_state.next_retry_at:
        reasons.append(
            Reason(
                ReasonCode.RETRY_NOT_DUE,
                f"the next attempt is due at {_instant(call_state.next_retry_at)}",
            )
        )
    if call_state.not_before and now < call_state.not_before:
        reasons.append(
            Reason(
                ReasonCode.NOT_YET_VALID,
                f"the number may be called from {_instant(call_state.not_before)}",
            )
        )
    if call_state.expires_at and now >= call_state.expires_at:
        reasons.append(
            Reason(ReasonCode.EXPIRED, f"the number expired at {_instant(call_state.expires_at)}")
        )
    reasons.extend(closed_reasons(plan, now))
    if lines_busy:
        reasons.append(
            Reason(ReasonCode.LINES_BUSY, "the campaign uses every line its limit and share allow")
        )
    never = campaign_status.is_final or any(reason.code.is_permanent for reason in reasons)
    next_at = None
    if not never:
        start = max(d for d in (now, call_state.next_retry_at, call_state.not_before) if d)
        limit = now + HORIZON
        if call_state.expires_at and call_state.expires_at < limit:
            limit = call_state.expires_at
        next_at = next_open(plan, start, limit)
    zones, local = _where(plan, now)
    return Eligibility(not reasons, reasons, next_at, zones, local)


def _where(
    plan: Plan, now: datetime
) -> tuple[str | tuple[str, ...] | None, str | tuple[str, ...] | None]:
    zones = plan.display_zones
    if not zones:
        return None, None
    local = []
    for zone in zones:
        try:
            local.append(now.astimezone(load_zone(zone)).isoformat(timespec="minutes"))
        except ValueError:
            local.append("unknown")
    if len(zones) == 1:
        return zones[0], local[0]
    return zones, tuple(local)


@dataclass(frozen=True)
class GroupWindow:
    """Whether a group of recipients is callable now by the time-based rules alone."""

    open: bool
    #: When open: the instant it closes (None: not within the search horizon).
    until: datetime | None
    #: When closed: the instant it opens (None: never).
    next_opening: datetime | None
    _plan: Plan = field(repr=False, compare=False)
    _at: datetime = field(repr=False, compare=False)

    @cached_property
    def reasons(self) -> list[Reason]:
        """Why it is closed (empty when open); worked out on demand, since the dispatcher
        needs only `open` and the instants."""
        return [] if self.open else closed_reasons(self._plan, self._at)


#: plan -> (valid from, valid until, open, until, next_opening). The answer is a pure function
#: of the instant and stays the same until the next change, so a pass of the dispatcher over
#: many groups costs a dictionary look-up per group.
_WINDOWS: dict[Plan, tuple[datetime, datetime, bool, datetime | None, datetime | None]] = {}
_MAX_WINDOWS = 8192


def group_window(
    rules: CampaignCallingRules,
    policy: CallingPolicy | None,
    recipient: Recipient,
    now: datetime,
) -> GroupWindow:
    """The window of every recipient with these zones, regions and country, at `now`."""
    plan = build_plan(rules, policy, recipient)
    cached = _WINDOWS.get(plan)
    if cached is None or not cached[0] <= now < cached[1]:
        cached = _compute_window(plan, now)
        if len(_WINDOWS) >= _MAX_WINDOWS:
            _WINDOWS.clear()
        _WINDOWS[plan] = cached
    _, _, open_now, until, next_opening = cached
    return GroupWindow(open_now, until, next_opening, plan, now)


def clear_caches() -> None:
    """Forget every cached plan and window (benchmarks and tests of cold paths)."""
    _WINDOWS.clear()
    build_plan.cache_clear()
    _zone_stretches.cache_clear()
    _steady_offset.cache_clear()


def _compute_window(
    plan: Plan, now: datetime
) -> tuple[datetime, datetime, bool, datetime | None, datetime | None]:
    limit = now + HORIZON
    # Without a change in sight, recompute in a day: the horizon moves with `now`.
    fallback = now + (HORIZON / 400)
    if is_open(plan, now):
        until = next_close(plan, now, limit)
        return now, until or fallback, True, until, None
    opening = next_open(plan, now, limit)
    return now, opening or fallback, False, None, opening
