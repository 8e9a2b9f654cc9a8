"""A recipient's calling plan: every time-based rule, laid out per local time zone, and the
search for the instants at which the plan opens or closes.

A moment is open when, in every zone of the plan, its local weekday and wall-clock minute lie
inside every hours layer (campaign window, policy rules) and its local date is no holiday and
in no restricted period; and it is inside the campaign's schedule. Between two consecutive
"breakpoints" (wall-clock boundaries of each layer in both folds, local midnights, and the
zone's offset changes) nothing can change, so searching means evaluating the plan at those
breakpoints only, one UTC day at a time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache

from shared.domain.business_hours import BusinessHoursError, format_clock, load_zone
from shared.domain.calling.calendars import RestrictedPeriod, holiday_name
from shared.domain.calling.hours import WeeklyHours
from shared.domain.calling.policy import CallingPolicy
from shared.domain.calling.reasons import Reason, ReasonCode
from shared.domain.calling.rules import CampaignCallingRules, Recipient, TimezoneMode

#: How far ahead the searches look: beyond it a plan is taken as never opening (or closing).
HORIZON = timedelta(days=400)
_DAY = timedelta(days=1)
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
    unknown = None
    if bad:
        unknown = f"time zone {bad[0]!r} of this number is not a known IANA zone"
    elif not campaign_zones:
        unknown = "no time zone is known for this number and the campaign has no defaultTimeZone"
    elif policy_rules and not own:
        rule = policy_rules[0].name
        unknown = f"no time zone is known for this number, which the policy's {rule!r} covers"
    # Policy calendars and periods are the recipient's; without its zone, the campaign's.
    policy_zones = own or campaign_zones
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
    for layers in plan.zones:
        local = at.astimezone(load_zone(layers.zone))
        weekday, minute = local.isoweekday(), local.hour * 60 + local.minute
        for layer in layers.hours:
            if not layer.hours.is_open(weekday, minute):
                return False
        day = local.date()
        if any(holiday_name(code, day) for code, _ in layers.calendars):
            return False
        if any(p.covers_local(local) for p, _ in layers.periods):
            return False
    return True


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


def next_open(plan: Plan, start: datetime, limit: datetime) -> datetime | None:
    """The earliest instant in [start, limit) at which the plan is open, or None."""
    if plan.never_open:
        return None
    if plan.start_at and start < plan.start_at:
        start = plan.start_at
    if plan.end_at and plan.end_at < limit:
        limit = plan.end_at
    return _scan(plan, start, limit, want_open=True)


def next_close(plan: Plan, start: datetime, limit: datetime) -> datetime | None:
    """The earliest instant in [start, limit) at which the plan is closed, or None."""
    return _scan(plan, start, limit, want_open=False)


def _scan(plan: Plan, start: datetime, limit: datetime, *, want_open: bool) -> datetime | None:
    start = start.astimezone(UTC)
    if start >= limit:
        return None
    if is_open(plan, start) is want_open:
        return start
    fixed = _fixed_points(plan)
    day_start = datetime.combine(start.date(), time(), tzinfo=UTC)
    while day_start < limit:
        day_end = day_start + _DAY
        points = {p for p in fixed if day_start <= p < day_end}
        for layers in plan.zones:
            points.update(_utc_day_points(layers, day_start.date()))
        for point in sorted(points):
            if start < point < limit and is_open(plan, point) is want_open:
                return point
        day_start = day_end
    return None


@lru_cache(maxsize=1024)
def _fixed_points(plan: Plan) -> tuple[datetime, ...]:
    points = [plan.start_at, plan.end_at]
    for period, _ in plan.absolute_periods:
        points += [period.start, period.end]
    return tuple(p.astimezone(UTC) for p in points if p is not None)


@lru_cache(maxsize=65536)
def _utc_day_points(layers: ZoneLayers, day: date) -> tuple[datetime, ...]:
    """Every instant of the UTC day `day` at which a rule of `layers` may change its answer."""
    zone = load_zone(layers.zone)
    day_start = datetime.combine(day, time(), tzinfo=UTC)
    day_end = day_start + _DAY
    points = {day_start}
    first, last = day_start.astimezone(zone), (day_end - timedelta(microseconds=1)).astimezone(zone)
    if first.utcoffset() != last.utcoffset():
        points.add(_offset_change(zone, day_start, day_end))
    local_days = {first.date(), last.date()}
    for local_day in local_days:
        walls = {time()}
        for layer in layers.hours:
            for a, b in layer.hours.on(local_day.isoweekday()):
                walls.update(time(m // 60, m % 60) for m in (a, b) if m < 1440)
        for period, _ in layers.periods:
            for bound in (period.start, period.end):
                if bound is not None and bound.date() == local_day:
                    walls.add(bound.time())
        for wall in walls:
            for fold in (0, 1):
                point = datetime.combine(local_day, wall.replace(fold=fold), tzinfo=zone)
                points.add(point.astimezone(UTC))
    return tuple(sorted(p for p in points if day_start <= p < day_end))


def _offset_change(zone: object, low: datetime, high: datetime) -> datetime:
    """The first instant in (low, high] whose UTC offset differs from low's (to the second)."""
    before = low.astimezone(zone).utcoffset()  # type: ignore[arg-type]
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        middle = middle.replace(microsecond=0)
        if middle <= low:
            break
        if middle.astimezone(zone).utcoffset() == before:  # type: ignore[arg-type]
            low = middle
        else:
            high = middle
    return high
