"""A recipient's calling plan: every time-based rule, laid out per local time zone.

A moment is open when, in every zone of the plan, its local weekday and wall-clock minute lie
inside every hours layer (campaign window, policy rules) and its local date is no holiday and
in no restricted period; and it is inside the campaign's schedule and no absolute blackout.
`search` finds the instants at which a plan opens and closes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from shared.domain.business_hours import BusinessHoursError, format_clock, load_zone
from shared.domain.calling.calendars import RestrictedPeriod, holiday_name
from shared.domain.calling.hours import WeeklyHours
from shared.domain.calling.policy import CallingPolicy
from shared.domain.calling.reasons import Reason, ReasonCode
from shared.domain.calling.rules import CampaignCallingRules, Recipient, TimezoneMode

#: How far ahead the searches look: beyond it a plan is taken as never opening (or closing).
HORIZON = timedelta(days=400)
CAMPAIGN = "campaign"
POLICY = "policy"


@dataclass(frozen=True)
class HoursLayer:
    code: ReasonCode
    label: str
    hours: WeeklyHours


# eq=False: plans are built once per distinct input (build_plan is cached), so identity is a
# correct and much cheaper cache key than hashing every nested rule on every look-up.
@dataclass(frozen=True, eq=False)
class ZoneLayers:
    """Everything read in one zone's local time."""

    zone: str
    hours: tuple[HoursLayer, ...]
    #: (calendar code, owner: "campaign" or "policy")
    calendars: tuple[tuple[str, str], ...]
    #: Local periods, with their owner.
    periods: tuple[tuple[RestrictedPeriod, str], ...]


@dataclass(frozen=True, eq=False)
class Plan:
    zones: tuple[ZoneLayers, ...]
    #: Periods of absolute instants, with their owner.
    absolute_periods: tuple[tuple[RestrictedPeriod, str], ...]
    start_at: datetime | None
    end_at: datetime | None
    #: Set when no zone can be used: the plan never opens, and this says why.
    unknown_zone: str | None
    #: The zones to show for the recipient (its own, or the one assumed for it).
    display_zones: tuple[str, ...]
    #: Some zone has no minute of the week open in all its hours layers.
    never_open: bool


@lru_cache(maxsize=8192)
def build_plan(
    rules: CampaignCallingRules, policy: CallingPolicy | None, recipient: Recipient
) -> Plan:
    """The plan of `recipient` in a campaign with `rules` under `policy` (None: no policy)."""
    bad = [zone for zone in recipient.zones if not _zone_loads(zone)]
    own = recipient.zones or ((rules.default_timezone,) if rules.default_timezone else ())
    policy_rules = policy.rules_for(recipient.country, recipient.regions) if policy else ()
    campaign_zones = (rules.timezone,) if rules.mode is TimezoneMode.CAMPAIGN else own
    # A campaign-mode campaign with no policy for the number never reads its zone, so a zone
    # that does not load matters only where it would be read.
    reads_own = rules.mode is TimezoneMode.RECIPIENT or bool(
        policy_rules or (policy and (policy.holiday_calendars or policy.restricted_periods))
    )
    unknown = None
    if bad and reads_own:
        unknown = f"time zone {bad[0]!r} of this number is not a known IANA zone"
    elif not campaign_zones:
        unknown = "no time zone is known for this number and the campaign has no defaultTimeZone"
    elif policy_rules and not own:
        rule = policy_rules[0].name
        unknown = f"no time zone is known for this number, which the policy's {rule!r} covers"
    # Policy calendars and periods are the recipient's; without its zone, the campaign's.
    policy_zones = own or campaign_zones
    if bad and not reads_own:
        own = policy_zones = ()
    layers: dict[
        str, tuple[list[HoursLayer], list[tuple[str, str]], list[tuple[RestrictedPeriod, str]]]
    ] = {}
    absolute: list[tuple[RestrictedPeriod, str]] = []

    def add(
        zones: tuple[str, ...],
        owner: str,
        hours: list[HoursLayer],
        calendars: tuple[str, ...],
        periods: tuple[RestrictedPeriod, ...],
    ) -> None:
        for zone in zones:
            entry = layers.setdefault(zone, ([], [], []))
            entry[0].extend(hours)
            entry[1].extend((code, owner) for code in calendars)
            entry[2].extend((p, owner) for p in periods if not p.is_absolute)
        absolute.extend((p, owner) for p in periods if p.is_absolute and (p, owner) not in absolute)

    add(
        campaign_zones,
        CAMPAIGN,
        [HoursLayer(ReasonCode.OUTSIDE_CAMPAIGN_WINDOW, "the campaign window", rules.hours)],
        rules.holiday_calendars,
        rules.restricted_periods,
    )
    policy_hours = [
        HoursLayer(ReasonCode.OUTSIDE_POLICY_HOURS, f"the policy's {rule.name!r}", rule.hours)
        for rule in policy_rules
        if rule.hours is not None  # rules_for gives only rules with hours
    ]
    add(own, POLICY, policy_hours, (), ())
    if policy:
        add(policy_zones, POLICY, [], policy.holiday_calendars, policy.restricted_periods)
    zones = tuple(
        ZoneLayers(zone, tuple(h), tuple(dict.fromkeys(c)), tuple(p))
        for zone, (h, c, p) in layers.items()
    )
    return Plan(
        zones=() if unknown else zones,
        absolute_periods=tuple(absolute),
        start_at=rules.start_at,
        end_at=rules.end_at,
        unknown_zone=unknown,
        display_zones=recipient.zones or own or campaign_zones,
        never_open=unknown is not None or any(_never_open(z) for z in zones),
    )


