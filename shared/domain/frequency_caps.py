"""Frequency caps: how many attempts one number may get in a period, across every campaign.

A cap comes from the calling policy (globally, or per rule: a country or region) or from a
campaign's `contactPolicy.frequencyCaps`; every cap that applies to a number must hold, so a
campaign can only make the policy stricter. An attempt counts from its start for `periodHours`
when it reached or may have reached the carrier (one the provider never placed does not).
docs/frequency-caps.md tells the rule to people.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

#: The longest period a cap may count over (31 days): attempts are kept this long, no longer.
MAX_PERIOD_HOURS = 744
#: Caps one campaign or one policy rule may set.
MAX_CAPS = 10


@dataclass(frozen=True, order=True)
class FrequencyCap:
    max_attempts: int
    period_hours: int

    @property
    def period(self) -> timedelta:
        return timedelta(hours=self.period_hours)


class FrequencyCapSpec(BaseModel):
    """One cap as the policy file and the API write it."""

    model_config = ConfigDict(alias_generator=to_camel, extra="forbid", frozen=True)

    max_attempts: int = Field(ge=1, le=1000, examples=[3])
    period_hours: int = Field(ge=1, le=MAX_PERIOD_HOURS, examples=[24])

    def to_cap(self) -> FrequencyCap:
        return FrequencyCap(self.max_attempts, self.period_hours)


FrequencyCapList = list[FrequencyCapSpec]


def caps_of(specs: Iterable[FrequencyCapSpec]) -> tuple[FrequencyCap, ...]:
    """The caps, each once, in a stable order (the order SQL arrays and caches see)."""
    return tuple(sorted({spec.to_cap() for spec in specs}))


def caps_from_json(value: Sequence[object] | None) -> tuple[FrequencyCap, ...]:
    """Caps stored as the API wrote them ([{"maxAttempts": 3, "periodHours": 24}])."""
    return caps_of(FrequencyCapSpec.model_validate(item) for item in value or ())


def caps_to_json(caps: Iterable[FrequencyCap]) -> list[dict[str, int]]:
    return [{"maxAttempts": c.max_attempts, "periodHours": c.period_hours} for c in caps]


@dataclass(frozen=True)
class CapHold:
    """A cap the number has reached: it waits until `next_eligible_at`."""

    cap: FrequencyCap
    #: The starts of the attempts that count against it now, oldest first.
    counted: tuple[datetime, ...]
    next_eligible_at: datetime


def counted_in(cap: FrequencyCap, starts: Iterable[datetime], now: datetime) -> list[datetime]:
    """The attempt starts that count against `cap` at `now`, oldest first."""
    since = now - cap.period
    return sorted(s for s in starts if since < s <= now)


def cap_hold(
    caps: Iterable[FrequencyCap], starts: Sequence[datetime], now: datetime
) -> CapHold | None:
    """The cap that keeps the number waiting longest at `now`, or None when every cap allows
    one more attempt. An attempt leaves a cap's count `periodHours` after it started; the
    number may be dialled once fewer than `maxAttempts` remain, and every cap at once: so the
    answer is the latest of those instants."""
    held: CapHold | None = None
    for cap in caps:
        counted = counted_in(cap, starts, now)
        if len(counted) < cap.max_attempts:
            continue
        # With k counted and a maximum of m, the (k - m + 1)-th oldest must leave.
        leaving = counted[len(counted) - cap.max_attempts]
        hold = CapHold(cap, tuple(counted), leaving + cap.period)
        if held is None or hold.next_eligible_at > held.next_eligible_at:
            held = hold
    return held
