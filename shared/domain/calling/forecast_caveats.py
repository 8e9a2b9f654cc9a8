"""What the forecast cannot know, said in words: one function per caveat, so the rule that
adds a caveat and its text stay side by side."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from shared.domain.calling.forecast_model import Assumptions, CampaignFacts, GroupBacklog, instant
from shared.domain.calling.plan import Plan
from shared.domain.statuses import CampaignStatus


def final(status: CampaignStatus) -> str:
    return f"The campaign is {status.value}: nothing more will be dialled."


def not_running(status: CampaignStatus, if_now: datetime | None) -> str:
    when = f"finish at {instant(if_now)}" if if_now else "not finish within the horizon"
    return (
        f"The campaign is {status.value}: it dials nothing until it is started or resumed, which"
        " cannot be predicted, so expectedFinishAt is null. Were it running from now, it would"
        f" {when} (expectedFinishIfRunningNowAt)."
    )


def starts_by_itself(start_at: datetime | None) -> str:
    return (
        f"The campaign is not started yet: it starts by itself at its startAt {instant(start_at)},"
        " and the forecast counts from then."
    )


def defaults_used(observed: int, needed: int, seconds: float, retry_rate: float) -> str:
    seen = (
        f"Only {observed} ended attempts observed (fewer than {needed})"
        if observed
        else "No attempt has ended yet"
    )
    return (
        f"{seen}: the mean attempt length"
        f" ({seconds:g} s) and the retry rate ({retry_rate:g}) are defaults, not this"
        " campaign's figures."
    )


def cut_by_end_at(unfinished: float, end_at: datetime) -> str:
    return (
        f"About {unfinished:.0f} expected attempts cannot be made before the campaign's endAt"
        f" {instant(end_at)}: it ends then, and its numbers not final end CANCELLED"
        " (CAMPAIGN_ENDED)."
    )


def beyond_horizon(unfinished: float, days: int) -> str:
    return (
        f"About {unfinished:.0f} expected attempts are not done within the {days}-day horizon"
        " (some zone groups open too little, or never): expectedFinishAt is null; windows beyond"
        " the horizon are not read."
    )


def beyond_capacity(work: float, capacity: float, days: int) -> str:
    return (
        f"More work than its lines can do within the {days}-day horizon: about {work:.0f}"
        f" expected attempts, but at most {capacity:.0f} even if every zone group were open all"
        " the time, so"
        " expectedFinishAt is null."
    )


def about_the_numbers(
    groups: Sequence[GroupBacklog],
    plans: Sequence[Plan],
    assumptions: Assumptions,
    facts: CampaignFacts,
) -> list[str]:
    """What the lines, the pacing and the counts of numbers say the forecast cannot know."""
    said = [_lines(assumptions, facts)]
    if assumptions.calls_per_second is not None:
        said.append(
            f"Pacing: at most {assumptions.calls_per_second:g} calls a second (the campaign's"
            " callsPerSecond, or VCS_MAX_CALLS_PER_SECOND, which every campaign shares)."
        )
    live = sum(g.live for g in groups)
    if live:
        said.append(
            f"{live} calls are being dialled or wait for their result (a callback pending):"
            " each may still end in a retry, counted at the retry rate."
        )
    if facts.max_retries and assumptions.retry_rate > 0:
        said.append(
            "Retries are expected at one rate for every attempt, though numbers that failed once"
            " often fail again; a retry waits at least the retry delay"
            f" ({facts.retry_delay.total_seconds():g} s), counted once, at the end."
        )
    if len(groups) > 1:
        said.append(
            "The zone groups open at a moment are assumed to be dialled in proportion to their"
            " work left; the dialler takes due retries first, then numbers in load order, so a"
            " list sorted by zone dials one zone before another: the zones' finishes, and so"
            " the campaign's, may differ."
        )
    early = sum(g.not_yet_valid for g in groups)
    if early:
        said.append(
            f"{early} numbers may not be called before their own notBefore: they are counted as"
            " callable now."
        )
    expiring = sum(g.expiring for g in groups)
    if expiring:
        said.append(
            f"{expiring} numbers carry an expiresAt: those that expire before they are dialled"
            " end EXPIRED, which would make the campaign finish sooner."
        )
    never = sum(
        g.remaining
        for g, plan in zip(groups, plans, strict=True)
        if plan.never_open or plan.unknown_zone is not None
    )
    if never:
        said.append(
            f"{never} numbers are in zone groups that never open (an unknown time zone, or rules"
            " that leave no hour open): the campaign cannot finish them."
        )
    said.append(
        "The windows are read from the campaign's rules and the calling policy as they are now;"
        " a PATCH, a new policy file, a carrier outage or new numbers change the answer, and the"
        " dispatcher's own pauses between dials are not counted."
    )
    return said


def _lines(assumptions: Assumptions, facts: CampaignFacts) -> str:
    if assumptions.lines_source == "SHARE":
        return (
            f"Lines: its share now ({facts.allowed_lines}, capped by its concurrencyLimit"
            f" {facts.concurrency_limit}); the share changes as other campaigns start, finish or"
            " enter and leave their hours."
        )
    return (
        f"Lines: the campaign has no share now, so it is assumed to get its concurrencyLimit"
        f" ({facts.concurrency_limit}) capped by the carrier's {facts.max_concurrent_calls}"
        " lines, as if it ran alone; other campaigns would take part of them."
    )