def _zone_loads(name: str) -> bool:
    try:
        load_zone(name)
    except BusinessHoursError:
        return False
    return True


def _never_open(layers: ZoneLayers) -> bool:
    combined: WeeklyHours | None = None
    for layer in layers.hours:
        combined = layer.hours if combined is None else combined.intersect(layer.hours)
    return combined is not None and combined.never_open


def is_open(plan: Plan, at: datetime) -> bool:
    """Whether every time-based rule of the plan allows a call at the instant `at`."""
    if plan.unknown_zone is not None:
        return False
    if (plan.start_at and at < plan.start_at) or (plan.end_at and at >= plan.end_at):
        return False
    if any(p.covers_local(at) for p, _ in plan.absolute_periods):
        return False
    return all(zone_open(layers, at) for layers in plan.zones)


def zone_open(layers: ZoneLayers, at: datetime) -> bool:
    """Whether the rules read in this one zone allow the instant `at`."""
    local = at.astimezone(load_zone(layers.zone))
    weekday, minute = local.isoweekday(), local.hour * 60 + local.minute
    if not all(layer.hours.is_open(weekday, minute) for layer in layers.hours):
        return False
    day = local.date()
    if any(holiday_name(code, day) for code, _ in layers.calendars):
        return False
    return not any(p.covers_local(local) for p, _ in layers.periods)


def closed_reasons(plan: Plan, at: datetime) -> list[Reason]:
    """Why the plan is closed at `at`, one reason per rule that closes it (empty when open)."""
    if plan.unknown_zone is not None:
        return [Reason(ReasonCode.UNKNOWN_TIMEZONE, plan.unknown_zone)]
    reasons = []
    if plan.start_at and at < plan.start_at:
        reasons.append(
            Reason(
                ReasonCode.CAMPAIGN_NOT_STARTED_YET,
                f"the campaign starts at {plan.start_at.isoformat()}",
            )
        )
    if plan.end_at and at >= plan.end_at:
        reasons.append(
            Reason(ReasonCode.CAMPAIGN_ENDED, f"the campaign ended at {plan.end_at.isoformat()}")
        )
    for period, owner in plan.absolute_periods:
        if period.covers_local(at):
            reasons.append(
                Reason(
                    ReasonCode.RESTRICTED_PERIOD,
                    f"in the {owner}'s restricted period {period.describe()}",
                )
            )
    for layers in plan.zones:
        local = at.astimezone(load_zone(layers.zone))
        weekday, minute = local.isoweekday(), local.hour * 60 + local.minute
        clock = f"{format_clock(minute)} {local.strftime('%A')}"
        for layer in layers.hours:
            if not layer.hours.is_open(weekday, minute):
                reasons.append(
                    Reason(
                        layer.code,
                        f"{clock} in {layers.zone} is {_position(layer, weekday, minute)}",
                    )
                )
        day = local.date()
        for code, owner in layers.calendars:
            name = holiday_name(code, day)
            if name:
                reasons.append(
                    Reason(
                        ReasonCode.HOLIDAY,
                        f"{day} in {layers.zone} is {name} (holiday calendar {code}, {owner})",
                    )
                )
        for period, owner in layers.periods:
            if period.covers_local(local):
                reasons.append(
                    Reason(
                        ReasonCode.RESTRICTED_PERIOD,
                        f"{local.strftime('%Y-%m-%d %H:%M')} in {layers.zone} is in the"
                        f" {owner}'s restricted period {period.describe()}",
                    )
                )
    return reasons


def _position(layer: HoursLayer, weekday: int, minute: int) -> str:
    intervals = layer.hours.on(weekday)
    hours = f"{layer.label}: {layer.hours.describe(weekday)}"
    if not intervals:
        return f"outside {hours}"
    if minute < intervals[0][0]:
        return f"before {format_clock(intervals[0][0])} ({hours})"
    if minute >= intervals[-1][1]:
        return f"after {format_clock(intervals[-1][1])} ({hours})"
    return f"between windows ({hours})"
