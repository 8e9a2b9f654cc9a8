"""What every strategy takes and gives, and the weighted sharing two of them use."""

from __future__ import annotations

import heapq
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from uuid import UUID


@dataclass(frozen=True)
class Demand:
    """A running campaign inside its calling hours, as the dispatcher sees it on one pass."""

    campaign_id: UUID
    #: The campaign's own concurrency limit.
    limit: int
    #: 1 (lowest) to 10.
    priority: int
    #: Calls in progress now.
    in_flight: int
    #: Numbers it could dial now (new ones and due retries), counted up to a cap.
    dialable: int
    #: Numbers not yet final (counted up to a cap): for remaining_calls.
    remaining: int

    @property
    def wants(self) -> int:
        """The most lines it could use now."""
        return min(self.limit, self.in_flight + self.dialable)


#: Lines each campaign may hold; campaigns left out get none.
Allocation = dict[UUID, int]
Strategy = Callable[[Sequence[Demand], int], Allocation]


def share_by_weight(
    demands: Sequence[Demand], capacity: int, weight: Mapping[UUID, float]
) -> Allocation:
    """Water-filling: capacity in proportion to weight, none beyond what a campaign wants, what
    one cannot use going to the others; whole lines by largest remainder. Then no campaign that
    wants lines is left with none while another holds two or more (no starvation)."""
    lines = {d.campaign_id: 0 for d in demands}
    wants = {d.campaign_id: d.wants for d in demands}
    open_ = [d.campaign_id for d in demands if d.wants > 0]
    left = capacity
    while left > 0 and open_:
        total = sum(weight[c] for c in open_)
        share = {c: left * weight[c] / total for c in open_}
        # A set: with thousands of campaigns filled in one round, a list made this quadratic
        # (a third of the dispatcher's time at 3,000 running campaigns).
        full = {c for c in open_ if lines[c] + share[c] >= wants[c]}
        if full:
            for c in full:
                left -= wants[c] - lines[c]
                lines[c] = wants[c]
            open_ = [c for c in open_ if c not in full]
            continue
        whole = {c: int(share[c]) for c in open_}
        for c in open_:
            lines[c] += whole[c]
        spare = left - sum(whole.values())
        by_remainder = sorted(open_, key=lambda c: (whole[c] - share[c], str(c)))
        for c in by_remainder[:spare]:
            lines[c] += 1
        left = 0
    return _no_starvation(lines, wants)


def _no_starvation(lines: Allocation, wants: Mapping[UUID, int]) -> Allocation:
    """Each campaign left with none that wants some takes a line from the one holding most
    (ties: the greatest id as text) while that one holds two or more. A heap of donors keeps
    this n log n: thousands of starving campaigns once made it quadratic."""
    order = {c: rank for rank, c in enumerate(sorted(lines, key=str))}
    donors = [(-held, -order[c], c) for c, held in lines.items() if held >= 2]
    heapq.heapify(donors)
    for campaign in sorted(lines, key=str):
        if wants[campaign] > 0 and lines[campaign] == 0:
            if not donors:
                break  # no campaign holds two: none can give
            _, _, donor = heapq.heappop(donors)
            lines[donor] -= 1
            lines[campaign] = 1
            if lines[donor] >= 2:
                heapq.heappush(donors, (-lines[donor], -order[donor], donor))
    return lines
