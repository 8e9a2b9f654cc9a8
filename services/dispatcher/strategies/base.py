"""What every strategy takes and gives, and the weighted sharing two of them use."""

from __future__ import annotations

import heapq
from collections.abc import Callable, Mapping, Sequence
from typing import NamedTuple
from uuid import UUID


class Demand(NamedTuple):
    """A running campaign inside its calling hours, as the dispatcher sees it on one pass (a
    named tuple: made for every running campaign on every pass, three times cheaper than a
    frozen dataclass)."""

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
    one cannot use going to the others; whole lines by largest remainder (ties by id as text).
    Then no campaign that wants lines is left with none while another holds two or more (no
    starvation). Weights are positive.

    Worked on positions in `demands`, not on ids: a UUID hashes in Python, and dicts keyed by
    thousands of them made this a third of a pass at 3,000 running campaigns.
    """
    ids = [d.campaign_id for d in demands]
    wants = [d.wants for d in demands]
    if sum(wants) <= capacity:
        # Every campaign gets what it wants: what water-filling comes to when all fit.
        return dict(zip(ids, wants, strict=True))
    weights = [weight[c] for c in ids]
    lines = [0] * len(ids)
    open_ = [i for i, wanted in enumerate(wants) if wanted > 0]
    rank = _rank_by_text(ids)
    left = capacity
    while left > 0 and open_:
        total = sum(weights[i] for i in open_)
        share = {i: left * weights[i] / total for i in open_}
        full = [i for i in open_ if lines[i] + share[i] >= wants[i]]
        if full:
            for i in full:
                left -= wants[i] - lines[i]
                lines[i] = wants[i]
            filled = set(full)
            open_ = [i for i in open_ if i not in filled]
            continue
        whole = {i: int(share[i]) for i in open_}
        for i in open_:
            lines[i] += whole[i]
        spare = left - sum(whole.values())
        by_remainder = sorted(open_, key=lambda i: (whole[i] - share[i], rank[i]))
        for i in by_remainder[:spare]:
            lines[i] += 1
        left = 0
    _feed_the_starving(lines, wants, rank)
    return dict(zip(ids, lines, strict=True))


def _rank_by_text(ids: Sequence[UUID]) -> list[int]:
    """Each id's position among them sorted as text (the tie-breaks' order)."""
    rank = [0] * len(ids)
    for position, i in enumerate(sorted(range(len(ids)), key=[str(c) for c in ids].__getitem__)):
        rank[i] = position
    return rank


def _no_starvation(lines: Allocation, wants: Mapping[UUID, int]) -> Allocation:
    """Each campaign left with none that wants some takes a line from the one holding most
    (ties: the greatest id as text) while that one holds two or more."""
    ids = list(lines)
    held = [lines[c] for c in ids]
    _feed_the_starving(held, [wants[c] for c in ids], _rank_by_text(ids))
    return dict(zip(ids, held, strict=True))


def _feed_the_starving(lines: list[int], wants: Sequence[int], rank: Sequence[int]) -> None:
    """_no_starvation on positions, in place. A heap of donors keeps it n log n: thousands of
    starving campaigns once made it quadratic."""
    donors = [(-held, -rank[i], i) for i, held in enumerate(lines) if held >= 2]
    heapq.heapify(donors)
    for i in sorted(range(len(lines)), key=rank.__getitem__):
        if wants[i] > 0 and lines[i] == 0:
            if not donors:
                break  # no campaign holds two: none can give
            _, _, donor = heapq.heappop(donors)
            lines[donor] -= 1
            lines[i] = 1
            if lines[donor] >= 2:
                heapq.heappush(donors, (-lines[donor], -rank[donor], donor))
