"""When a campaign is expected to finish, with every assumption it rests on and what it cannot
know (docs/forecast.md).

The work is the expected number of attempts still to make: each number not final may be
dialled until its retries run out, each attempt failing in a retried way at the observed
retry rate. The campaign makes attempts at the rate its lines allow (lines / mean attempt
length), or its pacing if lower, only while a number's zone group is open, and the groups
open at a moment share that rate by their remaining work (shared.domain.calling.progress).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from shared.domain.calling import forecast_caveats as caveat
from shared.domain.calling.forecast_model import (
    LIVE,
    Assumptions,
    AttemptTally,
    CampaignFacts,
    Forecast,
    GroupBacklog,
    Source,
    ZoneForecast,
)
from shared.domain.calling.plan import HORIZON, Plan, build_plan
from shared.domain.calling.policy import CallingPolicy
from shared.domain.calling.progress import Drained, drain
from shared.domain.calling.search import next_open, open_intervals
from shared.domain.statuses import AttemptOutcome, CallStatus, CampaignStatus

#: How far ahead the forecast steps through windows; beyond it, it says it cannot tell.
FORECAST_HORIZON = timedelta(days=60)
#: How many of the campaign's most recent ended attempts the observations come from.
RECENT_ATTEMPTS = 1000
#: Fewer ended attempts than this are too few to trust: the defaults are used instead.
MIN_OBSERVED = 20
#: A typical outbound attempt: ringing, then a short message or no answer.
DEFAULT_ATTEMPT_SECONDS = 60.0
#: A typical share of attempts that end busy, unanswered or failed (and so are retried).
DEFAULT_RETRY_RATE = 0.3

#: Outcomes after which the call is retried while it has retries left; None is a timeout.
_RETRIED = frozenset({AttemptOutcome.BUSY, AttemptOutcome.NO_ANSWER, AttemptOutcome.FAILED, None})
#: Outcomes that say nothing about the number: not placed (dialled again, no retry lost),
#: or cut short by a cancelled campaign.
_IGNORED = frozenset({AttemptOutcome.NOT_PLACED, AttemptOutcome.CANCELLED})


def expected_attempts(status: CallStatus, dials: int, max_retries: int, retry_rate: float) -> float:
    """The attempts a call not final is still expected to take: one per dial it has left,
    each after the one before failed in a retried way (probability `retry_rate`).

    A call may be dialled max_retries + 1 times in all. A live call's attempt is under way,
    so only its retries are ahead; a new number or a retry waiting has its next dial ahead.
    """
    if status.is_final:
        return 0.0
    left = max(max_retries + 1 - dials, 0)
    if status in LIVE:
        return sum(retry_rate**k for k in range(1, left + 1))
    return sum(retry_rate**k for k in range(max(left, 1)))


def observe(tallies: Sequence[AttemptTally]) -> tuple[int, float | None, float | None]:
    """(attempts that count, their mean length in seconds, the share retried) of the recent
    attempts; None where there were none."""
    counted = [t for t in tallies if t.outcome not in _IGNORED]
    attempts = sum(t.count for t in counted)
    if not attempts:
        return 0, None, None
    seconds = sum(t.total_seconds for t in counted) / attempts
    retried = sum(t.count for t in counted if t.outcome in _RETRIED)
    return attempts, seconds, retried / attempts


def forecast(
    facts: CampaignFacts,
    groups: Sequence[GroupBacklog],
    tallies: Sequence[AttemptTally],
    policy: CallingPolicy | None,
    now: datetime,
) -> Forecast:
    """When the campaign is expected to finish, per zone group and in all, and why so."""
    caveats: list[str] = []
    assumptions = _assumptions(facts, tallies, caveats)
    if facts.status.is_final:
        return Forecast(
            facts.status,
            now,
            facts.finished_at,
            None,
            0,
            0.0,
            assumptions,
            caveats=[caveat.final(facts.status)],
        )
    pending = [g for g in groups if g.remaining]
    work = [
        sum(
            n * expected_attempts(status, dials, facts.max_retries, assumptions.retry_rate)
            for (status, dials), n in g.calls.items()
        )
        for g in pending
    ]
    plans = [build_plan(facts.rules, policy, g.recipient) for g in pending]
    limit = now + FORECAST_HORIZON
    rate = assumptions.attempts_per_second
    capacity = rate * FORECAST_HORIZON.total_seconds()
    ends_first = facts.rules.end_at is not None and facts.rules.end_at <= limit
    over_capacity = sum(work) > capacity and not ends_first
    if over_capacity:
        # More than it could make even if every group were open all the time: no need to
        # read two months of windows to say so.
        drained = [Drained(None, w) if w else Drained(now, 0.0) for w in work]
        caveats.append(caveat.beyond_capacity(sum(work), capacity, FORECAST_HORIZON.days))
    else:
        drained = drain(
            [(w, open_intervals(plan, now, limit)) for w, plan in zip(work, plans, strict=True)],
            rate,
            now,
        )
    finishes = [
        _group_finish(d.done_at, g, plan, w, assumptions, facts, limit)
        for d, g, plan, w in zip(drained, pending, plans, work, strict=True)
    ]
    zones = [
        _zone(g, plan, w, finish, now)
        for g, plan, w, finish in zip(pending, plans, work, finishes, strict=True)
    ]
    overall = _overall(finishes, drained, facts, limit, now, caveats, over_capacity)
    running = facts.status is CampaignStatus.IN_PROGRESS or (
        facts.status is CampaignStatus.PENDING and facts.auto_start and facts.rules.start_at
    )
    if_now = None
    if not running:
        if_now = overall
        zones = [_without_finish(zone) for zone in zones]
        caveats.insert(0, caveat.not_running(facts.status, overall))
        overall = None
    elif facts.status is CampaignStatus.PENDING:
        caveats.append(caveat.starts_by_itself(facts.rules.start_at))
    caveats.extend(caveat.about_the_numbers(pending, plans, assumptions, facts))
    return Forecast(
        facts.status,
        now,
        overall,
        if_now,
        sum(g.remaining for g in pending),
        sum(work),
        assumptions,
        sorted(zones, key=lambda z: -z.remaining_numbers),
        caveats,
    )


def _assumptions(
    facts: CampaignFacts, tallies: Sequence[AttemptTally], caveats: list[str]
) -> Assumptions:
    observed, seconds, rate = observe(tallies)
    enough = observed >= MIN_OBSERVED
    if enough and seconds is not None and seconds > 0:
        mean, mean_source = seconds, Source.OBSERVED
    else:
        mean, mean_source = DEFAULT_ATTEMPT_SECONDS, Source.DEFAULT
    if enough and rate is not None:
        retry_rate, retry_source = rate, Source.OBSERVED
    else:
        retry_rate, retry_source = DEFAULT_RETRY_RATE, Source.DEFAULT
    if not enough and not facts.status.is_final:
        caveats.append(
            caveat.defaults_used(
                observed, MIN_OBSERVED, DEFAULT_ATTEMPT_SECONDS, DEFAULT_RETRY_RATE
            )
        )
    if facts.allowed_lines > 0 and facts.status is CampaignStatus.IN_PROGRESS:
        lines, lines_source = min(facts.concurrency_limit, facts.allowed_lines), "SHARE"
    else:
        lines = min(facts.concurrency_limit, facts.max_concurrent_calls)
        lines_source = "LIMIT"
    paces = [p for p in (facts.calls_per_second, facts.max_calls_per_second) if p]
    pace = min(paces) if paces else None
    per_second = lines / mean
    if pace is not None:
        per_second = min(per_second, pace)
    return Assumptions(
        lines=lines,
        lines_source=lines_source,
        calls_per_second=pace,
        attempts_per_second=per_second,
        mean_attempt_seconds=mean,
        mean_attempt_seconds_source=mean_source,
        retry_rate=retry_rate,
        retry_rate_source=retry_source,
        attempts_observed=observed,
        max_retries=facts.max_retries,
        retry_delay_seconds=facts.retry_delay.total_seconds(),
        horizon_days=FORECAST_HORIZON.days,
    )


def _group_finish(
    done_at: datetime | None,
    group: GroupBacklog,
    plan: Plan,
    work: float,
    assumptions: Assumptions,
    facts: CampaignFacts,
    limit: datetime,
) -> datetime | None:
    """When the group's last call is expected to end: its last attempt starts when its work
    drains and lasts a mean attempt; a retry comes no sooner than the retry delay after the
    attempt it follows, nor before a retry already due later; either waits for an opening."""
    if done_at is None:
        return None
    first_dials = sum(n for (status, _), n in group.calls.items() if status not in LIVE)
    retries_ahead = work - first_dials > 1e-9
    floor = done_at + facts.retry_delay if retries_ahead and facts.retry_delay else done_at
    if group.latest_retry_at is not None and group.latest_retry_at > floor:
        floor = group.latest_retry_at
    if floor > done_at:
        opening = next_open(plan, floor, limit)
        if opening is None:
            return None
        floor = opening
    mean = timedelta(seconds=assumptions.mean_attempt_seconds)
    return _whole_second(floor + mean if work > 0 or group.live else floor)


def _whole_second(moment: datetime) -> datetime:
    """Rounded up: an estimate to the microsecond would claim a precision it does not have."""
    whole = moment.replace(microsecond=0)
    return whole if whole == moment else whole + timedelta(seconds=1)


def _overall(
    finishes: list[datetime | None],
    drained: Sequence[Drained],
    facts: CampaignFacts,
    limit: datetime,
    now: datetime,
    caveats: list[str],
    over_capacity: bool,
) -> datetime | None:
    """The campaign's finish: the last group's, or its endAt when work is left then
    (`over_capacity`: the work was found too much for the horizon without reading it)."""
    unfinished = sum(d.work_left for d, f in zip(drained, finishes, strict=True) if f is None)
    if not finishes:
        return now
    if all(f is not None for f in finishes):
        return max(f for f in finishes if f is not None)
    end_at = facts.rules.end_at
    if end_at is not None and end_at <= limit:
        caveats.append(caveat.cut_by_end_at(unfinished, end_at))
        return max([end_at, *(f for f in finishes if f is not None)])
    if not over_capacity:
        caveats.append(caveat.beyond_horizon(unfinished, FORECAST_HORIZON.days))
    return None


def _zone(
    group: GroupBacklog, plan: Plan, work: float, finish: datetime | None, now: datetime
) -> ZoneForecast:
    week = sum((high - low).total_seconds() for low, high in open_intervals(plan, now, now + _WEEK))
    opening = next_open(plan, now, now + HORIZON)
    zones = plan.display_zones
    zone: str | tuple[str, ...] | None = (
        None if not zones else zones[0] if len(zones) == 1 else zones
    )
    return ZoneForecast(
        timezone=zone,
        regions=group.recipient.regions,
        country=group.recipient.country,
        remaining_numbers=group.remaining,
        expected_attempts=work,
        open_now=opening == now,
        next_opening_at=opening,
        open_hours_next_7_days=week / 3600,
        expected_finish_at=finish,
    )


_WEEK = timedelta(days=7)


def _without_finish(zone: ZoneForecast) -> ZoneForecast:
    return ZoneForecast(**{**zone.__dict__, "expected_finish_at": None})
